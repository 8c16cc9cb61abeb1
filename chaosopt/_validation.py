"""Argument checks shared by every public factory (no paper equation: input hygiene).

Checks run at construction time on concrete Python/NumPy numbers. A traced value (e.g. a
hyper-parameter vmapped over by the runner) cannot be checked eagerly and is passed through.
"""
from __future__ import annotations

import math
from typing import Any

import jax


def _concrete(x: Any):
  """Returns ``float(x)`` for a concrete scalar, ``None`` for a tracer or a schedule."""
  if callable(x) or isinstance(x, jax.core.Tracer):
    return None
  try:
    return float(x)
  except (TypeError, ValueError):
    return None  # arrays of hyper-parameters are checked element-wise by callers


def check_in_range(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False,
                   hi_open: bool = False) -> None:
  """Raises ``ValueError`` naming ``name`` and the valid range if ``value`` is outside it."""
  x = _concrete(value)
  if x is None:
    return
  ok_lo = x > lo if lo_open else x >= lo
  ok_hi = x < hi if hi_open else x <= hi
  if not (ok_lo and ok_hi) or math.isnan(x):
    lb = "(" if lo_open else "["
    rb = ")" if hi_open else "]"
    raise ValueError(f"{name} must be in {lb}{lo}, {hi}{rb}, got {value!r}")


def check_positive(name: str, value: Any) -> None:
  """Raises ``ValueError`` unless ``value`` > 0 (schedules are checked at step 0)."""
  if callable(value):
    value = value(0)
  x = _concrete(value)
  if x is not None and not x > 0:
    raise ValueError(f"{name} must be > 0, got {value!r}")


def check_nonnegative(name: str, value: Any) -> None:
  """Raises ``ValueError`` unless ``value`` >= 0."""
  x = _concrete(value)
  if x is not None and not x >= 0:
    raise ValueError(f"{name} must be >= 0, got {value!r}")
