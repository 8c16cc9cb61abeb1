"""MPGD and the Gaussian baseline as optax transformations (P0 eq. 8 and eq. 11).

With step size η_k (a constant or an optax schedule evaluated at the step count),

    x_{k+1} = x_k - η_k ∇R(x_k) - μ η_k^γ v1(y1_k) ⊙ x_k + σ η_k^γ v2(y2_k)          (eq. 8)

(erratum: the printed powers m^{α} must be m^{1/α} = η^{-γ}, as in eq. 7 and Thm 4.1), where
v1, v2 are the observables of :mod:`chaosopt.dynamics.observables` of independent Thaler chains,
one chain per parameter coordinate. ``variant="eq11"`` uses v(y1) - v(y2) of two independent
unsigned chains in place of each observable (eq. 11; symmetric, so ``beta`` is not used).
The Gaussian baseline replaces the observables by i.i.d. N(0, 1); the paper does not fix its
η-scaling, so its exponent is a parameter (default 1/2: Brownian increments, the α = 2 case of
η^{1/α}).

``mpgd`` = ``optax.sgd(η)`` followed by ``mpgd_perturbation``; the perturbations chain after any
optimizer. The chain states live in the optimizer state (float64 when ``jax_enable_x64`` is on,
else float32 — see :mod:`chaosopt.dynamics.thaler` for how float32 keeps the invariant measure).
"""
from __future__ import annotations

import math
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax

from chaosopt import _validation
from chaosopt.dynamics import observables, random_bits, thaler
from chaosopt.transforms import _base

Variant = Literal["mpgd", "eq11"]


def _thaler_noise(gamma, beta, variant: str, sign_rule: observables.SignRule,
                  init: str) -> _base.NoiseProcess:
  """Two Thaler-observable fields (4 chains per coordinate for eq. 11).

  The chains of all leaves are stored as one flat [num_chains, num_coordinates] array, so a step
  is one fused map over every coordinate whatever the pytree (few kernels for small models).
  """
  rule: observables.SignRule = "none" if variant == "eq11" else sign_rule
  nchains = 4 if variant == "eq11" else 2

  def init_fn(key, params):
    size = sum(jnp.size(p) for p in jax.tree_util.tree_leaves(params))
    return observables.init_chains(key, (nchains, size), gamma, beta, rule, init)

  def flat_sample(chains, key, count, params, groups):
    bits = random_bits.counter_bits(key, count, chains.shape)
    v, chains = observables.step(chains, bits, gamma, beta, rule)
    if variant == "eq11":
      xi1, xi2 = v[0] - v[1], v[2] - v[3]
    else:
      xi1, xi2 = v[0], v[1]
    leaves = jax.tree_util.tree_leaves(params)
    offsets = np.cumsum([0] + [math.prod(jnp.shape(p)) for p in leaves[:-1]]).tolist()
    out = {}
    for dtype, idx in groups.items():
      off, shapes = [offsets[i] for i in idx], [jnp.shape(leaves[i]) for i in idx]
      out[dtype] = (_base.take_flat(xi1, off, shapes), _base.take_flat(xi2, off, shapes))
    return out, chains

  return _base.flat_noise(init_fn, flat_sample)


def _check_common(learning_rate, mu, sigma) -> None:
  _validation.check_positive("learning_rate", learning_rate)
  _validation.check_nonnegative("mu", mu)
  _validation.check_nonnegative("sigma", sigma)


def mpgd_perturbation(learning_rate: _base.ScalarOrSchedule, *, gamma, beta=0.0, mu=0.0,
                      sigma=0.0, key, variant: Variant = "mpgd",
                      sign_rule: observables.SignRule = "excursion",
                      init: str = "invariant") -> optax.GradientTransformation:
  """Adds the MPGD perturbation ``-μ η_k^γ v1 ⊙ x + σ η_k^γ v2`` to the updates (eq. 8).

  Args:
    learning_rate: η (float or schedule); only its power η^γ enters here.
    gamma: γ = 1/α ∈ (1/2, 1), or precomputed :class:`~chaosopt.dynamics.thaler.ThalerConstants`
      (to vary γ under ``jit``/``vmap``).
    beta: skewness β ∈ [-1, 1] of the limit law (``variant="mpgd"``; unused by eq. 11).
    mu: multiplicative strength μ ≥ 0 ("dynamical weight decay"; needs ``params``).
    sigma: additive strength σ ≥ 0.
    key: PRNG key (or int seed) for the chains' initial states, signs and rounding dither.
    variant: ``"mpgd"`` (eq. 8) or ``"eq11"`` (v(y1) - v(y2) per observable).
    sign_rule: ``"excursion"`` (default, reproduces β) or ``"literal"`` (the paper's printed
      cumulative product, which loses β; see :mod:`chaosopt.dynamics.observables`).
    init: ``"invariant"`` (exact draw from the invariant measure) or ``"warmup"``
      (paper: T^{10^4}(U)).
  """
  thaler.check_gamma(gamma)
  _validation.check_in_range("beta", beta, -1.0, 1.0)
  _check_common(learning_rate, mu, sigma)
  if variant not in ("mpgd", "eq11"):
    raise ValueError(f"variant must be 'mpgd' or 'eq11', got {variant!r}")
  observables.check_sign_rule(sign_rule)
  consts = thaler.thaler_constants(gamma)
  return _base.perturbation(learning_rate, mu=mu, sigma=sigma, key=key, exponent=consts.gamma,
                            noise=_thaler_noise(consts, beta, variant, sign_rule, init))


def mpgd(learning_rate: _base.ScalarOrSchedule, *, gamma, beta=0.0, mu=0.0, sigma=0.0, key,
         variant: Variant = "mpgd", sign_rule: observables.SignRule = "excursion",
         init: str = "invariant") -> optax.GradientTransformation:
  """Multiplicative-perturbed GD (P0 eq. 8): ``optax.sgd(η)`` then :func:`mpgd_perturbation`.

  Use ``tx.update(grads, state, params)``: the multiplicative term needs the params.
  """
  perturb = mpgd_perturbation(learning_rate, gamma=gamma, beta=beta, mu=mu, sigma=sigma, key=key,
                              variant=variant, sign_rule=sign_rule, init=init)
  return _base.gd_with(learning_rate, perturb)


def _gaussian_noise() -> _base.NoiseProcess:
  """Two i.i.d. N(0, 1) fields: one ``jax.random.normal`` draw per dtype group of leaves (all
  floating leaves of one dtype concatenated), so the program does not grow with the leaf count."""
  def flat_sample(state, key, count, params, groups):
    leaves = jax.tree_util.tree_leaves(params)
    step_key = _base.step_key(key, count)
    out = {}
    for g, (dtype, idx) in enumerate(groups.items()):
      n = sum(math.prod(jnp.shape(leaves[i])) for i in idx)
      draw = jax.random.normal(jax.random.fold_in(step_key, g), (2, n), dtype)
      out[dtype] = (draw[0], draw[1])
    return out, state

  return _base.flat_noise(lambda key, params: (), flat_sample)


def gaussian_perturbation(learning_rate: _base.ScalarOrSchedule, *, mu=0.0, sigma=0.0, key,
                          exponent: Any = 0.5) -> optax.GradientTransformation:
  """The Gaussian baseline of P0: ``-μ η_k^p ξ1 ⊙ x + σ η_k^p ξ2`` with ξ i.i.d. N(0, 1).

  ``exponent`` p defaults to 1/2 (Brownian increments); the paper leaves it unspecified
  (docs/errata.md), so reports state the value used.
  """
  _check_common(learning_rate, mu, sigma)
  _validation.check_nonnegative("exponent", exponent)
  return _base.perturbation(learning_rate, mu=mu, sigma=sigma, key=key, exponent=exponent,
                            noise=_gaussian_noise())
