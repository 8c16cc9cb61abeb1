"""Floating-point precision helpers every layer may use (no paper equation): whether JAX makes
float64 arrays, and a context that turns float64 on or off for a block (P1's ε ≤ 1e-4
multiscale objectives need it; :mod:`chaosopt.tasks.multiscale` says why)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def x64_enabled() -> bool:
  """True if jax creates float64 arrays by default (global flag or ``jax.enable_x64`` context)."""
  return jax.dtypes.canonicalize_dtype(jnp.float64) == np.dtype(np.float64)


def x64_scope(enabled: bool = True):
  """Context manager turning float64 on (or off) for a block only, e.g. in tests or in a worker
  thread re-entering its caller's precision (JAX's config contexts are thread-local).

  ``jax.enable_x64`` on current jax, ``jax.experimental.enable_x64`` on older versions.
  """
  ctx = getattr(jax, "enable_x64", None)
  if ctx is None:  # pragma: no cover - older jax
    from jax.experimental import enable_x64 as ctx
  return ctx(enabled)


__all__ = ["x64_enabled", "x64_scope"]
