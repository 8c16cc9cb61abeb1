"""Shared machinery of the noise-injecting optax transformations.

Every perturbation in chaosopt has the form of P0 eq. 8 (MPGD) with its noise swapped:

    u_k  <-  u_k  -  mu * eta_k**p * xi1_k ⊙ x_k  +  sigma * eta_k**p * xi2_k

where ``u_k`` is the incoming update (e.g. ``-eta_k * grad`` from ``optax.sgd``), ``x_k`` the
params, ``eta_k`` the (possibly scheduled) step size, ``p`` the noise exponent (gamma for the
Thaler observables, 1/alpha for alpha-stable noise, 1/2 for Brownian increments) and
``xi1, xi2`` two independent noise fields with one coordinate per parameter coordinate.
A :class:`NoiseProcess` supplies ``xi``; :func:`perturbation` turns it into a
``GradientTransformation`` that follows the optax conventions (NamedTuple state with a PRNG
key, params-aware, schedule-aware, works under jit/vmap and inside chain/masked/MultiSteps/
apply_if_finite/inject_hyperparams).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import optax

from chaosopt import _validation

ScalarOrSchedule = Union[float, jax.Array, optax.Schedule]


class NoiseProcess(NamedTuple):
  """A (possibly stateful) source of two independent noise fields shaped like the params.

  ``init(key, params) -> noise_state``;
  ``sample(noise_state, key, count, params) -> (xi_mult, xi_add, new_noise_state)`` where
  ``xi_*`` are pytrees shaped like ``params`` (any float dtype; cast to each update leaf's dtype)
  and ``params`` is only a shape/dtype template (it may be the updates tree). ``key`` is the
  transformation's fixed key and ``count`` the step: the noise of step k is a function of
  (key, k) — :func:`step_key` for ``jax.random`` samplers, or a cheaper counter-based hash
  (:mod:`chaosopt.dynamics.random_bits`) — so no key is split on the hot path.
  """
  init: Callable[[jax.Array, Any], Any]
  sample: Callable[[Any, jax.Array, Any], tuple[Any, Any, Any]]


class PerturbationState(NamedTuple):
  """State of :func:`perturbation`: step counter, PRNG key (fixed), noise-process state."""
  count: jax.Array
  key: jax.Array
  noise: Any


def as_key(key) -> jax.Array:
  """Accepts an int seed, a typed key or a raw uint32[2] key; returns a PRNG key array."""
  if isinstance(key, int):
    return jax.random.key(key)
  return key


def value_at(x: ScalarOrSchedule, count: jax.Array):
  """Value of a constant or a schedule at step ``count``."""
  return x(count) if callable(x) else x


def perturbation(learning_rate: ScalarOrSchedule, *, mu, sigma, key, exponent,
                 noise: NoiseProcess) -> optax.GradientTransformation:
  """Adds ``-mu eta_k^p xi1 ⊙ params + sigma eta_k^p xi2`` to the updates.

  ``exponent`` is ``p``: a scalar or a pytree shaped like the params (per-coordinate exponents,
  e.g. 1/alpha_l). Validation of the arguments is the caller's job (each public factory names
  its own parameters); ``mu == 0`` (concrete) skips the multiplicative term and then ``params``
  may be omitted from ``update``.
  """
  key = as_key(key)
  mu_is_zero = _validation._concrete(mu) == 0.0

  def init_fn(params):
    k_noise, k_run = jax.random.split(key)
    return PerturbationState(count=jnp.zeros([], jnp.int32), key=k_run,
                             noise=noise.init(k_noise, params))

  def update_fn(updates, state, params=None):
    if params is None and not mu_is_zero:
      raise ValueError("this perturbation has mu != 0 (multiplicative noise) and needs params: "
                       "call update(updates, state, params)")
    xi1, xi2, noise_state = noise.sample(state.noise, state.key, state.count, updates)
    eta = value_at(learning_rate, state.count)
    p_tree = exponent if not _is_scalar(exponent) else jax.tree_util.tree_map(
        lambda _: exponent, updates)

    def leaf(u, a, b, p, x):
      scale = jnp.asarray(eta, jnp.float32 if u.dtype == jnp.bfloat16 else u.dtype) ** p
      out = u + (sigma * scale * b).astype(u.dtype)
      if not mu_is_zero:
        out = out - (mu * scale * a * x).astype(u.dtype)
      return out

    params_t = params if params is not None else updates
    new_updates = jax.tree_util.tree_map(leaf, updates, xi1, xi2, p_tree, params_t)
    return new_updates, PerturbationState(count=optax.safe_increment(state.count), key=state.key,
                                          noise=noise_state)

  return optax.GradientTransformation(init_fn, update_fn)


def _is_scalar(x) -> bool:
  return not isinstance(x, (dict, list, tuple)) and jnp.ndim(x) == 0


def step_key(key: jax.Array, count: jax.Array) -> jax.Array:
  """The ``jax.random`` key of step ``count``."""
  return jax.random.fold_in(key, count)


def gd_with(learning_rate: ScalarOrSchedule, perturb: optax.GradientTransformation
            ) -> optax.GradientTransformation:
  """Plain GD (``-eta_k grad``) followed by ``perturb``: the full noisy-GD recursion."""
  return optax.chain(optax.sgd(learning_rate), perturb)
