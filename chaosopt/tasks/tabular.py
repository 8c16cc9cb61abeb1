"""A seeded synthetic tabular classification set (a stand-in for P2's UCI sets; no paper equation).

P2 Figs. 3-4 train a three-layer ReLU network on small UCI tables (Speech, Cardio, Ionosphere),
which cannot be downloaded here. :func:`gaussian_blobs` generates a table of the same kind:
``num_classes`` classes, each a mixture of ``blobs_per_class`` Gaussian blobs (unit covariance,
centres ``N(0, separation² I)`` in ``num_features`` dimensions), and a fraction ``label_noise``
of the labels replaced by a uniformly drawn *other* class, so that the classes overlap and a
small network has a training loss bounded away from 0 (a minimum with L* > 0, not a loss that
decays to 0 along a separating direction). Features are standardized (mean 0, std 1 per
column). Seeded: the same arguments give the same table.
"""
from __future__ import annotations

import numpy as np


def gaussian_blobs(num: int, num_features: int = 6, *, num_classes: int = 2,
                   blobs_per_class: int = 2, separation: float = 1.0,
                   label_noise: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """``(x float32 [num, num_features], y int32 [num])`` (see the module docstring)."""
  if num < 1 or num_features < 1 or num_classes < 2 or blobs_per_class < 1:
    raise ValueError("num, num_features, blobs_per_class must be >= 1 and num_classes >= 2")
  if not 0.0 <= label_noise < 1.0:
    raise ValueError(f"label_noise must be in [0, 1), got {label_noise!r}")
  rng = np.random.default_rng([seed, 17])
  centres = rng.normal(0.0, separation, (num_classes * blobs_per_class, num_features))
  blob = rng.integers(0, centres.shape[0], num)
  x = centres[blob] + rng.normal(0.0, 1.0, (num, num_features))
  y = blob % num_classes
  flip = rng.random(num) < label_noise
  other = (y + rng.integers(1, num_classes, num)) % num_classes
  y = np.where(flip, other, y)
  x = (x - x.mean(0)) / x.std(0)
  return x.astype(np.float32), y.astype(np.int32)


def label_entropy(y, num_classes: int) -> float:
  """Cross-entropy of the best constant predictor (the labels' empirical entropy, nats)."""
  p = np.bincount(np.asarray(y), minlength=num_classes) / len(y)
  p = p[p > 0]
  return float(-np.sum(p * np.log(p)))


__all__ = ["gaussian_blobs", "label_entropy"]
