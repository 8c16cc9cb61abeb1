"""Key derivation shared by the ported experiments (not an experiment; no paper equation).

One base seed per config: ``purpose_key(seed, j) = fold_in(key(seed), j)`` gives one key per
purpose (data, initialization, one unit or case), and ``member_keys(base, n)`` the ``n`` member
keys ``fold_in(base, i)`` that :func:`chaosopt.train.ensemble.run_ensemble` takes. Typed keys
only.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def purpose_key(seed: int, purpose: int) -> jax.Array:
  """``fold_in(key(seed), purpose)``: one key per purpose (data, a unit, a case)."""
  return jax.random.fold_in(jax.random.key(int(seed)), int(purpose))


def member_keys(base: jax.Array, num: int) -> jax.Array:
  """``[num]`` member keys ``fold_in(base, i)``."""
  return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(num))
