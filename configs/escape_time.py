"""The config of P2 Figs. 3-4: escape time of SGD from a minimum (airfoil MLP) (configs layer: what
to run, no computation; :mod:`chaosopt.experiments.escape_time` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "200-step minimum, 2 learning rates × 8 seeds, 1 batch size × 16 seeds, "
                     "≤ 400 steps (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "escape_time"
  c.seed = 0
  c.hidden = (32, 32)
  c.split_seed = 0  # the airfoil train/test split (the authors' permutation)
  c.train_lr = 0.05
  c.train_batch = 128
  c.train_steps = 10_000
  # radius = radius_rel * ||w*||_2. Calibrated (20 seeds, batch 8): ||w - w*|| / ||w*|| drifts
  # up roughly like t^0.4 (0.13 after 3000 steps at lr 0.03, 0.25 at lr 0.05); lr 0.1 jumps to
  # ~0.24 within 10 steps (unstable at this minimum) and lr 0.02 stays below 0.1 for 5000 steps,
  # so 0.25 with lrs 0.02-0.1 gave immediate or no escapes.
  c.radius_rel = 0.2
  c.lrs = (0.03, 0.04, 0.05, 0.06, 0.07, 0.08)  # Fig. 3: mean escape time vs learning rate
  c.lr_batch = 8
  c.lr_seeds = 100
  c.survival_lr = 0.06  # Fig. 4: survival P(escape time > u) for several batch sizes
  c.survival_batches = (4, 16)
  c.survival_seeds = 500
  c.max_steps = 20_000
  c.chunk_size = 1_000
  if "quick" in variants:
    c.train_steps, c.lrs, c.lr_seeds, c.survival_batches = 200, (0.06, 0.08), 8, (8,)
    c.survival_seeds, c.max_steps, c.chunk_size = 16, 400, 200
  return c
