"""The config of P1 Figs. 6-7: airfoil MLP, full-batch GD at LR 0.02 vs 5e-4 (configs layer: what to
run, no computation; :mod:`chaosopt.experiments.multiscale_airfoil` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "2 seeds, 2000 steps, window 500 (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "multiscale_airfoil"
  c.x64 = False
  c.seed = 0
  c.num_seeds = 8
  c.learning_rates = (0.02, 5e-4)
  c.num_steps = 20_000
  c.chunk_size = 5000
  c.window = 2000  # the last `window` steps measure fluctuations
  c.init = "pytorch"
  if "quick" in variants:
    c.num_seeds, c.num_steps, c.chunk_size, c.window = 2, 2000, 500, 500
  return c
