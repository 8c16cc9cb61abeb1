"""Tests of the Marcus SDE simulator (P0 Thm. 4.1): jump map, driver scale, drift."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.analysis import marcus
from chaosopt.dynamics import stable

GAMMA = 0.7
ALPHA = 1 / GAMMA


def _rk4_flow(x, dl, mu, n=200):
  """Unit-time flow of ẏ = -μ y ΔL (the Marcus definition of the jump), by RK4."""
  f = lambda y: -mu * y * dl
  h = 1.0 / n
  for _ in range(n):
    k1 = f(x); k2 = f(x + h / 2 * k1); k3 = f(x + h / 2 * k2); k4 = f(x + h * k3)
    x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
  return x


def test_jump_map_is_the_unit_time_flow_and_a_group():
  x = np.array([1.5, -0.3, 2.0])
  dl = np.array([0.7, -2.5, 4.0])
  mu = 0.6
  got = np.asarray(marcus.marcus_jump(jnp.asarray(x), jnp.asarray(dl), mu))
  np.testing.assert_allclose(got, _rk4_flow(x, dl, mu), rtol=1e-6)
  # flow property: two jumps = one jump of the summed size (Marcus integrals obey chain rules)
  two = marcus.marcus_jump(marcus.marcus_jump(jnp.asarray(x), 0.3, mu), 0.9, mu)
  np.testing.assert_allclose(np.asarray(two), np.asarray(marcus.marcus_jump(x, 1.2, mu)),
                             rtol=1e-6)


def _empirical_cf(samples, t):
  return np.mean(np.exp(1j * np.outer(t, samples)), axis=1)


# N = 10000 paths: each empirical CF value has standard deviation <= 1/sqrt(N) = 0.01, so a
# tolerance of 5/sqrt(N) = 0.05 is a 5-sigma bound at each of the 3 points. (A wrong increment
# scale dt instead of dt^{1/alpha} moves the CF at t = 1 by > 0.3.)
N = 10000
T_PTS = np.array([0.5, 1.0, 2.0])


def test_additive_only_is_sigma_L_t(beta=0.5):
  """μ = 0, R = 0: X_t = x0 + σ L_t with L_t ~ X_{α,β} of scale t^{1/α} (increments dt^{1/α})."""
  t_end, dt, sigma = 1.0, 0.1, 0.8
  x = marcus.simulate_marcus(jax.random.key(1), lambda x: jnp.zeros_like(x), jnp.zeros(1),
                             t_end=t_end, dt=dt, mu=0.0, sigma=sigma, alpha=ALPHA, beta=beta,
                             num_paths=N)
  lt = np.asarray(x[:, 0], np.float64) / sigma
  want = np.asarray(stable.stable_characteristic_function(T_PTS, ALPHA, beta,
                                                          scale=t_end ** (1 / ALPHA)))
  assert np.max(np.abs(_empirical_cf(lt, T_PTS) - want)) < 5 / np.sqrt(N)


def test_multiplicative_only_is_x0_exp_minus_mu_L_t():
  """σ = 0, R = 0: X_t = x0 exp(-μ L_t) exactly (Marcus, not Itô: no drift correction)."""
  t_end, dt, mu = 2.0, 0.2, 0.05
  x = marcus.simulate_marcus(jax.random.key(2), lambda x: jnp.zeros_like(x), jnp.ones(1) * 2.0,
                             t_end=t_end, dt=dt, mu=mu, sigma=0.0, alpha=ALPHA, beta=1.0,
                             num_paths=N)
  lt = -np.log(np.asarray(x[:, 0], np.float64) / 2.0) / mu
  # float32 underflows x to 0 only for L_t > ~1700 (probability ~1e-5): drop such paths; each
  # dropped path changes the empirical CF by at most 2/N.
  fin = np.isfinite(lt)
  assert fin.mean() > 0.999
  lt = lt[fin]
  want = np.asarray(stable.stable_characteristic_function(T_PTS, ALPHA, 1.0,
                                                          scale=t_end ** (1 / ALPHA)))
  assert np.max(np.abs(_empirical_cf(lt, T_PTS) - want)) < 5 / np.sqrt(N)


def test_drift_only_is_gradient_flow():
  a = jnp.array([1.0, 3.0])
  x = marcus.simulate_marcus(jax.random.key(0), lambda x: a * x, jnp.array([1.0, -2.0]),
                             t_end=1.0, dt=0.01, mu=0.0, sigma=0.0, alpha=ALPHA, num_paths=3)
  want = np.array([1.0, -2.0]) * np.exp(-np.asarray(a))
  # Strang splitting of two Heun half steps: local error O(dt^3), global O(dt^2) ~ 1e-4
  np.testing.assert_allclose(np.asarray(x), np.broadcast_to(want, (3, 2)), rtol=2e-4)


def test_validation():
  g = lambda x: x
  with pytest.raises(ValueError, match="t_end / dt"):
    marcus.simulate_marcus(jax.random.key(0), g, jnp.ones(1), t_end=1.0, dt=0.3, mu=0.0,
                           sigma=1.0, alpha=ALPHA, num_paths=2)
  with pytest.raises(ValueError, match="mu"):
    marcus.simulate_marcus(jax.random.key(0), g, jnp.ones(1), t_end=1.0, dt=0.5, mu=-1.0,
                           sigma=1.0, alpha=ALPHA, num_paths=2)
  with pytest.raises(ValueError, match="num_paths"):
    marcus.mpgd_ensemble(jax.random.key(0), g, jnp.ones(1), learning_rate=0.1, num_steps=2,
                         num_paths=0, gamma=GAMMA)


@pytest.mark.slow  # ~10 s of compilation on a shared 2-core machine; run with -m slow
def test_mpgd_ensemble_paths_differ_and_match_gd_without_noise():
  g = lambda x: 2.0 * x
  x, rec = marcus.mpgd_ensemble(jax.random.key(0), g, jnp.ones(2), learning_rate=0.1,
                                num_steps=4, num_paths=8, gamma=GAMMA, mu=0.0, sigma=0.0,
                                record_every=2)
  np.testing.assert_allclose(np.asarray(x), 0.8 ** 4 * np.ones((8, 2)), rtol=1e-6)
  assert rec.shape == (3, 8, 2)
  x, _ = marcus.mpgd_ensemble(jax.random.key(0), g, jnp.ones(2), learning_rate=0.1,
                              num_steps=4, num_paths=8, gamma=GAMMA, mu=0.5, sigma=0.5)
  assert len(np.unique(np.asarray(x[:, 0]))) == 8  # independent chains per path
