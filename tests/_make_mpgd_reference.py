"""Writes tests/mpgd_reference.npz: update sequences of the noise transformations (P0 eq. 8 and
eq. 11, the Gaussian and Lévy baselines) recorded with the flat-state implementation (commit
1918bb4, optimizer state one [num_chains, num_coordinates] array), against which
tests/test_state_layout.py checks that the parameter-shaped state gives bit-identical numbers.

Run once per jax minor release with that commit's code on the path (``PYTHONPATH=<checkout of
1918bb4> python tests/_make_mpgd_reference.py``); the cases are defined here and imported by the
test. Recorded: jax 0.10.2 (Python 3.11), jax 0.12.1 (Python 3.12).
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

import chaosopt

STEPS = 3
HERE = os.path.dirname(os.path.abspath(__file__))
# one file per jax minor release (releases may round or draw differently): jax 0.10.x
# (Python 3.11 leg) in mpgd_reference.npz, others in mpgd_reference_jax0.MINOR.npz
JAX_MINOR = ".".join(jax.__version__.split(".")[:2])
PATH = os.path.join(HERE, "mpgd_reference.npz" if JAX_MINOR == "0.10"
                    else f"mpgd_reference_jax{JAX_MINOR}.npz")


def mixed_params():
  """Mixed dtypes with an integer leaf between float leaves (offsets of the chains skip it)."""
  return {"a": (jnp.arange(6.0).reshape(3, 2) / 6 - 0.3).astype(jnp.float32),
          "b": jnp.arange(3, dtype=jnp.int32),
          "c": jnp.linspace(-1, 1, 4).astype(jnp.float16),
          "d": jnp.linspace(0.2, 1.4, 5).astype(jnp.float32),
          "e": jnp.array([[0.5, -0.25], [1.5, 2.0]], jnp.bfloat16)}


def float_params():
  return {"w": jnp.linspace(-1.0, 1.0, 12).reshape(4, 3).astype(jnp.float32),
          "b": jnp.array([0.1, -0.2, 0.3], jnp.float32)}


def big_params():
  """A leaf above the size from which the chains run leaf by leaf (and a small one)."""
  return {"big": jnp.linspace(-2.0, 2.0, 5600).reshape(70, 80).astype(jnp.float32),
          "small": jnp.array([0.1, -0.2, 0.3], jnp.float32)}


def grads_at(params, k):
  """A deterministic update tree for step k (integer leaves stay integers)."""
  def g(p):
    if not jnp.issubdtype(p.dtype, jnp.floating):
      return p + k
    return (jnp.cos(p.astype(jnp.float32) * (k + 1)) * 0.1).astype(p.dtype)
  return jax.tree_util.tree_map(g, params)


def _mpgd(**kw):
  base = dict(gamma=0.7, beta=0.5, mu=0.02, sigma=0.05, key=3)
  base.update(kw)
  lr = base.pop("lr", 0.1)
  return chaosopt.mpgd_perturbation(lr, **base)


def _inject_mu0():
  return optax.inject_hyperparams(chaosopt.mpgd_perturbation, static_args=("gamma", "beta"))(
      learning_rate=0.1, gamma=0.7, beta=0.5, mu=0.0, sigma=0.05, key=5)


MASK = {"a": True, "b": False, "c": False, "d": True, "e": True}

# name -> (transform factory, params factory): perturbation alone, updates = grads_at(params, k)
CASES = {
    "eq8": (lambda: _mpgd(), mixed_params),
    "eq8_mu0": (lambda: _mpgd(mu=0.0), mixed_params),
    "eq11": (lambda: _mpgd(variant="eq11"), mixed_params),
    "eq11_mu0": (lambda: _mpgd(variant="eq11", mu=0), mixed_params),
    "literal_schedule": (lambda: _mpgd(gamma=0.6, beta=-0.5, mu=0.01, sign_rule="literal",
                                       lr=optax.exponential_decay(0.1, 1, 0.5)), mixed_params),
    "warmup": (lambda: _mpgd(gamma=0.8, init="warmup", key=11), float_params),
    "masked": (lambda: optax.masked(_mpgd(), MASK), mixed_params),
    "inject_mu0": (_inject_mu0, float_params),
    "big_leaf": (lambda: _mpgd(), big_params),
    "big_leaf_eq11_mu0": (lambda: _mpgd(variant="eq11", mu=0.0), big_params),
    "gaussian": (lambda: chaosopt.gaussian_perturbation(0.1, mu=0.02, sigma=0.05, key=3),
                 mixed_params),
    "levy": (lambda: chaosopt.levy_perturbation(0.1, alpha={"w": 1.3, "b": 1.8}, mu=0.02,
                                                sigma=0.05, key=3), float_params),
}


def run_case(name):
  """{f"{step}/{leaf}": update leaf} of STEPS jitted updates of case ``name``."""
  make_tx, make_params = CASES[name]
  tx, params = make_tx(), make_params()
  state = tx.init(params)
  upd = jax.jit(tx.update)
  out = {}
  for k in range(STEPS):
    u, state = upd(grads_at(params, k), state, params)
    for path, leaf in jax.tree_util.tree_flatten_with_path(u)[0]:
      out[f"{k}/{jax.tree_util.keystr(path)}"] = _exact(leaf)
  return out


def _exact(leaf):
  """float32 for float32 and half-precision leaves (exact), float64 otherwise."""
  wide = leaf.dtype in (jnp.float64, jnp.int64)
  return np.asarray(leaf, np.float64 if wide else np.float32)


def run_vmapped():
  """Seeds and mu vmapped (transform built inside the vmapped function from a traced key)."""
  params = float_params()

  def run(key, mu):
    tx = chaosopt.mpgd(0.1, gamma=0.7, beta=0.5, mu=mu, sigma=0.05, key=key)
    loss = lambda p: jnp.sum(p["w"] ** 2) + jnp.sum(jnp.sin(p["b"]))
    p, s, us = params, tx.init(params), []
    for _ in range(STEPS):
      u, s = tx.update(jax.grad(loss)(p), s, p)
      p = optax.apply_updates(p, u)
      us.append(u)
    return us

  keys = jax.random.split(jax.random.key(0), 3)
  us = jax.jit(jax.vmap(run))(keys, jnp.array([0.02, 0.0, 0.05]))
  out = {}
  for k, u in enumerate(us):
    for path, leaf in jax.tree_util.tree_flatten_with_path(u)[0]:
      out[f"{k}/{jax.tree_util.keystr(path)}"] = _exact(leaf)
  return out


def digest(x: np.ndarray) -> np.ndarray:
  """sha256 of an array's dtype, shape and bytes (stored instead of arrays of > 1024 elements)."""
  import hashlib
  h = hashlib.sha256(f"{x.dtype.str}{x.shape}".encode() + np.ascontiguousarray(x).tobytes())
  return np.array(h.hexdigest())


def all_cases():
  """{name: array}, arrays of more than 1024 elements as ``name + "#sha256"``: their digest."""
  out = {}
  for name in CASES:
    out.update({f"{name}/{k}": v for k, v in run_case(name).items()})
  out.update({f"vmapped/{k}": v for k, v in run_vmapped().items()})
  return {(k + "#sha256" if v.size > 1024 else k): (digest(v) if v.size > 1024 else v)
          for k, v in out.items()}


if __name__ == "__main__":
  ref = all_cases()
  np.savez_compressed(PATH, **ref)
  print(f"wrote {len(ref)} arrays to {PATH}")
