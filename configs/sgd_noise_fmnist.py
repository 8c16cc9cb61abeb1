"""The config of P2 Tables 1-2, Fig. 5: SGD-noise distribution, SmallCNN on FashionMNIST (configs
layer: what to run, no computation; :mod:`chaosopt.experiments.sgd_noise_fmnist` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "512 images, 40 SGD steps, 48 noise batches, 4 fitted parameters "
                     "(smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "sgd_noise_fmnist"
  c.seed = 0
  c.train_size = 10_000
  c.train_steps = 3_000
  c.train_batch = 64
  c.learning_rate = 0.1
  c.chunk_size = 500
  c.noise_batch = 64
  c.num_batches = 1_000
  c.fit_params = 200
  c.bins = 50
  c.num_test = 5_000  # test accuracy on the first num_test test images
  if "quick" in variants:
    c.train_size, c.train_steps, c.num_batches, c.fit_params, c.chunk_size = 512, 40, 48, 4, 20
    c.num_test = 500
    c.data = ml_collections.ConfigDict({"allow_synthetic": True})  # generated data if absent
  return c
