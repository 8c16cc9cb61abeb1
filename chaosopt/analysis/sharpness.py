"""Sharpness against the GD stability bound, and whether a loss curve still oscillates.

GD ``θ_{k+1} = θ_k − η ∇L(θ_k)`` (P1 eq. 1's map φ with ``f = L``) linearized at a minimum is
``δ_{k+1} = (I − η ∇²L) δ_k``: stable iff ``η λ_max(∇²L) < 2``. A run that *converges to a
minimum* ends with ``λ_max < 2/η`` and a loss whose fluctuation about its trend vanishes; a run
at the *edge of stability* (Cohen et al. 2021) keeps ``λ_max ≈ 2/η`` and a loss that oscillates
about its trend without settling — the "statistical distribution" P1 Fig. 6 describes.

* :func:`hessian_eigenvalues` — the exact spectrum of ``∇²L(θ)`` for a small parameter vector,
  one forward-over-reverse product ``jax.jvp(∇L, θ, e_i)`` per basis vector (113 for the
  airfoil 5-16-1 MLP), symmetrized; :func:`sharpness` its largest eigenvalue.
* :func:`detrended_spread` — ``std(L_k − S_k) / mean L`` over a window, ``S`` the loss's local
  cubic trend (Savitzky–Golay: a least-squares cubic over the ``2m + 1`` steps around ``k``),
  relative to the loss level. A smooth (converging) curve leaves only what no cubic follows
  over ``2m + 1`` steps (fourth-derivative order); a period-2 or spiking oscillation leaves
  its amplitude.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

# half-width m and order of the local polynomial trend :func:`detrended_spread` removes
TREND_HALF_WIDTH = 50
TREND_ORDER = 3


def hessian_eigenvalues(f: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
  """Ascending eigenvalues of ``∇²f(x)`` for a flat ``x`` (``n`` products ``jvp(∇f)``; use for
  small ``n`` only). Traceable (jit / vmap)."""
  g = jax.grad(f)
  eye = jnp.eye(x.size, dtype=x.dtype)
  h = jax.vmap(lambda e: jax.jvp(g, (x,), (e,))[1])(eye)
  return jnp.linalg.eigvalsh(0.5 * (h + h.T))


def sharpness(f: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
  """``λ_max(∇²f(x))`` (the largest eigenvalue, not the largest modulus)."""
  return hessian_eigenvalues(f, x)[-1]


def detrended_spread(loss, half_width: int = TREND_HALF_WIDTH) -> float:
  """``std(L − S) / mean L`` over the interior of ``loss``, ``S`` its local cubic trend over
  ``2·half_width + 1`` steps (the first and last ``half_width`` steps, where the fit is
  one-sided, are left out). 0 for a cubic; NaN for a window shorter than
  ``2·half_width + 2`` or a non-finite loss."""
  from scipy.signal import savgol_filter

  y = np.asarray(loss, np.float64)
  m = int(half_width)
  if y.ndim != 1 or y.size < 2 * m + 2 or not np.all(np.isfinite(y)):
    return float("nan")
  trend = savgol_filter(y, 2 * m + 1, TREND_ORDER, mode="interp")
  resid = (y - trend)[m:y.size - m]
  level = float(np.mean(y))
  return float(np.std(resid) / abs(level)) if level != 0 else float("nan")


__all__ = ["TREND_HALF_WIDTH", "TREND_ORDER", "hessian_eigenvalues", "sharpness",
           "detrended_spread"]
