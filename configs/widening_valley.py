"""P0 Fig. 2: widening valley l(u, v) = v^2 ||u||^2 / 2, d = 10, start (u0, 0), u0 ~ 5 U[0,1]^d.

eta = 0.01, mu = 0.02, sigma = 0.05, gamma = 0.7, beta = 0.5. Schemes: GD, Gaussian-perturbed
GD with the noise scaled by eta**0.5 (our default) and unscaled (eta**0, what the authors'
widening-valley script does), MPGD (eq. 8) and the eq. 11 variant. Per-step metrics are
recorded (paths in the (v, ||u||^2) plane and the Hessian trace d v^2 + ||u||^2).
``get_config("quick")`` is a 200-step smoke run.
"""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "widening_valley"
  c.task = ml_collections.ConfigDict({"name": "widening_valley", "dim": 10, "init_scale": 5.0})
  c.learning_rate = 0.01
  c.num_steps = 10000
  c.num_seeds = 8
  c.first_seed = 0
  c.seed = 0
  c.chunk_size = 1000
  c.per_step_metrics = True
  c.only = ""
  mu, sigma = 0.02, 0.05
  c.schemes = [
      {"name": "gd", "kind": "gd"},
      {"name": "gaussian", "kind": "gaussian", "mu": mu, "sigma": sigma, "exponent": 0.5},
      {"name": "gaussian_unscaled", "kind": "gaussian", "mu": mu, "sigma": sigma,
       "exponent": 0.0},
      {"name": "mpgd", "kind": "mpgd", "gamma": 0.7, "beta": 0.5, "mu": mu, "sigma": sigma},
      {"name": "eq11", "kind": "eq11", "gamma": 0.7, "mu": mu, "sigma": sigma},
  ]
  if arg == "quick":
    c.num_steps = 200
    c.chunk_size = 100
    c.num_seeds = 2
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
