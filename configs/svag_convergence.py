"""The config of P3 Thm. 4.1 (Figs. 1-2): SVAG → SDE: weak error rate in l (configs layer: what to
run, no computation; :mod:`chaosopt.experiments.svag_convergence` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "l ∈ {1, 2}, 10 effective steps, 32 seeds (smoke run)",
            "cpu": "1024 seeds instead of 4096 (SE × 2)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "svag_convergence"
  c.seed = 0
  c.ls = (1, 2, 4, 8, 16)
  c.n = 256
  c.hidden = 16
  c.batch_size = 4
  c.learning_rate = 1.0  # η of SGD; SVAG uses η/l
  c.sgd_steps = 200  # effective steps; SVAG runs l × sgd_steps
  c.num_seeds = 4096
  c.blob_distance = 1.5  # centres at ±distance/2 along the first axis, unit variance
  c.log_every = 5  # effective steps between logged points
  if "cpu" in variants:
    c.num_seeds = 1024
  if "quick" in variants:
    c.ls, c.sgd_steps, c.num_seeds = (1, 2), 10, 32
  return c
