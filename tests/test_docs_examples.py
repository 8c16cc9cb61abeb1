"""The example scripts in docs/examples/ run to completion (each asserts its own sanity check).

Each script runs in a fresh interpreter, as a reader would run it, with this checkout first on
``PYTHONPATH``; they take a few seconds each on a CPU.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))


def test_examples_exist():
  assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(script):
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
  env.setdefault("JAX_PLATFORMS", "cpu")
  proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout}\n{proc.stderr}"


def _msgpack_recipe():
  import importlib.util
  spec = importlib.util.spec_from_file_location(
      "flax_msgpack_state", ROOT / "docs" / "examples" / "flax_msgpack_state.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize("kind", ["mpgd", "mpgd_mu0", "eq11", "gaussian", "levy", "adam_chain"])
def test_flax_msgpack_recipe_round_trips(kind):
  """The recipe of docs/keys_and_state.md: the state comes back leaf for leaf (typed keys with
  their implementation) and the next update is bit-identical."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax

  import chaosopt
  recipe = _msgpack_recipe()
  params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.zeros(3),
            "n": jnp.arange(2)}  # an integer leaf: no chain
  tx = {"mpgd": lambda: chaosopt.mpgd(0.1, gamma=0.7, mu=0.1, sigma=0.1, key=1),
        "mpgd_mu0": lambda: chaosopt.mpgd(0.1, gamma=0.6, sigma=0.1, key=2),
        "eq11": lambda: chaosopt.mpgd(0.1, gamma=0.7, mu=0.1, sigma=0.1, key=3, variant="eq11"),
        "gaussian": lambda: chaosopt.gaussian_perturbation(0.1, mu=0.1, sigma=0.1, key=4),
        "levy": lambda: chaosopt.levy_gd(0.1, alpha=1.5, sigma=0.1, key=jax.random.key(5)),
        "adam_chain": lambda: optax.chain(
            optax.adam(1e-2), chaosopt.mpgd_perturbation(1e-2, gamma=0.7, sigma=0.1, key=6)),
        }[kind]()
  grads = jax.tree_util.tree_map(lambda p: jnp.ones_like(p, jnp.float32), params)
  grads["n"] = params["n"]
  state = tx.init(params)
  _, state = tx.update(grads, state, params)
  restored = recipe.state_from_bytes(tx.init(params), recipe.state_to_bytes(state))
  assert jax.tree_util.tree_structure(restored) == jax.tree_util.tree_structure(state)
  for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(restored)):
    assert a.dtype == b.dtype
    if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
      a, b = jax.random.key_data(a), jax.random.key_data(b)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  u_a, _ = tx.update(grads, state, params)
  u_b, _ = tx.update(grads, restored, params)
  for a, b in zip(jax.tree_util.tree_leaves(u_a), jax.tree_util.tree_leaves(u_b)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
