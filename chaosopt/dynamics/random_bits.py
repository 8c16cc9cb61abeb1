"""Cheap counter-based random bits for the Thaler chains (no paper equation: infrastructure).

Each chain step needs 32 random bits per chain (the rounding dither of
:func:`chaosopt.dynamics.thaler.map_dithered` and the skewness sign of
:mod:`chaosopt.dynamics.observables`). Drawing them with ``jax.random.bits`` (threefry2x32)
costs as much as ``jax.random.normal`` on CPU, i.e. more than the map itself, which would make
chaotic noise slower than Gaussian noise. Instead, one threefry call per step gives two 32-bit
words (k0, k1), and the bits of element i are a keyed integer hash of the counter i:

    x = mix(mix(i * φ + k0) ^ k1),    mix = xor-shift-multiply "lowbias32" (hash-prospector)

Per step the map i -> bits is a bijection of the index (no two elements of one draw collide).
:func:`bits` takes the two seed words from one threefry draw; :func:`counter_bits` (the MPGD hot
path) derives them from (key, step) by the same hash, so a step costs no threefry call at all.
tests/test_random_bits.py checks uniformity, sign frequencies and correlations; the
invariant-measure and stable-limit tests check the chain.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

_GOLDEN = 0x9E3779B9


def _mix(x):
  x = x ^ (x >> 16)
  x = x * jnp.uint32(0x21F0AAAD)
  x = x ^ (x >> 15)
  x = x * jnp.uint32(0x735A2D97)
  return x ^ (x >> 15)


def hash_index(seed: jax.Array, index: jax.Array) -> jax.Array:
  """uint32 bits of the element indices ``index`` (uint32, any shape): the keyed hash of each
  index under the uint32[2] ``seed``. Element i of :func:`hash_bits` is ``hash_index(seed, i)``,
  so any part of a draw can be computed on its own (MPGD draws each leaf's bits this way)."""
  return _mix(_mix(index * jnp.uint32(_GOLDEN) + seed[0]) ^ seed[1])


def hash_bits(seed: jax.Array, shape) -> jax.Array:
  """uint32 bits of ``shape`` from a uint32[2] ``seed``: the keyed hash of the element index."""
  size = 1
  for d in shape:
    size *= d
  return hash_index(seed, lax.iota(jnp.uint32, size).reshape(shape))


def bits(key: jax.Array, shape) -> jax.Array:
  """uint32 random bits of ``shape`` from ``key`` (one threefry draw + an integer hash)."""
  return hash_bits(jax.random.bits(key, (2,), jnp.uint32), shape)


def counter_seed(key: jax.Array, step) -> jax.Array:
  """The uint32[2] seed of step ``step`` of the stream ``key`` (keyed hashes of the counter)."""
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  kd = key.reshape(-1).astype(jnp.uint32)
  c = jnp.asarray(step).astype(jnp.uint32) * jnp.uint32(_GOLDEN)
  return jnp.stack([_mix(_mix(c + kd[0]) ^ kd[-1]), _mix(_mix(c ^ kd[-1]) + kd[0] + jnp.uint32(1))])


def counter_bits(key: jax.Array, step, shape) -> jax.Array:
  """uint32 bits of ``shape`` for step ``step`` of the stream ``key``, without any threefry call:
  the two per-step seed words are keyed hashes of the step counter (:func:`counter_seed`)."""
  return hash_bits(counter_seed(key, step), shape)
