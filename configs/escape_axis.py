"""The config of P2 Fig. 6: escape axis of SαS-driven GD on 2-D Ackley (configs layer: what to run,
no computation; :mod:`chaosopt.experiments.escape_axis` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "Δ ∈ {0, 0.5}, 64 seeds, ≤ 4000 steps (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "escape_axis"
  c.seed = 0
  c.learning_rate = 1e-4
  # P2 does not print alpha_2, the noise strength or the radius: alpha_2 = 1.9, sigma = 0.5
  # (increments sigma eta^{1/alpha} xi, xi ~ SaS(1)) and radius 0.5 (the ridge around the global
  # minimum of Ackley is at |x_i| ~ 0.5)
  c.alpha2 = 1.9
  c.deltas = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
  c.sigma = 0.5
  c.radius = 0.5
  c.num_seeds = 1000
  c.max_steps = 100_000
  c.chunk_size = 5_000
  if "quick" in variants:
    c.deltas, c.num_seeds, c.max_steps, c.chunk_size = (0.0, 0.5), 64, 4_000, 2_000
  return c
