"""The config of P0 Thm. 4.1: MPGD iterates → Marcus SDE in law (homogenization) (configs layer:
what to run, no computation; :mod:`chaosopt.experiments.mpgd_homogenization` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "β = 1 only, η ∈ {0.1, 0.05}, 300 paths, SDE dt = 0.02 (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "mpgd_homogenization"
  c.seed = 0
  c.curvatures = [1.0, 2.0]
  c.x0 = [1.0, 1.0]
  c.t_end = 1.0
  c.gamma = 0.7
  c.mu = 0.5
  c.sigma = 0.5
  c.betas = [1.0, 0.5]
  c.etas = [0.1, 0.03, 0.01, 0.003, 0.001]
  c.num_paths = 10000
  c.sde_dt = 1e-3
  c.chunk_size = 500
  if "quick" in variants:
    c.etas = [0.1, 0.05]
    c.betas = [1.0]
    c.num_paths = 300
    c.sde_dt = 0.02
    c.chunk_size = 50
  return c
