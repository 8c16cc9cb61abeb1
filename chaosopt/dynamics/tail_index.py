"""Tail-index (alpha) and scale estimators for symmetric alpha-stable data, per coordinate.

* :func:`mohammadi_alpha` -- the block-sum estimator of Mohammadi, Mohammadpour & Ogata (2015) as
  stated in P3 (Li, Malladi & Arora 2021), Theorem F.2, eq. 32 (also used by Simsekli et al. 2019
  and, per parameter, by P2 Fig. 5):

      1/alpha_hat = (1/log K1) ((1/K2) sum_i log|Y_i| - (1/K) sum_j log|X_j|),
      Y_i = sum of the i-th block of K1 consecutive samples,  K = K1 K2.

  It uses ``log|Y| = log|X| + (1/alpha) log K1`` in distribution for SaS data. Block size: K1 =
  max(2, floor(sqrt(n))) unless given, K2 = floor(n / K1) blocks (the samples left over are used
  in the second mean, which only estimates E log|X|), so ``log K1 >= log 2`` and any n >= 2 works.
  Its standard error is bounded by ``sqrt(Var log|X|) (1/sqrt(K2) + 1/sqrt(n)) / log K1`` with
  ``Var log|X| = pi^2/12 (1 + 2/alpha^2)`` (see :func:`log_abs_variance`).
* :func:`log_moment_fit` -- alpha and scale from the first two moments of log|X| (Ma & Nikias
  1995; Kuruoglu 2001): ``E log|X| = gamma_E (1/alpha - 1) + log s``,
  ``Var log|X| = pi^2/12 (1 + 2/alpha^2)``.
* :func:`cf_fit` -- alpha and scale by weighted regression of ``log(-log|phi_hat(t)|) =
  alpha log s + alpha log t`` on the empirical characteristic function (Koutrouvelis 1980, with
  the t-grid placed in units of the log-moment scale estimate).

All estimators reduce along ``axis`` (the sample axis) and broadcast over the others, so one call
handles 10^5 parameters at once. SaS here means ``E exp(itX) = exp(-|s t|^alpha)`` (see
:mod:`chaosopt.dynamics.stable`); alpha = 2 is N(0, 2 s^2).
"""
from __future__ import annotations

import functools
import math
from typing import Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


EULER_GAMMA = 0.5772156649015329


def block_sizes(n: int, k1: Optional[int] = None) -> tuple[int, int]:
  """(K1, K2) for n samples: K1 = max(2, floor(sqrt n)) by default, K2 = n // K1 >= 1."""
  n = int(n)
  if n < 2:
    raise ValueError(f"the Mohammadi estimator needs at least 2 samples per coordinate, got {n}")
  if k1 is None:
    k1 = max(2, int(math.isqrt(n)))
  k1 = int(k1)
  if not 2 <= k1 <= n:
    raise ValueError(f"k1 must be in [2, n={n}] (log k1 > 0 and one full block), got {k1}")
  return k1, n // k1


def _samples_last(x, axis: int) -> jax.Array:
  # XLA:CPU reduces a trailing axis ~50x faster than a leading one: move samples last.
  x = jnp.moveaxis(jnp.asarray(x), axis, -1)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.float32)
  return x


def _log_abs(x):
  tiny = jnp.finfo(x.dtype).tiny
  return jnp.log(jnp.maximum(jnp.abs(x), tiny))


def log_abs_variance(alpha) -> jax.Array:
  """``Var log|X|`` for X ~ SaS(alpha, any scale): ``pi^2/12 (1 + 2/alpha^2)``."""
  alpha = jnp.asarray(alpha, jnp.float32)
  return math.pi ** 2 / 12 * (1 + 2 / alpha ** 2)


@functools.partial(jax.jit, static_argnames=("axis", "k1"))
def mohammadi_inverse_alpha(x: ArrayLike, axis: int = -1, k1: Optional[int] = None
                            ) -> jax.Array:
  r"""Estimate of 1/alpha per coordinate by block sums (P3 Thm F.2, eq. 32).

  .. code-block:: text

    1/alpha_hat = (1/log K1) ((1/K2) sum_i log|Y_i| - (1/K) sum_j log|X_j|),
    Y_i = sum of the i-th block of K1 consecutive samples,  K = K1 K2

  Args:
    x: samples of SaS data; ``axis`` is the sample axis, the other axes are coordinates.
    axis: the sample axis.
    k1: block size K1 (default ``max(2, floor(sqrt(n)))``, see :func:`block_sizes`).

  Returns:
    1/alpha_hat with ``x``'s shape minus ``axis``.

  Examples:
    >>> import jax
    >>> from chaosopt.dynamics.stable import sample_sas
    >>> from chaosopt.dynamics import tail_index
    >>> x = sample_sas(jax.random.key(0), 1.5, (3, 20_000))  # 3 coordinates, alpha = 1.5
    >>> inv = tail_index.mohammadi_inverse_alpha(x)
    >>> inv.shape, bool(abs(inv - 1 / 1.5).max() < 0.1)
    ((3,), True)

  References:
    Mohammadi, Mohammadpour & Ogata, Metrika 78 (2015); Li, Malladi & Arora, NeurIPS 2021,
    Thm F.2 (P3 in docs/papers.md).
  """
  x = _samples_last(x, axis)
  n = x.shape[-1]
  k1, k2 = block_sizes(n, k1)
  y = x[..., : k1 * k2].reshape(x.shape[:-1] + (k2, k1)).sum(axis=-1)
  return (jnp.mean(_log_abs(y), axis=-1) - jnp.mean(_log_abs(x), axis=-1)) / math.log(k1)


def mohammadi_alpha(x: ArrayLike, axis: int = -1, k1: Optional[int] = None, clip: bool = False
                    ) -> jax.Array:
  r"""Tail index ``alpha_hat = 1 / (1/alpha)_hat`` per coordinate (P3 Thm F.2, eq. 32).

  The inverse of :func:`mohammadi_inverse_alpha`. With ``clip=True`` the estimate is clipped to
  (0, 2] (a negative or tiny 1/alpha_hat, possible for light-tailed data and small samples,
  maps to 2). Also the per-parameter estimator of P2 Fig. 5.

  Args:
    x: samples; ``axis`` is the sample axis, the other axes are coordinates.
    axis: the sample axis.
    k1: block size K1 (default ``max(2, floor(sqrt(n)))``).
    clip: clip the estimate to (0, 2].

  Returns:
    alpha_hat with ``x``'s shape minus ``axis``.

  Examples:
    >>> import jax
    >>> from chaosopt.dynamics.stable import sample_sas
    >>> from chaosopt.dynamics import tail_index
    >>> x = sample_sas(jax.random.key(0), 1.5, (3, 20_000))  # 3 coordinates, alpha = 1.5
    >>> alpha = tail_index.mohammadi_alpha(x)
    >>> alpha.shape, bool(abs(alpha - 1.5).max() < 0.2)
    ((3,), True)

  References:
    Mohammadi, Mohammadpour & Ogata, Metrika 78 (2015); Li, Malladi & Arora, NeurIPS 2021,
    Thm F.2 (P3 in docs/papers.md).
  """
  inv = mohammadi_inverse_alpha(x, axis, k1)
  if clip:
    return jnp.where(inv > 0.5, 1.0 / jnp.maximum(inv, 0.5), 2.0)
  return 1.0 / inv


def mohammadi_standard_error_bound(alpha, n: int, k1: Optional[int] = None) -> float:
  """Upper bound on the std. error of (1/alpha)_hat for SaS(alpha) data with n samples.

  ``sd <= sqrt(Var log|X|) (1/sqrt(K2) + 1/sqrt(n)) / log K1`` (triangle inequality on the two
  means; each term has the variance of log|X| because Y is SaS with the same alpha).
  """
  k1, k2 = block_sizes(n, k1)
  sd = math.sqrt(float(log_abs_variance(alpha)))
  return sd * (1 / math.sqrt(k2) + 1 / math.sqrt(n)) / math.log(k1)


def _alpha_from_log_var(v):
  # Var log|X| = pi^2/12 (1 + 2/alpha^2)  =>  alpha = sqrt(2 / (12 v / pi^2 - 1)), capped at 2.
  r = 12 * v / math.pi ** 2 - 1
  return jnp.where(r > 0.5, jnp.sqrt(2 / jnp.maximum(r, 0.5)), 2.0)


@functools.partial(jax.jit, static_argnames=("axis", "center"))
def log_moment_fit(x: ArrayLike, axis: int = -1, center: bool = False
                   ) -> tuple[jax.Array, jax.Array]:
  r"""(alpha, scale) per coordinate from the mean and variance of log|X|.

  .. code-block:: text

    E log|X| = gamma_E (1/alpha - 1) + log s,      Var log|X| = pi^2/12 (1 + 2/alpha^2)

  Args:
    x: SaS samples; ``axis`` is the sample axis.
    axis: the sample axis.
    center: subtract the per-coordinate median first (SaS with unknown location).

  Returns:
    ``(alpha, scale)``, each with ``x``'s shape minus ``axis``; alpha is clipped to <= 2.

  Examples:
    >>> import jax
    >>> from chaosopt.dynamics.stable import sample_sas
    >>> from chaosopt.dynamics import tail_index
    >>> x = sample_sas(jax.random.key(0), 1.5, (3, 20_000))  # 3 coordinates, alpha = 1.5
    >>> alpha, scale = tail_index.log_moment_fit(x)
    >>> bool(abs(alpha - 1.5).max() < 0.1), bool(abs(scale - 1.0).max() < 0.1)
    (True, True)

  References:
    Ma & Nikias (1995); Kuruoglu (2001); used for P2/P3 tail-index checks (docs/papers.md).
  """
  x = _samples_last(x, axis)
  if center:
    x = x - jnp.median(x, axis=-1, keepdims=True)
  la = _log_abs(x)
  m = jnp.mean(la, axis=-1)
  v = jnp.var(la, axis=-1, ddof=1)
  alpha = _alpha_from_log_var(v)
  scale = jnp.exp(m - EULER_GAMMA * (1 / alpha - 1))
  return alpha, scale


@functools.partial(jax.jit, static_argnames=("axis", "t0", "num_t"))
def cf_fit(x: ArrayLike, axis: int = -1, t0: float = 0.25, num_t: int = 8
           ) -> tuple[jax.Array, jax.Array]:
  r"""(alpha, scale) per coordinate from the empirical characteristic function.

  .. code-block:: text

    |phi(t)| = exp(-(s t)^alpha)   =>   log(-log|phi_hat(t)|) = alpha log s + alpha log t

  fitted by weighted least squares on the grid ``t_k = k t0 / s0``, k = 1..num_t, with ``s0`` the
  log-moment scale estimate; weights are the inverse delta-method variance
  ``phi^2 log^2 phi / (1 - phi^2)``. ``|phi_hat|`` uses both the cosine and sine means, so it
  does not depend on the location.

  Args:
    x: samples; ``axis`` is the sample axis.
    axis: the sample axis.
    t0: grid spacing in units of ``1/s0``.
    num_t: number of grid points (>= 2).

  Returns:
    ``(alpha, scale)``, each with ``x``'s shape minus ``axis``; alpha clipped to (0, 2].

  Examples:
    >>> import jax
    >>> from chaosopt.dynamics.stable import sample_sas
    >>> from chaosopt.dynamics import tail_index
    >>> x = sample_sas(jax.random.key(0), 1.5, (3, 20_000))  # 3 coordinates, alpha = 1.5
    >>> alpha, scale = tail_index.cf_fit(x)
    >>> bool(abs(alpha - 1.5).max() < 0.1), bool(abs(scale - 1.0).max() < 0.1)
    (True, True)

  References:
    Koutrouvelis, JASA 75 (1980); used for P2/P3 tail-index checks (docs/papers.md).
  """
  if num_t < 2:
    raise ValueError(f"num_t must be >= 2 (a regression needs two points), got {num_t}")
  x = _samples_last(x, axis)
  _, s0 = log_moment_fit(x, -1)
  theta = (t0 / s0)[..., None] * x
  c1, s1 = jnp.cos(theta), jnp.sin(theta)
  ck, sk = c1, s1
  phis = []
  for k in range(num_t):
    if k:
      ck, sk = ck * c1 - sk * s1, sk * c1 + ck * s1
    phis.append(jnp.hypot(jnp.mean(ck, axis=-1), jnp.mean(sk, axis=-1)))
  phi = jnp.stack(phis)
  t = t0 * jnp.arange(1, num_t + 1, dtype=phi.dtype)
  phi = jnp.clip(phi, 1e-6, 1 - 1e-6)
  lp = -jnp.log(phi)
  y = jnp.log(lp)
  w = phi ** 2 * lp ** 2 / (1 - phi ** 2)
  lt = jnp.log(t).reshape((-1,) + (1,) * (phi.ndim - 1))
  sw = jnp.sum(w, axis=0)
  mx = jnp.sum(w * lt, axis=0) / sw
  my = jnp.sum(w * y, axis=0) / sw
  slope = jnp.sum(w * (lt - mx) * (y - my), axis=0) / jnp.sum(w * (lt - mx) ** 2, axis=0)
  alpha = jnp.clip(slope, 1e-3, 2.0)
  intercept = my - slope * mx
  scale = s0 * jnp.exp(intercept / jnp.where(slope == 0, 1.0, slope))
  return alpha, scale


