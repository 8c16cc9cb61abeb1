"""The config of P3 Fig. 3: GD on x² vs gradient flow (discretization error) (configs layer: what to
run, no computation; :mod:`chaosopt.experiments.discretization_x2` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "horizon T = 1 instead of 5 (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "discretization_x2"
  c.seed = 0
  c.etas = (1e-3, 0.01, 0.9)
  c.x0 = 1.0
  c.horizon = 5.0  # continuous time T; GD runs ceil(T / eta) steps
  c.chunk_size = 1000
  if "quick" in variants:
    c.horizon = 1.0
  return c
