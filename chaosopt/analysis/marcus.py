"""The Marcus SDE limit of MPGD (P0 Thm. 4.1, Sec. 4.1) and MPGD ensembles to compare with it.

Thm. 4.1 (specialized to eq. 8, with the η^γ erratum of docs/errata.md): as η = 1/m → 0,
``x_{⌊t/η⌋}`` of MPGD converges in law to X_t solving

    dX = -∇R(X) dt - μ diag(X) ◇ dL1 + σ dL2,        X_0 = x_0,

with L1, L2 independent Lévy processes whose increments over ``dt`` are X_{α,β} of eq. (6)/(10)
scaled by ``dt^{1/α}`` (one independent process per coordinate, as MPGD uses one Thaler chain
per coordinate). ◇ is the Marcus integral: a jump ΔL moves the state along the flow of
``ẏ = -μ diag(y) ΔL`` for unit time, which for this diagonal linear noise is exactly
``x ↦ x ⊙ exp(-μ ΔL)`` (:func:`marcus_jump`). The same map is the exact solution of the
multiplicative part over any increment of L1, so the simulator is a Strang splitting
(half drift step, exact noise step, half drift step); the drift half steps are Heun (RK2) steps.

Increments come from :func:`chaosopt.dynamics.stable.sample_stable` (S1 parameterization, the
same X_{α,β} as the Thaler Birkhoff-sum limit). All paths run in one jitted, vmapped program
driven by :func:`chaosopt.core.loop.scan_chunks`.
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from chaosopt import _validation
from chaosopt.dynamics import stable
from chaosopt.core.loop import scan_chunks
from chaosopt.transforms.mpgd import mpgd as _mpgd

GradFn = Callable[[jax.Array], jax.Array]


def marcus_jump(x, dl, mu):
  """Exact Marcus jump map of ``-μ diag(x) ◇ dL``: ``x ⊙ exp(-μ ΔL)`` (componentwise)."""
  return x * jnp.exp(-mu * dl)


def stable_increment(key, alpha, beta, shape, dt, dtype=None) -> jax.Array:
  """Increment of the Lévy process L^{α,β} over ``dt``: X_{α,β} with scale ``dt^{1/α}``."""
  return stable.sample_stable(key, alpha, beta, shape, scale=float(dt) ** (1.0 / alpha),
                              dtype=dtype)


def _heun(x, grad_fn: GradFn, h):
  f0 = -grad_fn(x)
  f1 = -grad_fn(x + h * f0)
  return x + 0.5 * h * (f0 + f1)


def marcus_step(x, dl1, dl2, *, grad_fn: GradFn, dt, mu, sigma):
  """One Strang step of one path: half drift, exact noise (Marcus jump, then additive), half
  drift."""
  x = _heun(x, grad_fn, 0.5 * dt)
  x = marcus_jump(x, dl1, mu) + sigma * dl2
  return _heun(x, grad_fn, 0.5 * dt)


def _check_common(t_end, dt, mu, sigma, num_paths):
  _validation.check_positive("t_end", t_end)
  _validation.check_positive("dt", dt)
  _validation.check_nonnegative("mu", mu)
  _validation.check_nonnegative("sigma", sigma)
  if not isinstance(num_paths, int) or num_paths < 1:
    raise ValueError(f"num_paths must be a positive int, got {num_paths!r}")


def num_steps_for(t_end: float, dt: float) -> int:
  """``t_end / dt`` as an int; ValueError unless it is (within 1e-9 relative) an integer."""
  n = t_end / dt
  if abs(n - round(n)) > 1e-9 * max(1.0, n) or round(n) < 1:
    raise ValueError(f"t_end / dt must be a positive integer, got {t_end} / {dt} = {n}")
  return int(round(n))


def simulate_marcus(key, grad_fn: GradFn, x0, *, t_end: float, dt: float, mu: float,
                    sigma: float, alpha: float, beta: float = 0.0,
                    alpha2: Optional[float] = None, beta2: Optional[float] = None,
                    num_paths: int, chunk_size: int = 1000, dtype=None) -> jax.Array:
  """X_{t_end} of ``dX = -∇R dt - μ diag(X) ◇ dL1^{α,β} + σ dL2^{α2,β2}`` for ``num_paths`` paths.

  ``grad_fn`` acts on one path's state (shape ``x0.shape = (d,)``); ``alpha2``/``beta2`` default
  to ``alpha``/``beta`` (MPGD uses the same γ and β for both chains). Returns ``[num_paths, d]``.
  """
  _check_common(t_end, dt, mu, sigma, num_paths)
  alpha2 = alpha if alpha2 is None else alpha2
  beta2 = beta if beta2 is None else beta2
  n = num_steps_for(t_end, dt)
  x0 = jnp.asarray(x0, dtype or jnp.result_type(float))
  shape = (num_paths,) + x0.shape
  dtype = x0.dtype
  step_one = jax.vmap(lambda x, a, b: marcus_step(x, a, b, grad_fn=grad_fn, dt=dt, mu=mu,
                                                  sigma=sigma))

  def step_fn(carry, _):
    x, key = carry
    key, k1, k2 = jax.random.split(key, 3)
    dl1 = (stable_increment(k1, alpha, beta, shape, dt, dtype) if mu != 0
           else jnp.zeros(shape, dtype))
    dl2 = (stable_increment(k2, alpha2, beta2, shape, dt, dtype) if sigma != 0
           else jnp.zeros(shape, dtype))
    return (step_one(x, dl1, dl2), key), None

  carry0 = (jnp.broadcast_to(x0, shape), key)
  (x, _), _ = scan_chunks(step_fn, carry0, n, chunk_size=min(chunk_size, n), donate=False)
  return x


def mpgd_ensemble(key, grad_fn: GradFn, x0, *, learning_rate: float, num_steps: int,
                  num_paths: int, gamma: float, beta: float = 0.0, mu: float = 0.0,
                  sigma: float = 0.0, record_every: int = 0, chunk_size: int = 1000,
                  observe: Optional[Callable] = None, **mpgd_kwargs):
  """Runs ``num_paths`` independent MPGD orbits (``chaosopt.mpgd``, eq. 8) from the same ``x0``.

  One jitted program (vmap over paths inside :func:`scan_chunks`). Each path has its own chain
  key. Returns ``(x_final [num_paths, d], recorded)`` where ``recorded`` stacks
  ``observe(x) `` (default: ``x``) every ``record_every`` steps (``None`` if 0), including
  step 0 as its first entry.
  """
  if not isinstance(num_paths, int) or num_paths < 1:
    raise ValueError(f"num_paths must be a positive int, got {num_paths!r}")
  x0 = jnp.asarray(x0)
  make = lambda k: _mpgd(learning_rate, gamma=gamma, beta=beta, mu=mu, sigma=sigma,
                                 key=k, **mpgd_kwargs)
  tx = make(0)  # update_fn does not depend on the key (it lives in the state)
  keys = jax.random.split(key, num_paths)
  states = jax.vmap(lambda k: make(k).init(x0))(keys)
  xs = jnp.broadcast_to(x0, (num_paths,) + x0.shape)
  observe = observe or (lambda x: x)

  def one(x, state):
    updates, state = tx.update(grad_fn(x), state, x)
    return optax.apply_updates(x, updates), state

  one_v = jax.vmap(one)
  rec = record_every > 0

  def step_fn(carry, k):
    x, state = one_v(*carry)
    out = None
    if rec:
      out = jax.lax.cond((k + 1) % record_every == 0, lambda: observe(x),
                         lambda: jnp.zeros_like(observe(x)))
    return (x, state), out

  (x, _), metrics = scan_chunks(step_fn, (xs, states), num_steps,
                                chunk_size=min(chunk_size, num_steps), donate=False)
  if not rec:
    return x, None
  idx = np.arange(record_every - 1, num_steps, record_every)
  recorded = np.concatenate([np.asarray(observe(xs))[None], np.asarray(metrics)[idx]], axis=0)
  return x, recorded


__all__ = ["marcus_jump", "stable_increment", "marcus_step", "simulate_marcus", "num_steps_for",
           "mpgd_ensemble"]
