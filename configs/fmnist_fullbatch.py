"""CPU-sized version of the P0 Table 2 protocol (same code path as configs/cifar10_table2.py).

CIFAR-10 cannot be downloaded here, so this runs on FashionMNIST (Debian's
dataset-fashion-mnist): 256 training images (full batch = 2 micro-batches of 128), 512
validation images (official test split), the ResNet-18 code at width 4 with one basic block per
stage (a ResNet-10: same stem, BatchNorm, zero-init last BN, shortcuts; half the blocks, so XLA
compiles it twice as fast on 2 CPU cores, where compilation dominates), crop (pad 4) + flip
augmentation, eta = 0.1, first-conv-only perturbations with P0's mu = 0.03, sigma = 0.01,
beta = 0.5, 2 seeds, 20 steps. Schemes: GD and MPGD gamma = 0.6, runs one after another
(on CPU a vmapped conv net is a grouped convolution, 1.3-2x slower than sequential runs, and the
persistent compilation cache makes every seed after the first reuse its scheme's program);
``--config.only=`` (empty) runs all ten. Its numbers say nothing about Table 2; they show the
pipeline runs end to end, in under 2 minutes on 2 CPU cores (BENCHMARKS.md).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cifar10_table2  # noqa: E402

import ml_collections  # noqa: E402


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = cifar10_table2.get_config()
  c.name = "fmnist_fullbatch"
  c.task.name = "fashion_mnist"
  c.task.train_size = 256
  c.task.val_size = 512
  c.task.microbatch_size = 128
  c.model.width = 4
  c.model.stage_sizes = (1, 1, 1, 1)
  c.num_steps = 20
  c.num_seeds = 2
  c.chunk_size = 10
  c.seed_mode = "sequential"
  c.workdir = "runs/fmnist_fullbatch"
  c.only = "gd,mpgd_0.6"
  if arg == "quick":
    c.task.train_size = 256
    c.task.val_size = 256
    c.task.microbatch_size = 128
    c.num_steps = 4
    c.chunk_size = 2
    c.only = "gd,mpgd_0.6"
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
