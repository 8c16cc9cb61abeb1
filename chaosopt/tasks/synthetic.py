"""Generated stand-ins for CIFAR-10 and FashionMNIST, written in the official file formats.

No paper equation: smoke-run plumbing. A quick variant (``config.data.allow_synthetic = True``,
see :mod:`chaosopt.tasks.datasets`) that finds no real data reads these instead, through the
same parsers as the real files (the CIFAR-10 python tarball, the FashionMNIST IDX gz files), so
the format code runs too. Ten classes; each class's mean image is one shared random background
plus ``CONTRAST`` times a class-specific random pattern (constant on blocks of 4 x 4 pixels,
both left-right symmetric so that a flip keeps the class), and an image is its class's mean plus
independent Gaussian pixel noise (std :data:`NOISE`), rounded and clipped to uint8. Labels are
balanced and shuffled. The means are shared by the splits, the noise and the labels are not.
Seeded: the same seed gives the same images. Learnable but not trivial: the nearest class mean
(means estimated on the training split) classifies 88% of the FashionMNIST-shaped test images
and all of the CIFAR-shaped ones (more pixels and training images). Their accuracies say
nothing about the real data sets.
"""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np

SEED = 0
NUM_CLASSES = 10
BLOCK = 4         # side of the constant blocks of a class pattern (pixels)
CONTRAST = 20.0   # amplitude of the class patterns (uint8 units)
NOISE = 64.0      # pixel noise std (uint8 units)
# split sizes: CIFAR-10 train = 5 batches of 1000 (the 5000 images of cifar10_table2:quick)
CIFAR10_SIZES = {"train": 5000, "test": 500}
FASHION_MNIST_SIZES = {"train": 1000, "test": 500}
SPLITS = ("train", "test")


def class_images(n: int, shape: tuple, split: str = "train", *, seed: int = SEED,
                 noise: float = NOISE) -> tuple[np.ndarray, np.ndarray]:
  """``(images uint8 [n, *shape], labels int64 [n])`` of the generated set (module docstring).

  ``shape`` is ``(H, W)`` or ``(H, W, C)`` with ``H`` and ``W`` multiples of :data:`BLOCK`.
  """
  if split not in SPLITS:
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
  h, w = shape[:2]
  if h % BLOCK or w % BLOCK:
    raise ValueError(f"image height and width must be multiples of {BLOCK}, got {shape}")
  rng_means = np.random.default_rng([seed, 0])
  blocks = (h // BLOCK, w // BLOCK) + tuple(shape[2:])
  coarse = (rng_means.uniform(64.0, 192.0, (1,) + blocks)
            + CONTRAST * rng_means.uniform(-1.0, 1.0, (NUM_CLASSES,) + blocks))
  patterns = np.repeat(np.repeat(coarse, BLOCK, axis=1), BLOCK, axis=2)
  patterns = 0.5 * (patterns + patterns[:, :, ::-1])
  rng = np.random.default_rng([seed, 1 + SPLITS.index(split)])
  labels = rng.permutation(np.arange(n) % NUM_CLASSES)
  x = rng.standard_normal((n,) + tuple(shape), dtype=np.float32)
  x *= np.float32(noise)
  x += patterns.astype(np.float32)[labels]
  return np.clip(np.rint(x), 0, 255).astype(np.uint8), labels.astype(np.int64)


def write_idx(path: str, array: np.ndarray) -> str:
  """Writes a uint8 array as a gzipped IDX file (magic ``0 0 0x08 ndim``, big-endian dims)."""
  a = np.ascontiguousarray(array, np.uint8)
  header = bytes([0, 0, 0x08, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape)
  with gzip.open(path, "wb", compresslevel=1) as f:
    f.write(header + a.tobytes())
  return path
