"""MPGD's optimizer state shaped like the params (P0 eq. 8 and eq. 11): bit-identical numbers to
the flat-state implementation, chains only for floating-point leaves, sharding carried through,
and the memory per coordinate."""
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import chaosopt
from chaosopt.transforms import _base

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _make_mpgd_reference as ref  # noqa: E402


@pytest.fixture(scope="module")
def reference():
  # recorded by the flat-state code of 1918bb4 once per jax minor release (releases may round
  # or draw differently): exact equality against the references of the running release
  if not os.path.exists(ref.PATH):
    pytest.skip(f"no references recorded with jax {ref.JAX_MINOR}.x (see "
                f"tests/_make_mpgd_reference.py)")
  with np.load(ref.PATH) as z:
    return {k: z[k] for k in z.files}


def _check(got: dict, reference: dict, prefix: str):
  expected = {k: v for k, v in reference.items() if k.startswith(prefix + "/")}
  got = {f"{prefix}/{k}": v for k, v in got.items()}
  got = {(k + "#sha256" if v.size > 1024 else k): (ref.digest(v) if v.size > 1024 else v)
         for k, v in got.items()}
  assert sorted(got) == sorted(expected)
  for k, v in expected.items():
    if k.endswith("#sha256"):
      assert str(got[k]) == str(v), k
    else:
      np.testing.assert_array_equal(got[k], v, err_msg=k)


@pytest.mark.parametrize("min_size", [None, 1, 10**9], ids=["default", "leafwise", "flat"])
@pytest.mark.parametrize("name", sorted(ref.CASES))
def test_updates_are_bit_identical_to_the_flat_state(reference, name, min_size, monkeypatch):
  """Updates of 3 steps equal those recorded with the flat-state code (tests/mpgd_reference.npz,
  tests/_make_mpgd_reference.py) exactly, with every leaf perturbed on its own, all leaves
  concatenated, and the default split."""
  if min_size is not None:
    monkeypatch.setattr(_base, "LEAFWISE_MIN_SIZE", min_size)
  _check(ref.run_case(name), reference, name)


def test_vmapped_seeds_are_bit_identical_to_the_flat_state(reference):
  _check(ref.run_vmapped(), reference, "vmapped")


def _chain_trees(state):
  return list(state.noise.y1) + list(state.noise.y2)


@pytest.mark.parametrize("variant,mu,trees", [("mpgd", 0.02, 2), ("mpgd", 0.0, 1),
                                              ("eq11", 0.02, 4), ("eq11", 0, 2)])
def test_state_is_shaped_like_the_params(variant, mu, trees):
  """One params-shaped tree per chain: eq. 8 two (one with mu a Python 0), eq. 11 four (two);
  integer leaves have no chain (optax.MaskedNode)."""
  params = ref.mixed_params()
  tx = chaosopt.mpgd_perturbation(0.1, gamma=0.7, mu=mu, sigma=0.1, key=0, variant=variant)
  state = tx.init(params)
  chains = _chain_trees(state)
  assert len(chains) == trees
  for tree in chains:
    assert isinstance(tree["b"], optax.MaskedNode)  # the int32 leaf
    for k in "acde":
      assert tree[k].shape == params[k].shape and tree[k].dtype == jnp.float32
  n_float = sum(params[k].size for k in "acde")
  assert sum(x.size for x in jax.tree_util.tree_leaves(state.noise)) == trees * n_float
  u, state2 = jax.jit(tx.update)(ref.grads_at(params, 0), state, params)
  assert jax.tree_util.tree_structure(state2) == jax.tree_util.tree_structure(state)
  np.testing.assert_array_equal(u["b"], ref.grads_at(params, 0)["b"])


def test_integer_leaves_get_no_chains():
  """3 float and 3 int coordinates: chains for the 3 float ones only (was [2, 6])."""
  params = {"f": jnp.ones(3), "i": jnp.arange(3)}
  tx = chaosopt.mpgd(0.1, gamma=0.7, mu=0.1, sigma=0.1, key=0)
  state = tx.init(params)
  assert [x.shape for x in jax.tree_util.tree_leaves(state[1].noise)] == [(3,), (3,)]


def test_memory_per_coordinate_versus_adam():
  """float32 bytes per coordinate of the state: eq. 8 8 (4 with mu = 0), eq. 11 16 (8), adam 8
  (docstrings and docs/api.md)."""
  params = {"w": jnp.ones((100, 10)), "b": jnp.ones(10)}
  n = 1010

  def nbytes(tx):
    return sum(x.nbytes for x in jax.tree_util.tree_leaves(tx.init(params))
               if not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) and x.ndim > 0)

  kw = dict(gamma=0.7, sigma=0.1, key=0)
  assert nbytes(chaosopt.mpgd(0.1, mu=0.1, **kw)) == 8 * n
  assert nbytes(chaosopt.mpgd(0.1, **kw)) == 4 * n
  assert nbytes(chaosopt.mpgd(0.1, mu=0.1, variant="eq11", **kw)) == 16 * n
  assert nbytes(chaosopt.mpgd(0.1, variant="eq11", **kw)) == 8 * n
  assert nbytes(optax.adam(1e-3)) == 8 * n


def test_tree_map_params_gives_the_state_the_params_layout():
  """optax.tree_map_params (the optax recipe for sharding a state like the params) reaches every
  chain tree of a full MPGD optimizer."""
  params = {"w": jnp.ones((4, 3)), "b": jnp.ones(3)}
  tx = chaosopt.mpgd(0.1, gamma=0.7, mu=0.1, sigma=0.1, key=0)
  state = tx.init(params)
  tags = {"w": "W", "b": "B"}
  out = optax.tree_map_params(tx, lambda _, tag: tag, state, tags,
                              transform_non_params=lambda _: None)
  assert list(out[1].noise.y1) == [tags] and list(out[1].noise.y2) == [tags]


def test_mu_zero_as_a_jax_array_keeps_both_fields():
  """mu given as an array (e.g. by optax.inject_hyperparams, which may change it later) keeps the
  multiplicative chains; a Python 0 drops them."""
  params = {"w": jnp.ones(3)}
  arr = chaosopt.mpgd_perturbation(0.1, gamma=0.7, mu=jnp.float32(0.0), sigma=0.1, key=0)
  assert len(arr.init(params).noise.y1) == 1
  assert len(chaosopt.mpgd_perturbation(0.1, gamma=0.7, sigma=0.1, key=0).init(params)
             .noise.y1) == 0


_SHARDING_SCRIPT = """
import jax, jax.numpy as jnp, numpy as np, optax, chaosopt
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
assert jax.device_count() == 4, jax.devices()
mesh = Mesh(np.array(jax.devices()).reshape(2, 2), ("fsdp", "model"))
# w is above LEAFWISE_MIN_SIZE (perturbed in its own shape); b and small are concatenated
params = {"w": jnp.arange(128 * 64, dtype=jnp.float32).reshape(128, 64) / 8192,
          "b": jnp.linspace(0, 1, 64), "small": jnp.ones((4, 2)), "step": jnp.arange(4)}
specs = {"w": P("fsdp", "model"), "b": P(), "small": P(), "step": P()}
shard = {k: NamedSharding(mesh, s) for k, s in specs.items()}
rep = NamedSharding(mesh, P())
params = jax.device_put(params, shard)
grads = jax.tree_util.tree_map(lambda p: p * 0.1 if p.dtype == jnp.float32 else p, params)
host = jax.device_get(params)

def chains(state):
  return list(state[1].noise.y1) + list(state[1].noise.y2)

def check(state, keys, where):
  for tree in chains(state):
    for k in keys:
      assert tree[k].sharding.is_equivalent_to(shard[k], tree[k].ndim), (where, k, tree[k].sharding)
    assert isinstance(tree["step"], optax.MaskedNode)

for variant in ("mpgd", "eq11"):
  tx = chaosopt.mpgd(0.1, gamma=0.7, mu=0.02, sigma=0.05, key=0, variant=variant)
  # the optax recipe: the params' shardings wherever the state holds a params-shaped tree
  state_sh = optax.tree_map_params(tx, lambda _, s: s, jax.eval_shape(tx.init, params), shard,
                                   transform_non_params=lambda _: rep,
                                   is_leaf=lambda x: isinstance(x, optax.MaskedNode))
  state = jax.jit(tx.init, out_shardings=state_sh)(params)
  check(state, ("w", "b", "small"), "init")
  ref_tx = chaosopt.mpgd(0.1, gamma=0.7, mu=0.02, sigma=0.05, key=0, variant=variant)
  ref_state = jax.jit(ref_tx.init)(host)
  # 1. in_shardings only: propagation keeps the large leaf's chains sharded, with no collective
  upd = jax.jit(tx.update, in_shardings=(shard, state_sh, shard))
  hlo = upd.lower(grads, state, params).compile().as_text()
  assert "all-gather" not in hlo and "all-reduce" not in hlo and "all-to-all" not in hlo
  u, new = upd(grads, state, params)
  check(new, ("w",), "propagated")
  u_ref, ref_state = jax.jit(ref_tx.update)(jax.device_get(grads), ref_state, host)
  # bit for bit against the jitted single-device program (an eager init rounds differently)
  for a, b in zip(jax.tree_util.tree_leaves((u, chains(new))),
                  jax.tree_util.tree_leaves((u_ref, chains(ref_state)))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # 2. out_shardings, donated state: every leaf
  def step(p, s):
    u, s = tx.update(grads, s, p)
    return optax.apply_updates(p, u), s
  p2, new2 = jax.jit(step, out_shardings=(shard, state_sh), donate_argnums=1)(params, new)
  check(new2, ("w", "b", "small"), "out_shardings")
  # 3. with_sharding_constraint inside the step
  def step_c(p, s):
    p, s = step(p, s)
    return p, jax.lax.with_sharding_constraint(s, state_sh)
  _, new3 = jax.jit(step_c)(p2, new2)
  check(new3, ("w", "b", "small"), "with_sharding_constraint")
  print(variant, "w chain shards:", [s.data.shape for s in chains(new3)[0]["w"].addressable_shards])
print("OK")
"""


def test_sharded_params_keep_the_state_sharded_the_same_way(python_subprocess):
  """4 forced host devices, an FSDP x model mesh: a state initialized with the params'
  shardings (optax.tree_map_params) keeps them through a jitted update: a large leaf's chains by
  propagation from in_shardings alone (no collective in the program), every leaf's with
  out_shardings or with_sharding_constraint; the numbers equal the single-device jitted run
  exactly."""
  out = python_subprocess(_SHARDING_SCRIPT, env={
      "JAX_PLATFORMS": "cpu", "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") +
                                            " --xla_force_host_platform_device_count=4").strip()})
  assert out.strip().endswith("OK"), out
  assert out.count("w chain shards: [(64, 32), (64, 32), (64, 32), (64, 32)]") == 2, out
