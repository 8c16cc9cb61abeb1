"""P3 Sec. 6 equilibrium statistics: unbiased G = ‖∇L‖², N = tr Σ_B, and the LSR bound.

Unbiasedness is a Monte-Carlo check: R = 4,000 replicate sets of K = 5 Gaussian "stochastic
gradients" with G = 0.1 and tr Cov = 10 (the noise-dominated regime of the LSR test, where the
naive ‖ḡ‖² is biased by tr Cov / K = 2 = 20 G). The replicate mean of Ĝ must be within 5 SE
(SE = sd(Ĝ)/√R ≈ 0.03) of G, and the naive estimator must be more than 5 SE off.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.analysis import equilibrium as eq
from chaosopt.estimators import sampling_noise as sn
from estimator_helpers import logistic_problem_with_jacobian


def test_unbiased_g_and_n():
  r, k, d = 4000, 5, 10
  rng = np.random.default_rng(0)
  mean = np.full(d, np.sqrt(0.1 / d))
  x = jnp.asarray(mean + rng.normal(size=(r, k, d)), jnp.float32)
  g_hat, n_hat = jax.jit(jax.vmap(eq.unbiased_sq_norm_and_trace))(x)
  g_hat, n_hat = np.asarray(g_hat, np.float64), np.asarray(n_hat, np.float64)
  se_g = g_hat.std(ddof=1) / np.sqrt(r)
  se_n = n_hat.std(ddof=1) / np.sqrt(r)
  assert abs(g_hat.mean() - 0.1) < 5 * se_g
  assert abs(n_hat.mean() - d) < 5 * se_n
  naive = np.sum(np.asarray(x, np.float64).mean(1) ** 2, axis=-1)
  assert naive.mean() - 0.1 > 5 * naive.std(ddof=1) / np.sqrt(r)  # biased by N/K = 2


def test_finite_data_statistics_match_sampling_noise_formula():
  loss, params, data, jmat = logistic_problem_with_jacobian(n=10, d=3, seed=4)
  for b, rep, kind in [(3, True, "sgd"), (3, False, "sgd_without_replacement")]:
    st = eq.finite_data_noise_statistics(jmat, b, replacement=rep)
    cov = jmat.T @ sn.sampling_noise_covariance(kind, 10, b) @ jmat
    assert float(st["N"]) == pytest.approx(np.trace(cov), rel=1e-6)
    assert float(st["G"]) == pytest.approx(np.sum(jmat.mean(0) ** 2), rel=1e-6)
    assert float(st["ratio_G_over_N"]) == pytest.approx(float(st["G"]) / float(st["N"]))
  full = eq.finite_data_noise_statistics(jmat, 10, replacement=False)
  assert float(full["N"]) == pytest.approx(0.0, abs=1e-12)  # full batch: no noise


def test_population_statistics_scale_with_batch():
  g = np.random.default_rng(1).normal(size=(50, 4))
  s1 = eq.population_noise_statistics(g, 1)
  s8 = eq.population_noise_statistics(g, 8)
  assert float(s8["N"]) == pytest.approx(float(s1["N"]) / 8)
  assert float(s8["G"]) == pytest.approx(float(s1["G"]))
  assert float(s1["N_1"]) == pytest.approx(np.sum(np.var(g, axis=0, ddof=1)), rel=1e-5)


def test_lsr_bound_and_critical_batch():
  assert eq.lsr_kappa_bound(1.0, 3.0) == pytest.approx(8.0)  # C^2 (1 + N/G), C^2 = 2
  assert eq.lsr_kappa_bound(1.0, 3.0, c_squared=4.0) == pytest.approx(16.0)
  assert eq.predicted_critical_batch_size(64, 1.0, 3.0) == pytest.approx(384.0)  # 2·64·3
  assert eq.predicted_critical_batch_size(64, 1.0, 3.0, approximate=False) == pytest.approx(512.)
  for bad in (lambda: eq.lsr_kappa_bound(0.0, 1.0), lambda: eq.lsr_kappa_bound(1.0, 1.0, 1.0),
              lambda: eq.predicted_critical_batch_size(8, -1.0, 1.0)):
    with pytest.raises(ValueError):
      bad()


def test_lsr_break_batch_size():
  bs = [32, 64, 128, 256, 512]
  assert eq.lsr_break_batch_size(bs, [0.10, 0.10, 0.11, 0.13, 0.30]) == 256
  assert eq.lsr_break_batch_size(bs, [0.10, 0.10, 0.11, 0.11, 0.115]) is None
  assert eq.lsr_break_batch_size(bs, [0.10, 0.10, 0.11, float("nan"), 0.1]) == 256


def test_shape_checks():
  with pytest.raises(ValueError):
    eq.unbiased_sq_norm_and_trace(np.ones((1, 3)))
  with pytest.raises(ValueError):
    eq.unbiased_sq_norm_and_trace(np.ones(3))
  with pytest.raises(ValueError):
    eq.finite_data_noise_statistics(np.ones((4, 2)), 5, replacement=False)


def test_lsi_holds_from_r_g_n():
  """P3 Def. 6.4: R, N/κ and G each within a factor C; exact LSR scaling (N ∝ 1/B) holds."""
  c = 2 ** 0.5
  assert eq.lsi_holds(1.0, 0.5, 4.0, 1.0, 0.5, 1.0, 4.0, c)     # N_B/(κ N_κB) = 1
  assert not eq.lsi_holds(1.0, 0.5, 4.0, 1.5, 0.5, 1.0, 4.0, c)  # R ratio 0.67 < 1/√2
  assert not eq.lsi_holds(1.0, 0.5, 4.0, 1.0, 0.5, 4.0, 4.0, c)  # N did not fall with κ
  with pytest.raises(ValueError):
    eq.lsi_holds(1, 1, 1, 1, 1, 1, 2.0, 1.0)
