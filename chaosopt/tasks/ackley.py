"""Ackley objective (P2 Sec. 5, "Escaping Axis", Fig. 6: 2-D Ackley, global minimum at 0).

    f(x) = -a exp(-b sqrt(mean_i x_i^2)) - exp(mean_i cos(c x_i)) + a + e,   a=20, b=0.2, c=2 pi

for x of any dimension (last axis). f(0) = 0; the local minima sit near the integer lattice, so
the basin of the global minimum is roughly |x_i| < 1/2. The sqrt is made differentiable at 0
(gradient 0 there, its limit along every ray is finite but direction-dependent; the subgradient
0 is what GD started at the minimum sees).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def ackley(x: jax.Array, a: float = 20.0, b: float = 0.2, c: float = 2 * math.pi) -> jax.Array:
  """Ackley function along the last axis of ``x``."""
  x = jnp.asarray(x)
  s = jnp.mean(x * x, axis=-1)
  pos = s > 0
  r = jnp.where(pos, jnp.sqrt(jnp.where(pos, s, 1.0)), 0.0)  # safe sqrt: finite grad at 0
  return (-a * jnp.exp(-b * r) - jnp.exp(jnp.mean(jnp.cos(c * x), axis=-1)) + a + math.e)


def ackley_grad(x: jax.Array, **kw) -> jax.Array:
  """Gradient of :func:`ackley` w.r.t. ``x`` (batched over leading axes)."""
  x = jnp.asarray(x)
  g = jax.grad(lambda v: ackley(v, **kw))
  for _ in range(x.ndim - 1):
    g = jax.vmap(g)
  return g(x)
