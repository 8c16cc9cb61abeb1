"""NGD (P3 eq. 5 via the sampling-noise trick of P4 Sec. 4.1): SGD's mean and covariance,
Gaussian shape.

The NGD gradient ``∇𝓛 (1/n + V_G)``, ``V_G ~ N(0, Var V_sgd(b))``, is compared with batch-b SGD
(with and without replacement) on a small logistic model: mean ∇L and covariance
Σ_b = Jᵀ Var[V_sgd(b)] J, checked against the exact Σ_b AND against the empirical covariance of
real mini-batch SGD gradients, M = 40,000 draws each, Z = 5 Monte-Carlo SE per entry
(``estimator_helpers``). Shape: along a fixed direction u, NGD's standardized 4th moment is 3
(Gaussian) within 5 SE (SE ≈ √(96/M) = 0.049 for a Gaussian, i.e. ±0.25), while batch-1 SGD's
exact kurtosis on this data set is far from 3, so the check discriminates.
"""
from __future__ import annotations

import jax
import numpy as np
import pytest

from chaosopt.estimators import msgd, ngd
from chaosopt.estimators import sampling_noise as sn
from estimator_helpers import assert_mean_cov, flat, logistic_problem_with_jacobian

N, M = 8, 40_000


@pytest.fixture(scope="module")
def problem():
  loss, params, data, jmat = logistic_problem_with_jacobian(n=N, d=3, seed=2)
  return loss, params, data, jmat


@pytest.fixture(scope="module")
def samples(problem):
  loss, params, data, _ = problem
  cases = {"ngd_b2": (2, True), "ngd_b2_wo": (2, False), "ngd_b1": (1, True)}

  @jax.jit
  def run(key):
    ks = jax.random.split(key, 5)
    out = {}
    for (name, (b, rep)), k in zip(cases.items(), ks):
      out[name] = jax.vmap(lambda kk, b=b, rep=rep: flat(ngd.ngd_gradient(
          loss, params, data, kk, batch_size=b, replacement=rep)[0]))(jax.random.split(k, M))
    out["sgd_b2"] = jax.vmap(lambda kk: flat(msgd.sgd_gradient(
        loss, params, data, kk, batch_size=2)[0]))(jax.random.split(ks[3], M))
    out["sgd_b2_wo"] = jax.vmap(lambda kk: flat(msgd.sgd_gradient(
        loss, params, data, kk, batch_size=2, replacement=False)[0]))(jax.random.split(ks[4], M))
    return out

  return jax.tree_util.tree_map(np.asarray, run(jax.random.key(11)))


@pytest.mark.parametrize("name,b,kind", [("ngd_b2", 2, "sgd"),
                                         ("ngd_b2_wo", 2, "sgd_without_replacement"),
                                         ("ngd_b1", 1, "sgd")])
def test_ngd_matches_exact_sgd_covariance(problem, samples, name, b, kind):
  _, _, _, jmat = problem
  cov = jmat.T @ sn.sampling_noise_covariance(kind, N, b) @ jmat
  assert_mean_cov(samples[name], jmat.mean(0), cov, what=name)


@pytest.mark.parametrize("ngd_name,sgd_name", [("ngd_b2", "sgd_b2"), ("ngd_b2_wo", "sgd_b2_wo")])
def test_ngd_matches_empirical_sgd_covariance(samples, ngd_name, sgd_name):
  # two independent sample covariances: the SE of their difference is sqrt(SE1² + SE2²)
  a, s = samples[ngd_name], samples[sgd_name]
  ca, cs = np.cov(a.T), np.cov(s.T)

  def se(x):
    c = x - x.mean(0)
    return (c[:, :, None] * c[:, None, :]).std(0, ddof=1) / np.sqrt(len(x))

  tol = 5 * np.sqrt(se(a) ** 2 + se(s) ** 2)
  assert np.all(np.abs(ca - cs) <= tol), np.max(np.abs(ca - cs) / tol)


def test_ngd_noise_is_gaussian_sgd_is_not(problem, samples):
  _, _, _, jmat = problem
  u = np.linspace(1.0, -0.5, jmat.shape[1])
  x = samples["ngd_b1"] @ u
  z = (x - x.mean()) / x.std()
  kurt = np.mean(z ** 4)
  se = np.sqrt(np.var(z ** 4) / len(z))
  assert abs(kurt - 3.0) < 5 * se
  # exact kurtosis of batch-1 SGD along u: uniform over the n per-example gradients
  p = jmat @ u
  pc = p - p.mean()
  kurt_sgd = np.mean(pc ** 4) / np.mean(pc ** 2) ** 2
  assert abs(kurt_sgd - 3.0) > 10 * se


def test_ngd_rejects_bad_batch(problem):
  loss, params, data, _ = problem
  with pytest.raises(ValueError):
    ngd.ngd_gradient(loss, params, data, jax.random.key(0), batch_size=N + 1, replacement=False)
