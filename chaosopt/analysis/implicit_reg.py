"""Implicit regularization of MPGD in the weak-perturbation regime (P0 Thm. 4.3, Sec. 4.3).

MPGD (eq. 8, η^γ erratum) with μ = μ0 ε, σ = σ0 ε and step η = 1/m:

    x_{k+1} = x_k - η ∇R(x_k) + ε ξ_k(x_k),     ξ_k(x) = -μ0 η^γ v1_k ⊙ x + σ0 η^γ v2_k,

and x̄_k the GD path (ε = 0). Expanding x_k = x̄_k + ε a_k + ε² b_k + O(ε³) with
J_k = I - η ∇²R(x̄_k):

    a_{k+1} = J_k a_k + ξ_k(x̄_k),                  a_0 = 0,
    b_{k+1} = J_k b_k - (η/2) ∇³R(x̄_k)[a_k, a_k] - μ0 η^γ v1_k ⊙ a_k,   b_0 = 0,

so with C_k = E[a_k a_kᵀ] (E a_k = 0 because E v = 0 under the invariant measure),

    E R(x_k) = R(x̄_k) + ε² ( ½ tr(C_k ∇²R(x̄_k)) + ∇R(x̄_k)ᵀ (κ_k - λ_k / 2) ) + O(ε³),

    λ_{k+1} = J_k λ_k + η ∇³R(x̄_k)[C_k]   (= the paper's λ_k: [λ_k]^l = (1/m) Σ_{i≤k} Σ_j
              [Φ_i]^{lj} tr(C_{i-1} ∇²[∇R]^j(x̄_{i-1})), Φ_i = Π_{j=i}^{k-1} J_j),
    κ_{k+1} = J_k κ_k - μ0 η^γ E[v1_k ⊙ a_k].

Theorem 4.3 as printed is the ``paper`` part ½ (tr(C_k ∇²R) - ∇Rᵀ λ_k); it has no κ_k.
κ_k vanishes for i.i.d. (uncorrelated-in-time) multiplicative noise but NOT for the Thaler
observables, whose autocorrelation ρ(τ) = E[v_0 v_τ] decays slowly (≈ τ^{1-α}): a_k contains
the past v1's, so E[v1_k a_k] ≠ 0. We compute both (``paper`` and ``full = paper + ∇Rᵀκ``).
Other points where we had to read the printed statement:

* θ uses the *perturbed* iterates [x_{i-1}]^r; at O(ε²) these must be the GD iterates x̄_{i-1}
  (otherwise C_k would be random); we use x̄.
* The GD recursion is printed without ∇ (x̄_{k+1} = x̄_k - R(x̄_k)/m); it is GD.
* The theorem assumes r1 = 1 (one scalar multiplicative chain shared by all coordinates);
  ``chaosopt.mpgd`` uses one chain per coordinate (r1 = d), which only changes the noise
  covariance: E[ξ^r_i ξ^s_j] = δ_rs η^{2γ} ρ(|i-j|) (μ0² x̄^r_i x̄^r_j + σ0²). Both are supported
  (``shared_multiplicative``).
* The remark after the theorem bounds "∇Rᵀ v_k / tr(C_k ∇²R)"; v_k there is λ_k.

C_k has no Markov recursion when the noise is correlated in time; we carry the response matrices
Φ_i^{(k)} (i ≤ k) and D_k = E[a_k ξ_kᵀ] = Σ_i Φ_i^{(k)} E[ξ_{i-1} ξ_kᵀ], so that
C_{k+1} = J C Jᵀ + J D + Dᵀ Jᵀ + E[ξ_k ξ_kᵀ]: O(K d²) work per step, one jitted ``lax.scan``.
The chains are stationary (invariant-measure start, excursion signs independent of position),
so E[v_i v_j] = ρ(|i-j|), estimated by :func:`chain_autocorrelation`.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt import _validation
from chaosopt.dynamics import observables, random_bits

LossFn = Callable[[jax.Array], jax.Array]


def gd_path(loss_fn: LossFn, x0, eta: float, num_steps: int) -> jax.Array:
  """GD iterates x̄_0 … x̄_K (``[K + 1, d]``)."""
  grad = jax.grad(loss_fn)

  def body(x, _):
    x1 = x - eta * grad(x)
    return x1, x1

  x0 = jnp.asarray(x0)
  _, xs = jax.jit(lambda x: jax.lax.scan(body, x, None, length=num_steps))(x0)
  return jnp.concatenate([x0[None], xs], axis=0)


def chain_autocorrelation(key, gamma: float, beta: float, *, max_lag: int, num_chains: int,
                          length: int, sign_rule: observables.SignRule = "excursion",
                          dtype=None) -> np.ndarray:
  """ρ(τ) = E[v^{(0)} v^{(τ)}], τ = 0 … max_lag, of the signed MPGD observable.

  ``num_chains`` independent chains started from the invariant measure, each run ``length``
  steps; products are averaged over chains and time origins (FFT). float64 numpy.
  """
  if max_lag >= length:
    raise ValueError(f"max_lag ({max_lag}) must be < length ({length})")
  k_init, k_run = jax.random.split(key)
  state = observables.init_chains(k_init, (num_chains,), gamma, beta, sign_rule,
                                  "invariant", dtype)

  @jax.jit
  def run(state, key):
    def body(s, k):
      v, s = observables.step(s, random_bits.bits(k, s.shape), gamma, beta, sign_rule)
      return s, v
    return jax.lax.scan(body, state, jax.random.split(key, length))[1]

  v = np.asarray(run(state, k_run), np.float64)  # [length, chains]
  nfft = int(2 ** np.ceil(np.log2(2 * length)))
  f = np.fft.rfft(v, nfft, axis=0)
  acf = np.fft.irfft(np.abs(f) ** 2, nfft, axis=0)[:max_lag + 1].mean(axis=1)
  return acf / (length - np.arange(max_lag + 1))


class Prediction(NamedTuple):
  """Second-order moments along the GD path x̄_0 … x̄_K (leading axis K + 1)."""
  xbar: jax.Array    # GD iterates
  cov: jax.Array     # C_k = E a_k a_kᵀ
  lam: jax.Array     # λ_k (paper)
  kappa: jax.Array   # κ_k (correlated multiplicative noise; not in the paper)


def second_order_moments(loss_fn: LossFn, x0, *, eta: float, gamma: float, mu0: float,
                         sigma0: float, rho, num_steps: int,
                         shared_multiplicative: bool = False) -> Prediction:
  """C_k, λ_k, κ_k of the module docstring for k = 0 … ``num_steps``.

  ``rho``: autocorrelation ρ(0 … ≥ num_steps) of the observable (both chains use the same law).
  """
  _validation.check_positive("eta", eta)
  _validation.check_nonnegative("mu0", mu0)
  _validation.check_nonnegative("sigma0", sigma0)
  rho = jnp.asarray(rho)
  if rho.shape[0] < num_steps + 1:
    raise ValueError(f"rho needs ≥ num_steps + 1 = {num_steps + 1} lags, got {rho.shape[0]}")
  x0 = jnp.asarray(x0)
  dt = x0.dtype
  d = x0.shape[0]
  K = num_steps
  c = jnp.asarray(eta, dt) ** gamma
  xbar = gd_path(loss_fn, x0, eta, K)
  hess = jax.hessian(loss_fn)

  def t3(x, cmat):  # ∇_x tr(C ∇²R(x)) = ∇³R(x)[C]
    return jax.grad(lambda y: jnp.sum(cmat * hess(y)))(x)

  eye = jnp.eye(d, dtype=dt)
  slots = jnp.arange(K)

  def body(carry, k):
    A, C, lam, kap = carry  # A[i-1] = Φ_i^{(k)} for i = 1 … k (zero beyond)
    xk = xbar[k]
    J = eye - eta * hess(xk)
    valid = (slots < k).astype(dt)                      # slots i-1 = 0 … k-1
    lag = jnp.clip(k - slots, 0, rho.shape[0] - 1)      # k - (i - 1)
    r = rho[lag] * valid                                 # [K]
    xprev = xbar[:K]                                     # x̄_{i-1}
    if shared_multiplicative:
      # E[ξ_{i-1} ξ_kᵀ] = c² ρ (μ0² x̄_{i-1} x̄_kᵀ + σ0² I)
      Ax = jnp.einsum("iab,ib->ia", A, xprev)            # Φ_i x̄_{i-1}
      D = c**2 * (mu0**2 * jnp.einsum("i,ia->a", r, Ax)[:, None] * xk[None, :]
                  + sigma0**2 * jnp.einsum("i,iab->ab", r, A))
      g = -mu0 * c * jnp.einsum("i,ia->a", r, Ax)        # E[v1_k a_k] (scalar v1_k)
      Sig = c**2 * rho[0] * (mu0**2 * jnp.outer(xk, xk) + sigma0**2 * eye)
    else:
      w = mu0**2 * xprev * xk[None, :] + sigma0**2        # [K, d]: per coordinate r
      D = c**2 * jnp.einsum("i,iar,ir->ar", r, A, w)
      diagA = jnp.einsum("iaa->ia", A)
      g = -mu0 * c * jnp.einsum("i,ia,ia->a", r, diagA, xprev)
      Sig = c**2 * rho[0] * jnp.diag(mu0**2 * xk**2 + sigma0**2)
    C1 = J @ C @ J.T + J @ D + D.T @ J.T + Sig
    lam1 = J @ lam + eta * t3(xk, C)
    kap1 = J @ kap - mu0 * c * g
    A1 = jnp.einsum("ab,ibc->iac", J, A)
    A1 = A1.at[k].set(eye)
    return (A1, C1, lam1, kap1), (C1, lam1, kap1)

  init = (jnp.zeros((K, d, d), dt), jnp.zeros((d, d), dt), jnp.zeros(d, dt), jnp.zeros(d, dt))
  _, (C, lam, kap) = jax.jit(lambda i: jax.lax.scan(body, i, jnp.arange(K)))(init)
  z = lambda a: jnp.concatenate([jnp.zeros_like(a[:1]), a], axis=0)
  return Prediction(xbar=xbar, cov=z(C), lam=z(lam), kappa=z(kap))


def predicted_shift(fn: LossFn, pred: Prediction, *, include_kappa: bool) -> jax.Array:
  """Coefficient P_k of ε² in E fn(x_k) - fn(x̄_k), k = 0 … K.

  ``fn`` = the loss of ``pred`` and ``include_kappa=False`` is Thm. 4.3 as printed:
  ½ (tr(C_k ∇²R) - ∇Rᵀ λ_k). ``include_kappa=True`` adds ∇fnᵀ κ_k. For another observable F
  (e.g. the Hessian trace) the same expansion gives ½ tr(C_k ∇²F) + ∇Fᵀ (κ_k - λ_k/2).
  """
  def one(x, C, lam, kap):
    g = jax.grad(fn)(x)
    m = -0.5 * lam + (kap if include_kappa else 0.0)
    return 0.5 * jnp.sum(C * jax.hessian(fn)(x)) + g @ m

  return jax.jit(jax.vmap(one))(pred.xbar, pred.cov, pred.lam, pred.kappa)


__all__ = ["gd_path", "chain_autocorrelation", "Prediction", "second_order_moments",
           "predicted_shift"]
