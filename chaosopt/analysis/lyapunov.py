"""Lyapunov exponents along orbits, and the constant m of Kong & Tao (2020), P1 of docs/papers.md.

* P1 eq. 4: ``lambda(x0) = lim (1/n) sum_{i<n} ln ||D phi(x_i)||_2`` with the Jacobian
  ``D phi`` from JAX autodiff (``method="norm"``). In 1-D this is the Lyapunov exponent; in
  d > 1 it is P1's definition, an upper bound of the top exponent. ``method="tangent"`` is the
  standard top exponent (a tangent vector propagated and renormalized every step).
* Thm. 9: ``lambda ~ m + ln(eta/eps)`` with ``m = E ln ||eps Hess f_{1,eps}(U)||_2`` (Cond. 2);
  :func:`measure_m` estimates m by Monte Carlo over a box (autodiff Hessians), and
  :func:`torus_average` computes torus averages by a midpoint rule (for closed-form phases).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.core import draws
from chaosopt.core.loop import scan_chunks

METHODS = ("norm", "tangent")


def _log_growth(jac: jax.Array, v: jax.Array, method: str):
  if method == "norm":
    if jac.shape == (1, 1):
      return jnp.log(jnp.abs(jac[0, 0])), v
    return jnp.log(jnp.linalg.norm(jac, 2)), v
  w = jac @ v
  nw = jnp.linalg.norm(w)
  return jnp.log(nw), w / nw


def lyapunov_exponents(map_fn: Callable, x0: jax.Array, params: Any = None, *, num_steps: int,
                       burn_in: int = 0, method: str = "norm",
                       chunk_size: int = 10000) -> np.ndarray:
  r"""Lyapunov exponents of ``x -> map_fn(x, p)`` for a batch of orbits (P1 eq. 4).

  .. code-block:: text

    lambda(x0) = (1/N) sum_{burn_in <= i < burn_in + N} ln ||D phi(x_i)||_2    (method="norm")

  with ``D phi`` from JAX autodiff. In 1-D this is the Lyapunov exponent; in d > 1 it is P1's
  definition, an upper bound of the top exponent. ``method="tangent"`` is the standard top
  exponent (a tangent vector propagated and renormalized every step). One jitted, vmapped
  program (chunked ``lax.scan``).

  Args:
    map_fn: the map ``(x [d], p) -> x [d]`` of one orbit (e.g. a GD step).
    x0: initial points, shape ``[n, d]``.
    params: a pytree whose leaves have leading axis ``n`` (e.g. per-orbit ``eta`` and ``eps``),
      or None (then ``map_fn(x, None)``).
    num_steps: ``N``, the iterates averaged.
    burn_in: iterates discarded first.
    method: ``"norm"`` (P1 eq. 4) or ``"tangent"``.
    chunk_size: steps per compiled ``lax.scan`` chunk.

  Returns:
    A float NumPy array of shape ``[n]``.

  Examples:
    GD on ``x^2/2`` with step ``eta`` is ``x -> (1 - eta) x``, exponent ``ln|1 - eta|``:

    >>> import jax.numpy as jnp
    >>> from chaosopt.analysis.lyapunov import lyapunov_exponents
    >>> gd = lambda x, eta: x - eta * x
    >>> lam = lyapunov_exponents(gd, jnp.ones((2, 1)), jnp.array([0.5, 1.9]), num_steps=50)
    >>> lam.round(3)
    array([-0.693, -0.105], dtype=float32)

  References:
    Kong & Tao, *Stochasticity of Deterministic Gradient Descent: Large Learning Rate for
    Multiscale Objective Function*, NeurIPS 2020, eq. 4 and Thm 9 (P1 in docs/papers.md).
  """
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  if num_steps <= 0:
    raise ValueError(f"num_steps must be > 0, got {num_steps}")
  x0 = jnp.asarray(x0)
  if x0.ndim != 2:
    raise ValueError(f"x0 must have shape [n_orbits, dim], got {x0.shape}")
  n, d = x0.shape
  v0 = jnp.ones((n, d), x0.dtype) / jnp.sqrt(d)

  def one(carry, p, k):
    x, v, acc = carry
    jac = jax.jacfwd(lambda y: map_fn(y, p))(x)
    g, v_new = _log_growth(jac, v, method)
    take = k >= burn_in
    acc = acc + jnp.where(take, g, 0.0)
    return map_fn(x, p), v_new, acc

  def step(carry, k):
    state, p = carry
    state = jax.vmap(one, in_axes=(0, 0 if p is not None else None, None))(state, p, k)
    return (state, p), None

  carry0 = ((x0, v0, jnp.zeros((n,), x0.dtype)), params)
  ((_, _, acc), _), _ = scan_chunks(step, carry0, burn_in + num_steps,
                                    chunk_size=min(chunk_size, burn_in + num_steps),
                                    donate=False)
  return np.asarray(acc) / num_steps


def measure_m(obj: Any, key: jax.Array, *, num_samples: int = 1_000_000, center: float = 0.5,
              width: Optional[float] = None, eps: Optional[float] = None,
              batch: int = 200_000) -> tuple[float, float]:
  r"""Monte Carlo estimate of P1's constant ``m`` (Cond. 2, Thm 9).

  .. code-block:: text

    m = E ln ||eps Hess f_{1,eps}(U)||_2,   U uniform on [center, center + width]^d,
    lambda ~ m + ln(eta / eps)                                            (P1 Thm 9)

  Args:
    obj: a multiscale objective with ``dim``, ``eps`` and ``micro_hessian_scaled(x, eps)``
      (:mod:`chaosopt.tasks.multiscale`).
    key: PRNG key of the uniform draws.
    num_samples: Monte Carlo sample size.
    center: lower corner of the box.
    width: box width; default ``10^4 eps`` (many micro-periods, macroscopically small).
    eps: the micro scale; default ``obj.eps``.
    batch: samples evaluated per jitted call.

  Returns:
    ``(mean, standard error)`` of the estimate (non-finite samples dropped).

  References:
    Kong & Tao, NeurIPS 2020, Condition 2 and Thm 9 (P1 in docs/papers.md).
  """
  e = obj.eps if eps is None else eps
  w = 1e4 * e if width is None else width

  def logn(x):
    h = obj.micro_hessian_scaled(x, e)
    if h.shape == (1, 1):
      return jnp.log(jnp.abs(h[0, 0]))
    return jnp.log(jnp.linalg.norm(h, 2))

  f = jax.jit(jax.vmap(logn))
  vals = []
  done = 0
  while done < num_samples:
    b = min(batch, num_samples - done)
    key, sub = jax.random.split(key)
    u = center + w * draws.flat(jax.random.uniform, sub, (b, obj.dim), jnp.asarray(1.0).dtype)
    vals.append(np.asarray(f(u), np.float64))
    done += b
  v = np.concatenate(vals)
  v = v[np.isfinite(v)]
  return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))


def torus_average(fn: Callable[..., np.ndarray], dim: int, n_grid: int = 2000) -> float:
  """``(2pi)^-dim int_{[0,2pi]^dim} fn(a_1, ..., a_dim)`` by the midpoint rule (numpy ``fn``).

  Midpoints avoid the zeros of ``sin`` where ``ln|.|`` is singular (integrable singularities
  converge like ``log(n)/n``).
  """
  a = (np.arange(n_grid) + 0.5) * (2.0 * np.pi / n_grid)
  if dim == 1:
    return float(np.mean(fn(a)))
  if dim == 2:
    tot = 0.0
    for row in np.array_split(a, max(1, n_grid // 500)):
      A, B = np.meshgrid(row, a, indexing="ij")
      tot += float(np.sum(fn(A, B)))
    return tot / n_grid ** 2
  raise ValueError(f"dim must be 1 or 2, got {dim}")
