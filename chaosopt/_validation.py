"""Argument checks shared by every public factory (no paper equation: input hygiene).

Checks run at construction time on concrete Python/NumPy numbers. A traced value (e.g. a
hyper-parameter vmapped over by the runner) cannot be checked eagerly and is passed through. A
value that is not a number at all (a string such as ``"0.7"``, ``None``, a dict) is refused with
a ``ValueError`` naming the parameter, before it can fail later inside a compiled step.
"""
from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _concrete(x: Any):
  """Returns ``float(x)`` for a concrete scalar, ``None`` for a tracer or a schedule."""
  if callable(x) or isinstance(x, jax.core.Tracer):
    return None
  try:
    return float(x)
  except (TypeError, ValueError):
    return None  # arrays of hyper-parameters are checked element-wise by callers


def check_numeric(name: str, value: Any) -> None:
  """Raises ``ValueError`` naming ``name`` unless ``value`` is a number or an array of numbers
  (bool, int, float or complex dtype). Tracers and callables (schedules) pass unchecked."""
  if callable(value) or isinstance(value, jax.core.Tracer):
    return
  if isinstance(value, (str, bytes)):
    raise ValueError(f"{name} must be a number, got the string {value!r}")
  try:
    kind = np.asarray(value).dtype.kind
  except Exception:  # noqa: BLE001 - anything NumPy cannot turn into an array is not a number
    kind = "O"
  if kind not in "biufc":
    raise ValueError(f"{name} must be a number, got {type(value).__name__} {value!r}")


def check_in_range(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False,
                   hi_open: bool = False) -> None:
  """Raises ``ValueError`` naming ``name`` and the valid range if ``value`` is outside it (or
  not a number, see :func:`check_numeric`)."""
  check_numeric(name, value)
  x = _concrete(value)
  if x is None:
    return
  ok_lo = x > lo if lo_open else x >= lo
  ok_hi = x < hi if hi_open else x <= hi
  if not (ok_lo and ok_hi) or math.isnan(x):
    lb = "(" if lo_open else "["
    rb = ")" if hi_open else "]"
    raise ValueError(f"{name} must be in {lb}{lo}, {hi}{rb}, got {value!r}")


def _concrete_values(x: Any):
  """float64 NumPy array of a concrete scalar/array; ``None`` for a tracer or a non-number."""
  if isinstance(x, jax.core.Tracer):
    return None
  try:
    return np.asarray(x, dtype=np.float64)
  except (TypeError, ValueError):
    return None


def check_positive(name: str, value: Any) -> None:
  """Raises ``ValueError`` unless ``value`` is finite and > 0 (every element of an array;
  schedules are checked at step 0, see :func:`check_schedule` for a whole run)."""
  check_numeric(name, value)
  if callable(value):
    value = value(0)
    check_numeric(f"{name} schedule at step 0", value)
  x = _concrete_values(value)
  if x is not None and not (np.all(np.isfinite(x)) and np.all(x > 0)):
    raise ValueError(f"{name} must be finite and > 0, got {value!r}")


def check_nonnegative(name: str, value: Any) -> None:
  """Raises ``ValueError`` unless ``value`` is finite and >= 0 (every element of an array)."""
  check_numeric(name, value)
  x = _concrete_values(value)
  if x is not None and not (np.all(np.isfinite(x)) and np.all(x >= 0)):
    raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


def check_schedule(schedule: Any, num_steps: int, name: str = "learning_rate") -> None:
  """Evaluates ``schedule`` (a constant or an optax schedule) on the host at steps
  ``0 .. num_steps - 1`` and raises ``ValueError`` naming the first step whose value is not
  finite and > 0.

  The transforms check a schedule only at step 0 when they are built; inside ``update`` a bad
  step size makes the perturbed coordinates NaN (visible, never a silently wrong step). Runners
  call this once before a run to report such a step before compiling anything.
  """
  if not callable(schedule):
    check_positive(name, schedule)
    return
  steps = jnp.arange(int(num_steps), dtype=jnp.int32)
  values = np.asarray(jax.vmap(schedule)(steps), dtype=np.float64).reshape(len(steps), -1)
  bad = ~(np.isfinite(values) & (values > 0)).all(axis=1)
  if bad.any():
    k = int(np.argmax(bad))
    raise ValueError(f"{name} schedule must be finite and > 0 at every step; step {k} of "
                     f"{int(num_steps)} gives {values[k].tolist() if values.shape[1] > 1 else float(values[k, 0])}")
