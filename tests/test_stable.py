"""Tests of chaosopt.dynamics.stable (CMS sampling, characteristic function; P0 Sec. 3, P2)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from chaosopt.dynamics.stable import sample_sas, sample_stable, stable_characteristic_function


def test_scipy_uses_s1():
  # Our law is S_alpha(s, beta, 0) = scipy's "S1"; the comparisons below rely on it.
  assert stats.levy_stable.parameterization == "S1"


@pytest.mark.parametrize("alpha,beta,scale", [(1.5, 0.5, 2.0), (0.7, -0.3, 1.0),
                                              (1.0, 0.5, 1.5), (1.9, 0.0, 0.5)])
def test_ks_against_scipy(alpha, beta, scale):
  # n = 1200 draws at a fixed seed; under H0 the KS p-value is U(0,1): reject only below 1e-3.
  # (scipy's levy_stable.cdf costs ~1 ms a point, so n is kept small for the 60 s test budget.)
  x = np.asarray(sample_stable(jax.random.key(11), alpha, beta, (1200,), scale), np.float64)
  p = stats.kstest(x, stats.levy_stable(alpha, beta, scale=scale).cdf).pvalue
  assert p > 1e-3, p


@pytest.mark.parametrize("alpha,beta,scale", [(1.6, 0.5, 1.0), (0.6, -0.8, 2.0), (1.0, 0.7, 1.5),
                                              (1.0, 0.0, 1.0), (2.0, 0.3, 0.7), (0.3, 0.0, 1.0),
                                              (1.2, -1.0, 1.0)])
def test_empirical_cf_matches(alpha, beta, scale):
  # |mean e^{itX} - phi(t)| has std <= 1/sqrt(n) (|e^{itX}| = 1); 5 std with n = 10^5.
  n = 100_000
  x = np.asarray(sample_stable(jax.random.key(3), alpha, beta, (n,), scale), np.float64)
  t = np.array([-1.3, -0.4, 0.2, 0.5, 1.0, 2.0])
  emp = np.exp(1j * np.outer(t, x)).mean(axis=1)
  phi = np.asarray(stable_characteristic_function(t, alpha, beta, scale))
  assert np.max(np.abs(emp - phi)) < 5 / math.sqrt(n), (emp, phi)


def test_cf_special_cases():
  t = jnp.linspace(-3, 3, 13)
  np.testing.assert_allclose(stable_characteristic_function(t, 2.0, 0.9), np.exp(-t ** 2),
                             rtol=1e-5, atol=1e-6)  # N(0, 2) whatever beta
  np.testing.assert_allclose(stable_characteristic_function(t, 1.0, 0.0, 2.0),
                             np.exp(-2 * np.abs(t)), rtol=1e-5)  # Cauchy(scale 2)
  np.testing.assert_allclose(stable_characteristic_function(0.0, 0.5, 1.0), 1.0)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.3])
def test_small_alpha_float32_is_finite(alpha):
  x = sample_stable(jax.random.key(0), alpha, 0.5, (50_000,), dtype=jnp.float32)
  assert x.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(x)))
  # median of |X| is scale-free and finite: compare with scipy's (S1) quantile of |X| via CF-free
  # route: sign balance P(X > 0) for beta = 0.5 agrees with scipy's cdf(0) within 5 std.
  p_pos = float(jnp.mean(x > 0))
  ref = 1 - stats.levy_stable.cdf(0.0, alpha, 0.5)
  assert abs(p_pos - ref) < 5 * math.sqrt(0.25 / x.size), (p_pos, ref)


def test_gaussian_and_total_skew_support():
  x = sample_stable(jax.random.key(1), 2.0, 0.0, (200_000,), scale=1.5)
  # alpha = 2: N(0, 2 s^2); var estimate has rel. std sqrt(2/n) ~ 0.3%: 5 std.
  assert abs(float(jnp.var(x)) / (2 * 1.5 ** 2) - 1) < 5 * math.sqrt(2 / x.size)
  y = sample_stable(jax.random.key(2), 0.6, 1.0, (50_000,))
  assert bool(jnp.all(y >= 0))  # alpha < 1, beta = 1: support [0, inf)


def test_keys_jit_vmap_and_per_coordinate_alpha():
  k = jax.random.key(5)
  f = jax.jit(lambda k: sample_stable(k, 1.3, 0.2, (64,)))
  np.testing.assert_array_equal(np.asarray(f(k)), np.asarray(f(k)))  # same key: bit-identical
  # eager vs jit: same math, XLA may fuse differently (last-ulp differences only)
  np.testing.assert_allclose(sample_stable(k, 1.3, 0.2, (64,)), f(k), rtol=1e-5)
  keys = jax.random.split(k, 8)
  v = jax.vmap(lambda kk: sample_sas(kk, 1.3, (64,)))(keys)
  assert v.shape == (8, 64) and len({float(r[0]) for r in v}) == 8
  alphas = jnp.array([0.5, 1.0, 1.5, 2.0])
  w = sample_stable(k, alphas, 0.0, (1000, 4))
  assert w.shape == (1000, 4) and bool(jnp.all(jnp.isfinite(w)))
  # traced alpha (vmapped over a hyper-parameter axis)
  z = jax.vmap(lambda al: sample_sas(k, al, (10,)))(alphas)
  assert z.shape == (4, 10)


@pytest.mark.parametrize("kw", [dict(alpha=0.0), dict(alpha=2.5), dict(alpha=1.0, beta=1.5),
                                dict(alpha=1.0, scale=-1.0)])
def test_validation(kw):
  alpha = kw.pop("alpha")
  with pytest.raises(ValueError, match="alpha|beta|scale"):
    sample_stable(jax.random.key(0), alpha, shape=(3,), **kw)
