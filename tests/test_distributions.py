"""Tests for chaosopt.analysis.distributions (P1 eq. 2, Thm. 4 and 7)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from chaosopt.analysis import distributions as di
from chaosopt.tasks import multiscale as ms

EDGES = [np.linspace(-4, 4, 41)]


def _normal_logpdf(x):
  return -0.5 * jnp.sum(x ** 2)


def test_bin_probabilities_match_normal_cdf():
  q = di.bin_probabilities(_normal_logpdf, EDGES, total_edges=[np.linspace(-10, 10, 101)])
  want = np.diff(stats.norm.cdf(EDGES[0]))
  np.testing.assert_allclose(q, want, atol=2e-4)


def test_tv_identical_and_independent_samples():
  rng = np.random.RandomState(0)
  a = rng.randn(100000)
  p, po = di.histogram_probs(a, EDGES)
  assert di.total_variation(p, p, po, po) == 0.0
  # two independent samples of n: E TV ~ sqrt(2) * floor(n); allow 3 * floor.
  q, qo = di.histogram_probs(rng.randn(100000), EDGES)
  truth = np.diff(stats.norm.cdf(EDGES[0]))
  floor = di.tv_sampling_floor(truth, 100000)
  assert di.total_variation(p, q, po, qo) < 3 * floor
  assert di.total_variation(p, truth, po, 0.0) < 2 * floor
  # a shifted sample is clearly far: TV(N(0,1), N(0.5,1)) = 2 Phi(0.25) - 1 = 0.197
  s, so = di.histogram_probs(a + 0.5, EDGES)
  assert di.total_variation(s, truth, so, 0.0) == pytest.approx(0.197, abs=0.01)


def test_wasserstein1_to_density():
  rng = np.random.RandomState(1)
  a = rng.randn(100000)
  grid = np.linspace(-6, 6, 2401)
  pdf = np.exp(-grid ** 2 / 2)
  # E W1 ~ 1/sqrt(n) = 0.003 for n = 1e5; 0.01 is a loose bound
  assert di.wasserstein1_to_density(a, grid, pdf) < 0.01
  # W1 of a shift is the shift
  assert di.wasserstein1_to_density(a + 0.3, grid, pdf) == pytest.approx(0.3, abs=0.01)
  assert di.wasserstein1_samples(a, a + 0.3) == pytest.approx(0.3, abs=1e-9)


def test_stochastic_map_reaches_rescaled_gibbs():
  # Thm 7: phi_hat's invariant law is rescaled Gibbs up to O(eta^2). quadratic_sin, eta = 0.05:
  # Gibbs is N(0, eta sigma2 / 2) = N(0, 0.0125). 4000 orbits, 300 steps (mixing time
  # ~ 1/eta = 20 steps, so 300 steps contract the start by 0.95^300 ~ 2e-7). TV floor for n = 4000 over 40 bins ~ 0.03; allow 3 floors.
  obj = ms.quadratic_sin(1e-2)
  eta, n = 0.05, 4000
  x0 = jnp.full((n, 1), 0.5)
  _, snaps = di.iterate_ensemble(di.stochastic_map_step(obj, eta), (x0, jax.random.PRNGKey(0)),
                                 300,
                                 snapshots=[300], chunk_size=300, observe=lambda c: c[0])
  edges = [np.linspace(-0.5, 0.5, 41)]
  q = di.bin_probabilities(di.rescaled_gibbs_logpdf(obj.f0, eta, obj.sigma2), edges)
  p, po = di.histogram_probs(snaps[300], edges)
  assert di.total_variation(p, q, po, 0.0) < 3 * di.tv_sampling_floor(q, n)


def test_orbit_histogram_counts_every_step():
  counts, outside, x = di.orbit_histogram(lambda x: 4 * x * (1 - x), jnp.array([0.2]), 5000,
                                          lo=[0.0], hi=[0.5], bins=10, burn_in=1000,
                                          chunk_size=1000)
  assert counts.sum() + outside == 4000
  # logistic r=4 invariant density 1/(pi sqrt(x(1-x))): half the mass is in [0, 0.5]
  assert counts.sum() / 4000 == pytest.approx(0.5, abs=0.05)


def test_orbit_histogram_2d_and_snapshot_validation():
  counts, outside, _ = di.orbit_histogram(lambda x: x * 0.5, jnp.array([0.3, -0.3]), 10,
                                          lo=[-1, -1], hi=[1, 1], bins=4)
  assert counts.shape == (4, 4) and counts.sum() == 10 and outside == 0
  with pytest.raises(ValueError, match="multiple"):
    di.iterate_ensemble(lambda x: x, jnp.zeros((2, 1)), 10, snapshots=[5], chunk_size=10)
