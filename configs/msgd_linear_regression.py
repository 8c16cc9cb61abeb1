"""P4 (Wu et al. 2020) Thm 1: online linear regression with averaged iterates.

x ~ N(0, diag(i^-decay)), y = xᵀθ* + ε, ε ~ N(0, noise_std²), θ0 = 0, θ* ~ N(0, I_d). Fresh samples
every step (online). Compared at equal iteration counts and equal learning rate η:
small-batch SGD (b), large-batch SGD (B), and large-batch MSGD (B) whose sampling vector has
Thm 1's covariance Var W = (B-b)/(bB(B-1)) (I - 11ᵀ/B) (Gaussian sampling noise). Batch
gradients are means over the batch (P4 eq. 3 prints a sum with the same η; with E W = 1/B in
eq. 4 the mean is what makes the two comparable)."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "msgd_linear_regression"
  c.dim = 20
  c.decay = 1.0
  c.noise_std = 0.5
  c.small_batch = 1
  c.large_batch = 32
  c.learning_rate = 0.1
  c.num_steps = 4000
  c.num_seeds = 256
  c.log_every = 20
  c.seed = 0
  if arg == "quick":
    c.num_steps, c.num_seeds = 200, 16
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
