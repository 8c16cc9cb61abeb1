"""The config of P4 Fig. 1a: FashionMNIST 1000 images, SmallCNN: GD / SGD / MSGD noise classes
(configs layer: what to run, no computation; :mod:`chaosopt.experiments.msgd_fmnist` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "GD, SGD, MSGD-Cov only; 200 images, 4 steps, 2 seeds, 100 test images "
                     "(smoke run)",
            "cpu": "200 steps, 1000 test images, seeds one after another (shared CPU)"}
METHODS = ("gd", "sgd", "msgd_cov", "msgd_fisher", "msgd_bernoulli", "msgd_fisher_b")


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "msgd_fmnist"
  c.seed = 0
  c.num_train = 1000
  c.num_test = 2000  # random subset of the 10k test images (evaluation cost on CPU)
  c.pixel_scale = 1.0  # inputs = uint8 value * pixel_scale (authors: raw 0..255)
  c.batch_size = 50  # b of SGD, and the covariance scale of every MSGD noise
  c.fisher_b = 10  # B of MSGD-[Fisher-B] (the paper's value for FashionMNIST)
  c.learning_rate = 0.01
  c.num_steps = 1000
  c.eval_every = 50  # the chunk size: test metrics after every chunk
  c.num_seeds = 3
  c.methods = METHODS
  # "vmap": one program batches the seeds (right on accelerators); "sequential": one seed at a
  # time, one compiled program reused (on XLA:CPU a vmapped conv over per-seed kernels becomes
  # a grouped convolution, slower than separate runs; see BENCHMARKS.md)
  c.seed_strategy = "vmap"
  if "quick" in variants:
    c.num_train, c.num_steps, c.eval_every, c.num_test, c.num_seeds = 200, 4, 2, 100, 2
    c.methods = ("gd", "sgd", "msgd_cov")
    c.data = ml_collections.ConfigDict({"allow_synthetic": True})  # generated data if absent
  if "cpu" in variants:
    c.num_steps, c.eval_every, c.num_test, c.seed_strategy = 200, 20, 1000, "sequential"
  return c
