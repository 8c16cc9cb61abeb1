"""Independent MPGD orbits from one start, through the ensemble driver (shared by the P0 Thm. 4.1
and Thm. 4.3 experiments; not an experiment itself).

Each member runs P0 eq. 8, ``x_{k+1} = x_k - η ∇R(x_k) - μ η^γ v1_k ⊙ x_k + σ η^γ v2_k`` with
``chaosopt.mpgd`` (its own Thaler chains, initialised from the member key) from the same ``x0``,
via :func:`chaosopt.train.ensemble.run_ensemble`. Member keys come from one purpose key
(:func:`chaosopt.experiments._seeds.member_keys`), so two runs with the same purpose key and
different (μ, σ) use the same chains (common random numbers).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from chaosopt.train import ensemble
from chaosopt.transforms.mpgd import mpgd


def mpgd_paths(keys: jax.Array, grad_fn: Callable, x0, *, learning_rate: float, num_steps: int,
               gamma: float, beta: float, mu: float, sigma: float = 0.0,
               record_every: int = 0, observe: Optional[Callable] = None,
               chunk_size: int = 1000, checkpoint_dir: Optional[str] = None,
               checkpoint_every: int = 1, desc: str = ""
               ) -> tuple[np.ndarray, Optional[np.ndarray]]:
  """Runs one MPGD orbit per key for ``num_steps`` steps.

  Returns ``(x_final [N, d], recorded)``: ``recorded`` is ``observe(x)`` (default ``x``) at
  steps 0, ``record_every``, 2 ``record_every``, ... (and ``num_steps``), shape ``[E, N, ...]``,
  or ``None`` when ``record_every`` is 0. Non-finite orbits are kept as they are (no freezing),
  so the caller sees and counts them.
  """
  x0 = jnp.asarray(x0)
  observe = observe or (lambda x: x)

  def make(key):
    return mpgd(learning_rate, gamma=gamma, beta=beta, mu=mu, sigma=sigma, key=key)

  tx = make(jax.random.key(0))  # the update does not depend on the key (it lives in the state)

  def init(key, hp):
    del hp
    return x0, make(key).init(x0)

  def step(carry, k, key, hp):
    del k, key, hp
    x, state = carry
    updates, state = tx.update(grad_fn(x), state, x)
    return (optax.apply_updates(x, updates), state), {}

  evaluate = None
  if record_every > 0:
    evaluate = lambda carry, hp: {"obs": observe(carry[0])}  # noqa: E731
    chunk_size = record_every
  res = ensemble.run_ensemble(init, step, num_steps, keys=keys, chunk_size=min(chunk_size,
                                                                               num_steps),
                              evaluate=evaluate, is_finite=None, checkpoint_dir=checkpoint_dir,
                              checkpoint_every=checkpoint_every,
                              progress=True, desc=desc)
  x = np.asarray(res.carry[0])
  if evaluate is None:
    return x, None
  return x, np.moveaxis(np.asarray(res.evals["obs"]), -1, 0)  # [N, ..., E] -> [E, N, ...]
