"""The config of P0 (MPGD) Table 2 protocol, CPU-sized: FashionMNIST ResNet-10 (configs layer: what
to run, no computation; :mod:`chaosopt.experiments.fmnist_fullbatch` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.configs import cifar10_table2 as _t2
from chaosopt.train import config as config_lib

VARIANTS = {"quick": "64 images, a one-stage width-2 ResNet, 2 steps, 1 seed (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = _t2.base_config()
  c.experiment = "fmnist_fullbatch"
  c.task.name = "fashion_mnist"
  c.task.train_size = 256
  c.task.val_size = 512
  c.task.microbatch_size = 128
  c.model.width = 4
  c.model.stage_sizes = (1, 1, 1, 1)
  c.num_steps = 20
  c.num_seeds = 2
  c.chunk_size = 10
  c.seed_strategy = "sequential"
  c.only = "gd,mpgd_0.6"
  if "quick" in variants:
    c.task.train_size, c.task.val_size, c.task.microbatch_size = 64, 64, 32
    c.model.width, c.model.stage_sizes = 2, (1,)
    c.num_steps, c.chunk_size, c.num_seeds = 2, 1, 1
    c.data = ml_collections.ConfigDict({"allow_synthetic": True})  # generated data if absent
  return c
