"""Equilibrium gradient/noise statistics and the linear-scaling-rule test (P3, Sec. 6, App. E.2).

P3 measures, at equilibrium of SGD with batch size ``B``,
``G_B = ‖∇L(x)‖²`` (squared norm of the full gradient) and ``N_B = tr Σ_B(x)`` (trace of the
covariance of the batch-``B`` stochastic gradient). Thm 6.6: if the linear scaling rule from ``B``
to ``κB`` holds in the sense of ``(C, κ)``-LSI, then ``κ ≤ C² (1 + N_B/G_B)``; the paper uses
``C² = 2`` and the approximate critical batch size ``B* = C² B N_B / G_B`` (App. E.2, where
``G_t/N_t`` at ``B*`` hits ``C²`` on a line of slope 1 in ``B``).

Estimators (all take stacked flat gradients; build them with
:func:`chaosopt.estimators.gradient_matrix` or by stacking stochastic gradients):

* :func:`unbiased_sq_norm_and_trace` — from ``K`` i.i.d. stochastic gradients ``g_k`` with
  ``E g_k = ∇L``: ``N̂ = Σ_k ‖g_k - ḡ‖²/(K-1)`` (unbiased for ``tr Cov g``) and
  ``Ĝ = ‖ḡ‖² - N̂/K`` (unbiased for ``‖∇L‖²``, since ``E‖ḡ‖² = ‖∇L‖² + tr Cov g / K``).
  The plain ``‖ḡ‖²`` overestimates ``G`` by ``N/K``, which dominates when ``N ≫ G``.
* :func:`lsi_holds` — P3 Def. 6.4 ((C, κ)-LSI) tested from R = ‖x‖², G and N directly.
* :func:`finite_data_noise_statistics` — exact ``G`` and ``N_B`` on a finite training set from
  its per-example gradients (``Σ_B = ∇𝓛 Var[V_sgd(B)] ∇𝓛ᵀ``, P4 eq. 1).
"""
from __future__ import annotations

from typing import Optional

import jax.numpy as jnp
import numpy as np


def _as_2d(samples) -> jnp.ndarray:
  s = jnp.asarray(samples)
  if s.ndim != 2:
    raise ValueError(f"expected stacked flat gradients [K, d], got shape {s.shape}")
  return s


def unbiased_sq_norm_and_trace(samples) -> tuple[jnp.ndarray, jnp.ndarray]:
  """``(Ĝ, N̂)``: unbiased ``‖E g‖²`` and ``tr Cov g`` from ``K ≥ 2`` i.i.d. samples ``[K, d]``."""
  s = _as_2d(samples)
  k = s.shape[0]
  if k < 2:
    raise ValueError(f"need at least 2 gradient samples, got {k}")
  mean = jnp.mean(s, axis=0)
  n_hat = jnp.sum((s - mean) ** 2) / (k - 1)
  g_hat = jnp.sum(mean ** 2) - n_hat / k
  return g_hat, n_hat


def finite_data_noise_statistics(per_example_grads, batch_size: int, *,
                                 replacement: bool = True) -> dict:
  """Exact ``G = ‖∇L‖²`` and ``N_B = tr Σ_B`` on the finite set whose gradients are ``[n, d]``.

  With replacement ``N_B = tr S / B``, without ``N_B = (n-B)/(n-1) · tr S / B``, where
  ``S = (1/n) Σ_i (∇ℓ_i - ∇L)(∇ℓ_i - ∇L)ᵀ``. Returns ``{"G", "N", "N_1", "ratio_G_over_N"}``
  (``N_1 = tr S``).
  """
  g = _as_2d(per_example_grads)
  n = g.shape[0]
  if batch_size < 1 or (not replacement and batch_size > n):
    raise ValueError(f"batch_size must be in [1, {n if not replacement else 'inf'}), "
                     f"got {batch_size}")
  mean = jnp.mean(g, axis=0)
  tr_s = jnp.sum((g - mean) ** 2) / n
  nb = tr_s / batch_size
  if not replacement:
    nb = nb * ((n - batch_size) / (n - 1) if n > 1 else 0.0)
  big_g = jnp.sum(mean ** 2)
  return {"G": big_g, "N": nb, "N_1": tr_s, "ratio_G_over_N": big_g / nb}


def population_noise_statistics(per_example_grads, batch_size: int) -> dict:
  """Unbiased ``G`` and ``N_B`` of the *population* from ``m`` i.i.d. examples' gradients.

  Uses :func:`unbiased_sq_norm_and_trace` on single-example gradients (``N_1``) and
  ``N_B = N_1 / B`` (i.i.d. batches). Returns ``{"G", "N", "N_1", "ratio_G_over_N"}``.
  """
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  big_g, n1 = unbiased_sq_norm_and_trace(per_example_grads)
  nb = n1 / batch_size
  return {"G": big_g, "N": nb, "N_1": n1, "ratio_G_over_N": big_g / nb}


def lsr_kappa_bound(g: float, n: float, c_squared: float = 2.0) -> float:
  """Thm 6.6: the largest ``κ`` for which LSR from ``B`` to ``κB`` can hold, ``C²(1 + N_B/G_B)``."""
  if not c_squared > 1.0:
    raise ValueError(f"c_squared must be > 1 (P3 uses 2), got {c_squared!r}")
  if not g > 0:
    raise ValueError(f"G must be > 0, got {g!r}")
  return float(c_squared * (1.0 + n / g))


def predicted_critical_batch_size(batch_size: int, g: float, n: float, *,
                                  c_squared: float = 2.0, approximate: bool = True) -> float:
  """``B* = C² B N_B/G_B`` (App. E.2), or ``B · C²(1 + N_B/G_B)`` if not ``approximate``."""
  if not g > 0:
    raise ValueError(f"G must be > 0, got {g!r}")
  if not c_squared > 1.0:
    raise ValueError(f"c_squared must be > 1 (P3 uses 2), got {c_squared!r}")
  if approximate:
    return float(batch_size * c_squared * n / g)
  return float(batch_size * lsr_kappa_bound(g, n, c_squared))


def lsr_break_batch_size(batch_sizes, errors, *, tolerance: float = 0.2) -> Optional[int]:
  """Smallest batch size whose error exceeds the best error by more than ``tolerance`` × best.

  P3 App. E.2 calls LSR failed when the final test error is > 20% above the lowest achieved.
  Returns ``None`` if no batch size fails.
  """
  b = np.asarray(batch_sizes)
  e = np.asarray(errors, dtype=np.float64)
  best = np.nanmin(e)
  fail = (e > (1.0 + tolerance) * best) | ~np.isfinite(e)
  order = np.argsort(b)
  # the break point is the first failure above the batch size of the best error
  b_best = b[np.nanargmin(e)]
  for i in order:
    if b[i] > b_best and fail[i]:
      return int(b[i])
  return None


def lsi_holds(r_b: float, g_b: float, n_b: float, r_kb: float, g_kb: float, n_kb: float,
              kappa: float, c: float) -> bool:
  """P3 Def. 6.4, ``(C, κ)``-linear scaling invariance measured from the equilibrium values:
  ``1/C ≤ R_B/R_κB, N_B/(κ N_κB), G_B/G_κB ≤ C`` (``R = ‖x‖²``, ``G = ‖∇L‖²``,
  ``N = tr Σ`` of the batch gradient)."""
  if not c > 1.0 or not kappa > 0:
    raise ValueError(f"need C > 1 and κ > 0, got C = {c!r}, κ = {kappa!r}")
  ratios = (r_b / r_kb, n_b / (kappa * n_kb), g_b / g_kb)
  return all(1.0 / c <= q <= c for q in ratios)
