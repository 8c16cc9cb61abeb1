"""Tests for chaosopt.analysis.lyapunov (P1 eq. 4 and Thm. 9)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.analysis import lyapunov as ly
from chaosopt.tasks import multiscale as ms


def test_logistic_map_r4_is_ln2():
  # r = 4: lambda = ln 2 exactly; with 20000 iterates the time average is within ~0.01
  # (the observable ln|4 - 8x| has O(1) variance and fast decay of correlations).
  # float64: in float32 the orbit can collapse onto a short cycle of the rounded map.
  with ms.x64_scope():
    lam = ly.lyapunov_exponents(lambda x, p: 4.0 * x * (1.0 - x),
                                jnp.array([[0.1234], [0.377]]), num_steps=20000, burn_in=100)
  np.testing.assert_allclose(lam, math.log(2.0), atol=0.01)


@pytest.mark.parametrize("method", ["norm", "tangent"])
def test_linear_map_exact(method):
  a = jnp.diag(jnp.array([2.0, 0.5]))
  lam = ly.lyapunov_exponents(lambda x, p: a @ x * p, jnp.ones((3, 2)) * 1e-3,
                              jnp.array([1.0, 1.0, 0.5]), num_steps=20, burn_in=20,
                              method=method)
  np.testing.assert_allclose(lam, [math.log(2), math.log(2), 0.0], atol=1e-5)


def test_theorem9_quartic_sin_x64():
  # Thm 9: lambda = m + ln(eta/eps) + O(eps + eta), m = -ln 2. eta = 0.1, eps = 1e-6 and
  # 20000 iterates: O(eta) bias plus sampling error ~ 0.02; tolerance 0.1.
  with ms.x64_scope():
    obj = ms.quartic_sin(1e-6)
    lam = ly.lyapunov_exponents(lambda x, p: obj.gd_map(x, p), jnp.array([[0.3], [-0.7]]),
                                jnp.array([0.1, 0.1]), num_steps=20000, burn_in=100)
  np.testing.assert_allclose(lam - math.log(0.1 / 1e-6), -math.log(2.0), atol=0.1)


def test_measure_m_and_torus_average():
  # Monte Carlo m for eps sin(x/eps) (eps = 1e-2 is float32-safe): -ln 2 within 5 SE.
  m, se = ly.measure_m(ms.quartic_sin(1e-2), jax.random.PRNGKey(0), num_samples=100000)
  assert abs(m + math.log(2)) < 5 * se
  assert ly.torus_average(lambda a: np.log(np.abs(np.sin(a))), 1, 100000) == pytest.approx(
      -math.log(2), abs=1e-3)
  # docs/errata.md: the quasi-periodic m is 0, not the printed -0.0117.
  m_q = ly.torus_average(lambda a, b: np.log(np.abs(np.sin(a) + 2 * np.sin(b))), 2, 2000)
  assert abs(m_q) < 2e-3


def test_bad_method():
  with pytest.raises(ValueError, match="method"):
    ly.lyapunov_exponents(lambda x, p: x, jnp.ones((1, 1)), num_steps=3, method="qr")
  with pytest.raises(ValueError, match="x0"):
    ly.lyapunov_exponents(lambda x, p: x, jnp.ones((3,)), num_steps=3)
