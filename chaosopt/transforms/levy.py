r"""Lévy-noise gradient descent: the Euler scheme of the α-stable-driven SDE (P2 eq. 1 and 3).

P2 models SGD near a minimum by
:math:`dW_t = -\nabla U(W_t)\,dt + \sum_l \sigma_l\, dL^{\alpha_l}_t e_l`, one
:math:`\alpha_l`-stable Lévy process per coordinate. Its Euler scheme with step :math:`\eta_k` is

.. math::

  x_{k+1} = x_k - \eta_k \nabla U(x_k) - \mu\, \eta_k^{1/\alpha}\, \xi^1_k \odot x_k
            + \sigma\, \eta_k^{1/\alpha}\, \xi^2_k

with :math:`\xi^1, \xi^2` i.i.d. :math:`S_\alpha(1, \beta, 0)` (:mod:`chaosopt.dynamics.stable`,
the :math:`X_{\alpha,\beta}` law of P0; SαS for :math:`\beta = 0`): the increment of an
α-stable process over a time step :math:`\eta` has scale :math:`\eta^{1/\alpha}`. ``alpha`` is a
scalar or a pytree of per-coordinate alphas shaped like the params; :math:`\alpha = 2` gives
Brownian increments with :math:`E\, e^{itX} = e^{-t^2}`, i.e. :math:`\mathcal N(0, 2)` (standard
deviation :math:`\sqrt 2\, \sigma \eta^{1/2}`, twice the variance of ``gaussian_perturbation`` at
equal :math:`\sigma`). The optional multiplicative term (``mu``) mirrors P0 eq. 8 (Euler/Itô
form, not Marcus).

:func:`levy_perturbation` is the perturbation alone (chain after any optimizer);
:func:`levy_gd` = ``optax.sgd(eta)`` + perturbation. Both follow the optax conventions of
:mod:`chaosopt.transforms._base` (key in the state, jit/vmap over seeds, chain/masked).
"""
from __future__ import annotations

import math
from typing import Union

import chex
import jax
import jax.core  # jax.core.Tracer (the attribute is not visible to type checkers otherwise)
import jax.numpy as jnp
import numpy as np
import optax

from chaosopt import _validation
from chaosopt.dynamics import stable
from chaosopt.transforms import _base, registry


def _is_tree(x) -> bool:
  """True for a pytree of alphas (dict/list/...), False for a scalar or a single array."""
  return not (isinstance(x, (int, float)) or hasattr(x, "shape"))


def _check_alpha(alpha) -> None:
  for leaf in jax.tree_util.tree_leaves(alpha):
    if isinstance(leaf, jax.core.Tracer):
      continue
    arr = np.asarray(leaf, dtype=np.float64)
    bad = ~((arr > 0) & (arr <= 2))
    if bad.any():
      raise ValueError(f"alpha must be in (0, 2] (every coordinate), got {arr[bad].ravel()[:5]!r}")


def _float_dtype(p):
  dt = jnp.result_type(p)
  if not jnp.issubdtype(dt, jnp.floating) or dt == jnp.bfloat16 or dt == jnp.float16:
    return jnp.float32
  return dt


def _branch(alpha) -> str:
  """Which Chambers-Mallows-Stuck branch the (concrete) alphas need: "one", "ne1" or "both"."""
  leaves = jax.tree_util.tree_leaves(alpha)
  if any(isinstance(a, jax.core.Tracer) for a in leaves):
    return "both"
  a = np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in leaves])
  return "one" if np.all(a == 1.0) else ("ne1" if np.all(a != 1.0) else "both")


def _levy_noise(alpha, beta) -> _base.NoiseProcess:
  """Two independent S_alpha(1, beta, 0) fields shaped like the params (stateless).

  One Chambers-Mallows-Stuck draw per sampling dtype: the leaves of one dtype are concatenated
  (per-leaf alphas broadcast and concatenated alongside), so the program does not grow with the
  leaf count. ``alpha`` was validated at construction, so the draw skips the sampler's checks.
  """
  branch = _branch(alpha)

  def flat_sample(state, key, count, params, groups):
    leaves = jax.tree_util.tree_leaves(params)
    if _is_tree(alpha):
      full, full_def = jax.tree_util.tree_flatten(params, is_leaf=_base._is_masked)
      alphas = [a for p, a in zip(full, full_def.flatten_up_to(alpha)) if not _base._is_masked(p)]
    step_key = _base.step_key(key, count)
    out = {}
    for g, (dtype, idx) in enumerate(groups.items()):
      sdt = jnp.dtype(_float_dtype(jnp.zeros((), dtype)))
      n = sum(math.prod(jnp.shape(leaves[i])) for i in idx)
      if _is_tree(alpha):
        a = _base.concat_flat([jnp.broadcast_to(jnp.asarray(alphas[i], sdt), jnp.shape(leaves[i]))
                               for i in idx])
      else:
        a = alpha
      draw = stable._sample(jax.random.fold_in(step_key, g), a, beta, 1.0, (2, n), sdt, branch)
      out[dtype] = (draw[0], draw[1])
    return out, state

  return _base.flat_noise(lambda key, params: (), flat_sample)


def levy_perturbation(learning_rate: optax.ScalarOrSchedule, *,
                      alpha: Union[chex.Numeric, chex.ArrayTree], sigma: chex.Numeric,
                      key: Union[chex.PRNGKey, int], beta: chex.Numeric = 0.0,
                      mu: chex.Numeric = 0.0) -> optax.GradientTransformation:
  r"""α-stable (Lévy) noise increments of P2 eq. 3, to chain after any optimizer.

  .. math::

    u_k \leftarrow u_k - \mu\, \eta_k^{1/\alpha}\, \xi^1_k \odot x_k
                       + \sigma\, \eta_k^{1/\alpha}\, \xi^2_k,
    \qquad \xi^1_k, \xi^2_k \overset{\text{i.i.d.}}{\sim} S_\alpha(1, \beta, 0)

  (one :math:`\alpha` per coordinate allowed). :math:`\eta^{1/\alpha}` is the scale of an
  α-stable process's increment over a time step :math:`\eta`. :math:`\alpha = 2` gives
  :math:`\mathcal N(0, 2)` draws (see the module docstring).

  Args:
    learning_rate: the step size :math:`\eta` (float or optax schedule); only
      :math:`\eta^{1/\alpha}` enters.
    alpha: stability index :math:`\alpha \in (0, 2]`: a scalar, or a pytree shaped like the
      params whose leaves broadcast against the params' leaves (one alpha per coordinate, P2
      eq. 3).
    sigma: additive noise strength :math:`\sigma \ge 0`.
    key: PRNG key or integer seed.
    beta: skewness :math:`\beta \in [-1, 1]` (0: symmetric α-stable, the P2 model).
    mu: multiplicative strength :math:`\mu \ge 0` (needs ``update(updates, state, params)``).

  Returns:
    An ``optax.GradientTransformation`` with a :class:`~chaosopt.transforms.PerturbationState`
    (step counter and key only: no memory per coordinate).

  Examples:
    >>> import jax.numpy as jnp
    >>> import chaosopt
    >>> params = {"a": jnp.zeros(2), "b": jnp.zeros(3)}
    >>> alpha = {"a": 1.5, "b": jnp.array([1.2, 1.8, 2.0])}  # per-coordinate alphas
    >>> tx = chaosopt.levy_perturbation(0.1, alpha=alpha, sigma=0.1, key=0)
    >>> updates, state = tx.update(params, tx.init(params))
    >>> updates["a"].shape, updates["b"].shape
    ((2,), (3,))

  References:
    Battash, Wolf & Lindenbaum, `Revisiting the Noise Model of Stochastic Gradient Descent
    <https://arxiv.org/abs/2303.02749>`__, AISTATS 2024, eq. 1 and 3 (P2 in docs/papers.md);
    the stable sampler is :func:`chaosopt.dynamics.stable.sample_stable`
    (Chambers, Mallows & Stuck 1976).
  """
  _validation.check_positive("learning_rate", learning_rate)
  _validation.check_nonnegative("sigma", sigma)
  _validation.check_nonnegative("mu", mu)
  _validation.check_in_range("beta", beta, -1.0, 1.0)
  _check_alpha(alpha)
  if _is_tree(alpha):
    exponent = jax.tree_util.tree_map(lambda a: 1.0 / jnp.asarray(a, jnp.float32), alpha)
  else:
    exponent = 1.0 / jnp.asarray(alpha, jnp.float32)
  return _base.perturbation(learning_rate, mu=mu, sigma=sigma, key=key, exponent=exponent,
                            noise=_levy_noise(alpha, beta))


def levy_gd(learning_rate: optax.ScalarOrSchedule, *, alpha: Union[chex.Numeric, chex.ArrayTree],
            sigma: chex.Numeric, key: Union[chex.PRNGKey, int], beta: chex.Numeric = 0.0,
            mu: chex.Numeric = 0.0) -> optax.GradientTransformation:
  r"""GD with Lévy noise: the Euler scheme of the α-stable SDE of P2 eq. 3.

  ``optax.sgd(learning_rate)`` followed by :func:`levy_perturbation`:

  .. math::

    x_{k+1} = x_k - \eta_k \nabla U(x_k) - \mu\, \eta_k^{1/\alpha}\, \xi^1_k \odot x_k
              + \sigma\, \eta_k^{1/\alpha}\, \xi^2_k

  with :math:`\xi^1, \xi^2` i.i.d. :math:`S_\alpha(1, \beta, 0)` per coordinate.

  Args:
    learning_rate: the step size :math:`\eta` (float or optax schedule).
    alpha: stability index :math:`\alpha \in (0, 2]`, scalar or a pytree of per-coordinate alphas.
    sigma: additive noise strength :math:`\sigma \ge 0`.
    key: PRNG key or integer seed.
    beta: skewness :math:`\beta \in [-1, 1]`.
    mu: multiplicative strength :math:`\mu \ge 0` (``update`` then needs params).

  Returns:
    An ``optax.GradientTransformation`` (an ``optax.chain`` of SGD and the perturbation).

  Examples:
    >>> import jax.numpy as jnp
    >>> import optax
    >>> import chaosopt
    >>> params = jnp.ones(3)
    >>> tx = chaosopt.levy_gd(0.1, alpha=1.5, sigma=0.0, key=0)  # sigma = 0: plain GD
    >>> updates, _ = tx.update(2 * params, tx.init(params))
    >>> optax.apply_updates(params, updates).round(3)
    Array([0.8, 0.8, 0.8], dtype=float32)

  References:
    Battash, Wolf & Lindenbaum, `Revisiting the Noise Model of Stochastic Gradient Descent
    <https://arxiv.org/abs/2303.02749>`__, AISTATS 2024, eq. 3 (P2 in
    docs/papers.md).
  """
  return _base.gd_with(learning_rate, levy_perturbation(learning_rate, alpha=alpha, sigma=sigma,
                                                        key=key, beta=beta, mu=mu))


registry.register_noise(  # (traced is read by the runner: chaosopt.train.schemes)
    "levy", levy_perturbation, traced=("mu", "sigma"),
    description="P2 eq. 3: S_alpha(1, beta, 0) noise, eta^(1/alpha) scaling")
