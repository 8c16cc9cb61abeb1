"""The config of P4 Thm 1: online linear regression: large-batch MSGD vs SGD (configs layer: what to
run, no computation; :mod:`chaosopt.experiments.msgd_linear_regression` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "200 steps, 16 seeds (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "msgd_linear_regression"
  c.seed = 0
  c.dim = 20
  c.decay = 1.0
  c.noise_std = 0.5
  c.small_batch = 1
  c.large_batch = 32
  c.learning_rate = 0.1
  c.num_steps = 4000
  c.num_seeds = 256
  c.chunk_size = 1000
  if "quick" in variants:
    c.num_steps, c.num_seeds, c.chunk_size = 200, 16, 200
  return c
