r"""MPGD and the Gaussian baseline as optax transformations (P0 eq. 8 and eq. 11).

With step size :math:`\eta_k` (a constant or an optax schedule evaluated at the step count),

.. math::

  x_{k+1} = x_k - \eta_k \nabla R(x_k) - \mu\, \eta_k^{\gamma}\, v_1(y^1_k) \odot x_k
            + \sigma\, \eta_k^{\gamma}\, v_2(y^2_k)  \qquad \text{(P0 eq. 8)}

(erratum: the printed powers :math:`m^{\alpha}` must be :math:`m^{1/\alpha} = \eta^{\gamma}`, as in
eq. 7 and Thm 4.1), where :math:`v_1, v_2` are the observables of
:mod:`chaosopt.dynamics.observables` of independent Thaler chains, one chain per parameter
coordinate. ``variant="eq11"`` uses :math:`v(y^1) - v(y^2)` of two independent unsigned chains in
place of each observable (eq. 11; symmetric, so ``beta`` is not used). The Gaussian baseline
replaces the observables by i.i.d. :math:`\mathcal N(0, 1)`; the paper does not fix its
:math:`\eta`-scaling, so its exponent is a parameter (default :math:`1/2`: Brownian increments,
the :math:`\alpha = 2` case of :math:`\eta^{1/\alpha}`).

``mpgd`` = ``optax.sgd(η)`` followed by ``mpgd_perturbation``; the perturbations chain after any
optimizer. The chain states live in the optimizer state (float64 when ``jax_enable_x64`` is on,
else float32 — see :mod:`chaosopt.dynamics.thaler` for how float32 keeps the invariant measure).

Optimizer state and memory: :class:`ThalerChains`, one tree shaped like the params per chain
(sharding the params shards it the same way, docs/scale.md), one chain per floating-point
coordinate and none for integer leaves. float32 bytes per parameter coordinate:

=================  ===============  ===============================================
variant            ``mu > 0``       ``mu = 0`` (a Python/NumPy 0)
=================  ===============  ===============================================
eq. 8              8 (v1 and v2)    4 (only the additive chain)
eq. 11             16 (two chains   8
                   per observable)
=================  ===============  ===============================================

(``optax.adam``: 8, ``optax.sgd``: 0; the Gaussian and Lévy baselines: 0, they keep only the key.)

The initial chain values and each step's random bits are those of one flat
``[chains, coordinates]`` draw over all leaves in tree order (integer leaves included), so the
numbers do not depend on the layout, the leaf split or the sharding.
"""
from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from chaosopt import _validation
from chaosopt.core import draws
from chaosopt.dynamics import observables, random_bits, thaler
from chaosopt.transforms import _base, registry

Variant = Literal["mpgd", "eq11"]


class ThalerChains(NamedTuple):
  """The Thaler chain states of :func:`mpgd_perturbation`: ``PerturbationState.noise``.

  Each field is a tuple of pytrees with the params' structure: one array per floating-point leaf,
  of that leaf's shape (dtype float32, float64 with ``jax_enable_x64``), holding one chain per
  coordinate; a non-floating (integer, bool) leaf has no chain and holds ``optax.MaskedNode()``.
  A sharding of the params therefore applies to every tree as is (e.g. with
  ``optax.tree_map_params``, docs/scale.md).

  Attributes:
    y1: chains of the multiplicative observable ``v1`` (P0 eq. 8): one tree for eq. 8, two for
      eq. 11 (``v(y) - v(y')``); empty when the transform was built with ``mu`` a Python/NumPy 0
      (no multiplicative term, nothing to store or step).
    y2: chains of the additive observable ``v2``: one tree for eq. 8, two for eq. 11.
  """
  y1: tuple
  y2: tuple


def _static_zero(x) -> bool:
  """``x`` is a Python/NumPy number equal to 0: fixed at construction (a jax array, even a
  concrete one, may be a hyper-parameter that changes, e.g. under ``optax.inject_hyperparams``)."""
  if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.number, np.ndarray)):
    return False
  return np.ndim(x) == 0 and float(x) == 0.0


def _computed_once(x, bits):
  """``x`` exactly (``x / 1``), as a value XLA:CPU computes once before it is cut into leaves.

  XLA:CPU fuses a cheap elementwise producer into every consumer, so each leaf's gather out of a
  concatenated segment would recompute the whole chain step (15x the optimized HLO of the update
  at 100 leaves, measured); a division is an expensive producer it does not duplicate. The
  divisor is a 1 XLA cannot fold, ``float((bits >> 31) | 1)`` (a constant 1 is simplified away,
  and a scalar one becomes a multiplication by its reciprocal).
  """
  one = ((bits >> 31) | jnp.uint32(1)).astype(x.dtype)
  return x / one


def _thaler_noise(gamma, beta, variant: str, sign_rule: observables.SignRule,
                  init: str, multiplicative: bool = True) -> _base.NoiseProcess:
  """Two Thaler-observable fields (eq. 8: one chain per coordinate each; eq. 11: two).

  The chains' initial values and per-step random bits are those of one flat
  ``[num_chains, num_coordinates]`` array over all leaves in tree order (eq. 8: row 0 for ``v1``,
  1 for ``v2``; eq. 11: 0, 1 and 2, 3; integer leaves count as coordinates), so the numbers do not
  depend on how the state is stored: it is stored leaf by leaf (:class:`ThalerChains`), and a
  step maps each large leaf on its own and the small leaves of a dtype concatenated
  (:func:`chaosopt.transforms._base.segments`). ``multiplicative=False`` (``mu == 0``) keeps and
  steps only the chains of ``v2`` (their numbers are unchanged: a chain's bits do not depend on
  the others).
  """
  rule: observables.SignRule = "none" if variant == "eq11" else sign_rule
  nchains = 4 if variant == "eq11" else 2
  per_field = nchains // 2
  rows1 = list(range(per_field)) if multiplicative else []
  rows2 = list(range(per_field, nchains))

  def layout(params):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    sizes = [math.prod(jnp.shape(p)) for p in leaves]
    offsets = np.cumsum([0] + sizes[:-1]).tolist() if sizes else []
    floating = set(i for idx in _base.dtype_groups(leaves).values() for i in idx)
    return leaves, treedef, offsets, sum(sizes), floating

  def init_fn(key, params):
    leaves, treedef, offsets, size, floating = layout(params)
    flat = observables.init_chains(key, (nchains, size), gamma, beta, rule, init)
    fl = sorted(floating)
    shapes = [jnp.shape(leaves[i]) for i in fl]

    def tree(row):
      pieces = dict(zip(fl, _base.split_flat(flat[row], shapes, [offsets[i] for i in fl])))
      return jax.tree_util.tree_unflatten(
          treedef, [pieces.get(i, optax.MaskedNode()) for i in range(len(leaves))])
    return ThalerChains(y1=tuple(tree(r) for r in rows1), y2=tuple(tree(r) for r in rows2))

  def index(row, idx, leaves, offsets, size, flat):
    """uint32 flat indices (in the [num_chains, num_coordinates] draw) of the leaves ``idx``."""
    base = np.uint32(row * size)
    if not flat:
      shape = jnp.shape(leaves[idx[0]])
      strides = np.cumprod((1,) + shape[:0:-1])[::-1] if shape else ()
      i = jnp.full(shape, base + np.uint32(offsets[idx[0]]), jnp.uint32)
      for d, stride in enumerate(strides):
        i = i + jax.lax.broadcasted_iota(jnp.uint32, shape, d) * jnp.uint32(stride)
      return i
    # runs of leaves that are consecutive in the flat draw: one iota each
    runs, start, n = [], None, 0
    for i in idx:
      m = math.prod(jnp.shape(leaves[i]))
      if start is not None and offsets[i] == start + n:
        n += m
      else:
        if start is not None:
          runs.append((start, n))
        start, n = offsets[i], m
    runs.append((start, n))
    parts = [jax.lax.iota(jnp.uint32, n) + jnp.uint32(base + np.uint32(o)) for o, n in runs]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts)

  def segment_sample(chains, key, count, params, segs):
    leaves, treedef, offsets, size, _ = layout(params)
    seed = random_bits.counter_seed(key, count)
    rows = rows1 + rows2
    trees = list(chains.y1) + list(chains.y2)
    chain_leaves = [treedef.flatten_up_to(t) for t in trees]
    new_leaves = [list(cl) for cl in chain_leaves]
    xis = []
    for seg in segs:
      shapes = [jnp.shape(leaves[i]) for i in seg.idx]
      v = []
      for row, cl, nl in zip(rows, chain_leaves, new_leaves):
        state = _base.concat_flat([cl[i] for i in seg.idx]) if seg.flat else cl[seg.idx[0]]
        bits = random_bits.hash_index(seed, index(row, seg.idx, leaves, offsets, size, seg.flat))
        vr, state = observables.step(state, bits, gamma, beta, rule)
        if seg.flat and len(seg.idx) > 1:
          vr, state = _computed_once(vr, bits), _computed_once(state, bits)
        v.append(vr)
        for i, piece in zip(seg.idx, _base.split_flat(state, shapes) if seg.flat else [state]):
          nl[i] = piece
      if variant == "eq11":
        xi = [v[k] - v[k + 1] for k in range(0, len(v), 2)]
      else:
        xi = v
      xis.append((xi[0], xi[1]) if multiplicative else (None, xi[0]))
    new = [jax.tree_util.tree_unflatten(treedef, nl) for nl in new_leaves]
    return xis, ThalerChains(y1=tuple(new[:len(rows1)]), y2=tuple(new[len(rows1):]))

  def covered(chains, params):
    """Leaves with chains: the floating leaves of the params given to ``init`` (an integer
    param's update is left unchanged even where an optimizer before made it a float)."""
    treedef = jax.tree_util.tree_structure(params)
    tree = (chains.y1 + chains.y2)[0]
    return [not isinstance(c, optax.MaskedNode) for c in treedef.flatten_up_to(tree)]

  return _base.leafwise_noise(init_fn, segment_sample, covered)


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

  Adds to the incoming updates :math:`u_k` (one Thaler chain per parameter coordinate)

  .. math::

    u_k \leftarrow u_k - \mu\, \eta_k^{\gamma}\, v_1(y^1_k) \odot x_k
                       + \sigma\, \eta_k^{\gamma}\, v_2(y^2_k)

  where :math:`x_k` are the params, :math:`\eta_k` the step size at step :math:`k` and
  :math:`v_1, v_2` the observables (:mod:`chaosopt.dynamics.observables`) of independent Thaler
  chains :math:`y_{k+1} = T_\gamma(y_k)`, whose Birkhoff sums converge to
  :math:`S_\alpha(1, \beta, 0)`, :math:`\alpha = 1/\gamma`. ``variant="eq11"`` uses
  :math:`v(y^1) - v(y^2)` of two unsigned chains for each observable (P0 eq. 11, symmetric). The
  power is :math:`\eta^\gamma` (erratum: P0 prints :math:`m^\alpha`, see :doc:`/errata`).

  Args:
    learning_rate: the step size :math:`\eta` (float or optax schedule); only
      :math:`\eta_k^\gamma` enters.
    gamma: :math:`\gamma = 1/\alpha \in (1/2, 1)`, or precomputed
      :class:`~chaosopt.dynamics.thaler.ThalerConstants` (to vary gamma under ``jit``/``vmap``).
    beta: skewness :math:`\beta \in [-1, 1]` of the limit law (``variant="mpgd"``; unused by
      eq. 11).
    mu: multiplicative strength :math:`\mu \ge 0` ("dynamical weight decay"; ``update`` then
      needs params).
    sigma: additive strength :math:`\sigma \ge 0`.
    key: PRNG key or integer seed of the chains' initial states, signs and rounding dither.
    variant: ``"mpgd"`` (eq. 8) or ``"eq11"`` (differences of unsigned observables, eq. 11).
    sign_rule: ``"excursion"`` (default, reproduces beta) or ``"literal"`` (the paper's printed
      cumulative product, which loses beta; see :mod:`chaosopt.dynamics.observables`).
    init: ``"invariant"`` (exact draw from the invariant measure) or ``"warmup"``
      (the paper's :math:`T^{10^4}(U)`).

  Returns:
    An ``optax.GradientTransformation`` whose state is a
    :class:`~chaosopt.transforms.PerturbationState`; its ``noise`` holds the chains, a
    :class:`ThalerChains` of params-shaped trees. Memory per float32 coordinate: 8 bytes for eq. 8
    (4 with ``mu`` a Python/NumPy 0), 16 for eq. 11 (8 with ``mu = 0``); ``optax.adam`` keeps 8.
    Integer leaves get no chain and no noise.

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
    Lim, Wan & Şimşekli, `Chaotic Regularization and Heavy-Tailed Limits for Deterministic
    Gradient Descent <https://arxiv.org/abs/2205.11361>`__, NeurIPS 2022, eq. 8 and 11 (P0 in
    docs/papers.md).
  """
  thaler.check_gamma(gamma)
  _validation.check_in_range("beta", beta, -1.0, 1.0)
  _check_common(learning_rate, mu, sigma)
  if variant not in ("mpgd", "eq11"):
    raise ValueError(f"variant must be 'mpgd' or 'eq11', got {variant!r}")
  observables.check_sign_rule(sign_rule)
  consts = thaler.thaler_constants(gamma)
  noise = _thaler_noise(consts, beta, variant, sign_rule, init,
                        multiplicative=not _static_zero(mu))
  return _base.perturbation(learning_rate, mu=mu, sigma=sigma, key=key, exponent=consts.gamma,
                            noise=noise)


def mpgd(learning_rate: optax.ScalarOrSchedule, *,
         gamma: Union[ArrayLike, thaler.ThalerConstants], beta: ArrayLike = 0.0,
         mu: ArrayLike = 0.0, sigma: ArrayLike = 0.0, key: Union[jax.Array, int],
         variant: Variant = "mpgd", sign_rule: observables.SignRule = "excursion",
         init: str = "invariant") -> optax.GradientTransformation:
  r"""Multiplicatively perturbed gradient descent, MPGD (P0 eq. 8).

  ``optax.sgd(learning_rate)`` followed by :func:`mpgd_perturbation`:

  .. math::

    x_{k+1} = x_k - \eta_k \nabla R(x_k) - \mu\, \eta_k^{\gamma}\, v_1(y^1_k) \odot x_k
              + \sigma\, \eta_k^{\gamma}\, v_2(y^2_k)

  with one Thaler chain per parameter coordinate. Call ``tx.update(grads, state, params)``: the
  multiplicative term needs the params. ``mu = sigma = 0`` is plain GD. State: two float32 per
  coordinate (as ``optax.adam``), one with ``mu`` a Python 0; eq. 11 twice that
  (:func:`mpgd_perturbation`).

  Args:
    learning_rate: the step size :math:`\eta` (float or optax schedule).
    gamma: :math:`\gamma = 1/\alpha \in (1/2, 1)`, or
      :class:`~chaosopt.dynamics.thaler.ThalerConstants`.
    beta: skewness :math:`\beta \in [-1, 1]` of the limit law (unused by ``variant="eq11"``).
    mu: multiplicative strength :math:`\mu \ge 0`.
    sigma: additive strength :math:`\sigma \ge 0`.
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
    Lim, Wan & Şimşekli, `Chaotic Regularization and Heavy-Tailed Limits for Deterministic
    Gradient Descent <https://arxiv.org/abs/2205.11361>`__, NeurIPS 2022, eq. 8 (P0 in
    docs/papers.md).
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
      draw = draws.flat(jax.random.normal, jax.random.fold_in(step_key, g), (2, n), dtype)
      out[dtype] = (draw[0], draw[1])
    return out, state

  return _base.flat_noise(lambda key, params: (), flat_sample)


def gaussian_perturbation(learning_rate: optax.ScalarOrSchedule, *, mu: ArrayLike = 0.0,
                          sigma: ArrayLike = 0.0, key: Union[jax.Array, int],
                          exponent: Any = 0.5) -> optax.GradientTransformation:
  r"""The Gaussian baseline of P0: MPGD's perturbation with i.i.d. :math:`\mathcal N(0, 1)` noise.

  .. math::

    u_k \leftarrow u_k - \mu\, \eta_k^{p}\, \xi^1_k \odot x_k + \sigma\, \eta_k^{p}\, \xi^2_k,
    \qquad \xi^1_k, \xi^2_k \sim \mathcal N(0, I)

  Chain after ``optax.sgd(eta)`` for the Gaussian-perturbed GD of P0's experiments.

  Args:
    learning_rate: the step size :math:`\eta` (float or optax schedule); only :math:`\eta_k^p`
      enters.
    mu: multiplicative strength :math:`\mu \ge 0` (``update`` then needs params).
    sigma: additive strength :math:`\sigma \ge 0`.
    key: PRNG key or integer seed.
    exponent: :math:`p \ge 0`, a scalar or a pytree shaped like the params. Default :math:`1/2`
      (Brownian increments); P0 leaves it unspecified (:doc:`/errata`), so reports state the value
      used.

  Returns:
    An ``optax.GradientTransformation`` with a :class:`~chaosopt.transforms.PerturbationState`
    (step counter and key only: no memory per coordinate).

  Examples:
    >>> import jax.numpy as jnp
    >>> import chaosopt
    >>> tx = chaosopt.gaussian_perturbation(0.01, sigma=1.0, key=0)
    >>> zeros = jnp.zeros(10_000)
    >>> updates, _ = tx.update(zeros, tx.init(zeros))
    >>> round(float(updates.std()), 1)  # sigma eta^(1/2) = 0.1
    0.1

  References:
    Lim, Wan & Şimşekli, `Chaotic Regularization and Heavy-Tailed Limits for Deterministic
    Gradient Descent <https://arxiv.org/abs/2205.11361>`__, NeurIPS 2022, Section 5 (P0 in
    docs/papers.md).
  """
  _check_common(learning_rate, mu, sigma)
  _validation.check_nonnegative("exponent", exponent)
  return _base.perturbation(learning_rate, mu=mu, sigma=sigma, key=key, exponent=exponent,
                            noise=_gaussian_noise())


# --------------------------------------------------------------------------- registration
# (traced / prepare are read by the runner: chaosopt.train.schemes)

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
