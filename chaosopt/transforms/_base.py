r"""Shared machinery of the noise-injecting optax transformations.

Every perturbation in chaosopt has the form of P0 eq. 8 (MPGD) with its noise swapped:

.. math::

  u_k \leftarrow u_k - \mu\, \eta_k^{p}\, \xi^1_k \odot x_k + \sigma\, \eta_k^{p}\, \xi^2_k

where :math:`u_k` is the incoming update (e.g. :math:`-\eta_k \nabla R` from ``optax.sgd``),
:math:`x_k` the params, :math:`\eta_k` the (possibly scheduled) step size, :math:`p` the noise
exponent (:math:`\gamma` for the Thaler observables, :math:`1/\alpha` for α-stable noise,
:math:`1/2` for Brownian increments) and :math:`\xi^1, \xi^2` two independent noise fields with
one coordinate per parameter coordinate.
A :class:`NoiseProcess` supplies ``xi``; :func:`perturbation` turns it into a
``GradientTransformation`` that follows the optax conventions (NamedTuple state with a PRNG
key, params-aware, schedule-aware, works under jit/vmap and inside chain/masked/MultiSteps/
apply_if_finite/inject_hyperparams).

Leaves and dtypes: the arithmetic runs once per dtype on the concatenation of that dtype's leaves
(compile time independent of the number of leaves); half-precision leaves compute in float32 and
round once; every leaf keeps its dtype; **integer leaves are returned unchanged** (no noise).
Processes with one state entry per coordinate (:func:`leafwise_noise`, MPGD's chains) keep that
state shaped like the params and work by :func:`segments`: every leaf of at least
:data:`LEAFWISE_MIN_SIZE` coordinates in its own shape (no copy, a sharded leaf stays sharded),
the smaller leaves of a dtype concatenated; the numbers do not depend on the split.

Hyper-parameters: ``mu``, ``sigma`` and the step size must be finite (``ValueError`` naming the
parameter at construction; a schedule is checked at step 0). A schedule whose value is not finite
and > 0 at a later step makes that step's perturbed coordinates NaN (visible, never a silently
wrong step); :func:`chaosopt._validation.check_schedule` evaluates a schedule over a whole run on
the host and names the first bad step.

Seeds under ``vmap`` (a trap): the key is fixed when the transform is built, so
``jax.vmap(lambda seed: tx.init(params))(seeds)`` gives every seed the **same** noise. Build the
transform inside the vmapped function from a traced key (or integer seed) instead:

.. code-block:: python

  states = jax.vmap(lambda k: mpgd(0.1, gamma=0.7, sigma=0.1, key=k).init(params))(keys)

and likewise call ``update`` of a transform built from that traced key (tests/test_conformance.py
checks both the pattern and the trap). ``key`` may be a Python/NumPy integer seed, a 0-d integer
array (traced or not), a typed PRNG key or a raw ``uint32[2]`` key.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from chaosopt import _validation

ScalarOrSchedule = Union[float, jax.Array, optax.Schedule]


class NoiseProcess(NamedTuple):
  r"""A (possibly stateful) source of two independent noise fields shaped like the params.

  The noise :math:`\xi^1, \xi^2` of the P0 eq. 8 form that :func:`perturbation` adds to the updates:

  .. math::

    u_k \leftarrow u_k - \mu\, \eta_k^{p}\, \xi^1_k \odot x_k + \sigma\, \eta_k^{p}\, \xi^2_k

  Attributes:
    init: ``init(key, params) -> noise_state``.
    sample: ``sample(noise_state, key, count, params) -> (xi1, xi2, new_noise_state)`` where
      ``xi*`` are pytrees shaped like ``params`` (any float dtype; cast to each update leaf's
      dtype) and ``params`` is only a shape/dtype template (it may be the updates tree). ``key``
      is the transformation's fixed key and ``count`` the step: the noise of step k is a
      function of (key, k) -- :func:`step_key` for ``jax.random`` samplers, or a cheaper
      counter-based hash (:mod:`chaosopt.dynamics.random_bits`) -- so no key is split on the
      hot path.

  Examples:
    A uniform noise on [-1, 1] (stateless), turned into a transformation:

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import chaosopt
    >>> def sample(state, key, count, params):
    ...   k = jax.random.fold_in(key, count)
    ...   k1, k2 = jax.random.split(k)
    ...   u = lambda k: jax.tree_util.tree_map(
    ...       lambda p: jax.random.uniform(k, jnp.shape(p), minval=-1.0, maxval=1.0), params)
    ...   return u(k1), u(k2), state
    >>> uniform = chaosopt.NoiseProcess(init=lambda key, params: (), sample=sample)
    >>> tx = chaosopt.perturbation(0.01, mu=0.0, sigma=1.0, key=0, exponent=0.5, noise=uniform)
    >>> updates, _ = tx.update(jnp.zeros(1000), tx.init(jnp.zeros(1000)))
    >>> bool(jnp.all(jnp.abs(updates) <= 0.1))  # |sigma eta^(1/2) xi2| <= 0.1
    True

  References:
    Lim, Wan & Şimşekli, NeurIPS 2022, eq. 8 (P0 in docs/papers.md); docs/extending.md.
  """
  init: Callable[[jax.Array, Any], Any]
  sample: Callable[[Any, jax.Array, jax.Array, Any], tuple[Any, Any, Any]]


def flat_noise(init: Callable, flat_sample: Callable) -> NoiseProcess:
  """A :class:`NoiseProcess` from a sampler that works on one flat vector per dtype group.

  ``flat_sample(noise_state, key, count, params, groups) -> ({dtype: (xi1, xi2)}, new_state)``
  with ``groups = dtype_groups(tree_leaves(params))`` and ``xi*`` 1-D, one coordinate per
  coordinate of that group's leaves concatenated in order. The returned process's ``sample``
  follows the pytree protocol (integer leaves get zeros); :func:`perturbation` calls
  ``flat_sample`` directly (it is attached to ``sample``), so no per-leaf op is emitted.
  """
  def sample(state, key, count, params):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    groups = dtype_groups(leaves)
    flat, new_state = flat_sample(state, key, count, params, groups)
    xi1 = [jnp.zeros(jnp.shape(p), jnp.float32) for p in leaves]
    xi2 = list(xi1)
    for dtype, idx in groups.items():
      shapes = [jnp.shape(leaves[i]) for i in idx]
      pieces1, pieces2 = split_flat(flat[dtype][0], shapes), split_flat(flat[dtype][1], shapes)
      for i, a, b in zip(idx, pieces1, pieces2):
        xi1[i], xi2[i] = a, b
    unflat = lambda xs: jax.tree_util.tree_unflatten(treedef, xs)
    return unflat(xi1), unflat(xi2), new_state

  sample.flat_sample = flat_sample
  return NoiseProcess(init, sample)


# Leaves with at least this many coordinates are perturbed on their own, in their own shape (one
# fused loop per leaf, no copy into a flat vector, and the sharding of the leaf carries through);
# smaller leaves are concatenated per dtype, so a pytree of many small leaves still compiles to
# one kernel (compile time, benchmarks/compile_time.py). Only processes built with
# :func:`leafwise_noise` (MPGD's chains) use it; the result does not depend on it.
LEAFWISE_MIN_SIZE = 4096


class Segment(NamedTuple):
  """Leaves of one dtype perturbed together (see :func:`segments`).

  Attributes:
    idx: indices into ``tree_leaves(updates)``.
    flat: ``True``: the leaves raveled and concatenated into one vector; ``False``: a single leaf
      in its own shape.
  """
  idx: tuple
  flat: bool


def segments(leaves, groups: dict, min_size: Optional[int] = None) -> list:
  """The :class:`Segment` s of ``leaves``: per dtype group (:func:`dtype_groups`), every leaf of
  at least ``min_size`` (default :data:`LEAFWISE_MIN_SIZE`) coordinates alone, the others as one
  flat segment."""
  min_size = LEAFWISE_MIN_SIZE if min_size is None else min_size
  out = []
  for idx in groups.values():
    big = [i for i in idx if math.prod(jnp.shape(leaves[i])) >= min_size]
    small = tuple(i for i in idx if i not in big)
    if small:
      out.append(Segment(small, True))
    out += [Segment((i,), False) for i in big]
  return out


def leafwise_noise(init: Callable, segment_sample: Callable,
                   covered: Optional[Callable] = None) -> NoiseProcess:
  """A :class:`NoiseProcess` from a sampler that works segment by segment (:func:`segments`).

  ``segment_sample(noise_state, key, count, params, segs) -> ([(xi1, xi2) per segment],
  new_state)`` where ``segs = segments(leaves, dtype_groups(leaves))`` of
  ``leaves = tree_leaves(params)``; each ``xi`` of a flat segment is 1-D (its leaves raveled and
  concatenated in order), of a single-leaf segment shaped like that leaf. ``xi1`` may be
  ``None`` for a process built for ``mu == 0`` only. Meant for states with one entry per
  coordinate (e.g. chains) stored leaf by leaf, shaped like the params: the arithmetic of a large
  leaf then never leaves the leaf (no concatenation), so a sharded leaf stays sharded.
  :func:`perturbation` calls ``segment_sample`` directly (it is attached to ``sample``); the
  returned process's ``sample`` follows the pytree protocol (non-floating leaves get zeros,
  ``xi1`` is ``None`` where the sampler gives none).

  ``covered(noise_state, params) -> [bool per leaf]`` (optional) names the leaves the process
  has noise for (e.g. chains were allocated at ``init`` only for the floating leaves of the
  params); the floating update leaves it leaves out are returned unchanged and are in no segment.
  """
  def sample(state, key, count, params):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    segs = segments(leaves, covered_groups(leaves, covered, state, params))
    xis, new_state = segment_sample(state, key, count, params, segs)
    xi1 = [jnp.zeros(jnp.shape(p), jnp.float32) for p in leaves]
    xi2 = list(xi1)
    has_xi1 = all(a is not None for a, _ in xis)
    for seg, (a, b) in zip(segs, xis):
      shapes = [jnp.shape(leaves[i]) for i in seg.idx]
      for out, xi in ((xi1, a), (xi2, b)):
        if xi is None:
          continue
        pieces = split_flat(xi, shapes) if seg.flat else [xi]
        for i, piece in zip(seg.idx, pieces):
          out[i] = piece
    unflat = lambda xs: jax.tree_util.tree_unflatten(treedef, xs)
    return (unflat(xi1) if has_xi1 else None), unflat(xi2), new_state

  sample.segment_sample = segment_sample
  sample.covered = covered
  return NoiseProcess(init, sample)


def covered_groups(leaves, covered: Optional[Callable], noise_state, params) -> dict:
  """:func:`dtype_groups` of ``leaves`` restricted to the leaves ``covered`` names (all floating
  leaves when ``covered`` is ``None``)."""
  groups = dtype_groups(leaves)
  if covered is None:
    return groups
  mask = covered(noise_state, params)
  groups = {dt: [i for i in idx if mask[i]] for dt, idx in groups.items()}
  return {dt: idx for dt, idx in groups.items() if idx}


class PerturbationState(NamedTuple):
  """State of :func:`perturbation`: step counter, PRNG key (fixed), noise-process state."""
  count: jax.Array
  key: jax.Array
  noise: Any


def as_key(key) -> jax.Array:
  """Accepts an int seed (Python, NumPy or a 0-d integer array, traced or not), a typed PRNG key
  or a raw ``uint32[2]`` key; returns a PRNG key array. Anything else is a ``ValueError``."""
  if isinstance(key, (bool, np.bool_)):
    raise ValueError(f"key must be an integer seed or a PRNG key, got {key!r}")
  if isinstance(key, (int, np.integer)):
    return jax.random.key(int(key))
  dtype = getattr(key, "dtype", None)
  if dtype is not None:
    if jnp.issubdtype(dtype, jax.dtypes.prng_key):
      return key
    if jnp.issubdtype(dtype, jnp.integer) and jnp.ndim(key) == 0:
      return jax.random.key(key)
    if dtype == jnp.uint32 and jnp.shape(key)[-1:] == (2,):
      return key
  raise ValueError(f"key must be an integer seed or a PRNG key (jax.random.key), got {key!r}")


def value_at(x: ScalarOrSchedule, count: jax.Array):
  """Value of a constant or a schedule at step ``count``."""
  return x(count) if callable(x) else x


def _compute_dtype(dtype):
  """Half-precision leaves compute their perturbation in float32 (then round once)."""
  return jnp.float32 if dtype in (jnp.bfloat16, jnp.float16) else dtype


def _is_masked(x) -> bool:
  return isinstance(x, optax.MaskedNode)


def _exponent_leaves(exponent, updates):
  """Per-leaf exponents aligned with ``tree_leaves(updates)`` (``None`` for a scalar exponent).

  Leaves masked out by ``optax.masked`` (``MaskedNode``) are dropped, so a per-leaf exponent tree
  shaped like the full params also works inside ``optax.masked``.
  """
  if _is_scalar(exponent):
    return None
  leaves, treedef = jax.tree_util.tree_flatten(updates, is_leaf=_is_masked)
  exps = treedef.flatten_up_to(exponent)
  return [e for u, e in zip(leaves, exps) if not _is_masked(u)]


def dtype_groups(leaves) -> dict:
  """``{dtype: [leaf indices]}`` of the floating-point leaves, in order of first appearance."""
  groups: dict = {}
  for i, leaf in enumerate(leaves):
    dt = jnp.result_type(leaf)
    if jnp.issubdtype(dt, jnp.floating):
      groups.setdefault(dt, []).append(i)
  return groups


def concat_flat(arrays, dtype=None) -> jax.Array:
  """One flat vector of ``arrays`` (raveled, cast to ``dtype``; no copy for a single array)."""
  flat = [jnp.ravel(a if dtype is None else jnp.asarray(a).astype(dtype)) for a in arrays]
  return flat[0] if len(flat) == 1 else jnp.concatenate(flat)


def _smallest_factor(n: int) -> int:
  f = 2
  while f * f <= n:
    if n % f == 0:
      return f
    f += 1
  return n


def split_flat(flat, shapes, starts=None) -> list:
  """Inverse of :func:`concat_flat`: arrays of ``shapes`` taken off ``flat`` in order (or at the
  offsets ``starts``, a list of ints, when given).

  Each leaf is one window gather (``p`` windows of ``n / p`` elements, ``p`` the smallest prime
  factor of the leaf size ``n``) rather than a ``slice``: XLA:CPU compiles a slice kernel ~10x
  slower than a gather kernel (measured, benchmarks/compile_time.py), which made the compile time
  of a 1000-leaf update grow to minutes.
  """
  if len(shapes) == 1 and (starts is None or (starts[0] == 0 and math.prod(shapes[0]) ==
                                              flat.shape[-1])):
    return [jnp.reshape(flat, shapes[0])]
  out, start = [], 0
  dnums = jax.lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(),
                                         start_index_map=(0,))
  for j, shape in enumerate(shapes):
    n = math.prod(shape)
    start = start if starts is None else starts[j]
    if n == 0:
      out.append(jnp.zeros(shape, flat.dtype))
      continue
    p = _smallest_factor(n) if n > 1 else 1
    idx = np.arange(start, start + n, n // p, dtype=np.int32)[:, None]
    piece = jax.lax.gather(flat, idx, dnums, (n // p,), mode="promise_in_bounds")
    out.append(piece.reshape(shape))
    start += n
  return out


def take_flat(flat, offsets, shapes):
  """The coordinates of leaves at ``offsets`` (sizes from ``shapes``) of ``flat``, concatenated;
  ``flat`` itself when they cover it in order."""
  sizes = [math.prod(s) for s in shapes]
  if offsets == list(np.cumsum([0] + sizes[:-1])) and sum(sizes) == flat.shape[-1]:
    return flat
  idx = np.concatenate([np.arange(o, o + n, dtype=np.int32) for o, n in zip(offsets, sizes)])
  return jnp.take(flat, idx, axis=-1)


def perturbation(learning_rate: optax.ScalarOrSchedule, *, mu: ArrayLike, sigma: ArrayLike,
                 key: Union[jax.Array, int], exponent: Any,
                 noise: NoiseProcess) -> optax.GradientTransformation:
  r"""Turns a :class:`NoiseProcess` into a perturbation of the P0 eq. 8 form.

  .. math::

    u_k \leftarrow u_k - \mu\, \eta_k^{p}\, \xi^1_k \odot x_k + \sigma\, \eta_k^{p}\, \xi^2_k

  with :math:`(\xi^1_k, \xi^2_k)` the process's sample at step :math:`k`. Validation of the
  arguments is the caller's job (each public factory names its own parameters); ``mu == 0``
  (concrete) skips the multiplicative term and then ``params`` may be omitted from ``update``.

  The arithmetic runs once per dtype on the concatenation of that dtype's leaves (not once per
  leaf), so the compiled program and its compile time do not grow with the number of leaves
  beyond a concatenate and one gather per leaf; for a :func:`leafwise_noise` process, leaves of
  at least :data:`LEAFWISE_MIN_SIZE` coordinates are perturbed on their own instead (same
  numbers). Integer leaves are returned unchanged. A step size
  ``eta_k`` that is not finite and > 0 makes every perturbed coordinate NaN (instead of a
  silently wrong step); :func:`chaosopt.check_schedule` finds such steps before a run.

  Args:
    learning_rate: the step size ``eta`` (float or optax schedule); only ``eta_k^p`` enters.
    mu: multiplicative strength (``update`` needs params unless ``mu == 0``).
    sigma: additive strength.
    key: PRNG key or integer seed (a traced one too: build the transform inside ``vmap``).
    exponent: ``p``, a scalar or a pytree shaped like the params (per-coordinate exponents).
    noise: the :class:`NoiseProcess` supplying ``xi1, xi2``.

  Returns:
    An ``optax.GradientTransformation`` with a :class:`PerturbationState`.

  Examples:
    Gaussian noise for a single-array parameter (the baseline of P0):

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import chaosopt
    >>> def sample(state, key, count, params):
    ...   k1, k2 = jax.random.split(jax.random.fold_in(key, count))
    ...   return jax.random.normal(k1, params.shape), jax.random.normal(k2, params.shape), state
    >>> normal = chaosopt.NoiseProcess(init=lambda key, params: (), sample=sample)
    >>> tx = chaosopt.perturbation(0.04, mu=0.0, sigma=1.0, key=0, exponent=0.5, noise=normal)
    >>> updates, state = tx.update(jnp.zeros(10_000), tx.init(jnp.zeros(10_000)))
    >>> round(float(updates.std()), 1), int(state.count)  # sigma eta^(1/2) = 0.2
    (0.2, 1)

  References:
    Lim, Wan & Şimşekli, NeurIPS 2022, eq. 8 (P0 in docs/papers.md).
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
    eta = value_at(learning_rate, state.count)
    leaves, treedef = jax.tree_util.tree_flatten(updates)
    groups = dtype_groups(leaves)
    x_l = None if mu_is_zero else treedef.flatten_up_to(params)
    p_l = _exponent_leaves(exponent, updates)
    out = list(leaves)

    def perturb(idx, flat, a, b):
      """The P0 eq. 8 arithmetic on the leaves ``idx`` (one dtype): concatenated if ``flat``,
      else the single leaf in its shape; ``a, b`` the noise of those coordinates, same layout."""
      dtype = jnp.result_type(leaves[idx[0]])
      cd = _compute_dtype(dtype)
      gather = (lambda arrs, dt=None: concat_flat(arrs, dt)) if flat else \
          (lambda arrs, dt=None: arrs[0] if dt is None else jnp.asarray(arrs[0]).astype(dt))
      eta_c = jnp.asarray(eta, cd)
      eta_c = jnp.where((eta_c > 0) & jnp.isfinite(eta_c), eta_c, jnp.asarray(jnp.nan, cd))
      if p_l is None:
        p = jnp.asarray(exponent, cd)
      else:
        p = gather([jnp.broadcast_to(jnp.asarray(p_l[i], cd), jnp.shape(leaves[i])) for i in idx])
      scale = eta_c ** p
      new = gather([leaves[i] for i in idx]) + (sigma * scale * jnp.asarray(b, cd)).astype(dtype)
      if x_l is not None and a is not None:  # mu != 0
        x = gather([x_l[i] for i in idx], cd)
        new = new - (mu * scale * jnp.asarray(a, cd) * x).astype(dtype)
      pieces = split_flat(new, [jnp.shape(leaves[i]) for i in idx]) if flat else [new]
      for i, leaf in zip(idx, pieces):
        out[i] = leaf

    segment_sample = getattr(noise.sample, "segment_sample", None)
    flat_sample = getattr(noise.sample, "flat_sample", None)
    if segment_sample is not None:
      segs = segments(leaves, covered_groups(leaves, noise.sample.covered, state.noise, updates))
      xis, noise_state = segment_sample(state.noise, state.key, state.count, updates, segs)
      if not mu_is_zero and any(a is None for a, _ in xis):
        raise ValueError("this noise process was built for mu == 0 (it supplies no xi1), but the "
                         "perturbation has mu != 0")
      for seg, (a, b) in zip(segs, xis):
        perturb(seg.idx, seg.flat, a, b)
    elif flat_sample is not None:
      flat_xi, noise_state = flat_sample(state.noise, state.key, state.count, updates, groups)
      for dtype, idx in groups.items():
        perturb(idx, True, *flat_xi[dtype])
    else:
      xi1, xi2, noise_state = noise.sample(state.noise, state.key, state.count, updates)
      xi1_l = None if xi1 is None else treedef.flatten_up_to(xi1)
      xi2_l = treedef.flatten_up_to(xi2)
      for dtype, idx in groups.items():
        cd = _compute_dtype(dtype)
        a = None if mu_is_zero or xi1_l is None else concat_flat([xi1_l[i] for i in idx], cd)
        perturb(idx, True, a, concat_flat([xi2_l[i] for i in idx], cd))
    new_updates = jax.tree_util.tree_unflatten(treedef, out)
    count = jnp.asarray(optax.safe_increment(state.count))
    return new_updates, PerturbationState(count=count, key=state.key, noise=noise_state)

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
