r"""alpha-stable random variables: Chambers-Mallows-Stuck sampling and characteristic function.

Implements the stable law :math:`X_{\alpha,\beta}` that is the limit of the Thaler Birkhoff sums
of P0 (Section 3, Gottwald & Melbourne 2021) and the SαS noise model of SGD in P2 (eq. 1 and 3):

.. math::

  E\, e^{itX} = \begin{cases}
    \exp\bigl(-|s t|^\alpha (1 - i\beta\, \mathrm{sign}(t) \tan\frac{\pi\alpha}{2})\bigr)
      & \alpha \ne 1, \\
    \exp\bigl(-s |t| (1 + i\beta \frac{2}{\pi}\, \mathrm{sign}(t) \log|t|)\bigr)
      & \alpha = 1,
  \end{cases}

with scale :math:`s` (``scale``), :math:`\alpha \in (0, 2]`, :math:`\beta \in [-1, 1]`. This is
Samorodnitsky & Taqqu's :math:`S_\alpha(s, \beta, 0)`, i.e. scipy's ``levy_stable`` in its "S1"
parameterization (the default). For :math:`\alpha = 2` it is :math:`\mathcal N(0, 2 s^2)` whatever
:math:`\beta`; for :math:`\beta = 0` it is the symmetric SαS(s) law used in P2 and in P3's
Theorem F.2 (:math:`E\, e^{iwX} = e^{-|s w|^\alpha}`).

Sampling is the Chambers-Mallows-Stuck (1976) transform in Weron's (1996) form of two
independent variates V ~ U(-pi/2, pi/2), W ~ Exp(1). Everything is evaluated in log space
(``log|X| = log S + log|sin(alpha (V + B))| - log(cos V)/alpha + (1-alpha)/alpha (log
cos(V - alpha (V + B)) - log W)``), so small alpha in float32 neither produces NaN from 0 * inf
nor overflows intermediate powers; the U(-pi/2, pi/2) variate is built so that cos V > 0 exactly.
A draw whose magnitude exceeds the dtype's range (probability ~ x_max^-alpha, relevant only for
alpha << 1) saturates at +-finfo.max instead of returning inf.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import jax
import jax.core  # jax.core.Tracer (the attribute is not visible to type checkers otherwise)
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from chaosopt import _validation
from chaosopt.core import draws

_HALF_PI = math.pi / 2


def _check(alpha, beta, scale) -> None:
  for a in np.ravel(np.asarray(alpha)) if _is_concrete_array(alpha) else ():
    _validation.check_in_range("alpha", a, 0.0, 2.0, lo_open=True)
  for b in np.ravel(np.asarray(beta)) if _is_concrete_array(beta) else ():
    _validation.check_in_range("beta", b, -1.0, 1.0)
  for s in np.ravel(np.asarray(scale)) if _is_concrete_array(scale) else ():
    _validation.check_positive("scale", float(s))


def _is_concrete_array(x: Any) -> bool:
  if isinstance(x, jax.core.Tracer):
    return False
  try:
    np.asarray(x, dtype=np.float64)
    return True
  except (TypeError, ValueError):
    return False


def stable_characteristic_function(t, alpha, beta=0.0, scale=1.0) -> jax.Array:
  """``E exp(i t X)`` for X ~ S_alpha(scale, beta, 0) (S1; the X_{alpha,beta} of P0).

  ``t``, ``alpha``, ``beta``, ``scale`` broadcast against each other. Returns complex values
  (complex64 unless x64 is enabled and an input is float64).
  """
  _check(alpha, beta, scale)
  return _cf(t, alpha, beta, scale)


@jax.jit
def _cf(t, alpha, beta, scale):
  t = jnp.asarray(t)
  dtype = jnp.result_type(t.dtype, jnp.float32) if jnp.issubdtype(t.dtype, jnp.floating) else (
      jnp.float32)
  t = t.astype(dtype)
  alpha = jnp.asarray(alpha, dtype)
  beta = jnp.asarray(beta, dtype)
  scale = jnp.asarray(scale, dtype)
  abs_t = jnp.abs(t)
  sgn = jnp.sign(t)
  is_one = alpha == 1.0
  safe_alpha = jnp.where(is_one, 0.5, alpha)
  # alpha != 1
  mag = (scale * abs_t) ** safe_alpha
  skew = beta * sgn * jnp.tan(_HALF_PI * safe_alpha)
  log_phi_ne1 = -mag + 1j * mag * skew
  # alpha == 1 (t log|t| -> 0 at t = 0)
  safe_abs_t = jnp.where(abs_t > 0, abs_t, 1.0)
  log_phi_1 = -scale * abs_t + 1j * (-scale * beta * (2 / math.pi) * t * jnp.log(safe_abs_t))
  return jnp.exp(jnp.where(is_one, log_phi_1, log_phi_ne1))


def _sin_half(x: jax.Array) -> jax.Array:
  """sin(x) for |x| <= pi/2 by its Taylor polynomial (no range reduction: XLA:CPU's generic
  sin/cos cost ~20x a log). Truncation error < (pi/2)^{2K+3}/(2K+3)! relative: 7e-10 for float32
  (K = 6), 1e-18 for float64 (K = 10)."""
  k = 6 if x.dtype.itemsize <= 4 else 10
  x2 = x * x
  acc = jnp.ones_like(x)
  for j in range(k, 0, -1):  # Horner on 1 - x^2/(2*3) (1 - x^2/(4*5) (...))
    acc = 1 - x2 / ((2 * j) * (2 * j + 1)) * acc
  return x * acc


def _sin_3half(x: jax.Array) -> jax.Array:
  """sin(x) for |x| <= 3 pi/2 (reflect |x| > pi/2 through pi/2: sin x = sin(sign(x) pi - x))."""
  xr = jnp.where(jnp.abs(x) > _HALF_PI, jnp.sign(x) * math.pi - x, x)
  return _sin_half(xr)


def _cos_half(y: jax.Array) -> jax.Array:
  """cos(y) for |y| <= pi/2 as sin(pi/2 - |y|)."""
  return _sin_half(_HALF_PI - jnp.abs(y))


def _uniform_half_angle(key: jax.Array, shape, dtype):
  """Returns (V, log cos V) with V = pi (U - 1/2) ~ U(-pi/2, pi/2).

  ``cos V = sin(pi m)`` with m = min(U, 1-U) clamped away from 0, so ``log cos V`` is finite.
  """
  u = draws.flat(jax.random.uniform, key, shape, dtype)
  m = jnp.minimum(u, 1 - u)
  m = jnp.maximum(m, jnp.asarray(2.0 ** -26, dtype))
  v = math.pi * (u - 0.5)
  return v, jnp.log(_sin_half(math.pi * m))


def sample_stable(key: jax.Array, alpha: ArrayLike, beta: ArrayLike = 0.0,
                  shape: Sequence[int] = (), scale: ArrayLike = 1.0,
                  dtype: DTypeLike | None = None) -> jax.Array:
  r"""Draws X ~ S_alpha(scale, beta, 0) by the Chambers-Mallows-Stuck transform.

  The law is the module docstring's characteristic function (S1 parameterization, the
  X_{alpha,beta} of P0 and the noise of P2 eq. 3), evaluated in log space from
  :math:`V \sim U(-\pi/2, \pi/2)`, :math:`W \sim \operatorname{Exp}(1)` (see the module docstring).
  Jit/vmap-safe; the same key gives bit-identical draws.

  Args:
    key: a PRNG key.
    alpha: stability index in (0, 2]; an array broadcastable to ``shape`` gives one alpha per
      coordinate.
    beta: skewness in [-1, 1] (broadcastable to ``shape``).
    shape: the output shape.
    scale: the scale ``s`` > 0 (broadcastable to ``shape``).
    dtype: float dtype of the draws; default float32.

  Returns:
    An array of ``shape`` and ``dtype``; draws beyond the dtype's range saturate at
    ``+-finfo.max``.

  Examples:
    >>> import jax
    >>> from chaosopt.dynamics.stable import sample_stable
    >>> x = sample_stable(jax.random.key(0), 2.0, 0.0, (100_000,))  # alpha = 2: N(0, 2)
    >>> x.shape, round(float(x.var()), 1)
    ((100000,), 2.0)
    >>> sample_stable(jax.random.key(1), jax.numpy.array([0.8, 1.0, 1.5]), 0.5, (3,)).shape
    (3,)

  References:
    Chambers, Mallows & Stuck, JASA 71 (1976); Weron, Stat. Probab. Lett. 28 (1996);
    Samorodnitsky & Taqqu (1994); P0 Section 3 and P2 eq. 3 (docs/papers.md).
  """
  _check(alpha, beta, scale)
  dtype = jnp.dtype(jnp.float32 if dtype is None else dtype)
  # Evaluate only the CMS branch(es) that can occur: alpha == 1 needs its own formula.
  branch = "both"
  if _is_concrete_array(alpha):
    a = np.asarray(alpha, np.float64)
    branch = "one" if np.all(a == 1.0) else ("ne1" if np.all(a != 1.0) else "both")
  return _sample(key, alpha, beta, scale, tuple(int(d) for d in shape), dtype, branch)


@functools.partial(jax.jit, static_argnames=("shape", "dtype", "branch"))
def _sample(key, alpha, beta, scale, shape, dtype, branch):
  # one compiled program per (shape, dtype, branch); alpha/beta/scale are traced
  alpha = jnp.asarray(alpha, dtype)
  beta = jnp.asarray(beta, dtype)
  scale = jnp.asarray(scale, dtype)
  kv, kw = jax.random.split(key)
  v, log_cos_v = _uniform_half_angle(kv, shape, dtype)
  tiny = jnp.finfo(dtype).tiny
  u2 = draws.flat(jax.random.uniform, kw, shape, dtype)
  w = jnp.maximum(-jnp.log(1 - u2), tiny)  # W ~ Exp(1), > 0 (1 - u2 in (0, 1])
  fmax = jnp.finfo(dtype).max

  x_by_branch: dict[str, jax.Array] = {}  # the CMS formula of each evaluated branch
  if branch in ("ne1", "both"):
    a = jnp.where(alpha == 1.0, 0.5, alpha)  # safe alpha for the alpha != 1 branch
    zeta = beta * jnp.tan(_HALF_PI * a)
    ab = jnp.arctan(zeta)  # alpha * B
    log_s = jnp.log1p(zeta * zeta) / (2 * a)
    arg = a * v + ab  # alpha (V + B)
    sin_arg = _sin_3half(arg)  # |arg| < 3 pi/2
    cos2 = jnp.maximum(_cos_half(v - arg), tiny)  # |v - arg| < pi/2: > 0 analytically
    log_abs = (log_s + jnp.log(jnp.maximum(jnp.abs(sin_arg), tiny))
               + ((1 - a) * jnp.log(cos2 / w) - log_cos_v) / a)
    x_by_branch["ne1"] = scale * (jnp.sign(sin_arg)
                                  * jnp.exp(jnp.minimum(log_abs, jnp.log(fmax))))
  if branch in ("one", "both"):
    # X = (2/pi) [(pi/2 + beta V) tan V - beta log((pi/2) W cos V / (pi/2 + beta V))]
    hb = _HALF_PI + beta * v
    tan_v = _sin_half(v) * jnp.exp(-log_cos_v)
    log_ratio = (math.log(_HALF_PI) + jnp.log(w) + log_cos_v
                 - jnp.log(jnp.maximum(hb, tiny)))
    x_1 = (2 / math.pi) * (hb * tan_v - beta * log_ratio)
    # S1 scaling at alpha == 1 carries the drift (2/pi) beta s log s.
    x_by_branch["one"] = scale * x_1 + (2 / math.pi) * beta * scale * jnp.log(scale)
  if branch == "both":
    x = jnp.where(alpha == 1.0, x_by_branch["one"], x_by_branch["ne1"])
  else:
    x = x_by_branch[branch]
  return jnp.clip(x, -fmax, fmax).astype(dtype)


def sample_sas(key: jax.Array, alpha: ArrayLike, shape: Sequence[int] = (),
               scale: ArrayLike = 1.0, dtype: DTypeLike | None = None) -> jax.Array:
  r"""Symmetric alpha-stable draws: :func:`sample_stable` with beta = 0.

  .. code-block:: text

    E exp(i t X) = exp(-|scale t|^alpha)        (P2's SaS model, P3 Thm F.2)

  Args:
    key: a PRNG key.
    alpha: stability index in (0, 2] (broadcastable to ``shape``).
    shape: the output shape.
    scale: the scale > 0.
    dtype: float dtype of the draws; default float32.

  Returns:
    An array of ``shape`` and ``dtype``.

  Examples:
    >>> import jax
    >>> from chaosopt.dynamics.stable import sample_sas
    >>> sample_sas(jax.random.key(0), 1.5, (2, 3)).shape
    (2, 3)

  References:
    P2 eq. 1 and P3 Thm F.2 (docs/papers.md); Chambers, Mallows & Stuck (1976).
  """
  return sample_stable(key, alpha, 0.0, shape, scale, dtype)
