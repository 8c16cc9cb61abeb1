"""Deterministic gradient-descent maps studied by Kong & Tao (2020, P1 of docs/papers.md).

* GD, P1 Sec. 1: ``phi(x) = x - eta * grad f(x)``.
* Heavy ball, P1 App. D.4.1 [Polyak 1964]: ``v_{n+1} = gamma v_n - eta grad f(x_n)``,
  ``x_{n+1} = x_n + v_{n+1}``, ``v_0 = 0`` (the paper prints ``gamma y_n``, a typo for
  ``gamma v_n``).
* NAG-SC, P1 App. D.4.2 [Nesterov 2013]: ``y_{k+1} = x_k - eta grad f(x_k)``,
  ``x_{k+1} = y_{k+1} + c (y_{k+1} - y_k)``, ``y_0 = x_0``,
  ``c = (1 - sqrt(mu eta)) / (1 + sqrt(mu eta))``.

Both momentum recursions coincide exactly (in exact arithmetic) with optax's trace:
heavy ball is ``optax.sgd(eta, momentum=gamma)`` and NAG-SC is
``optax.sgd(eta, momentum=c, nesterov=True)`` (checked in ``tests/test_multiscale.py``). The plain
maps below are used for ensembles because they carry no optimizer state pytree and are cheaper
to vmap over 10^4+ orbits. Pure ``jnp``: ``grad_fn(x) -> array like x``.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from chaosopt._validation import check_in_range, check_positive

GradFn = Callable[[jax.Array], jax.Array]


def gd_step(x: jax.Array, grad_fn: GradFn, eta) -> jax.Array:
  """One GD step ``x - eta grad f(x)`` (P1's map phi)."""
  return x - eta * grad_fn(x)


class HeavyBallState(NamedTuple):
  x: jax.Array
  v: jax.Array


def heavy_ball_init(x0: jax.Array) -> HeavyBallState:
  """``v_0 = 0``."""
  return HeavyBallState(x0, jnp.zeros_like(x0))


def heavy_ball_step(state: HeavyBallState, grad_fn: GradFn, eta, gamma) -> HeavyBallState:
  """Polyak heavy ball (P1 App. D.4.1)."""
  v = gamma * state.v - eta * grad_fn(state.x)
  return HeavyBallState(state.x + v, v)


class NAGState(NamedTuple):
  x: jax.Array
  y: jax.Array  # y_k, the previous gradient-step point


def nag_sc_coefficient(mu: float, eta: float) -> float:
  """``c = (1 - sqrt(mu eta)) / (1 + sqrt(mu eta))`` (P1 App. D.4.2)."""
  check_positive("mu", mu)
  check_positive("eta", eta)
  check_in_range("mu * eta", mu * eta, 0.0, 1.0, lo_open=True)
  r = math.sqrt(mu * eta)
  return (1.0 - r) / (1.0 + r)


def nag_sc_init(x0: jax.Array) -> NAGState:
  """``y_0 = x_0``."""
  return NAGState(x0, x0)


def nag_sc_step(state: NAGState, grad_fn: GradFn, eta, c) -> NAGState:
  """Nesterov's accelerated gradient for strongly convex f (P1 App. D.4.2)."""
  y = state.x - eta * grad_fn(state.x)
  return NAGState(y + c * (y - state.y), y)
