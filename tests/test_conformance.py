"""Conformance battery of every noise-injecting transformation (P0 eq. 8/11, P2 eq. 3).

One parametrised list, ``CASES``: each built-in transform and variant, plus every kind of
``chaosopt.transforms.registry`` built as the runner builds it (``chaosopt.train.schemes_lib.build``)
— registering a noise process adds it here without editing this file. Every case is a full optimizer
``sgd(eta) + perturbation``, so with mu = 0 its update minus ``-eta * grad`` is
``sigma * eta^p * xi2`` (P0 eq. 8 with the case's noise). Small pytrees keep the battery fast.

Each case also runs under chex variants (``VariantsTest``: without and with jit, and pmap, which
needs several devices: a second pytest process with two forced host devices runs it, see
``test_pmap_variants_on_two_host_devices``); vmap over keys and traced hyper-parameters is
``test_vmap_over_keys_and_traced_hyperparameters``.
"""
from __future__ import annotations

import functools
import importlib
import math
import os
import subprocess
import sys
from typing import Any, Callable, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized

import chaosopt
from chaosopt import _validation
from chaosopt.dynamics import thaler
from chaosopt.train import schemes as schemes_lib
from chaosopt.transforms import _base, registry

# the modules (chaosopt.transforms.mpgd is also the name of the factory function)
mpgd = importlib.import_module("chaosopt.transforms.mpgd")
levy = importlib.import_module("chaosopt.transforms.levy")


class Case(NamedTuple):
  name: str
  build: Callable[..., optax.GradientTransformation]  # build(lr, key=..., mu=..., sigma=...)
  perturb: Callable[..., optax.GradientTransformation]  # the perturbation alone, same arguments
  # (noise process, exponent p) to re-derive xi by hand; None: checked by scaling laws only
  noise: Optional[Callable[[], tuple[_base.NoiseProcess, Any]]] = None


def _alphas(params):
  return {"w": 1.3, "b": 1.8}


def _direct(factory, **fixed):
  perturb = lambda lr, key, **hp: factory(lr, key=key, **fixed, **hp)
  return (lambda lr, key, **hp: _base.gd_with(lr, perturb(lr, key, **hp))), perturb


# values for the required hyper-parameters of registry kinds (a new kind with a new required
# argument adds its value here)
REQUIRED = {"gamma": 0.7, "alpha": 1.5}


def _seed_of(key):
  """Kinds driven by an integer seed (registry context "seed", e.g. the authors' MPGD table)
  ignore the PRNG key; the battery derives their seed from the key (traced keys give a traced
  seed in [0, 8), which such kinds accept within ``seed_range``)."""
  return jax.random.randint(_base.as_key(key), (), 0, 8)


def _registry_case(kind):
  spec = registry.get_noise(kind)

  def context(key):
    out = {}
    if "seed" in spec.context:
      out["seed"] = _seed_of(key)
    if "seed_range" in spec.context:
      out["seed_range"] = (0, 7)
    if "num_steps" in spec.context:
      out["num_steps"] = 50
    return out

  def build(lr, key, **hp):
    need = {k: REQUIRED[k] for k in schemes_lib.required(spec) if k in REQUIRED}
    return schemes_lib.build(kind, {**need, **context(key)}, {"learning_rate": lr, **hp}, key)

  def perturb(lr, key, **hp):
    need = {k: REQUIRED[k] for k in schemes_lib.required(spec) if k in REQUIRED}
    return spec.factory(lr, key=key, **spec.fixed, **need, **context(key), **hp)
  return Case(f"registry:{kind}", build, perturb)


CASES = [
    Case("mpgd", *_direct(chaosopt.mpgd_perturbation, gamma=0.7, beta=0.5),
         lambda: (mpgd._thaler_noise(thaler.thaler_constants(0.7), 0.5, "mpgd", "excursion",
                                     "invariant"), 0.7)),
    Case("mpgd_eq11", *_direct(chaosopt.mpgd_perturbation, gamma=0.7, variant="eq11"),
         lambda: (mpgd._thaler_noise(thaler.thaler_constants(0.7), 0.0, "eq11", "excursion",
                                     "invariant"), 0.7)),
    Case("mpgd_literal", *_direct(chaosopt.mpgd_perturbation, gamma=0.6, beta=-0.5,
                                 sign_rule="literal"),
         lambda: (mpgd._thaler_noise(thaler.thaler_constants(0.6), -0.5, "mpgd", "literal",
                                     "invariant"), 0.6)),
    Case("gaussian", *_direct(chaosopt.gaussian_perturbation, exponent=0.5),
         lambda: (mpgd._gaussian_noise(), 0.5)),
    Case("levy_scalar_alpha", *_direct(chaosopt.levy_perturbation, alpha=1.5),
         lambda: (levy._levy_noise(1.5, 0.0), 1 / 1.5)),
    Case("levy_leaf_alpha", *_direct(chaosopt.levy_perturbation, alpha=_alphas(None)),
         lambda: (levy._levy_noise(_alphas(None), 0.0), {"w": 1 / 1.3, "b": 1 / 1.8})),
] + [_registry_case(k) for k in registry.noise_kinds()
     if registry.get_noise(k).factory is not None]
IDS = [c.name for c in CASES]
parametrize = pytest.mark.parametrize("case", CASES, ids=IDS)


def _params(dtype=jnp.float32):
  return {"w": (jnp.arange(6.0).reshape(3, 2) / 6 - 0.3).astype(dtype),
          "b": jnp.array([0.5, -1.0], dtype)}


def _grads(params):
  return jax.tree_util.tree_map(lambda p: jnp.cos(p) + 1.0, params)


def _flat(tree):
  return np.concatenate([np.ravel(np.asarray(l, np.float64)) for l in jax.tree_util.tree_leaves(tree)])


@functools.lru_cache(maxsize=None)
def _program(case: Case):
  """One jitted step per case with key, eta, mu, sigma, params and grads all traced, so the
  formula, determinism and vmap tests of a case share one compiled program (battery time)."""
  def run(key, lr, mu, sigma, params, grads):
    tx = case.build(lr, key=key, mu=mu, sigma=sigma)
    u, _ = tx.update(grads, tx.init(params), params)
    return u
  return run, jax.jit(run), jax.jit(jax.vmap(run, in_axes=(0, 0, 0, 0, None, None)))


def _perturbation(case, key, eta, mu, sigma, params=None, grads=None):
  """The first update minus ``-eta * grad`` (zero gradients by default, so no float32
  cancellation against ``-eta * grad``), flat float64."""
  params = _params() if params is None else params
  grads = jax.tree_util.tree_map(jnp.zeros_like, params) if grads is None else grads
  u = _program(case)[1](jax.random.key(key), jnp.float32(eta), jnp.float32(mu),
                        jnp.float32(sigma), params, grads)
  return _flat(u) + eta * _flat(grads)


# --- the update formula ----------------------------------------------------------------------

@parametrize
def test_additive_formula_matches_noise_process(case):
  """mu = 0: update - (-eta grad) == sigma eta^p xi2, xi2 drawn by the case's own noise process
  on the same key and count. Tolerance: float32 rounding of eta^p and the product (rtol 1e-5)."""
  eta, sigma, params = 0.1, 0.3, _params()
  key = 7
  got = _perturbation(case, key, eta, 0.0, sigma)
  if case.noise is None:  # scaling laws: linear in sigma, eta^p with one p for all coordinates
    # discrete-valued noise (e.g. eq. 11 differences of two-valued observables) is exactly 0 on
    # a coordinate with positive probability; take the first key with a non-zero coordinate
    while not np.any(got != 0) and key < 40:
      key += 1
      got = _perturbation(case, key, eta, 0.0, sigma)
    twice = _perturbation(case, key, eta, 0.0, 2 * sigma)
    np.testing.assert_allclose(twice, 2 * got, rtol=1e-5, atol=1e-12)
    other = _perturbation(case, key, eta / 4, 0.0, sigma)
    ratio = other[got != 0] / got[got != 0]
    assert np.all(ratio > 0) and np.all(ratio < 1)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    return
  noise, p = case.noise()
  k_noise, k_run = jax.random.split(_base.as_key(7))
  _, xi2, _ = noise.sample(noise.init(k_noise, params), k_run, jnp.zeros([], jnp.int32), params)
  if isinstance(p, dict):
    scaled = jax.tree_util.tree_map(lambda x, e: eta ** np.broadcast_to(e, x.shape) * x, xi2, p)
  else:
    scaled = jax.tree_util.tree_map(lambda x: eta ** p * x, xi2)
  expected = sigma * _flat(scaled)
  assert np.all(np.isfinite(expected)) and np.any(expected != 0)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@parametrize
def test_multiplicative_term_is_linear_in_mu_and_params(case):
  """sigma = 0: the perturbation is -mu eta^p xi1 ⊙ x: doubling mu or x doubles it (xi1 does not
  depend on mu or x); by hand where the case's noise process is known. rtol 1e-5: float32."""
  eta, params = 0.1, _params()
  base = _perturbation(case, 3, eta, 0.2, 0.0)
  assert np.any(base != 0) and np.all(np.isfinite(base))
  np.testing.assert_allclose(_perturbation(case, 3, eta, 0.4, 0.0), 2 * base, rtol=1e-5,
                             atol=1e-12)
  params2 = jax.tree_util.tree_map(lambda x: 2 * x, params)
  np.testing.assert_allclose(_perturbation(case, 3, eta, 0.2, 0.0, params2), 2 * base,
                             rtol=1e-5, atol=1e-12)
  if case.noise is not None:
    noise, p = case.noise()
    if not isinstance(p, dict):
      k_noise, k_run = jax.random.split(_base.as_key(3))
      xi1, _, _ = noise.sample(noise.init(k_noise, params), k_run, jnp.zeros([], jnp.int32), params)
      np.testing.assert_allclose(base, -0.2 * eta ** p * _flat(xi1) * _flat(params), rtol=1e-5,
                                 atol=1e-7)


# --- jit, determinism, vmap ------------------------------------------------------------------

# pmap variants: one case per factory (the other cases differ from these in arguments only)
PMAP_CASES = ["mpgd", "gaussian", "levy_leaf_alpha", "registry:mpgd_authors",
              "registry:iid_observable", "registry:gaussian_authors"]


class VariantsTest(chex.TestCase):
  """chex variants: init and one update with Python-float hyper-parameters give the
  traced-argument program's update (rtol 1e-5: float32 fusion) run eagerly and under jit (every
  case), and under pmap (arguments broadcast to every device, the first device's result
  compared; one case per factory). pmap is skipped with one device: the two-device process of
  test_pmap_variants_on_two_host_devices runs it. vmap: test_vmap_over_keys_and_traced_..."""

  def _check(self, case):
    params = _params()
    g = _grads(params)
    tx = case.build(0.1, key=1, mu=0.05, sigma=0.2)
    u = self.variant(lambda p, g: tx.update(g, tx.init(p), p)[0])(params, g)
    chex.assert_trees_all_equal_shapes_and_dtypes(u, params)
    chex.assert_tree_all_finite(u)
    traced = _perturbation(case, 1, 0.1, 0.05, 0.2, grads=g)
    np.testing.assert_allclose(_flat(u) + 0.1 * _flat(g), traced, rtol=1e-5, atol=1e-7)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters([(c.name.replace(":", "_"), c) for c in CASES])
  def test_update(self, case):
    self._check(case)

  @chex.variants(with_pmap=True)
  @parameterized.named_parameters([(c.name.replace(":", "_"), c) for c in CASES
                                   if c.name in PMAP_CASES])
  def test_update_on_devices(self, case):
    self._check(case)


def test_pmap_variants_on_two_host_devices():
  """The pmap variants of VariantsTest, in a pytest process started with two host CPU devices
  (XLA_FLAGS must be set before jax starts): each runs, none is skipped."""
  if os.environ.get("CHAOSOPT_PMAP_VARIANTS"):
    pytest.skip("this is the two-device process")
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_PLATFORMS="cpu", CHAOSOPT_PMAP_VARIANTS="1")
  proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o",
                         "addopts=", "-q", "-k", "with_pmap", os.path.abspath(__file__)],
                        env=env, capture_output=True, text=True, timeout=600)
  tail = proc.stdout[-3000:] + proc.stderr[-2000:]
  assert proc.returncode == 0, tail
  assert f"{len(PMAP_CASES)} passed" in tail and "skipped" not in tail, tail


def test_numpy_integer_seeds_are_keys():
  for seed in (np.int64(3), np.int32(3), np.uint8(3), jnp.int32(3)):
    np.testing.assert_array_equal(jax.random.key_data(_base.as_key(seed)),
                                  jax.random.key_data(_base.as_key(3)))


@parametrize
def test_vmap_over_keys_and_traced_hyperparameters(case):
  """One vmapped program over (key, learning_rate, mu, sigma): the same key and values give
  bit-identical rows, different keys different noise, and each row equals its own run."""
  _, _, batched = _program(case)
  k = jax.random.split(jax.random.key(0), 2)
  keys = jnp.stack([k[0], k[1], k[0], k[0]])
  lr = jnp.array([0.1, 0.1, 0.1, 0.05])
  mu = jnp.array([0.05, 0.05, 0.05, 0.0])
  sigma = jnp.array([0.2, 0.2, 0.2, 0.7])
  params = _params()
  out = batched(keys, lr, mu, sigma, params, _grads(params))
  out = np.concatenate([np.asarray(x, np.float64).reshape(4, -1)
                        for x in jax.tree_util.tree_leaves(out)], axis=1)
  np.testing.assert_array_equal(out[0], out[2])
  assert not np.allclose(out[0], out[1])
  for i in (1, 3):
    single = _program(case)[1](keys[i], lr[i], mu[i], sigma[i], params, _grads(params))
    np.testing.assert_allclose(out[i], _flat(single), rtol=1e-5, atol=1e-7)


# --- schedules -------------------------------------------------------------------------------

@parametrize
def test_schedule_uses_eta_k(case):
  """At step k a scheduled eta gives the perturbation of the constant eta_k (the noise does not
  depend on eta), with zero gradients so only the perturbation is left."""
  sched = optax.exponential_decay(0.2, transition_steps=1, decay_rate=0.5)
  params = _params()
  zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
  got = _steps(case.build(sched, key=4, mu=0.0, sigma=0.5), params, zeros, 3)
  ref = _steps(case.build(float(sched(2)), key=4, mu=0.0, sigma=0.5), params, zeros, 3)
  np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-8)


def _steps(tx, params, grads, steps):
  """The flat update of the last of ``steps`` jitted updates."""
  state, update = tx.init(params), jax.jit(tx.update)
  for _ in range(steps):
    u, state = update(grads, state, params)
  return _flat(u)


@parametrize
def test_bad_schedule_step_is_visible(case):
  """A schedule reaching 0 at step 2 (it is > 0 at construction): that update is NaN, not a
  silently wrong step, and check_schedule names the step before a run."""
  sched = optax.piecewise_constant_schedule(0.1, {2: 0.0})
  params = _params()
  tx = case.build(sched, key=0, mu=0.0, sigma=0.5)
  state = tx.init(params)
  finite = []
  for _ in range(3):
    u, state = tx.update(_grads(params), state, params)
    finite.append(bool(np.all(np.isfinite(_flat(u)))))
  assert finite == [True, True, False]
  with pytest.raises(ValueError, match="step 2"):
    _validation.check_schedule(sched, 10)
  _validation.check_schedule(sched, 2)


# --- optax wrappers --------------------------------------------------------------------------

@parametrize
def test_inside_optax_wrappers(case):
  params = _params()
  g = _grads(params)
  kw = dict(mu=0.05, sigma=0.2)
  # masked: the masked-out leaf passes through unchanged (the raw gradient), the other is updated
  tx = optax.masked(case.build(0.1, key=1, **kw), {"w": True, "b": False})
  u, _ = jax.jit(tx.update)(g, tx.init(params), params)
  np.testing.assert_array_equal(u["b"], g["b"])
  assert not np.allclose(u["w"], -0.1 * g["w"])
  # chain after adam
  tx = optax.chain(optax.scale_by_adam(), case.build(0.1, key=1, **kw))
  u, _ = jax.jit(tx.update)(g, tx.init(params), params)
  chex.assert_tree_all_finite(u)
  # MultiSteps: no update on the accumulation step, a finite one on the k-th
  tx = optax.MultiSteps(case.build(0.1, key=1, **kw), every_k_schedule=2)
  st = tx.init(params)
  upd = jax.jit(tx.update)
  u1, st = upd(g, st, params)
  u2, st = upd(g, st, params)
  assert np.all(_flat(u1) == 0) and np.all(np.isfinite(_flat(u2))) and np.any(_flat(u2) != 0)
  # apply_if_finite: NaN gradients give a zero update and leave the inner state untouched
  tx = optax.apply_if_finite(case.build(0.1, key=1, **kw), max_consecutive_errors=3)
  st = tx.init(params)
  nan = jax.tree_util.tree_map(lambda x: jnp.full_like(x, jnp.nan), params)
  u, st2 = jax.jit(tx.update)(nan, st, params)
  assert np.all(_flat(u) == 0)
  chex.assert_trees_all_equal(st.inner_state, st2.inner_state)
  # inject_hyperparams: learning_rate, mu and sigma in the state; same result as the plain build
  tx = optax.inject_hyperparams(lambda learning_rate, mu, sigma: case.build(
      learning_rate, key=1, mu=mu, sigma=sigma))(learning_rate=0.1, **kw)
  st = tx.init(params)
  u, st = jax.jit(tx.update)(g, st, params)
  ref = case.build(0.1, key=1, **kw)
  u_ref, _ = ref.update(g, ref.init(params), params)
  np.testing.assert_allclose(_flat(u), _flat(u_ref), rtol=1e-5, atol=1e-7)
  assert float(st.hyperparams["sigma"]) == pytest.approx(0.2)


# --- dtypes ----------------------------------------------------------------------------------

@parametrize
def test_half_precision_and_integer_leaves(case):
  """Each leaf keeps its dtype; an integer leaf is returned unchanged (documented in _base).
  bfloat16 with float32 leaves: test_mixed_dtypes; float32: every other test."""
  params = {"w": _params(jnp.float16)["w"], "b": jnp.arange(2, dtype=jnp.int32)}
  grads = {"w": _grads(params)["w"], "b": jnp.array([1, 2], jnp.int32)}
  tx = case.perturb(0.1, key=0, mu=0.05, sigma=0.2)
  u, _ = jax.jit(tx.update)(grads, tx.init(params), params)
  chex.assert_type([u["w"], u["b"]], [jnp.float16, jnp.int32])
  chex.assert_tree_all_finite(u["w"])
  chex.assert_trees_all_equal(u["b"], grads["b"])  # integer leaf: untouched
  assert not np.allclose(np.asarray(u["w"], np.float64), np.asarray(grads["w"], np.float64))


@parametrize
def test_mixed_dtypes(case):
  params = {"w": _params(jnp.bfloat16)["w"], "b": _params(jnp.float32)["b"]}
  tx = case.build(0.1, key=0, mu=0.05, sigma=0.2)
  u, _ = jax.jit(tx.update)(_grads(params), tx.init(params), params)
  chex.assert_type([u["w"], u["b"]], [jnp.bfloat16, jnp.float32])
  chex.assert_tree_all_finite(u)
  assert not np.allclose(_flat(u), -0.1 * _flat(_grads(params)))


@parametrize
def test_float64_with_x64(case):
  with jax.enable_x64(True):
    params = _params(jnp.float64)
    tx = case.build(0.1, key=0, mu=0.05, sigma=0.2)
    u, _ = jax.jit(tx.update)(_grads(params), tx.init(params), params)
    chex.assert_type(jax.tree_util.tree_leaves(u), jnp.float64)
    chex.assert_tree_all_finite(u)


# --- compilation -----------------------------------------------------------------------------

@parametrize
def test_no_recompilation_on_second_update(case):
  params = _params()
  tx = case.build(optax.linear_schedule(0.1, 0.01, 10), key=0, mu=0.05, sigma=0.2)
  chex.clear_trace_counter()  # chex counts traces per source location, across cases
  upd = jax.jit(chex.assert_max_traces(tx.update, n=1))
  state = tx.init(params)
  for _ in range(3):
    _, state = upd(_grads(params), state, params)


# --- bad arguments ---------------------------------------------------------------------------

BAD = [("sigma", dict(sigma=-1.0)), ("sigma", dict(sigma=float("nan"))),
       ("sigma", dict(sigma=float("inf"))), ("mu", dict(mu=float("inf"))),
       ("mu", dict(mu=float("nan"))), ("mu", dict(mu=-0.5)),
       ("learning_rate", dict(lr=float("inf"))), ("learning_rate", dict(lr=float("nan"))),
       ("learning_rate", dict(lr=0.0)), ("learning_rate", dict(lr=optax.constant_schedule(-1.0))),
       ("key", dict(key="seed")), ("key", dict(key=1.5)),
       ("sigma", dict(sigma="0.1")), ("mu", dict(mu="0.0")), ("learning_rate", dict(lr="0.1")),
       ("sigma", dict(sigma=None))]


@parametrize
@pytest.mark.parametrize("name,kw", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_arguments_name_the_parameter(case, name, kw):
  if name == "key" and case.name.startswith("registry:") and \
      "seed" in registry.get_noise(case.name.split(":", 1)[1]).context:
    pytest.skip("this kind is driven by an integer seed; its key argument is unused")
  kw = dict(kw)
  lr = kw.pop("lr", 0.1)
  args = dict(key=0, mu=0.0, sigma=0.1)
  args.update(kw)
  with pytest.raises(ValueError, match=name):
    case.build(lr, **args)


def test_battery_covers_every_registered_kind():
  names = {c.name for c in CASES}
  for kind in registry.noise_kinds():
    if registry.get_noise(kind).factory is not None:
      assert f"registry:{kind}" in names


# --- seeds under vmap: the documented pattern and the trap -----------------------------------

def test_vmap_over_seeds_pattern_and_trap():
  """The pattern of the _base docstring (build inside the vmapped function, traced key) gives
  each seed its own noise; vmapping init of a transform whose key was fixed at construction gives
  every seed the same state (the trap the docstring warns about)."""
  params = _params()
  keys = jax.random.split(jax.random.key(0), 3)

  def chains(state, seeds=None):
    """The chain states (parameter-shaped trees) as [seeds, coordinates], or [coordinates]."""
    leaves = jax.tree_util.tree_leaves(state[1].noise)
    if seeds is None:
      return np.concatenate([np.ravel(l) for l in leaves])
    return np.concatenate([np.asarray(l).reshape(seeds, -1) for l in leaves], axis=1)

  good = jax.jit(jax.vmap(lambda k: chaosopt.mpgd(0.1, gamma=0.7, sigma=0.1, key=k).init(params)))(
      keys)
  c = chains(good, 3)
  assert not np.allclose(c[0], c[1]) and not np.allclose(c[1], c[2])
  tx = chaosopt.mpgd(0.1, gamma=0.7, sigma=0.1, key=0)
  naive = jax.jit(jax.vmap(lambda k: tx.init(params)))(keys)
  c = chains(naive, 3)
  np.testing.assert_array_equal(c[0], c[1])
  # integer seeds work the same way (traced int -> key inside the vmapped function)
  seeds = jnp.arange(3)
  by_seed = chains(jax.jit(jax.vmap(
      lambda s: chaosopt.mpgd(0.1, gamma=0.7, sigma=0.1, key=s).init(params)))(seeds), 3)
  assert not np.allclose(by_seed[0], by_seed[1])
  np.testing.assert_array_equal(by_seed[2], chains(jax.jit(
      chaosopt.mpgd(0.1, gamma=0.7, sigma=0.1, key=2).init)(params)))


# --- compile time ----------------------------------------------------------------------------

def _compile_seconds(tx, params):
  import time
  state = tx.init(params)
  lowered = jax.jit(tx.update).trace(params, state, params).lower()
  t0 = time.perf_counter()
  lowered.compile()
  return time.perf_counter() - t0


def _compiled_lines(tx, params) -> int:
  state = tx.init(params)
  return len(jax.jit(tx.update).trace(params, state, params).lower().compile().as_text()
             .splitlines())


def test_compiled_program_size_grows_like_adams():
  """A deterministic proxy of the compile-time goal (no timing, so it runs in CI): the optimized
  HLO of each transform's update at 100 leaves is < 6x optax.adam's (measured 1.2-2.8x: MPGD 1.2,
  eq. 11 1.8, Gaussian 2.8, Levy 2.3; linear in the leaf count like adam's: 100 -> 300 leaves
  scales them by 2.6-3.0x, adam's by 3.0x; the per-leaf rewrite it guards against drew noise leaf
  by leaf, 10-200x slower to compile)."""
  def tree(n):
    return {f"l{i:04d}": jnp.full((i % 5 + 1, 3), 0.01 * (i + 1)) for i in range(n)}
  params = tree(100)
  adam = _compiled_lines(optax.adam(1e-3), params)
  for case in CASES[:6]:
    tx = case.build(0.1, key=0, mu=0.01, sigma=0.05) if case.name != "levy_leaf_alpha" else \
        _base.gd_with(0.1, chaosopt.levy_perturbation(
            0.1, alpha={k: 1.2 + 0.1 * (i % 7) for i, k in enumerate(sorted(params))},
            sigma=0.05, mu=0.01, key=0))
    lines = _compiled_lines(tx, params)
    assert lines < 6 * adam, (case.name, lines, adam)
  # linear in the leaf count (the first transform at 3x the leaves)
  big = tree(300)
  ratio = _compiled_lines(CASES[0].build(0.1, key=0, mu=0.01, sigma=0.05), big) / \
      _compiled_lines(CASES[0].build(0.1, key=0, mu=0.01, sigma=0.05), params)
  assert ratio < 3.6, ratio


@pytest.mark.slow
def test_compile_time_does_not_grow_with_leaves():
  """300 leaves: XLA compile of each transform's update < 5x optax.adam's (measured 1.3-1.8x at
  1000 leaves; 10x-200x before the flat-vector rewrite). Generous because the test machine is
  shared and compile times are noisy; the ratio is measured within one process."""
  params = {f"l{i:04d}": jnp.full((i % 5 + 1, 3), 0.01 * (i + 1)) for i in range(300)}
  adam = min(_compile_seconds(optax.adam(1e-3), params) for _ in range(2))
  for case in CASES[:6]:
    jax.clear_caches()
    s = _compile_seconds(case.build(0.1, key=0, mu=0.01, sigma=0.05), params) \
        if case.name != "levy_leaf_alpha" else _compile_seconds(_base.gd_with(
            0.1, chaosopt.levy_perturbation(0.1, alpha={k: 1.2 + 0.1 * (i % 7) for i, k in
                                                        enumerate(sorted(params))},
                                            sigma=0.05, mu=0.01, key=0)), params)
    assert s < 5 * adam, (case.name, s, adam)
