"""The config of P0 (MPGD) Fig. 2: widening valley, d = 10 (configs layer: what to run, no
computation; :mod:`chaosopt.experiments.widening_valley` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "200 steps, 2 seeds (smoke run)",
            "seeds100": "100 seeds (paired tests of the trace-reduction claim)",
            "authors": "the authors' script's process (scalar u, their update order and noise)"}
SCRIPT_SEED = 2222  # the seed of the authors' script's figures (experiments/_valley_authors.py)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "widening_valley"
  c.task = ml_collections.ConfigDict({"name": "widening_valley", "dim": 10, "init_scale": 5.0})
  c.learning_rate = 0.01
  c.num_steps = 10000
  c.num_seeds = 8
  c.first_seed = 0
  c.seed = 0
  c.chunk_size = 1000
  c.checkpoint_every = 1
  c.seed_strategy = "vmap"
  c.per_step_metrics = True
  c.history_points = 400
  c.only = ""
  c.headline = ("hessian_trace", "loss")
  mu, sigma = 0.02, 0.05
  c.schemes = [
      {"name": "gd", "kind": "gd"},
      {"name": "gaussian", "kind": "gaussian", "mu": mu, "sigma": sigma, "exponent": 0.5},
      {"name": "gaussian_unscaled", "kind": "gaussian", "mu": mu, "sigma": sigma,
       "exponent": 0.0},
      {"name": "mpgd", "kind": "mpgd", "gamma": 0.7, "beta": 0.5, "mu": mu, "sigma": sigma},
      {"name": "eq11", "kind": "eq11", "gamma": 0.7, "mu": mu, "sigma": sigma},
  ]
  if "authors" in variants:
    c = _authors_config(c)
  if "seeds100" in variants:
    c.num_seeds, c.history_points = 100, (100 if "authors" in variants else 200)
  if "quick" in variants:
    c.num_steps, c.chunk_size, c.num_seeds = 200, 100, 2
  return c


def _authors_config(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Their script: η = 0.01, σ = 0.05, μ = 0.02, β = 0.5, γ ∈ {0.6, 0.7, 0.8}, 8000 steps
  (their trace figure), seed 2222 (ours: run seed s is their seed ``authors_seed + s``)."""
  del c.task, c.seed_strategy
  c.process = "authors"
  c.authors_seed = SCRIPT_SEED
  c.num_steps = 8000
  mu, sigma = 0.02, 0.05
  c.schemes = [{"name": "gd", "kind": "gd"},
               {"name": "gaussian", "kind": "gaussian", "mu": mu, "sigma": sigma}]
  c.schemes += [{"name": f"mpgd_{g}", "kind": "mpgd", "gamma": g, "beta": 0.5, "mu": mu,
                 "sigma": sigma} for g in (0.6, 0.7, 0.8)]
  c.schemes += [{"name": "mpgd_0.7_vterm_v", "kind": "mpgd", "gamma": 0.7, "beta": 0.5, "mu": mu,
                 "sigma": sigma, "v_term": "v"}]
  return c
