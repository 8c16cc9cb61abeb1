"""Tests for chaosopt.tasks.multiscale and chaosopt.dynamics.gd_maps (Kong & Tao 2020, P1)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from chaosopt.analysis.distributions import wasserstein1_samples
from chaosopt.dynamics import gd_maps
from chaosopt.tasks import multiscale as ms


def test_small_eps_refused_without_x64():
  assert not ms.x64_enabled()  # the suite runs in float32
  with pytest.raises(ValueError, match="x64"):
    ms.quartic_sin(1e-6)
  with pytest.raises(ValueError, match="float32"):
    ms.double_well_sin(k=5.0, eps=1e-4)  # the threshold itself is refused
  with pytest.warns(RuntimeWarning, match="UNRELIABLE"):
    ms.quadratic_sin(1e-4, allow_float32=True)
  ms.tilted_double_well_quasiperiodic(0.01)  # eps = 1e-2 is fine in float32


def test_small_eps_accepted_with_x64_and_config_switch():
  with ms.x64_scope():
    obj = ms.quartic_sin(1e-6)
    x = jnp.array([0.3])
    assert obj.gd_map(x, 0.1).dtype == jnp.float64
  assert not ms.x64_enabled()  # the context did not leak


def test_gd_map_matches_closed_form():
  eps, eta = 1e-2, 0.05
  obj = ms.quartic_sin(eps)
  x = jnp.array([0.37])
  want = x - eta * (x ** 3 + jnp.cos(x / eps))
  np.testing.assert_allclose(obj.gd_map(x, eta), want, rtol=1e-6)
  o2 = ms.matyas_sincos(1e-2)
  xy = jnp.array([0.3, -0.2])
  g = jnp.array([0.52 * 0.3 + 0.48 * -0.2 + jnp.cos(0.3 / 1e-2),
                 0.52 * -0.2 + 0.48 * 0.3 - jnp.sin(-0.2 / 1e-2)])
  np.testing.assert_allclose(o2.grad(xy), g, rtol=1e-5)


@pytest.mark.parametrize("name", ["quartic_sin", "quartic_quasiperiodic", "quartic_negcos",
                                  "matyas_sincos"])
def test_zeta_is_weak_limit_of_minus_grad_f1(name):
  # Cond. 1: -grad f1(x + Y), Y uniform on a box of many micro-periods, has the law of zeta.
  # Two samples of n = 20000: the 1-D W1 between them is O(std / sqrt(n)) ~ 0.01; we allow 0.04.
  obj = ms.get_objective(name, eps=1e-2)
  n = 20000
  k1, k2 = jax.random.split(jax.random.PRNGKey(0))
  y = 0.4 + 2000 * obj.eps * jax.random.uniform(k1, (n, obj.dim))
  micro = -jax.vmap(jax.grad(obj.f1), in_axes=(0, None))(y, obj.eps)
  z = jax.vmap(obj.zeta)(jax.random.split(k2, n), y)
  for j in range(obj.dim):
    assert wasserstein1_samples(micro[:, j], z[:, j]) < 0.04
  # variance: sigma2 within 5 standard errors (SE of a sample variance <= sqrt(2/n) * E z^4^.5)
  var = np.var(np.asarray(z), axis=0)
  se = np.sqrt(np.var(np.asarray(z) ** 2, axis=0) / n)
  np.testing.assert_array_less(np.abs(var - obj.sigma2), 5 * se)


def test_fig5_zeta_state_dependent_variance():
  obj = ms.fig5_nonquasiperiodic(1e-2)
  assert obj.sigma2 is None and obj.m_theory is None
  x0 = jnp.zeros((1,))
  assert float(obj.zeta(jax.random.PRNGKey(0), x0)[0]) == 0.0  # Cond. 1 fails at x = 0


def test_k_critical_connectivity():
  # Rmk. 12: {x: |4k x (x^2-1)| <= 1} connected iff k <= 3 sqrt3 / 8.
  assert ms.K_CRITICAL == pytest.approx(3 * math.sqrt(3) / 8)
  x = np.linspace(-2, 2, 400001)

  def connected(k):
    inside = np.abs(4 * k * x * (x ** 2 - 1)) <= 1
    idx = np.flatnonzero(inside)
    return np.all(np.diff(idx) == 1)

  assert connected(0.02) and connected(0.99 * ms.K_CRITICAL)
  assert not connected(1.01 * ms.K_CRITICAL) and not connected(5.0)


def test_momentum_maps_match_optax():
  obj = ms.quadratic_sin(1e-2)
  eta, gamma = 0.01, 0.9
  c = gd_maps.nag_sc_coefficient(1.0, eta)
  assert c == pytest.approx((1 - 0.1) / (1 + 0.1))
  x0 = jnp.array([0.7])
  for tx, step, init, coef in [(optax.sgd(eta, momentum=gamma), gd_maps.heavy_ball_step,
                                gd_maps.heavy_ball_init, gamma),
                               (optax.sgd(eta, momentum=c, nesterov=True), gd_maps.nag_sc_step,
                                gd_maps.nag_sc_init, c)]:
    s, st, x = init(x0), tx.init(x0), x0
    for _ in range(15):
      s = step(s, obj.grad, eta, coef)
      u, st = tx.update(obj.grad(x), st, x)
      x = optax.apply_updates(x, u)
    np.testing.assert_allclose(s.x, x, rtol=1e-5, atol=1e-6)


def test_bad_arguments():
  with pytest.raises(ValueError, match="unknown"):
    ms.get_objective("nope")
  with pytest.raises(ValueError, match="eps"):
    ms.quartic_sin(-1.0)
  with pytest.raises(ValueError, match="mu"):
    gd_maps.nag_sc_coefficient(0.0, 0.1)
