"""The config of P2 Figs. 3-4: escape time of SGD from a minimum (tabular MLP) (configs layer: what
to run, no computation; :mod:`chaosopt.experiments.escape_time` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "200-step minimum, 2 learning rates × 8 seeds, 1 batch size × 8 seeds, "
                     "≤ 200 steps (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "escape_time"
  c.seed = 0
  # the synthetic table (chaosopt.tasks.tabular.gaussian_blobs): P2's UCI sets are unavailable
  c.data_seed = 0
  c.num_train = 512
  c.num_features = 6
  c.label_noise = 0.15
  c.hidden = (16, 16)  # P2: a three-layer ReLU network
  c.train_lr = 0.05    # P2: SGD, lr 0.05, batch 128, to a minimum
  c.train_batch = 128
  c.train_steps = 10_000
  # exits within burn_in steps of the start are instability exits (reported apart, not fitted)
  c.burn_in = 10
  c.lrs = (0.02, 0.022, 0.024, 0.026, 0.028, 0.03)  # Fig. 3: mean escape time vs learning rate
  c.lr_batch = 8
  c.lr_seeds = 100  # P2: 100 seeds per learning rate
  c.survival_lr = 0.028  # Fig. 4: survival P(escape time > u) for several batch sizes
  c.survival_batches = (8, 12)
  c.survival_seeds = 100
  c.max_steps = 4_000
  c.min_events = 10  # a learning rate enters the fits with at least this many exits
  c.chunk_size = 250
  if "quick" in variants:
    c.train_steps, c.lrs, c.lr_seeds, c.survival_batches = 200, (0.03, 0.05), 8, (8,)
    c.survival_seeds, c.max_steps, c.chunk_size, c.min_events = 8, 200, 100, 2
  return c
