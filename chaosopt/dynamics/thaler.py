r"""The Thaler map and its invariant measure (P0, Lim–Wan–Şimşekli 2022, eq. 5 and Section 3).

.. math::

  T_\gamma(y) = \bigl(y^{1-\gamma} + (1+y)^{1-\gamma} - 1\bigr)^{1/(1-\gamma)} \bmod 1,
  \qquad \gamma = 1/\alpha \in (1/2, 1),

a map of :math:`[0, 1]` with two full branches :math:`[0, y^*]` and :math:`(y^*, 1]` and a
neutral fixed point at 0, where :math:`y^*` solves :math:`y^{1-\gamma} + (1+y)^{1-\gamma} = 2`.
Its invariant density and CDF are

.. math::

  h(y) = \frac{1-\gamma}{2^{1-\gamma}} \bigl(y^{-\gamma} + (1+y)^{-\gamma}\bigr), \qquad
  H(y) = \frac{y^{1-\gamma} + (1+y)^{1-\gamma} - 1}{2^{1-\gamma}},

so :math:`\nu([0, y^*]) = H(y^*) = 2^{\gamma-1}` and :math:`y_0 = H^{-1}(U)` samples the invariant
measure exactly.

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
uniformly dithered point y + d·ulp(y), d ~ U[-1/2, 1/2), through the map, so no chain can stall
at 0 or at a rounding fixed point. The right branch is evaluated at the dithered point itself,
as a function of w = (y - y*) + d·ulp(y) — y - y* is exact in floating point near y* (Sterbenz) —
that keeps full relative precision for tiny w. The left branch is evaluated at y and the
dithered point enters to first order, T(y + du) ≈ T(y) + T'(y) du, added together with the
increment before y: this is exactly stochastic rounding of the increment in the laminar region
(T' ≈ 1) and maps each input cell onto its whole image (with du alone, i.e. T' taken as 1, an
expanding step piles the mass of neighbouring cells into a comb of empty and doubly filled
cells). Measured on the 2048 float32 cells around y* filled from the left preimage of y*
(γ = 0.65): largest deviation of a cell's mass from the mean 1.37 with the slope, 1.70 without;
the rest is the float32 evaluation error of T (~0.5 ulp), which moves cell boundaries as much.

Both branches are smooth functions on bounded intervals away from their singularities, so they
are evaluated as near-minimax polynomials fitted per γ on the host (float64 Chebyshev fits,
power basis; degrees in ``_DEG32``/``_DEG64``, fit errors far below one ulp of the dtype):

.. math::

  \text{right:}\quad & T(y^* + w) = w\, R(w), \qquad w \in (0, 1 - y^*], \\
  \text{left:}\quad & T(y) = y + y\, m, \quad m = r F(r), \quad r = y\, E(y)\, y^{-s},
     \qquad y \in (0, y^*], \\
  & E(x) = \frac{(1+x)^s - 1}{x}, \quad F(r) = \frac{(1+r)^{1/s} - 1}{r}, \quad s = 1-\gamma, \\
  & T'(y) = (1+r)^{\gamma/s} \bigl(1 + y^\gamma (1+y)^{-\gamma}\bigr),

(:math:`r = ((1+y)^s - 1)\, y^{-s}` and :math:`(1+r)^{1/s} = T(y)/y`), so a step costs one log
and one exp (:math:`y^{-s}`) plus polynomials, instead of three logs, three exps and three
polynomials; the only singular factor, :math:`y^{-s}`, keeps relative precision down to the
smallest normal y. The dither draws come from the caller's random bits. y* itself is carried
as a float32 pair (hi, lo), hidden from XLA's algebraic simplifier by an optimization barrier
(it otherwise folds (y - hi) - lo into y - hi, which shifts every re-entry by T'(y*)·lo ≈ 5·10^-8
and alone biases the fraction of time above y* by ≈ -3·10^-4: measured).

Measured effect (benchmarks/thaler_bias.py, BENCHMARKS.md): at 2·10^5 chains × 3000 steps
(standard error ≈ 10^-4) the long-run fraction of time above y* matches 1 - 2^{γ-1} in float32
and float64, where the plain float32 formula is off by +9.3·10^-3 (γ = 0.65). At 10^10
coordinate-steps both dtypes stay within 2 standard errors for γ = 0.55, 0.65, 0.75 (float32
−7·10^-5…+1·10^-5, se 2–5·10^-5). Pooled over seeds, float32 keeps a residual ≈ −5·10^-5 at
γ ≥ 0.65 that comes from the float32 evaluation of the map (mapping the same float32 states in
float64 removes it), and that is sensitive to how r is computed (r = y^γ E(y) gave −2.3·10^-4).
All functions are pure jnp, shape-polymorphic, and jit/vmap-able.
"""
from __future__ import annotations

import functools

from typing import NamedTuple, Union

import jax
import jax.core  # jax.core.Tracer (the attribute is not visible to type checkers otherwise)
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from chaosopt import _validation
from chaosopt.core import draws
from chaosopt.dynamics import random_bits


# a ThalerConstants field: float64 NumPy as built on the host, a jax.Array once cast or traced
Array = Union[np.ndarray, jax.Array]


class ThalerConstants(NamedTuple):
  """Per-γ constants of the Thaler map, as arrays (vmappable over a leading γ axis).

  Computed once in float64 on the host by :func:`thaler_constants`; pass an instance (or a
  stacked batch of them) wherever a ``gamma`` is expected to vary γ under ``jit``/``vmap``.
  The ``*_poly*`` fields are power-basis coefficients (constant term first, last axis) of the
  polynomial fits that :func:`map_dithered` evaluates instead of log/exp pairs (module
  docstring): ``32`` = float32 degrees, ``64`` = float64 degrees. Fields are float64 NumPy arrays
  as built, JAX arrays once cast or traced.

  Examples:
    >>> import jax
    >>> import numpy as np
    >>> import chaosopt
    >>> consts = chaosopt.thaler_constants(np.array([0.6, 0.8]))
    >>> isinstance(consts, chaosopt.ThalerConstants)
    True
    >>> jax.vmap(lambda c: c.gamma * 2)(consts)  # a pytree: vmap over the γ axis
    Array([1.2, 1.6], dtype=float32)

  References:
    Lim, Wan & Şimşekli, NeurIPS 2022, eq. 5 (P0 in docs/papers.md).
  """
  gamma: Array
  ystar: Array       # y*: y^{1-γ} + (1+y)^{1-γ} = 2
  ystar_lo: Array    # y* - float32(y*): float32 chains use y* as the pair (hi, lo)
  a_coef: Array      # y*^{1-γ}
  b_coef: Array      # (1+y*)^{1-γ}
  e_poly32: Array    # E(x) = ((1+x)^s - 1)/x on [0, y*]
  f_poly32: Array    # F(r) = ((1+r)^{1/s} - 1)/r on [0, y*^{-s} - 1]
  r_poly32: Array    # R(w) = T(y* + w)/w on [0, 1 - y*] (right branch)
  e_poly64: Array
  f_poly64: Array
  r_poly64: Array
  d1_poly: Array     # (1+r)^{γ/s} on [0, y*^{-s} - 1]   (left-branch slope T', low degree)
  d2_poly: Array     # (1+y)^{-γ} on [0, y*]


# Polynomial degrees: max relative error of the float64 fits over γ ∈ [0.501, 0.99] (measured)
# E 8: 1.1e-9, F 6: 2e-11, R 8: 5e-11 (float32 ulp 6e-8); E 19: 2e-15, F 15: 1e-15,
# R 21: 2e-15 (float64 ulp 1.1e-16, so a few ulp); D1 5: 1e-8, D2 6: 8e-7 (the slope only
# scales the dither width: a relative error ε leaves a cell-to-cell mass ripple of size ε).
_DEG32 = {"e": 8, "f": 6, "r": 8}
_DEG64 = {"e": 19, "f": 15, "r": 21}
_DEG_D1, _DEG_D2 = 5, 6


def _fit_power_basis(f, a: float, deg: int) -> np.ndarray:
  """Near-minimax polynomial fit of f on [0, a] (Chebyshev least squares at 4·deg+8 Chebyshev
  nodes, float64), returned as power-basis coefficients in the original variable."""
  n = 4 * deg + 8
  x = a * (np.cos(np.pi * (np.arange(n) + 0.5) / n) + 1) / 2
  cheb = np.polynomial.Chebyshev.fit(x, f(x), deg, domain=[0, a])
  return cheb.convert(kind=np.polynomial.Polynomial, domain=[-1, 1], window=[-1, 1]).coef


@functools.lru_cache(maxsize=256)
def _poly_fits_np(g: float, y: float) -> dict:
  """The per-γ polynomial coefficients of :class:`ThalerConstants` (float64, one γ; cached:
  a table repeats each γ for every seed, and the fits cost ≈ 15 ms per γ). Read-only arrays."""
  s = 1.0 - g
  a, b = y**s, (1.0 + y) ** s
  rmax = 1.02 * (y ** (-s) - 1.0)   # r(y*) = y*^{-s} - 1; 2% margin for rounding

  def e_fn(x):
    return np.expm1(s * np.log1p(x)) / x

  def f_fn(r):
    return np.expm1(np.log1p(r) / s) / r

  def r_fn(w):
    dg = a * np.expm1(s * np.log1p(w / y)) + b * np.expm1(s * np.log1p(w / (1.0 + y)))
    return np.expm1(np.log1p(dg) / s) / w

  out = {}
  for tag, deg in (("32", _DEG32), ("64", _DEG64)):
    out["e_poly" + tag] = _fit_power_basis(e_fn, y, deg["e"])
    out["f_poly" + tag] = _fit_power_basis(f_fn, rmax, deg["f"])
    out["r_poly" + tag] = _fit_power_basis(r_fn, 1.0 - y, deg["r"])
  out["d1_poly"] = _fit_power_basis(lambda r: np.exp(g / s * np.log1p(r)), rmax, _DEG_D1)
  out["d2_poly"] = _fit_power_basis(lambda x: (1.0 + x) ** (-g), y, _DEG_D2)
  for v in out.values():
    v.flags.writeable = False
  return out


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


def thaler_constants(gamma: Union[ArrayLike, ThalerConstants]) -> ThalerConstants:
  r"""The per-γ constants of the Thaler map, computed once in float64 on the host (P0 eq. 5).

  .. code-block:: text

    T_γ(y) = (y^{1-γ} + (1+y)^{1-γ} - 1)^{1/(1-γ)} mod 1,   y* : y*^{1-γ} + (1+y*)^{1-γ} = 2

  The result carries y* (also as a float32 pair), ``y*^{1-γ}``, ``(1+y*)^{1-γ}`` and the
  polynomial fits the chain step evaluates. It is a NamedTuple of arrays: pass it (or a batch of
  them) as ``gamma`` to :func:`chaosopt.mpgd` and the chain functions to vary γ under
  ``jit``/``vmap``, where γ itself cannot be traced.

  Args:
    gamma: γ = 1/α in (1/2, 1), a float or an array of γs (concrete, not traced); a
      :class:`ThalerConstants` is returned unchanged.

  Returns:
    A :class:`ThalerConstants` whose fields have ``gamma``'s shape as leading axes.

  Raises:
    ValueError: if a γ is outside (1/2, 1). TypeError: if ``gamma`` is a tracer.

  Examples:
    >>> import numpy as np
    >>> import chaosopt
    >>> c = chaosopt.thaler_constants(0.7)
    >>> round(float(c.ystar), 4)
    0.5856
    >>> batch = chaosopt.thaler_constants(np.array([0.6, 0.7, 0.8]))  # vmappable over γ
    >>> batch.ystar.round(4), batch.e_poly32.shape
    (array([0.5742, 0.5856, 0.5967]), (3, 9))

  References:
    Lim, Wan & Şimşekli, NeurIPS 2022, eq. 5 (P0 in docs/papers.md); Thaler, Israel J. Math.
    37 (1980).
  """
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
  fits = [_poly_fits_np(float(gi), float(yi)) for gi, yi in zip(g.reshape(-1), y.reshape(-1))]
  polys = {k: np.stack([f[k] for f in fits]).reshape(g.shape + (-1,)) for k in fits[0]}
  return ThalerConstants(gamma=g, ystar=y, ystar_lo=lo, a_coef=y**s, b_coef=(1.0 + y) ** s,
                         **polys)


def fixed_point(gamma):
  """The branch point y* of T_γ (float64 numpy for concrete γ)."""
  return thaler_constants(gamma).ystar


def _cast(c: ThalerConstants, dtype) -> ThalerConstants:
  return ThalerConstants(*(jnp.asarray(x, dtype) for x in c))


def default_dtype():
  """The chain-state dtype: float64 when ``jax_enable_x64`` is on, else float32."""
  return jnp.result_type(float)


def invariant_density(y, gamma):
  r"""The invariant density
  :math:`h(y) = \frac{1-\gamma}{2^{1-\gamma}} \bigl(y^{-\gamma} + (1+y)^{-\gamma}\bigr)`."""
  y = jnp.asarray(y)
  g = jnp.asarray(thaler_constants(gamma).gamma, y.dtype)
  return (1 - g) / 2 ** (1 - g) * (y ** (-g) + (1 + y) ** (-g))


def invariant_cdf(y, gamma):
  r"""The invariant CDF
  :math:`H(y) = \bigl(y^{1-\gamma} + (1+y)^{1-\gamma} - 1\bigr) / 2^{1-\gamma}`, via expm1 so
  :math:`H` is accurate near 0."""
  y = jnp.asarray(y)
  s = 1 - jnp.asarray(thaler_constants(gamma).gamma, y.dtype)
  return (y**s + jnp.expm1(s * jnp.log1p(y))) / 2**s


def invariant_cdf_inverse(u, gamma, num_newton: int = 30):
  r""":math:`H^{-1}(u)`: exact sampling of the invariant measure as :math:`H^{-1}(U)`.

  Solves :math:`t + (1 + t^{1/s})^s - 1 = 2^s u` for :math:`t = y^s` (:math:`s = 1-\gamma`) by
  Newton's method — the derivative :math:`1 + (y/(1+y))^\gamma` lies in
  :math:`[1, 1 + 2^{-\gamma}]`, so the iteration is well conditioned — and returns
  :math:`y = t^{1/s}`, which keeps full relative precision for :math:`y` near 0.
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


def _horner(coef, x):
  """Σ_k coef[..., k] x^k by Horner's rule (coefficients on the last axis, constant first)."""
  acc = coef[..., -1]
  for k in range(coef.shape[-1] - 2, -1, -1):
    acc = acc * x + coef[..., k]
  return acc


def map_dithered(pos, dither, gamma):
  """T applied to the point pos + dither·ulp(pos), dither ∈ [-1/2, 1/2); returns (T, is_right).

  ``is_right`` tells whether that point lies in the branch (y*, 1]. See the module docstring.
  """
  dtype = pos.dtype
  c = _cast(thaler_constants(gamma), dtype)
  if jnp.finfo(dtype).nmant > 23:
    e_poly, f_poly, r_poly = c.e_poly64, c.f_poly64, c.r_poly64
  else:
    e_poly, f_poly, r_poly = c.e_poly32, c.f_poly32, c.r_poly32
  du = dither * ulp(pos)
  # y - y* exactly: pos - hi is exact near y* (Sterbenz); float64 states need no lo part. The
  # barrier hides lo's value from XLA's algebraic simplifier, which otherwise re-associates
  # (pos - hi) - lo into pos - (hi + lo) = pos - hi and loses lo (measured). Only lo: a barrier
  # on all constants stops their folding.
  lo = lax.optimization_barrier(c.ystar_lo) if dtype == jnp.float32 else 0
  w = ((pos - c.ystar) - lo) + du
  right = w > 0
  # Right branch, at the dithered point y* + w: T = w R(w), full relative precision as w -> 0.
  t_right = w * _horner(r_poly, w)
  # Left branch at y = pos: T(y) = y (1 + r)^{1/s}, r = y^γ E(y) = ((1+y)^s - 1) y^{-s};
  # T = y + y m with m = r F(r). The only transcendentals of the step: y^{-s} = exp(-s log y).
  # r as ((1+y)^s - 1)·y^{-s} rather than y^γ·E(y): the exp argument is s|log y| instead of
  # γ|log y| (3x smaller float32 error at γ = 0.75), and the float32 bias of the fraction of time
  # above y* measured -4.2e-4 with y^γ first vs -1.5e-4 this way (BENCHMARKS.md, same chains).
  y = pos
  y_neg_s = jnp.exp((c.gamma - 1) * jnp.log(jnp.maximum(y, jnp.finfo(dtype).tiny)))
  r = (y * _horner(e_poly, y)) * y_neg_s
  p = y * y_neg_s   # y^γ
  m = r * _horner(f_poly, r)
  # The dithered point y + du maps to T(y) + T'(y) du, T'(y) = (1+r)^{γ/s} (1 + y^γ (1+y)^{-γ}):
  # adding (T' du + increment) before y rounds the increment stochastically (a sub-ulp increment
  # is kept on average instead of being rounded away) and spreads each input cell over its image
  # (with du alone, an expanding step piles the mass of neighbouring cells into a comb).
  slope = _horner(c.d1_poly, r) * (1 + p * _horner(c.d2_poly, y))
  t_left = y + (slope * du + y * m)
  out = jnp.where(right, t_right, t_left)
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
  r"""Draws :math:`y \sim \nu` (the invariant measure) exactly, as :math:`H^{-1}(U)` with
  :math:`U \in (0, 1)`."""
  dtype = dtype or default_dtype()
  tiny = jnp.finfo(dtype).tiny
  u = draws.flat(jax.random.uniform, key, shape, dtype, minval=tiny, maxval=1.0)
  return jnp.clip(invariant_cdf_inverse(u, gamma), tiny, 1 - jnp.finfo(dtype).epsneg)


def sample_warmup(key, shape, gamma, num_steps: int = 10_000, dtype=None):
  """The paper's initialization y0 = T^{num_steps}(U), U ~ U(0, 1) (iterated with :func:`step`)."""
  dtype = dtype or default_dtype()
  k_u, k_d = jax.random.split(key)
  y = draws.flat(jax.random.uniform, k_u, shape, dtype, minval=jnp.finfo(dtype).tiny, maxval=1.0)
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
    "invariant_cdf_inverse", "thaler_map", "map_dithered", "step", "sample_invariant",
    "sample_warmup", "ulp", "uniform_from_bits", "default_dtype", "check_gamma",
]
