"""P2 Fig. 6 (escape axis): GD + independent SaS noise per axis on 2-D Ackley, started at the
global minimum 0, learning rate 1e-4, alpha_1 = alpha_2 - Delta; the run stops at the first
step with ||x||_2 > ``radius`` and records which axis is larger. P2 does not print alpha_2, the
noise strength or the radius: we use alpha_2 = 1.9, sigma = 0.5 (increments sigma eta^{1/alpha} xi,
xi ~ SaS(1)) and radius 0.5 (the ridge around the global minimum of Ackley is at |x_i| ~ 0.5).
"""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "escape_axis"
  c.learning_rate = 1e-4
  c.alpha2 = 1.9
  c.deltas = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
  c.sigma = 0.5
  c.radius = 0.5
  c.num_seeds = 1000
  c.max_steps = 100_000
  c.chunk_size = 5_000
  c.seed = 0
  if arg == "quick":
    c.deltas, c.num_seeds, c.max_steps, c.chunk_size = (0.0, 0.5), 64, 4_000, 2_000
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
