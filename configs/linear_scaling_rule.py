"""The config of P3 Sec. 6 / Fig. 6 (App. E.2): linear scaling rule vs G/N at equilibrium (critical
batch size) (configs layer: what to run, no computation;
:mod:`chaosopt.experiments.linear_scaling_rule` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "B ∈ {32, 64}, 512 / 500 images, 2 + 1 epochs, 1 measurement (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "linear_scaling_rule"
  c.seed = 0
  c.num_train = 4000
  c.num_test = 2000
  c.hidden = 64
  c.batch_sizes = (16, 32, 64, 128, 256, 384, 512, 768, 1024)
  c.base_batch = 32
  c.lr_base = 0.2  # LR at base_batch; LR(B) = lr_base * B / base_batch
  c.weight_decay = 5e-3
  c.epochs_phase1 = 40
  c.epochs_phase2 = 5  # after LR / 10
  c.measure_points = 5  # G, N averaged over this many points in the last 20% of phase 1
  c.num_seeds = 10  # MIN_SEEDS; the break point's bootstrap interval resamples these
  c.c_squared = 2.0
  if "quick" in variants:
    c.batch_sizes, c.epochs_phase1, c.epochs_phase2, c.num_train = (32, 64), 2, 1, 512
    c.num_test, c.measure_points = 500, 1
    c.data = ml_collections.ConfigDict({"allow_synthetic": True})  # generated data if absent
  return c
