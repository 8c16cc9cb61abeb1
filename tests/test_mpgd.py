"""MPGD / Gaussian perturbations as optax transformations (P0 eq. 8 and eq. 11)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import chaosopt
from chaosopt.dynamics import observables, thaler


def _params():
  return {"w": jnp.arange(6.0).reshape(3, 2) / 6 - 0.3, "b": jnp.array([0.5, -1.0])}


def _flat_chains(noise):
  """[num_chains, num_coordinates] of the parameter-shaped chain trees (y1 chains first)."""
  return np.stack([np.concatenate([np.ravel(l) for l in jax.tree_util.tree_leaves(t)])
                   for t in list(noise.y1) + list(noise.y2)])


def _by_hand_v(chain_rows, gamma):
  """v^{(0)} = sign(state) · v(|state|) from the stored chain states (away from y* by > 1 ulp)."""
  vl, vr = observables.observable_values(gamma)
  pos = np.abs(np.asarray(chain_rows, np.float64))
  assert np.all(np.abs(pos - thaler.fixed_point(gamma)) > 1e-6)
  return np.sign(np.asarray(chain_rows)) * np.where(pos > thaler.fixed_point(gamma), vr, vl)


@pytest.mark.parametrize("variant", ["mpgd", "eq11"])
def test_one_step_equals_eq8_by_hand(variant):
  gamma, beta, mu, sigma, eta = 0.7, 0.5, 0.02, 0.05, 0.1
  params = _params()
  grads = jax.tree_util.tree_map(lambda p: jnp.cos(p) + 1.0, params)
  tx = chaosopt.mpgd(eta, gamma=gamma, beta=beta, mu=mu, sigma=sigma, key=3, variant=variant)
  state = tx.init(params)
  chains = _flat_chains(state[1].noise)  # [num_chains, num_coordinates], leaves in tree order
  v = _by_hand_v(chains, gamma)
  if variant == "eq11":
    v1, v2 = v[0] - v[1], v[2] - v[3]
  else:
    v1, v2 = v[0], v[1]
  leaves, treedef = jax.tree_util.tree_flatten(params)
  x = np.concatenate([np.ravel(l) for l in leaves])
  g = np.concatenate([np.ravel(l) for l in jax.tree_util.tree_leaves(grads)])
  expected = -eta * g - mu * eta**gamma * v1 * x + sigma * eta**gamma * v2
  updates, _ = jax.jit(tx.update)(grads, state, params)
  got = np.concatenate([np.ravel(l) for l in jax.tree_util.tree_leaves(updates)])
  np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-8)


def test_schedule_uses_eta_k():
  sched = optax.exponential_decay(0.1, transition_steps=1, decay_rate=0.5)
  params = _params()
  zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
  tx = chaosopt.mpgd_perturbation(sched, gamma=0.6, sigma=1.0, key=0)
  state = tx.init(params)
  vl, vr = observables.observable_values(0.6)
  for k in range(3):
    chains = _flat_chains(state.noise)  # mu = 0: the additive chains only
    assert chains.shape == (1, 8)
    u, state = tx.update(zeros, state, params)
    got = np.concatenate([np.ravel(l) for l in jax.tree_util.tree_leaves(u)])
    np.testing.assert_allclose(got, float(sched(k)) ** 0.6 * _by_hand_v(chains, 0.6)[0], rtol=1e-5)


def _run(tx, steps=5, params=None):
  params = _params() if params is None else params
  loss = lambda p: jnp.sum(p["w"] ** 2) + jnp.sum(jnp.sin(p["b"]))
  state = tx.init(params)

  @jax.jit
  def step(params, state):
    g = jax.grad(loss)(params)
    u, state = tx.update(g, state, params)
    return optax.apply_updates(params, u), state

  for _ in range(steps):
    params, state = step(params, state)
  return params, state


def test_vmap_over_seeds_and_gammas():
  params = _params()

  def run(key, gamma):
    tx = chaosopt.mpgd(0.1, gamma=gamma, beta=0.5, mu=0.01, sigma=0.05, key=key)
    return _run(tx, steps=3, params=params)[0]["w"]

  keys = jax.random.split(jax.random.key(0), 3)
  keys = jnp.stack([keys[0], keys[1], keys[0]])
  consts = thaler.thaler_constants(np.array([0.6, 0.6, 0.6]))
  out = jax.vmap(run)(keys, consts)
  assert not np.allclose(out[0], out[1])            # different keys: independent perturbations
  np.testing.assert_array_equal(out[0], out[2])     # same key: bit-identical
  np.testing.assert_allclose(out[0], run(keys[0], 0.6), rtol=1e-6)  # vmapped == single run
  # A γ axis: several γ in one vmapped program, each equal to its own run.
  consts = thaler.thaler_constants(np.array([0.55, 0.7]))
  out = jax.vmap(run, in_axes=(None, 0))(keys[0], consts)
  np.testing.assert_allclose(out[1], run(keys[0], 0.7), rtol=1e-5)


def test_state_dtype_is_fixed_and_float64_with_x64(python_subprocess):
  params = _params()
  tx = chaosopt.mpgd(0.1, gamma=0.7, mu=0.01, sigma=0.1, key=0)
  p, state = _run(tx)
  assert state[1].noise.y1[0]["w"].dtype == jnp.float32 and p["w"].dtype == jnp.float32
  out = python_subprocess("""
      import jax, jax.numpy as jnp, chaosopt
      p = {"w": jnp.ones((4,), jnp.float32)}
      tx = chaosopt.mpgd(0.1, gamma=0.7, mu=0.01, sigma=0.1, key=0)
      s = tx.init(p)
      u, s2 = jax.jit(tx.update)(p, s, p)
      print(s[1].noise.y1[0]["w"].dtype, s2[1].noise.y2[0]["w"].dtype, u["w"].dtype)
  """, x64=True)
  assert out.split() == ["float64", "float64", "float32"]


@pytest.mark.parametrize("kwargs,name", [
    (dict(gamma=1.2), "gamma"), (dict(gamma=0.5), "gamma"), (dict(gamma=0.7, beta=1.5), "beta"),
    (dict(gamma=0.7, mu=-1.0), "mu"), (dict(gamma=0.7, sigma=-0.1), "sigma"),
    (dict(gamma=0.7, variant="eq8"), "variant"), (dict(gamma=0.7, sign_rule="x"), "sign_rule"),
])
def test_bad_input_names_the_parameter(kwargs, name):
  with pytest.raises(ValueError, match=name):
    chaosopt.mpgd(0.1, key=0, **kwargs)


def test_multiplicative_term_needs_params():
  tx = chaosopt.mpgd_perturbation(0.1, gamma=0.7, mu=0.1, key=0)
  p = _params()
  with pytest.raises(ValueError, match="params"):
    tx.update(p, tx.init(p))
  tx = chaosopt.mpgd_perturbation(0.1, gamma=0.7, sigma=0.1, key=0)  # additive only: fine
  tx.update(p, tx.init(p))
