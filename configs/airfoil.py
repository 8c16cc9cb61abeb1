"""P0 Table 1: airfoil self-noise, MLP 5-16-1 ReLU, full-batch GD, MSE, lr 0.1, 3000 epochs.

Schemes: baseline GD; Gaussian-perturbed GD (mu = 0.01, sigma = 0.02, noise scaled by
eta**0.5 -- the paper does not state the exponent, see docs/errata.md); MPGD (eq. 8) with
gamma in {0.55, 0.6, 0.65, 0.7}, beta = 0.5, mu = 0.01, sigma = 0.02; the eq. 11 variant with
the same gammas and mu = sigma = 0.01. 5 seeds. ``get_config("quick")`` is a 50-step smoke run.
"""
import ml_collections

GAMMAS = (0.55, 0.6, 0.65, 0.7)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "airfoil_table1"
  c.task = ml_collections.ConfigDict(
      {"name": "airfoil", "hidden": 16, "init": "pytorch", "activation": "relu",
       "split_seed": 0, "hessian_trace": True})
  c.learning_rate = 0.1
  c.num_steps = 3000
  c.num_seeds = 5
  c.first_seed = 0
  c.seed = 0
  c.chunk_size = 250
  c.per_step_metrics = False
  c.only = ""  # comma-separated scheme names; empty = all
  schemes = [{"name": "baseline", "kind": "gd"},
             {"name": "gaussian", "kind": "gaussian", "mu": 0.01, "sigma": 0.02,
              "exponent": 0.5}]
  schemes += [{"name": f"mpgd_{g}", "kind": "mpgd", "gamma": g, "beta": 0.5, "mu": 0.01,
               "sigma": 0.02} for g in GAMMAS]
  schemes += [{"name": f"eq11_{g}", "kind": "eq11", "gamma": g, "mu": 0.01, "sigma": 0.01}
              for g in GAMMAS]
  c.schemes = schemes
  if arg == "quick":
    c.num_steps = 50
    c.chunk_size = 25
    c.num_seeds = 2
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
