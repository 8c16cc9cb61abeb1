"""P3 (Li, Malladi & Arora 2021) Thm 4.1 / Figs. 1-2: SVAG with l ∈ {1, 2, 4, 8, 16} converges to
the Itô SDE at rate O(1/l), on a small problem: a 2-16-1 tanh MLP with logistic loss on a fixed
synthetic two-blob data set (n = 256), batch b = 4, SGD learning rate η, horizon ``sgd_steps``
SGD steps (= effective steps), all seeds from the same initialization (weak error of the law of
x_T)."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "svag_convergence"
  c.ls = (1, 2, 4, 8, 16)
  c.n = 256
  c.hidden = 16
  c.batch_size = 4
  c.learning_rate = 1.0  # η of SGD; SVAG uses η/l
  c.sgd_steps = 200  # effective steps; SVAG runs l × sgd_steps
  c.num_seeds = 4096
  c.data_seed = 0
  c.init_seed = 1
  c.blob_distance = 1.5  # centres at ±distance/2 along the first axis, unit variance
  c.log_every = 5  # effective steps between logged points
  if arg == "quick":
    c.ls, c.sgd_steps, c.num_seeds = (1, 2, 4), 20, 64
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
