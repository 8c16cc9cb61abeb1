"""SVAG (P3 eq. 3): the combined gradient keeps the mean ∇L and multiplies the covariance by l.

``∇[c1 L_γ1 + c2 L_γ2]`` with two independent size-b batches and ``c_{1,2} = (1 ± √(2l-1))/2``
has mean ∇L (c1 + c2 = 1) and covariance ``(c1² + c2²) Σ_b = l Σ_b``, Σ_b = Jᵀ Var[V_sgd(b)] J
(P4 eq. 1). Checked for l ∈ {1, 4, 16} with M = 40,000 draws each (one jitted program), Z = 5
Monte-Carlo standard errors per entry estimated from the samples (``estimator_helpers``).
"""
from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

from chaosopt.estimators import svag
from chaosopt.estimators import sampling_noise as sn
from estimator_helpers import assert_mean_cov, flat, logistic_problem_with_jacobian

N, B, M = 8, 2, 40_000
LS = (1, 4, 16)


@pytest.fixture(scope="module")
def problem():
  loss, params, data, jmat = logistic_problem_with_jacobian(n=N, d=3, seed=1)
  return loss, params, data, jmat


@pytest.fixture(scope="module")
def samples(problem):
  loss, params, data, _ = problem

  @jax.jit
  def run(key):
    out = {}
    for l, k in zip(LS, jax.random.split(key, len(LS))):
      est = lambda kk, l=l: flat(svag.svag_gradient(loss, params, data, kk, batch_size=B, l=l)[0])
      out[l] = jax.vmap(est)(jax.random.split(k, M))
    return out

  return jax.tree_util.tree_map(np.asarray, run(jax.random.key(3)))


@pytest.mark.parametrize("l", LS)
def test_mean_kept_and_covariance_times_l(problem, samples, l):
  _, _, _, jmat = problem
  sigma_b = jmat.T @ sn.sampling_noise_covariance("sgd", N, B) @ jmat
  assert_mean_cov(samples[l], jmat.mean(0), l * sigma_b, what=f"SVAG l={l}")


def test_covariance_grows_with_l(problem, samples):
  tr = [np.trace(np.cov(samples[l].T)) for l in LS]
  np.testing.assert_allclose(np.array(tr) / tr[0], np.array(LS, float), rtol=0.05)


@pytest.mark.parametrize("l", [1, 2, 5, 16, 100])
def test_coefficients(l):
  c1, c2 = svag.svag_coefficients(l)
  assert c1 + c2 == pytest.approx(1.0)
  assert c1 ** 2 + c2 ** 2 == pytest.approx(l)
  if l == 1:
    assert (c1, c2) == (1.0, 0.0)  # SVAG with l = 1 is SGD


def test_step_size_and_steps():
  assert svag.svag_learning_rate(0.8, 4) == pytest.approx(0.2)
  sched = optax.piecewise_constant_schedule(1.0, {10: 0.1})
  lr = svag.svag_learning_rate(sched, 4)
  assert float(lr(39)) == pytest.approx(0.25) and float(lr(40)) == pytest.approx(0.025)
  assert svag.svag_num_steps(100, 8) == 800
  assert svag.effective_steps(800, 8) == 100


@pytest.mark.parametrize("l", [0, -1, 1.5, True])
def test_bad_l_raises(l):
  with pytest.raises(ValueError, match="l"):
    svag.svag_coefficients(l)
