"""The Thaler map and its invariant measure (P0, Lim–Wan–Şimşekli 2022, eq. 5 and Section 3).

    T_γ(y) = (y^{1-γ} + (1+y)^{1-γ} - 1)^{1/(1-γ)}  mod 1,      γ = 1/α ∈ (1/2, 1),

a map of [0, 1] with two full branches [0, y*] and (y*, 1] and a neutral fixed point at 0, where
y* solves y^{1-γ} + (1+y)^{1-γ} = 2. Its invariant density and CDF are

    h(y) = (1-γ)/2^{1-γ} · (y^{-γ} + (1+y)^{-γ}),   H(y) = (y^{1-γ} + (1+y)^{1-γ} - 1)/2^{1-γ},

so ν([0, y*]) = H(y*) = 2^{γ-1} and y0 = H^{-1}(U) samples the invariant measure exactly.

Numerics (why the chain step is not the formula above)
------------------------------------------------------
The statistics that MPGD relies on (v has mean 0, Birkhoff sums → α-stable) are carried by the
long laminar excursions near 0, and the depth of an excursion is set by how close to y* the
previous point landed: a point y* + w re-enters at T ≈ T'(y*) w. In a float32 state the points
near y* lie on a grid of spacing ulp(y*) ≈ 3·10^-8, so re-entries below ≈ 10^-7 — which carry
about (10^-7)^{1-γ} ≈ 3·10^-3 of the invariant mass — are never produced (or produce 0.0, a
fixed point), and the fraction of time above y* comes out ≈ 3·10^-3 too high. Computing in
float64 does not help as long as the *state* is float32.

:func:`step` therefore treats a stored value y as the ulp-cell it stands for: each step moves a
uniformly dithered point y + d·ulp(y), d ~ U[-1/2, 1/2), through the map (this is exactly
stochastic rounding of the increment in the laminar region, so no chain can stall at 0 or at a
rounding fixed point), and the right branch is evaluated as a function of w = (y - y*) + d·ulp(y)
— y - y* is exact in floating point near y* (Sterbenz) — with log1p/expm1 forms that keep full
relative precision for tiny w:

    T(y* + w) = expm1( log1p(Δg)/(1-γ) ),
    Δg = y*^{1-γ} expm1((1-γ) log1p(w/y*)) + (1+y*)^{1-γ} expm1((1-γ) log1p(w/(1+y*))).

The left branch uses T(y) = y · exp(log1p(r)/(1-γ)), r = ((1+y)^{1-γ} - 1)·y^{γ-1}, also free of
cancellation near 0. The dither draws come from the caller's random bits. y* itself is carried
as a float32 pair (hi, lo), hidden from XLA's algebraic simplifier by an optimization barrier
(it otherwise folds (y - hi) - lo into y - hi, which shifts every re-entry by T'(y*)·lo ≈ 5·10^-8
and alone biases the fraction of time above y* by ≈ -3·10^-4: measured).

Measured effect (benchmarks/thaler_bias.py, BENCHMARKS.md; γ = 0.65, 2·10^5 chains × 3000 steps):
the long-run fraction of time above y* matches 1 - 2^{γ-1} to the Monte-Carlo standard error
(≈ 10^-4) in float32 and float64, where the plain float32 formula is off by +9.3·10^-3.
All functions are pure jnp, shape-polymorphic, and jit/vmap-able.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from chaosopt import _validation
from chaosopt.dynamics import random_bits


class ThalerConstants(NamedTuple):
  """Per-γ constants of the Thaler map, as arrays (vmappable over a leading γ axis).

  Computed once in float64 on the host by :func:`thaler_constants`; pass an instance (or a
  stacked batch of them) wherever a ``gamma`` is expected to vary γ under ``jit``/``vmap``.
  """
  gamma: jax.Array
  ystar: jax.Array       # y*: y^{1-γ} + (1+y)^{1-γ} = 2
  ystar_lo: jax.Array    # y* - float32(y*): float32 chains use y* as the pair (hi, lo)
  a_coef: jax.Array      # y*^{1-γ}
  b_coef: jax.Array      # (1+y*)^{1-γ}


def _fixed_point_np(gamma: np.ndarray) -> np.ndarray:
  """y* by bisection + Newton in float64 (vectorized over γ)."""
  s = 1.0 - gamma
  lo, hi = np.zeros_like(gamma), np.ones_like(gamma)
  for _ in range(60):
    mid = 0.5 * (lo + hi)
    f = mid**s + (1.0 + mid) ** s - 2.0
    lo, hi = np.where(f < 0, mid, lo), np.where(f < 0, hi, mid)
  y = 0.5 * (lo + hi)
  for _ in range(3):
    f = y**s + (1.0 + y) ** s - 2.0
    y = y - f / (s * (y ** (s - 1.0) + (1.0 + y) ** (s - 1.0)))
  return y


def thaler_constants(gamma) -> ThalerConstants:
  """Constants for concrete γ (a float or an array of γs, validated to lie in (1/2, 1))."""
  if isinstance(gamma, ThalerConstants):
    return gamma
  if isinstance(gamma, jax.core.Tracer):
    raise TypeError(
        "gamma is traced (inside jit/vmap/inject_hyperparams): the Thaler constants need "
        "float64 host arithmetic. Pass chaosopt.dynamics.thaler.thaler_constants(gammas) "
        "(a vmappable NamedTuple) instead, or make gamma static (e.g. "
        "optax.inject_hyperparams(..., static_args=('gamma',))).")
  g = np.asarray(gamma, dtype=np.float64)
  if not np.all((g > 0.5) & (g < 1.0)):
    raise ValueError(f"gamma must be in (0.5, 1) (gamma = 1/alpha, alpha in (1, 2)), got {gamma!r}")
  y = _fixed_point_np(g)
  s = 1.0 - g
  lo = y - y.astype(np.float32).astype(np.float64)
  return ThalerConstants(gamma=g, ystar=y, ystar_lo=lo, a_coef=y**s, b_coef=(1.0 + y) ** s)


def fixed_point(gamma):
  """The branch point y* of T_γ (float64 numpy for concrete γ)."""
  return thaler_constants(gamma).ystar


def _cast(c: ThalerConstants, dtype) -> ThalerConstants:
  return ThalerConstants(*(jnp.asarray(x, dtype) for x in c))


def default_dtype():
  """The chain-state dtype: float64 when ``jax_enable_x64`` is on, else float32."""
  return jnp.result_type(float)


def invariant_density(y, gamma):
  """h(y) = (1-γ)/2^{1-γ} (y^{-γ} + (1+y)^{-γ})."""
  y = jnp.asarray(y)
  g = jnp.asarray(thaler_constants(gamma).gamma, y.dtype)
  return (1 - g) / 2 ** (1 - g) * (y ** (-g) + (1 + y) ** (-g))


def invariant_cdf(y, gamma):
  """H(y) = (y^{1-γ} + (1+y)^{1-γ} - 1)/2^{1-γ}, via expm1 so H is accurate near 0."""
  y = jnp.asarray(y)
  s = 1 - jnp.asarray(thaler_constants(gamma).gamma, y.dtype)
  return (y**s + jnp.expm1(s * jnp.log1p(y))) / 2**s


def invariant_cdf_inverse(u, gamma, num_newton: int = 30):
  """H^{-1}(u): exact sampling of the invariant measure as ``H^{-1}(U)``.

  Solves t + (1 + t^{1/s})^s - 1 = 2^s u for t = y^s (s = 1-γ) by Newton's method — the
  derivative 1 + (y/(1+y))^γ lies in [1, 1 + 2^{-γ}], so the iteration is well conditioned —
  and returns y = t^{1/s}, which keeps full relative precision for y near 0.
  """
  u = jnp.asarray(u)
  dtype = u.dtype if jnp.issubdtype(u.dtype, jnp.floating) else default_dtype()
  u = u.astype(dtype)
  s = 1 - jnp.asarray(thaler_constants(gamma).gamma, dtype)
  c = 2**s * u

  def body(_, t):
    y = jnp.exp(jnp.log(jnp.maximum(t, jnp.finfo(dtype).tiny)) / s)
    psi = t + jnp.expm1(s * jnp.log1p(y)) - c
    dpsi = 1 + (y / (1 + y)) ** (1 - s)
    return jnp.clip(t - psi / dpsi, 0, c)

  t = lax.fori_loop(0, num_newton, body, c)
  return jnp.exp(jnp.log(jnp.maximum(t, jnp.finfo(dtype).tiny)) / s)


def thaler_map(y, gamma):
  """T_γ(y) evaluated at the point y (no dither), with log1p/expm1 forms; T(y) ∈ (0, 1).

  This is the deterministic map, for analysis and for the paper's warm-up; chains use
  :func:`step`, which also treats floating-point rounding (module docstring).
  """
  y = jnp.asarray(y)
  return map_dithered(y, jnp.zeros_like(y), thaler_constants(gamma))[0]


def ulp(x):
  """Spacing of floating-point numbers at ``|x|`` (normal x), computed from the exponent bits."""
  x = jnp.asarray(x)
  info = jnp.finfo(x.dtype)
  uint = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}[x.dtype.itemsize]
  nbits = 8 * x.dtype.itemsize
  exp_mask = ((1 << (nbits - 1)) - 1) & ~((1 << info.nmant) - 1)
  e = lax.bitcast_convert_type(lax.bitcast_convert_type(x, uint) & uint(exp_mask), x.dtype)
  return e * info.eps


def uniform_from_bits(bits, dtype):
  """U[0, 1) from uint32 bits: 24 bits for float32 (exact), all 32 bits for float64."""
  if jnp.finfo(dtype).nmant >= 32:
    return bits.astype(dtype) * jnp.asarray(2.0**-32, dtype)
  return (bits >> 8).astype(dtype) * jnp.asarray(2.0**-24, dtype)


def _expm1_nonneg(x):
  """e^x - 1 for x >= 0: Taylor (Horner, 8 terms) below 1/8, exp(x) - 1 above.

  Relative error <= 1e-6 in float32 (exact rounding below 1/8; above, exp's error on a result
  >= 0.133); XLA:CPU's expm1 costs ~7x an exp, and the map needs three of them.
  """
  small = x < 0.125
  xs = jnp.where(small, x, 0)
  poly = xs * (1 + xs / 2 * (1 + xs / 3 * (1 + xs / 4 * (1 + xs / 5 * (1 + xs / 6 * (
      1 + xs / 7 * (1 + xs / 8)))))))
  return jnp.where(small, poly, jnp.exp(x) - 1)


def map_dithered(pos, dither, gamma):
  """T applied to the point pos + dither·ulp(pos), dither ∈ [-1/2, 1/2); returns (T, is_right).

  ``is_right`` tells whether that point lies in the branch (y*, 1]. See the module docstring.
  """
  dtype = pos.dtype
  c = _cast(thaler_constants(gamma), dtype)
  s = 1 - c.gamma
  du = dither * ulp(pos)
  # y - y* exactly: pos - hi is exact near y* (Sterbenz); float64 states need no lo part. The
  # barrier hides lo's value from XLA's algebraic simplifier, which otherwise re-associates
  # (pos - hi) - lo into pos - (hi + lo) = pos - hi and loses lo (measured). Only lo: a barrier
  # on all constants stops their folding and costs ~40% of the step.
  lo = lax.optimization_barrier(c.ystar_lo) if dtype == jnp.float32 else 0
  w = ((pos - c.ystar) - lo) + du
  right = w > 0
  y = pos  # left-branch point; its dither enters as stochastic rounding of the increment below
  # ((1+z)^s - 1) with z = y (left) or w/(1+y*) (right): shared expm1/log1p pair.
  e1 = _expm1_nonneg(s * jnp.log1p(jnp.where(right, w / (1 + c.ystar), y)))
  # left: y^{-s} = 1 + expm1(-s log y) (≥ 1, no cancellation); right: expm1(s log1p(w/y*)).
  ell = jnp.where(right, jnp.log1p(w / c.ystar), jnp.log(jnp.maximum(y, jnp.finfo(dtype).tiny)))
  q = _expm1_nonneg(jnp.where(right, s, -s) * ell)
  r = jnp.where(right, c.a_coef * q + c.b_coef * e1, e1 * (1 + q))
  m = _expm1_nonneg(jnp.log1p(r) / s)
  # left: T(y) = y + y·m; adding (dither + increment) before y rounds the increment
  # stochastically (a sub-ulp increment is kept on average instead of being rounded away).
  out = jnp.where(right, m, y + (du + y * m))
  one_below = jnp.asarray(1, dtype) - jnp.finfo(dtype).epsneg
  return jnp.clip(out, jnp.finfo(dtype).tiny, one_below), right


def step(pos, bits, gamma):
  """One step of the floating-point Thaler chain (module docstring): returns (T, is_right).

  ``pos`` ∈ (0, 1) in the chain dtype, ``bits`` uint32 of the same shape supplying the dither
  d = U - 1/2. ``is_right`` tells whether the (dithered) point was in the branch (y*, 1].
  """
  d = uniform_from_bits(bits, pos.dtype) - jnp.asarray(0.5, pos.dtype)
  return map_dithered(pos, d, gamma)


def sample_invariant(key, shape, gamma, dtype=None):
  """Draws y ~ ν (the invariant measure) exactly, as H^{-1}(U) with U ∈ (0, 1)."""
  dtype = dtype or default_dtype()
  tiny = jnp.finfo(dtype).tiny
  u = jax.random.uniform(key, shape, dtype, minval=tiny, maxval=1.0)
  return jnp.clip(invariant_cdf_inverse(u, gamma), tiny, 1 - jnp.finfo(dtype).epsneg)


def sample_warmup(key, shape, gamma, num_steps: int = 10_000, dtype=None):
  """The paper's initialization y0 = T^{num_steps}(U), U ~ U(0, 1) (iterated with :func:`step`)."""
  dtype = dtype or default_dtype()
  k_u, k_d = jax.random.split(key)
  y = jax.random.uniform(k_u, shape, dtype, minval=jnp.finfo(dtype).tiny, maxval=1.0)
  c = thaler_constants(gamma)

  def body(y, k):
    return step(y, random_bits.bits(k, shape), c)[0], None

  y, _ = lax.scan(body, y, jax.random.split(k_d, num_steps))
  return y


def check_gamma(gamma) -> None:
  """Validates γ ∈ (1/2, 1) for floats; ThalerConstants were validated when built."""
  if not isinstance(gamma, ThalerConstants):
    _validation.check_in_range("gamma", gamma, 0.5, 1.0, lo_open=True, hi_open=True)


__all__ = [
    "ThalerConstants", "thaler_constants", "fixed_point", "invariant_density", "invariant_cdf",
    "invariant_cdf_inverse", "thaler_map", "map_dithered", "step", "sample_invariant", "sample_warmup", "ulp",
    "uniform_from_bits", "default_dtype", "check_gamma",
]
