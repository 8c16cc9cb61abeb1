"""Bifurcation diagrams, period detection and the chaos threshold (Kong & Tao 2020, P1 App. D.1).

For each learning rate the GD map is iterated from a fixed initial condition long enough to
settle on its attractor, then the next ``n_keep`` iterates are kept (P1 Fig. 9). The period of
the kept tail is the smallest ``p <= max_period`` with ``|x_{i+p} - x_i| <= tol`` for all i
(0 = no period found: chaos, or a period longer than ``max_period``). Period doubling
(1 -> 2 -> 4 -> ...) leads to chaos; the chaos threshold is located as the first learning rate
at which no period is found and the Lyapunov exponent (P1 eq. 4) of the tail is positive.
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.core.loop import scan_chunks


def attractor_tails(map_fn: Callable, x0: jax.Array, params, *, num_transient: int,
                    num_keep: int, chunk_size: int = 10000) -> np.ndarray:
  """``[n, num_keep, d]`` iterates after ``num_transient`` steps of ``x -> map_fn(x, p)``.

  ``x0``: ``[n, d]``; ``params``: pytree with leading axis ``n`` (e.g. one ``eta`` per row).
  """
  x0 = jnp.asarray(x0)
  vstep = jax.vmap(map_fn)

  def settle(carry, k):
    x, p = carry
    return (vstep(x, p), p), None

  (x, _), _ = scan_chunks(settle, (x0, params), num_transient,
                          chunk_size=min(chunk_size, max(num_transient, 1)), donate=False) \
      if num_transient > 0 else ((x0, params), None)

  def keep(carry, k):
    x, p = carry
    return (vstep(x, p), p), x

  _, tail = scan_chunks(keep, (x, params), num_keep, chunk_size=num_keep, donate=False)
  return np.swapaxes(np.asarray(tail), 0, 1)


def detect_period(tail: np.ndarray, *, max_period: int = 64, atol: float = 0.0,
                  rtol: float = 1e-6) -> int:
  """Smallest period ``p <= max_period`` of a tail ``[T, d]`` (or ``[T]``), 0 if none.

  Tolerance ``atol + rtol * max(spread, max |x|)``, ``spread`` = the tail's range (scale free;
  the ``max |x|`` term absorbs round-off flicker of a fixed point). Needs
  ``T >= 2 max_period``.
  """
  t = np.asarray(tail, np.float64)
  if t.ndim == 1:
    t = t[:, None]
  if t.shape[0] < 2 * max_period:
    raise ValueError(f"tail of length {t.shape[0]} is too short for max_period={max_period}")
  if not np.all(np.isfinite(t)):
    return 0
  spread = float(np.max(t.max(0) - t.min(0)))
  tol = atol + rtol * max(spread, float(np.max(np.abs(t))))
  if spread <= tol:
    return 1
  for p in range(1, max_period + 1):
    if np.max(np.abs(t[p:] - t[:-p])) <= tol:
      return p
  return 0


def chaos_threshold(etas: np.ndarray, periods: np.ndarray,
                    lyapunov: Optional[np.ndarray] = None) -> Optional[float]:
  """Smallest ``eta`` whose tail has no detected period (0) and, if given, a positive Lyapunov
  exponent (periodic windows at larger ``eta`` are allowed, as in any chaotic cascade).
  None if no ``eta`` of the grid is chaotic."""
  etas = np.asarray(etas)
  chaotic = np.asarray(periods) == 0
  if lyapunov is not None:
    chaotic &= np.asarray(lyapunov) > 0
  return float(etas[chaotic].min()) if chaotic.any() else None


def first_eta_with_period(etas: np.ndarray, periods: np.ndarray, p: int) -> Optional[float]:
  """Smallest ``eta`` whose detected period is ``p`` (None if none)."""
  etas = np.asarray(etas)
  hit = etas[np.asarray(periods) == p]
  return float(hit.min()) if hit.size else None
