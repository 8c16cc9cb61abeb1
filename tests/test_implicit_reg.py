"""Tests of the Thm. 4.3 second-order prediction (P0 Sec. 4.3) against hand/brute-force sums."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.analysis import implicit_reg as ir

ETA, GAMMA = 0.05, 0.7
C = ETA ** GAMMA


def loss(x):
  return 0.25 * x[0] ** 4 + 0.5 * x[0] ** 2 * x[1] ** 2 + 0.5 * x[1] ** 2


def grad_np(x):
  return np.array([x[0] ** 3 + x[0] * x[1] ** 2, x[0] ** 2 * x[1] + x[1]])


def hess_np(x):
  return np.array([[3 * x[0] ** 2 + x[1] ** 2, 2 * x[0] * x[1]], [2 * x[0] * x[1], x[0] ** 2 + 1]])


def t3_np(x, c):  # sum_pq C_pq d_p d_q d_j R, by hand
  return np.array([6 * x[0] * c[0, 0] + 4 * x[1] * c[0, 1] + 2 * x[0] * c[1, 1],
                   2 * x[1] * c[0, 0] + 4 * x[0] * c[0, 1]])


def brute_force(x0, K, mu0, sigma0, rho, shared):
  """C_k, λ_k, κ_k straight from the definitions (double sums over Φ_i = Π_{j=i}^{k-1} J_j)."""
  xb = [np.asarray(x0, np.float64)]
  for _ in range(K):
    xb.append(xb[-1] - ETA * grad_np(xb[-1]))
  J = [np.eye(2) - ETA * hess_np(x) for x in xb]

  def phi(i, k):
    m = np.eye(2)
    for j in range(i, k):
      m = J[j] @ m
    return m

  def S(i, j):  # E[ξ_i ξ_jᵀ]
    r = rho[abs(i - j)]
    mult = np.outer(xb[i], xb[j]) if shared else np.diag(xb[i] * xb[j])
    return C ** 2 * r * (mu0 ** 2 * mult + sigma0 ** 2 * np.eye(2))

  def cov(k):
    return sum((phi(i1, k) @ S(i1 - 1, i2 - 1) @ phi(i2, k).T
                for i1 in range(1, k + 1) for i2 in range(1, k + 1)), np.zeros((2, 2)))

  def g(j):  # E[v1_j ⊙ a_j]
    out = np.zeros(2)
    for i in range(1, j + 1):
      p = phi(i, j)
      w = -mu0 * C * rho[j - i + 1] * xb[i - 1]
      out += p @ w if shared else np.diag(p) * w
    return out

  covs = [cov(k) for k in range(K + 1)]
  lam = [sum((phi(i, k) @ (ETA * t3_np(xb[i - 1], covs[i - 1])) for i in range(1, k + 1)),
             np.zeros(2)) for k in range(K + 1)]
  kap = [sum((phi(i, k) @ (-mu0 * C * g(i - 1)) for i in range(1, k + 1)), np.zeros(2))
         for k in range(K + 1)]
  return np.array(covs), np.array(lam), np.array(kap), np.array(xb)


@pytest.mark.parametrize("shared", [False, True])
def test_recursions_match_the_double_sums(shared):
  K = 9
  rho = 2.0 * 0.7 ** np.arange(K + 2) + 0.3  # any correlation sequence (algebra only)
  x0 = np.array([1.2, -0.8])
  # float32 (x64 off): 9 steps of O(1) arithmetic, so rtol 1e-4 leaves ~100 ulps of room
  pred = ir.second_order_moments(loss, jnp.asarray(x0, jnp.float32), eta=ETA, gamma=GAMMA,
                                 mu0=0.7, sigma0=0.4, rho=rho, num_steps=K,
                                 shared_multiplicative=shared)
  covs, lam, kap, xb = brute_force(x0, K, 0.7, 0.4, rho, shared)
  tol = dict(rtol=1e-4, atol=1e-9)
  np.testing.assert_allclose(np.asarray(pred.xbar), xb, **tol)
  np.testing.assert_allclose(np.asarray(pred.cov), covs, **tol)
  np.testing.assert_allclose(np.asarray(pred.lam), lam, **tol)
  np.testing.assert_allclose(np.asarray(pred.kappa), kap, **tol)
  # the printed Thm 4.3 value: ½ (tr(C ∇²R) - ∇Rᵀ λ)
  paper = np.asarray(ir.predicted_shift(loss, pred, include_kappa=False))
  want = [0.5 * (np.sum(c * hess_np(x)) - grad_np(x) @ l) for c, l, x in zip(covs, lam, xb)]
  np.testing.assert_allclose(paper, want, **tol)
  full = np.asarray(ir.predicted_shift(loss, pred, include_kappa=True))
  np.testing.assert_allclose(full - paper, [grad_np(x) @ k for k, x in zip(kap, xb)],
                             rtol=1e-3, atol=1e-9)


def test_quadratic_white_noise_by_hand():
  """R = a x²/2, additive white noise: C_k = σ0² η^{2γ} ρ0 (1 - J^{2k}) / (1 - J²), λ = κ = 0."""
  a, K, rho0 = 3.0, 25, 1.7
  rho = np.zeros(K + 1); rho[0] = rho0
  pred = ir.second_order_moments(lambda x: 0.5 * a * x[0] ** 2, jnp.array([1.0]), eta=ETA,
                                 gamma=GAMMA, mu0=0.0, sigma0=0.5, rho=rho, num_steps=K)
  J = 1 - ETA * a
  k = np.arange(K + 1)
  ck = 0.25 * C ** 2 * rho0 * (1 - J ** (2 * k)) / (1 - J ** 2)
  np.testing.assert_allclose(np.asarray(pred.cov)[:, 0, 0], ck, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(pred.lam), 0.0, atol=1e-12)
  shift = ir.predicted_shift(lambda x: 0.5 * a * x[0] ** 2, pred, include_kappa=True)
  np.testing.assert_allclose(np.asarray(shift), 0.5 * a * ck, rtol=1e-5)


def test_multiplicative_correlation_term_sign():
  """1-D, R = 0, constant correlation ρ: E x_k = x0 E Π(1 - ε μ0 c v_j) = x0 (1 + ε² μ0² c²
  ρ k(k-1)/2) + O(ε³), so κ_k = μ0² c² ρ k(k-1)/2 · x0 (positive: the paper's formula has no κ)."""
  K, r, x0 = 6, 0.4, 2.0
  rho = np.full(K + 2, r)
  pred = ir.second_order_moments(lambda x: 0.0 * x[0], jnp.array([x0]), eta=ETA, gamma=GAMMA,
                                 mu0=1.0, sigma0=0.0, rho=rho, num_steps=K)
  k = np.arange(K + 1)
  np.testing.assert_allclose(np.asarray(pred.kappa)[:, 0], C ** 2 * r * k * (k - 1) / 2 * x0,
                             rtol=1e-5)


def test_validation():
  with pytest.raises(ValueError, match="rho"):
    ir.second_order_moments(loss, jnp.ones(2), eta=0.1, gamma=GAMMA, mu0=1.0, sigma0=1.0,
                            rho=np.ones(3), num_steps=5)
  with pytest.raises(ValueError, match="eta"):
    ir.second_order_moments(loss, jnp.ones(2), eta=0.0, gamma=GAMMA, mu0=1.0, sigma0=1.0,
                            rho=np.ones(9), num_steps=5)
