"""The config of P1 Figs. 6-7: airfoil MLP, full-batch GD at LR 0.02 vs 5e-4 (configs layer: what to
run, no computation; :mod:`chaosopt.experiments.multiscale_airfoil` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "2 seeds, 2000 steps, window 1000 (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "multiscale_airfoil"
  c.x64 = True  # float64: the edge-of-stability regime is long-time and rounding-sensitive
  c.seed = 0
  c.num_seeds = 10  # chaosopt.analysis.verdicts.MIN_SEEDS
  c.learning_rates = (0.02, 5e-4)
  # at 2·10^4 steps every LR-0.02 curve was still descending (sharpness 45-83 < 2/η = 100); at
  # 2·10^5 seeds had reached the edge of stability or converged
  c.num_steps = 200_000
  c.chunk_size = 2000  # also the sharpness interval (measured after every chunk)
  c.window = 20_000  # the last `window` steps: sharpness samples and the detrended loss spread
  c.init = "pytorch"
  if "quick" in variants:
    c.num_seeds, c.num_steps, c.chunk_size, c.window = 2, 2000, 250, 1000
  return c
