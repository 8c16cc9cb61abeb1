"""Ensembles, orbit histograms and distances to the rescaled Gibbs law (Kong & Tao 2020, P1).

* Orbits of a map (P1's GD map ``phi`` or the stochastic map
  ``phi_hat(x) = x - eta grad f0(x) + eta zeta``, Thm. 4) for a whole ensemble in one jitted,
  vmapped program (:func:`iterate_ensemble`), and the histogram of one long orbit accumulated
  on the fly (:func:`orbit_histogram`, P1 Fig. 3b / 12: ergodicity).
* The rescaled Gibbs density ``rho ~ exp(-2 f0(x) / (eta sigma^2))`` (eq. 2, Thm. 7), normalized
  numerically on a grid, as bin probabilities.
* Numeric distances: total variation between binned laws (with its sampling floor) and the
  1-Wasserstein distance ``W1 = int |F_n - F| dx`` in 1-D.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.core.loop import scan_chunks

# ---------------------------------------------------------------------------------------------
# Running maps over ensembles
# ---------------------------------------------------------------------------------------------


def iterate_ensemble(step_fn: Callable, carry0, num_steps: int, *,
                     snapshots: Sequence[int] = (), chunk_size: int = 1000,
                     observe: Optional[Callable] = None) -> tuple[object, dict]:
  """Iterates a batched ``carry -> carry`` map ``num_steps`` times in jitted chunks.

  ``step_fn`` acts on the whole ensemble (vmap it first). Returns the final carry and
  ``{t: observe(carry_t)}`` for each ``t`` in ``snapshots`` (``t = 0`` is the initial state);
  every snapshot time must be a multiple of ``chunk_size`` (pick ``chunk_size`` accordingly).
  ``observe`` defaults to the identity; pass e.g. ``lambda c: c.x`` for a momentum state.
  """
  observe = observe or (lambda c: c)
  snaps = sorted(set(int(t) for t in snapshots))
  for t in snaps:
    if t % chunk_size or t > num_steps or t < 0:
      raise ValueError(f"snapshot {t} must be in [0, {num_steps}] and a multiple of "
                       f"chunk_size={chunk_size}")
  out = {}
  if 0 in snaps:
    out[0] = np.asarray(jax.device_get(observe(carry0)))

  def on_chunk(carry, _, steps_done):
    if steps_done in snaps:
      out[steps_done] = np.asarray(jax.device_get(observe(carry)))
    return False

  carry, _ = scan_chunks(lambda c, k: (step_fn(c), None), carry0, num_steps,
                         chunk_size=chunk_size, on_chunk=on_chunk, donate=False)
  return carry, out


def stochastic_map_step(obj, eta):
  """Batched ``phi_hat`` (P1 Thm. 4) on carry ``(x[n, d], key)``: one fresh draw of ``zeta``
  per orbit and step (``obj.zeta`` is elementwise over a batch); see :func:`iterate_ensemble`."""
  grad_f0 = jax.vmap(obj.grad_f0)

  def step(carry):
    x, key = carry
    key, sub = jax.random.split(key)
    return x - eta * grad_f0(x) + eta * obj.zeta(sub, x), key

  return step


def gd_ensemble_step(obj, eta, eps=None):
  """Batched deterministic GD ``phi`` on ``x[n, d]``."""
  return jax.vmap(lambda x: obj.gd_map(x, eta, eps))


def orbit_histogram(step_fn: Callable, carry0, num_steps: int, *, lo: Sequence[float],
                    hi: Sequence[float], bins: int, burn_in: int = 0,
                    observe: Optional[Callable] = None, chunk_size: int = 10000):
  """Histogram of ``observe(carry_t)`` (shape ``(d,)``) for ``burn_in <= t < num_steps``.

  The counts live in the scan carry, so an orbit of 10^7 steps needs no trajectory storage.
  Uniform bins on the box ``[lo, hi]`` (``bins`` per axis). Returns
  ``(counts[bins]*d (int), n_outside, final carry)``; ``step_fn`` maps one carry to the next
  (vmap the whole function for several orbits).
  """
  observe = observe or (lambda c: c)
  lo = jnp.asarray(lo)
  hi = jnp.asarray(hi)
  d = lo.shape[0]
  width = (hi - lo) / bins

  def step(state, k):
    carry, counts, outside = state
    x = observe(carry)
    idx = jnp.floor((x - lo) / width).astype(jnp.int32)
    inside = jnp.all((idx >= 0) & (idx < bins))
    flat = jnp.ravel_multi_index(tuple(jnp.clip(idx, 0, bins - 1)), (bins,) * d, mode="clip")
    take = (k >= burn_in)
    counts = counts.at[flat].add(jnp.where(take & inside, 1, 0))
    outside = outside + jnp.where(take & ~inside, 1, 0)
    return (step_fn(carry), counts, outside), None

  state0 = (carry0, jnp.zeros((bins ** d,), jnp.int32), jnp.zeros((), jnp.int32))
  (carry, counts, outside), _ = scan_chunks(step, state0, num_steps, chunk_size=chunk_size,
                                            donate=False)
  return np.asarray(counts).reshape((bins,) * d), int(outside), carry


# ---------------------------------------------------------------------------------------------
# Densities and bin probabilities
# ---------------------------------------------------------------------------------------------


def rescaled_gibbs_logpdf(f0: Callable, eta: float, sigma2: float) -> Callable:
  """Unnormalized ``log rho(x) = -2 f0(x) / (eta sigma2)`` (P1 eq. 2); ``x`` of shape (d,)."""
  scale = 2.0 / (eta * sigma2)
  return lambda x: -scale * f0(x)


def bin_probabilities(logpdf: Callable, edges: Sequence[np.ndarray], *, refine: int = 16,
                      total_edges: Optional[Sequence[np.ndarray]] = None) -> np.ndarray:
  """Probabilities of the boxes of a (1-D or 2-D, uniform) grid under ``exp(logpdf)``.

  Integrated with a midpoint rule on ``refine`` sub-cells per bin and axis, normalized over the
  grid itself (so choose edges that hold essentially all the mass; for densities with mass
  outside the grid pass a wider ``total_edges`` of the same spacing to normalize over).
  """
  edges = [np.asarray(e, np.float64) for e in edges]

  def cell_mass(eds):
    mids = []
    for e in eds:
      w = np.diff(e)
      sub = (np.arange(refine) + 0.5) / refine
      mids.append((e[:-1, None] + w[:, None] * sub[None, :]).reshape(-1))
    grid = np.stack(np.meshgrid(*mids, indexing="ij"), axis=-1).reshape(-1, len(eds))
    lp = np.asarray(jax.vmap(logpdf)(jnp.asarray(grid)), np.float64)
    shape = tuple(len(e) - 1 for e in eds)
    return lp.reshape(sum(((s, refine) for s in shape), ()))

  lp = cell_mass(edges)
  ref = cell_mass(total_edges) if total_edges is not None else lp
  top = np.max(ref)
  w = np.exp(lp - top)
  axes = tuple(range(1, 2 * len(edges), 2))
  mass = w.sum(axis=axes)
  total = np.exp(ref - top).sum()
  return mass / total


def histogram_probs(samples, edges: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
  """Empirical bin probabilities of ``samples[n, d]`` and the mass outside the grid."""
  s = np.asarray(samples, np.float64)
  if s.ndim == 1:
    s = s[:, None]
  h, _ = np.histogramdd(s, bins=[np.asarray(e) for e in edges])
  n = s.shape[0]
  return h / n, 1.0 - h.sum() / n


def total_variation(p: np.ndarray, q: np.ndarray, p_out: float = 0.0,
                    q_out: float = 0.0) -> float:
  """Binned TV distance ``0.5 (sum |p - q| + |p_out - q_out|)`` (mass outside the grid kept)."""
  return 0.5 * (float(np.abs(np.asarray(p) - np.asarray(q)).sum()) + abs(p_out - q_out))


def tv_sampling_floor(q: np.ndarray, n: int) -> float:
  """Expected binned TV between ``n`` i.i.d. samples of ``q`` and ``q`` itself.

  With ``p_i - q_i ~ N(0, q_i (1 - q_i) / n)``, ``E|p_i - q_i| = sqrt(2 q_i (1-q_i) / (pi n))``.
  A measured TV at this level means "indistinguishable at this sample size"; correlated orbit
  samples have a larger floor (fewer effective samples).
  """
  q = np.asarray(q, np.float64).ravel()
  return 0.5 * float(np.sum(np.sqrt(2.0 * q * (1.0 - q) / (math.pi * n))))


def wasserstein1_to_density(samples, grid: np.ndarray, pdf: np.ndarray) -> float:
  """1-D ``W1 = int |F_n(x) - F(x)| dx`` between samples and a density tabulated on ``grid``.

  ``pdf`` need not be normalized (it is, by the trapezoid rule on ``grid``); samples outside
  the grid contribute their distance to the grid's ends.
  """
  x = np.asarray(grid, np.float64)
  p = np.asarray(pdf, np.float64)
  cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(x))])
  cdf /= cdf[-1]
  s = np.sort(np.asarray(samples, np.float64).ravel())
  fn = np.searchsorted(s, x, side="right") / s.size
  d = np.abs(fn - cdf)
  inner = float(np.sum(0.5 * (d[1:] + d[:-1]) * np.diff(x)))
  tails = float(np.sum(np.clip(x[0] - s, 0, None)) + np.sum(np.clip(s - x[-1], 0, None)))
  return inner + tails / s.size


def wasserstein1_samples(a, b) -> float:
  """1-D W1 between two samples (scipy's exact formula)."""
  from scipy.stats import wasserstein_distance
  return float(wasserstein_distance(np.ravel(a), np.ravel(b)))


def gibbs_on_grid(f0: Callable, eta: float, sigma2: float, grid: np.ndarray) -> np.ndarray:
  """Normalized rescaled Gibbs density on a 1-D ``grid`` (trapezoid normalization)."""
  lp = rescaled_gibbs_logpdf(f0, eta, sigma2)
  v = np.asarray(jax.vmap(lp)(jnp.asarray(grid)[:, None]), np.float64)
  w = np.exp(v - v.max())
  return w / np.sum(0.5 * (w[1:] + w[:-1]) * np.diff(grid))



def wasserstein1_binned(p: np.ndarray, q: np.ndarray, edges: np.ndarray) -> float:
  """1-D W1 between two binned laws on the same ``edges`` (each renormalized to 1):
  ``sum |P_i - Q_i| dx_i`` over the bin CDFs (exact up to the within-bin placement, i.e. to
  at most one bin width)."""
  p = np.asarray(p, np.float64).ravel()
  q = np.asarray(q, np.float64).ravel()
  fp = np.cumsum(p / p.sum())
  fq = np.cumsum(q / q.sum())
  return float(np.sum(np.abs(fp - fq)[:-1] * np.diff(np.asarray(edges, np.float64))[1:]))


def compare_to_reference(samples, q: np.ndarray, edges: np.ndarray) -> dict:
  """TV, W1 and the TV sampling floor of ``samples`` (1-D) against bin probabilities ``q``."""
  p, out = histogram_probs(samples, [edges])
  n = int(np.size(samples))
  return {"tv": total_variation(p, q, out, 0.0), "w1": wasserstein1_binned(p, q, edges),
          "tv_floor": tv_sampling_floor(q, n), "n": n, "mass_outside": out}
