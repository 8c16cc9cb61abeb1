"""Widening valley loss (P0 Sec. 5.1, Fig. 2): ``l(u, v) = v^2 ||u||^2 / 2``, ``u in R^d``.

``grad l = (v^2 u, ||u||^2 v)``; ``tr grad^2 l = d v^2 + ||u||^2``. Every point with ``v = 0`` is
a minimum; the smaller ``||u||`` the flatter it is. The start is ``(u0, 0)`` with
``u0 ~ scale * U[0, 1]^d`` drawn per seed (the authors' script draws a scalar; we draw a
vector as the paper states). GD never moves from the start (the gradient vanishes at v = 0).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from chaosopt import _validation
from chaosopt.tasks.base import Task


def loss_fn(params) -> jax.Array:
  """``v^2 ||u||^2 / 2``; ``params = {"u": (d,), "v": (1,)}``."""
  return 0.5 * jnp.sum(params["v"] ** 2) * jnp.sum(params["u"] ** 2)


def hessian_trace(params) -> jax.Array:
  """``d v^2 + ||u||^2``."""
  d = params["u"].shape[-1]
  return d * jnp.sum(params["v"] ** 2) + jnp.sum(params["u"] ** 2)


def widening_valley_task(*, dim: int = 10, init_scale: float = 5.0) -> Task:
  """Task for P0 Fig. 2. ``metrics``: loss, ``v``, ``u_norm2`` = ||u||^2, ``hessian_trace``."""
  if not isinstance(dim, int) or dim < 1:
    raise ValueError(f"dim must be a positive int, got {dim!r}")
  _validation.check_positive("init_scale", init_scale)

  def init(key):
    return {"u": init_scale * jax.random.uniform(key, (dim,), jnp.float32),
            "v": jnp.zeros((1,), jnp.float32)}

  def metrics(params):
    return {"loss": loss_fn(params), "v": params["v"][0], "u_norm2": jnp.sum(params["u"] ** 2),
            "hessian_trace": hessian_trace(params)}

  return Task(name="widening_valley", init=init, loss=loss_fn, metrics=metrics,
              info={"name": "widening_valley", "dim": dim, "init_scale": init_scale})
