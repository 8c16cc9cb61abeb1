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

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike, DTypeLike

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


def simulate_marcus(key: jax.Array, grad_fn: GradFn, x0: ArrayLike, *, t_end: float, dt: float,
                    mu: float, sigma: float, alpha: float, beta: float = 0.0,
                    alpha2: Optional[float] = None, beta2: Optional[float] = None,
                    num_paths: int, chunk_size: int = 1000,
                    dtype: DTypeLike | None = None) -> jax.Array:
  r"""Simulates the Marcus SDE limit of MPGD (P0 Thm 4.1) up to ``t_end``.

  .. code-block:: text

    dX = -∇R(X) dt - mu diag(X) ◇ dL1^{alpha,beta} + sigma dL2^{alpha2,beta2},   X_0 = x0

  by Strang splitting: half a Heun drift step, the exact Marcus jump ``x -> x ⊙ exp(-mu ΔL1)``
  plus ``sigma ΔL2``, half a drift step; increments ``ΔL`` are ``S_alpha(dt^{1/alpha}, beta, 0)``.

  Args:
    key: PRNG key of the increments.
    grad_fn: ``∇R`` of one path's state (shape ``x0.shape = (d,)``).
    x0: the initial state ``[d]`` (shared by every path).
    t_end: final time; ``t_end / dt`` must be an integer.
    dt: time step.
    mu: multiplicative strength.
    sigma: additive strength.
    alpha: stability index of L1 (and of L2 unless ``alpha2``), ``alpha = 1/gamma``.
    beta: skewness of L1 (and of L2 unless ``beta2``).
    alpha2: stability index of L2 (default ``alpha``).
    beta2: skewness of L2 (default ``beta``).
    num_paths: independent paths.
    chunk_size: steps per compiled ``lax.scan`` chunk.
    dtype: state dtype (default: JAX's default float).

  Returns:
    ``X_{t_end}`` of every path, shape ``[num_paths, d]``.

  Examples:
    Without noise the flow of ``dX = -X dt`` from 1 is ``exp(-t)``:

    >>> import jax
    >>> import jax.numpy as jnp
    >>> from chaosopt.analysis.marcus import simulate_marcus
    >>> x = simulate_marcus(jax.random.key(0), lambda x: x, jnp.ones(2), t_end=1.0, dt=0.01,
    ...                     mu=0.0, sigma=0.0, alpha=1.5, num_paths=3)
    >>> x.shape, round(float(x[0, 0]), 4)
    ((3, 2), 0.3679)
    >>> simulate_marcus(jax.random.key(0), lambda x: x, jnp.ones(2), t_end=1.0, dt=0.01,
    ...                 mu=0.5, sigma=0.1, alpha=1.5, num_paths=3).shape
    (3, 2)

  References:
    Lim, Wan & Şimşekli, NeurIPS 2022, Thm 4.1 and Sec. 4.1 (P0 in docs/papers.md; the
    eta^gamma erratum in docs/errata.md).
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


def mpgd_ensemble(key: Optional[jax.Array], grad_fn: GradFn, x0: ArrayLike, *,
                  learning_rate: float, num_steps: int, num_paths: Optional[int] = None,
                  gamma: float, beta: float = 0.0, mu: float = 0.0, sigma: float = 0.0,
                  record_every: int = 0, chunk_size: int = 1000,
                  observe: Optional[Callable] = None, keys: Optional[jax.Array] = None,
                  checkpointer: Any = None, checkpoint_every: int = 1, progress: bool = False,
                  desc: str = "", **mpgd_kwargs: Any) -> tuple[np.ndarray, Optional[np.ndarray]]:
  r"""Runs independent MPGD orbits (P0 eq. 8) from the same ``x0``, one per path key.

  .. code-block:: text

    x_{k+1} = x_k - eta grad R(x_k) - mu eta^gamma v1(y1_k) ⊙ x_k + sigma eta^gamma v2(y2_k)

  (:func:`chaosopt.mpgd`), each path with its own Thaler chains initialised from its key; one
  jitted program (vmap over paths, steps in :func:`~chaosopt.core.loop.scan_chunks` chunks).
  Two calls with the same keys and different (μ, σ) use the same chains (common random
  numbers). Compare with :func:`simulate_marcus` at ``t_end = num_steps * learning_rate``.
  Non-finite orbits are kept as they are (no freezing), so the caller sees and counts them.

  Args:
    key: PRNG key, split into ``num_paths`` chain keys (or ``None`` with ``keys``).
    grad_fn: ``grad R`` of one path's state.
    x0: the initial state ``[d]``.
    learning_rate: the step size ``eta``.
    num_steps: MPGD steps.
    num_paths: independent paths (with ``key``).
    gamma: ``gamma = 1/alpha`` in (1/2, 1).
    beta: skewness in [-1, 1].
    mu: multiplicative strength.
    sigma: additive strength.
    record_every: record ``observe(x)`` of every path at step 0, every that many steps and at
      ``num_steps`` (0: never); the chunk length is then ``record_every``.
    chunk_size: steps per compiled ``lax.scan`` chunk (when not recording).
    observe: function of one path's state to record (default: the state).
    keys: ``[N]`` path keys (e.g. :func:`chaosopt.train.seeds.member_keys`), instead of
      ``key`` and ``num_paths``.
    checkpointer: an object with ``latest_step()``, ``restore(template) -> (step, carry,
      doc)`` and ``save(step, carry, doc)`` (:class:`chaosopt.train.checkpoint.Checkpointer`):
      the run resumes from its latest checkpoint and saves every ``checkpoint_every`` chunks.
    progress, desc: a progress bar (TTY only) and its label.
    **mpgd_kwargs: further arguments of :func:`chaosopt.mpgd` (``variant``, ``sign_rule`` ...).

  Returns:
    ``(x_final [N, d], recorded)`` (NumPy): ``recorded`` stacks ``observe(x)`` of every path
    at the recorded steps, ``[E, N, ...]``; ``None`` if ``record_every == 0``.

  Examples:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from chaosopt.analysis.marcus import mpgd_ensemble
    >>> x, rec = mpgd_ensemble(jax.random.key(0), lambda x: x, jnp.ones(2), learning_rate=0.1,
    ...                        num_steps=10, num_paths=4, gamma=0.7, sigma=0.1, record_every=5)
    >>> x.shape, rec.shape
    ((4, 2), (3, 4, 2))

  References:
    Lim, Wan & Şimşekli, NeurIPS 2022, eq. 8 and Thm 4.1 (P0 in docs/papers.md).
  """
  if keys is None:
    if not isinstance(num_paths, int) or num_paths < 1:
      raise ValueError(f"num_paths must be a positive int, got {num_paths!r}")
    keys = jax.random.split(key, num_paths)
  x0 = jnp.asarray(x0)
  observe = observe or (lambda x: x)
  make = lambda k: _mpgd(learning_rate, gamma=gamma, beta=beta, mu=mu, sigma=sigma,  # noqa
                         key=k, **mpgd_kwargs)
  tx = make(jax.random.key(0))  # the update does not depend on the key (it lives in the state)

  def one(carry, k):
    del k
    x, state = carry
    updates, state = tx.update(grad_fn(x), state, x)
    return (optax.apply_updates(x, updates), state), None

  carry = jax.jit(jax.vmap(lambda k: (x0, make(k).init(x0))))(keys)
  v_observe = jax.jit(jax.vmap(lambda c: observe(c[0])))
  rec = record_every > 0
  chunk = record_every if rec else chunk_size
  start, recorded = 0, []
  if checkpointer is not None and checkpointer.latest_step() is not None:
    start, carry, doc = checkpointer.restore(carry)
    recorded = [np.asarray(r) for r in doc.get("recorded", [])]
  if rec and not recorded:
    recorded = [np.asarray(jax.device_get(v_observe(carry)))]
  chunks = [0]

  def on_chunk(c, metrics, steps_done):
    del metrics
    if rec:
      recorded.append(np.asarray(jax.device_get(v_observe(c))))
    chunks[0] += 1
    if checkpointer is not None and (chunks[0] % checkpoint_every == 0
                                     or steps_done >= num_steps):
      checkpointer.save(steps_done, c, {"recorded": [r.tolist() for r in recorded]})
    return False

  if start < num_steps:
    carry, _ = scan_chunks(jax.vmap(one, (0, None)), carry, num_steps,
                           chunk_size=min(chunk, num_steps), start_step=start,
                           on_chunk=on_chunk, progress=progress, desc=desc)
  x = np.asarray(jax.device_get(carry[0]))
  if not rec:
    return x, None
  # [E, N, ...] as a view of a path-major [N, ..., E] array: numpy's reductions over the paths
  # then add in the order they always did (the recorded experiments' numbers stay bit-identical)
  return x, np.moveaxis(np.stack(recorded, axis=-1), -1, 0)


__all__ = ["marcus_jump", "stable_increment", "marcus_step", "simulate_marcus", "num_steps_for",
           "mpgd_ensemble"]
