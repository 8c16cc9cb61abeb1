"""P1 (Kong & Tao 2020) Sec. 3.3, Figs. 6-7: airfoil self-noise, MLP 5-16-1 leaky ReLU, MSE,
full-batch GD with LR 0.02 (paper: keeps fluctuating) vs 5e-4 (paper: converges), same
initialization. Data split as chaosopt.tasks.airfoil (RandomState(0).permutation(1503); first
301 test, next 1202 train; standardized with training statistics)."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "multiscale_airfoil"
  c.x64 = False
  c.seeds = (0, 1, 2, 3, 4, 5, 6, 7)
  c.learning_rates = (0.02, 5e-4)
  c.num_steps = 20_000
  c.chunk_size = 5000
  c.window = 2000  # the last `window` steps measure fluctuations
  c.init = "pytorch"
  if arg == "quick":
    c.seeds, c.num_steps, c.chunk_size, c.window = (0, 1), 2000, 500, 500
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}")
  return c
