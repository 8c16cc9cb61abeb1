"""Tests of chaosopt.transforms.levy (Euler scheme of the Lévy-driven SDE, P2 eq. 1/3)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from chaosopt.dynamics import tail_index as ti
from chaosopt.transforms.levy import levy_gd, levy_perturbation

PARAMS = {"w": jnp.zeros((2, 3)), "b": jnp.zeros((3,))}


def _noise(tx, n_steps, params=PARAMS):
  """Stacked perturbations of zero updates: the pure noise increments."""
  zeros = jax.tree_util.tree_map(jnp.zeros_like, params)

  def step(state, _):
    u, state = tx.update(zeros, state, params)
    return state, u

  _, us = jax.lax.scan(step, tx.init(params), None, length=n_steps)
  return us


def test_increment_scale_and_alpha_per_coordinate():
  # sigma eta^{1/alpha} xi with xi ~ SaS(1): the log-moment scale of the increments must be
  # sigma eta^{1/alpha}; tolerance 5 sd of log-scale across the 9 coordinates' estimates.
  eta, sigma = 0.01, 0.5
  alpha = {"w": jnp.array([1.2, 1.6, 2.0]), "b": 0.8}
  tx = levy_perturbation(eta, alpha=alpha, sigma=sigma, key=3)
  us = jax.jit(lambda: _noise(tx, 4000))()
  for name, al in (("w", np.array([1.2, 1.6, 2.0])), ("b", np.array([0.8] * 3))):
    x = np.asarray(us[name]).reshape(4000, -1).T  # [coords, steps]
    a_hat, s_hat = map(np.asarray, ti.cf_fit(x))
    al_c = np.broadcast_to(al, PARAMS[name].shape).ravel()
    expect = sigma * eta ** (1 / al_c)
    # CF-fit std of alpha and log-scale at n = 4000 is < 0.04 (see test_tail_index): 5 sd = 0.2
    np.testing.assert_allclose(a_hat, al_c, atol=0.2)
    np.testing.assert_allclose(np.log(s_hat), np.log(expect), atol=0.2)


def test_levy_gd_is_sgd_plus_noise_and_sigma_zero_is_sgd():
  params = {"w": jnp.ones((4,))}
  grads = {"w": jnp.arange(4.0)}
  tx = levy_gd(0.1, alpha=1.5, sigma=0.0, key=0)
  u, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(u["w"], -0.1 * grads["w"], rtol=1e-6)


def test_jit_vmap_seeds_independent_same_key_identical():
  def run(key):
    tx = levy_gd(1e-3, alpha=1.5, sigma=1.0, key=key)
    return _noise(tx, 5, {"x": jnp.zeros((8,))})["x"]

  keys = jax.random.split(jax.random.key(0), 16)
  out = jax.jit(jax.vmap(run))(keys)
  assert out.shape == (16, 5, 8)
  flat = np.asarray(out).reshape(16, -1)
  corr = np.corrcoef(np.sign(flat))  # signs of independent SaS draws: corr ~ N(0, 1/40)
  off = corr[~np.eye(16, dtype=bool)]
  assert np.max(np.abs(off)) < 5 / math.sqrt(flat.shape[1]), np.max(np.abs(off))
  again = jax.jit(jax.vmap(run))(keys)
  np.testing.assert_array_equal(np.asarray(out), np.asarray(again))


def test_multiplicative_needs_params_and_alpha_two_is_gaussian():
  tx = levy_perturbation(0.1, alpha=2.0, sigma=0.0, mu=1.0, key=0)
  st = tx.init(PARAMS)
  with pytest.raises(ValueError, match="params"):
    tx.update(PARAMS, st)
  # alpha = 2: xi ~ N(0, 2), increments sigma sqrt(eta) xi: variance 2 sigma^2 eta
  tx = levy_perturbation(0.04, alpha=2.0, sigma=1.0, key=5)
  x = np.asarray(_noise(tx, 20000, {"x": jnp.zeros((2,))})["x"]).ravel()
  assert abs(x.var() / (2 * 0.04) - 1) < 5 * math.sqrt(2 / x.size)


@pytest.mark.parametrize("kw", [dict(alpha=0.0), dict(alpha=2.1), dict(alpha={"w": 2.5, "b": 1.0}),
                                dict(alpha=1.5, beta=2.0), dict(alpha=1.5, sigma=-1.0),
                                dict(alpha=1.5, learning_rate=0.0), dict(alpha=1.5, mu=-0.1)])
def test_validation(kw):
  kw = dict(kw)
  lr = kw.pop("learning_rate", 0.1)
  kw.setdefault("sigma", 1.0)
  with pytest.raises(ValueError, match="alpha|beta|sigma|learning_rate|mu"):
    levy_perturbation(lr, key=0, **kw)
