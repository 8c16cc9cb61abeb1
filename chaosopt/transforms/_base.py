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

Leaves and dtypes: the arithmetic runs once per dtype on the concatenation of that dtype's leaves
(compile time independent of the number of leaves); half-precision leaves compute in float32 and
round once; every leaf keeps its dtype; **integer leaves are returned unchanged** (no noise).

Hyper-parameters: ``mu``, ``sigma`` and the step size must be finite (``ValueError`` naming the
parameter at construction; a schedule is checked at step 0). A schedule whose value is not finite
and > 0 at a later step makes that step's perturbed coordinates NaN (visible, never a silently
wrong step); :func:`chaosopt._validation.check_schedule` evaluates a schedule over a whole run on
the host and names the first bad step.

Seeds under ``vmap`` (a trap): the key is fixed when the transform is built, so
``jax.vmap(lambda seed: tx.init(params))(seeds)`` gives every seed the **same** noise. Build the
transform inside the vmapped function from a traced key (or integer seed) instead::

    states = jax.vmap(lambda k: mpgd(0.1, gamma=0.7, sigma=0.1, key=k).init(params))(keys)

and likewise call ``update`` of a transform built from that traced key (tests/test_conformance.py
checks both the pattern and the trap). ``key`` may be a Python/NumPy integer seed, a 0-d integer
array (traced or not), a typed PRNG key or a raw ``uint32[2]`` key.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from chaosopt import _validation

ScalarOrSchedule = Union[float, jax.Array, optax.Schedule]


class NoiseProcess(NamedTuple):
  r"""A (possibly stateful) source of two independent noise fields shaped like the params.

  The noise ``xi1, xi2`` of the P0 eq. 8 form that :func:`perturbation` adds to the updates:

  .. code-block:: text

    u_k  <-  u_k  -  mu eta_k^p xi1_k ⊙ x_k  +  sigma eta_k^p xi2_k

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


def split_flat(flat, shapes) -> list:
  """Inverse of :func:`concat_flat`: arrays of ``shapes`` taken off ``flat`` in order.

  Each leaf is one window gather (``p`` windows of ``n / p`` elements, ``p`` the smallest prime
  factor of the leaf size ``n``) rather than a ``slice``: XLA:CPU compiles a slice kernel ~10x
  slower than a gather kernel (measured, benchmarks/compile_time.py), which made the compile time
  of a 1000-leaf update grow to minutes.
  """
  if len(shapes) == 1:
    return [jnp.reshape(flat, shapes[0])]
  out, start = [], 0
  dnums = jax.lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(),
                                         start_index_map=(0,))
  for shape in shapes:
    n = math.prod(shape)
    if n == 0:
      out.append(jnp.zeros(shape, flat.dtype))
      continue
    p = _smallest_factor(n) if n > 1 else 1
    starts = np.arange(start, start + n, n // p, dtype=np.int32)[:, None]
    piece = jax.lax.gather(flat, starts, dnums, (n // p,), mode="promise_in_bounds")
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

  .. code-block:: text

    u_k  <-  u_k  -  mu eta_k^p xi1_k ⊙ x_k  +  sigma eta_k^p xi2_k

  with ``(xi1_k, xi2_k)`` the process's sample at step ``k``. Validation of the arguments is the
  caller's job (each public factory names its own parameters); ``mu == 0`` (concrete) skips the
  multiplicative term and then ``params`` may be omitted from ``update``.

  The arithmetic runs once per dtype on the concatenation of that dtype's leaves (not once per
  leaf), so the compiled program and its compile time do not grow with the number of leaves
  beyond a concatenate and one gather per leaf. Integer leaves are returned unchanged. A step size
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
    flat_sample = getattr(noise.sample, "flat_sample", None)
    if flat_sample is not None:
      flat_xi, noise_state = flat_sample(state.noise, state.key, state.count, updates, groups)
    else:
      xi1, xi2, noise_state = noise.sample(state.noise, state.key, state.count, updates)
      xi1_l, xi2_l = treedef.flatten_up_to(xi1), treedef.flatten_up_to(xi2)
    x_l = None if mu_is_zero else treedef.flatten_up_to(params)
    p_l = _exponent_leaves(exponent, updates)
    out = list(leaves)
    for dtype, idx in groups.items():
      cd = _compute_dtype(dtype)
      eta_c = jnp.asarray(eta, cd)
      eta_c = jnp.where((eta_c > 0) & jnp.isfinite(eta_c), eta_c, jnp.asarray(jnp.nan, cd))
      if p_l is None:
        p = jnp.asarray(exponent, cd)
      else:
        p = concat_flat([jnp.broadcast_to(jnp.asarray(p_l[i], cd), jnp.shape(leaves[i]))
                         for i in idx])
      scale = eta_c ** p
      u = concat_flat([leaves[i] for i in idx])
      if flat_sample is not None:
        a, b = (jnp.asarray(xi, cd) for xi in flat_xi[dtype])
      else:
        a = None if mu_is_zero else concat_flat([xi1_l[i] for i in idx], cd)
        b = concat_flat([xi2_l[i] for i in idx], cd)
      new = u + (sigma * scale * b).astype(dtype)
      if x_l is not None and a is not None:  # mu != 0
        x = concat_flat([x_l[i] for i in idx], cd)
        new = new - (mu * scale * a * x).astype(dtype)
      for i, leaf in zip(idx, split_flat(new, [jnp.shape(leaves[i]) for i in idx])):
        out[i] = leaf
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
