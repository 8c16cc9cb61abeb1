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
from typing import Any, Literal, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from chaosopt import _validation
from chaosopt.dynamics import observables, random_bits, thaler
from chaosopt.transforms import _base, registry

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


def mpgd_perturbation(learning_rate: optax.ScalarOrSchedule, *,
                      gamma: Union[ArrayLike, thaler.ThalerConstants], beta: ArrayLike = 0.0,
                      mu: ArrayLike = 0.0, sigma: ArrayLike = 0.0, key: Union[jax.Array, int],
                      variant: Variant = "mpgd", sign_rule: observables.SignRule = "excursion",
                      init: str = "invariant") -> optax.GradientTransformation:
  r"""The MPGD perturbation of P0 eq. 8, to chain after any optimizer.

  Adds to the incoming updates ``u_k`` (one Thaler chain per parameter coordinate)

  .. code-block:: text

    u_k  <-  u_k  -  mu eta_k^gamma v1(y1_k) ⊙ x_k  +  sigma eta_k^gamma v2(y2_k)

  where ``x_k`` are the params, ``eta_k`` the step size at step ``k`` and ``v1, v2`` the
  observables (:mod:`chaosopt.dynamics.observables`) of independent Thaler chains
  ``y_{k+1} = T_gamma(y_k)``, whose Birkhoff sums converge to ``S_alpha(1, beta, 0)``,
  ``alpha = 1/gamma``. ``variant="eq11"`` uses ``v(y1) - v(y2)`` of two unsigned chains for each
  observable (P0 eq. 11, symmetric). The power is ``eta^gamma`` (erratum: P0 prints ``m^alpha``,
  see docs/errata.md).

  Args:
    learning_rate: the step size ``eta`` (float or optax schedule); only ``eta_k^gamma`` enters.
    gamma: ``gamma = 1/alpha`` in (1/2, 1), or precomputed
      :class:`~chaosopt.dynamics.thaler.ThalerConstants` (to vary gamma under ``jit``/``vmap``).
    beta: skewness in [-1, 1] of the limit law (``variant="mpgd"``; unused by eq. 11).
    mu: multiplicative strength >= 0 ("dynamical weight decay"; ``update`` then needs params).
    sigma: additive strength >= 0.
    key: PRNG key or integer seed of the chains' initial states, signs and rounding dither.
    variant: ``"mpgd"`` (eq. 8) or ``"eq11"`` (differences of unsigned observables, eq. 11).
    sign_rule: ``"excursion"`` (default, reproduces beta) or ``"literal"`` (the paper's printed
      cumulative product, which loses beta; see :mod:`chaosopt.dynamics.observables`).
    init: ``"invariant"`` (exact draw from the invariant measure) or ``"warmup"``
      (the paper's ``T^{10^4}(U)``).

  Returns:
    An ``optax.GradientTransformation`` whose state is a
    :class:`~chaosopt.transforms.PerturbationState` (the chains live in it).

  Examples:
    >>> import jax.numpy as jnp
    >>> import chaosopt
    >>> params = {"w": jnp.ones(4)}
    >>> tx = chaosopt.mpgd_perturbation(0.1, gamma=0.7, sigma=0.1, key=0)
    >>> state = tx.init(params)
    >>> updates, state = tx.update({"w": jnp.zeros(4)}, state, params)
    >>> updates["w"].shape, int(state.count)
    ((4,), 1)

  References:
    Lim, Wan & Şimşekli, *Chaotic Regularization and Heavy-Tailed Limits for Deterministic
    Gradient Descent*, NeurIPS 2022, eq. 8 and 11 (P0 in docs/papers.md).
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


def mpgd(learning_rate: optax.ScalarOrSchedule, *,
         gamma: Union[ArrayLike, thaler.ThalerConstants], beta: ArrayLike = 0.0,
         mu: ArrayLike = 0.0, sigma: ArrayLike = 0.0, key: Union[jax.Array, int],
         variant: Variant = "mpgd", sign_rule: observables.SignRule = "excursion",
         init: str = "invariant") -> optax.GradientTransformation:
  r"""Multiplicatively perturbed gradient descent, MPGD (P0 eq. 8).

  ``optax.sgd(learning_rate)`` followed by :func:`mpgd_perturbation`:

  .. code-block:: text

    x_{k+1} = x_k - eta_k grad R(x_k) - mu eta_k^gamma v1(y1_k) ⊙ x_k + sigma eta_k^gamma v2(y2_k)

  with one Thaler chain per parameter coordinate. Call ``tx.update(grads, state, params)``: the
  multiplicative term needs the params. ``mu = sigma = 0`` is plain GD.

  Args:
    learning_rate: the step size ``eta`` (float or optax schedule).
    gamma: ``gamma = 1/alpha`` in (1/2, 1), or :class:`~chaosopt.dynamics.thaler.ThalerConstants`.
    beta: skewness in [-1, 1] of the limit law (unused by ``variant="eq11"``).
    mu: multiplicative strength >= 0.
    sigma: additive strength >= 0.
    key: PRNG key or integer seed.
    variant: ``"mpgd"`` (eq. 8) or ``"eq11"`` (eq. 11).
    sign_rule: ``"excursion"`` (default) or ``"literal"`` (see :func:`mpgd_perturbation`).
    init: ``"invariant"`` or ``"warmup"`` initial chain states.

  Returns:
    An ``optax.GradientTransformation`` (an ``optax.chain`` of SGD and the perturbation).

  Examples:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> import optax
    >>> import chaosopt
    >>> params = {"w": jnp.ones(3)}
    >>> loss = lambda p: jnp.sum(p["w"] ** 2)
    >>> tx = chaosopt.mpgd(0.1, gamma=0.7, mu=0.5, sigma=0.1, key=0)
    >>> state = tx.init(params)
    >>> for _ in range(2):
    ...   grads = jax.grad(loss)(params)
    ...   updates, state = tx.update(grads, state, params)
    ...   params = optax.apply_updates(params, updates)
    >>> params["w"].shape, bool(jnp.all(jnp.isfinite(params["w"])))
    ((3,), True)
    >>> gd = chaosopt.mpgd(0.1, gamma=0.7, key=0)  # mu = sigma = 0: plain GD
    >>> ones = {"w": jnp.ones(3)}
    >>> gd.update(jax.grad(loss)(ones), gd.init(ones), ones)[0]["w"].round(3)
    Array([-0.2, -0.2, -0.2], dtype=float32)

  References:
    Lim, Wan & Şimşekli, *Chaotic Regularization and Heavy-Tailed Limits for Deterministic
    Gradient Descent*, NeurIPS 2022, eq. 8 (P0 in docs/papers.md).
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


def gaussian_perturbation(learning_rate: optax.ScalarOrSchedule, *, mu: ArrayLike = 0.0,
                          sigma: ArrayLike = 0.0, key: Union[jax.Array, int],
                          exponent: Any = 0.5) -> optax.GradientTransformation:
  r"""The Gaussian baseline of P0: MPGD's perturbation with i.i.d. N(0, 1) noise.

  .. code-block:: text

    u_k  <-  u_k  -  mu eta_k^p xi1_k ⊙ x_k  +  sigma eta_k^p xi2_k,     xi1, xi2 ~ N(0, I)

  Chain after ``optax.sgd(eta)`` for the Gaussian-perturbed GD of P0's experiments.

  Args:
    learning_rate: the step size ``eta`` (float or optax schedule); only ``eta_k^p`` enters.
    mu: multiplicative strength >= 0 (``update`` then needs params).
    sigma: additive strength >= 0.
    key: PRNG key or integer seed.
    exponent: ``p`` >= 0, a scalar or a pytree shaped like the params. Default 1/2 (Brownian
      increments); P0 leaves it unspecified (docs/errata.md), so reports state the value used.

  Returns:
    An ``optax.GradientTransformation`` with a :class:`~chaosopt.transforms.PerturbationState`.

  Examples:
    >>> import jax.numpy as jnp
    >>> import chaosopt
    >>> tx = chaosopt.gaussian_perturbation(0.01, sigma=1.0, key=0)
    >>> zeros = jnp.zeros(10_000)
    >>> updates, _ = tx.update(zeros, tx.init(zeros))
    >>> round(float(updates.std()), 1)  # sigma eta^(1/2) = 0.1
    0.1

  References:
    Lim, Wan & Şimşekli, *Chaotic Regularization and Heavy-Tailed Limits for Deterministic
    Gradient Descent*, NeurIPS 2022, Section 5 (P0 in docs/papers.md).
  """
  _check_common(learning_rate, mu, sigma)
  _validation.check_nonnegative("exponent", exponent)
  return _base.perturbation(learning_rate, mu=mu, sigma=sigma, key=key, exponent=exponent,
                            noise=_gaussian_noise())


# --------------------------------------------------------------------------- registration
# (traced / prepare are read by the runner: chaosopt.train.kinds)

registry.register_noise("gd", None, description="plain gradient descent (no perturbation)")
registry.register_noise(
    "gaussian", gaussian_perturbation, traced=("mu", "sigma", "exponent"),
    description="P0 Gaussian baseline: -mu eta^p xi1*x + sigma eta^p xi2, xi ~ N(0,1)")
registry.register_noise(
    "mpgd", mpgd_perturbation, traced=("mu", "sigma", "gamma"),
    prepare={"gamma": thaler.thaler_constants}, fixed={"variant": "mpgd"},
    description="P0 eq. 8: Thaler-map observables, eta^gamma scaling")
registry.register_noise(
    "eq11", mpgd_perturbation, traced=("mu", "sigma", "gamma"),
    prepare={"gamma": thaler.thaler_constants}, fixed={"variant": "eq11"},
    description="P0 eq. 11: differences of two unsigned Thaler observables")
