"""Multiplicative SGD (P4 Alg. 1 / Alg. 2, eq. 1-2): gradient-noise covariance = ∇𝓛 Var[V] ∇𝓛ᵀ.

On a small logistic-regression model (n = 8 examples, d = 4 parameters) every sampling noise's
MSGD gradient is drawn M = 40,000 times (one jitted program) and its empirical mean/covariance
is compared with ``∇L`` and ``Jᵀ Var[V] J`` (J = the n×d per-example gradient matrix) at
Z = 5 Monte-Carlo standard errors per entry, the SE estimated from the samples
(``estimator_helpers``): about ±2.5% of a diagonal entry. Also: plain mini-batch SGD has exactly
the covariance of Prop. 1 (so MSGD with V_sgd *is* SGD), and mini-batch MSGD (Alg. 2) with the
Thm 1 sampling covariance has the covariance of small-batch SGD.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from chaosopt.estimators import msgd
from chaosopt.estimators import sampling_noise as sn
from chaosopt.core.loop import scan_chunks
from estimator_helpers import assert_mean_cov, flat, logistic_problem_with_jacobian

N, B, BIG, M = 8, 2, 4, 40_000
BB = 6  # Alg. 2 large batch

KINDS = {
    "sgd": ("sgd", {}),
    "sgd_wo": ("sgd_without_replacement", {}),
    "cov": ("gaussian_cov", {}),
    "fisher": ("gaussian_fisher", {}),
    "bernoulli": ("bernoulli", {}),
    "fisherB": ("sparse_fisher", {"big_batch": BIG}),
}


@pytest.fixture(scope="module")
def problem():
  loss, params, data, jmat = logistic_problem_with_jacobian(n=N, d=3, seed=0)
  return loss, params, data, jmat


@pytest.fixture(scope="module")
def samples(problem):
  loss, params, data, _ = problem
  noises = {k: sn.make_sampling_noise(kind, N, B, **kw) for k, (kind, kw) in KINDS.items()}
  alg2_noise = sn.make_sampling_noise("gaussian_cov", BB, B, replacement=False)

  def draws(est, key):
    return jax.vmap(lambda k: flat(est(k)[0]))(jax.random.split(key, M))

  @jax.jit
  def run(key):
    ks = jax.random.split(key, len(noises) + 3)
    out = {name: draws(lambda k, f=f: msgd.msgd_gradient(loss, params, data, k, f), kk)
           for (name, f), kk in zip(noises.items(), ks)}
    out["minibatch_sgd"] = draws(lambda k: msgd.sgd_gradient(loss, params, data, k,
                                                             batch_size=B), ks[-3])
    out["minibatch_sgd_wo"] = draws(lambda k: msgd.sgd_gradient(
        loss, params, data, k, batch_size=B, replacement=False), ks[-2])
    out["alg2"] = draws(lambda k: msgd.minibatch_msgd_gradient(
        loss, params, data, k, batch_size=BB, noise=alg2_noise, replacement=False), ks[-1])
    return out

  return jax.tree_util.tree_map(np.asarray, run(jax.random.key(7)))


def test_gradient_matrix_matches_jacobian(problem):
  loss, params, data, jmat = problem
  jac = jax.jit(jax.jacrev(loss))(params, data)  # pytree of [n, ...]
  ref = np.concatenate([np.asarray(jac["b"]).reshape(N, -1), np.asarray(jac["w"]).reshape(N, -1)],
                       axis=1)  # ravel_pytree orders dict keys alphabetically
  np.testing.assert_allclose(jmat, ref, rtol=1e-5, atol=1e-6)
  chunked = jax.jit(lambda p: msgd.gradient_matrix(loss, p, data, chunk_size=4))(params)
  np.testing.assert_allclose(np.asarray(chunked), jmat, rtol=1e-6, atol=1e-7)


def test_randomized_loss_grad_is_weighted_sum(problem):
  loss, params, data, jmat = problem
  w = jnp.asarray(np.random.default_rng(1).normal(size=N), jnp.float32)
  g, losses = msgd.randomized_loss_grad(loss, params, data, w)
  np.testing.assert_allclose(np.asarray(flat(g)), jmat.T @ np.asarray(w), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(losses), np.asarray(loss(params, data)), rtol=1e-6)
  gd, aux = msgd.full_batch_gradient(loss, params, data)
  np.testing.assert_allclose(np.asarray(flat(gd)), jmat.mean(0), rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(float(aux["loss"]), float(jnp.mean(losses)), rtol=1e-6)


@pytest.mark.parametrize("name", list(KINDS))
def test_msgd_noise_covariance_is_J_var_J(problem, samples, name):
  _, _, _, jmat = problem
  kind, kw = KINDS[name]
  cov = jmat.T @ sn.sampling_noise_covariance(kind, N, B, **kw) @ jmat
  assert_mean_cov(samples[name], jmat.mean(0), cov, what=f"MSGD-{kind}")


@pytest.mark.parametrize("name,kind", [("minibatch_sgd", "sgd"),
                                       ("minibatch_sgd_wo", "sgd_without_replacement")])
def test_minibatch_sgd_has_prop1_covariance(problem, samples, name, kind):
  _, _, _, jmat = problem
  cov = jmat.T @ sn.sampling_noise_covariance(kind, N, B) @ jmat
  assert_mean_cov(samples[name], jmat.mean(0), cov, what=name)


def test_alg2_with_thm1_covariance_matches_small_batch_sgd(problem, samples):
  # batch B drawn w/o replacement, then W = 1/B + N(0, (B-b)/(bB(B-1)) P_B): the law of total
  # covariance gives exactly the covariance of batch-b SGD without replacement on all n.
  _, _, _, jmat = problem
  cov = jmat.T @ sn.sampling_noise_covariance("sgd_without_replacement", N, B) @ jmat
  assert_mean_cov(samples["alg2"], jmat.mean(0), cov, what="Alg. 2")


def test_shape_errors(problem):
  loss, params, data, _ = problem
  with pytest.raises(AssertionError, match="weights"):
    msgd.randomized_loss_grad(loss, params, data, jnp.ones(N + 1))
  with pytest.raises(AssertionError, match="sampling noise"):
    msgd.msgd_gradient(loss, params, data, jax.random.key(0),
                       sn.make_sampling_noise("sgd", N + 1, 2))
  with pytest.raises(AssertionError, match="vector"):
    msgd.randomized_loss_grad(lambda p, b: jnp.sum(loss(p, b)), params, data, jnp.ones(N))


def test_composes_with_optax_scan_and_seed_vmap(problem):
  """MSGD + optax.sgd inside scan_chunks, 3 seeds vmapped: seeds differ, loss decreases."""
  loss, params, data, _ = problem
  tx = optax.sgd(0.5)
  noise = sn.make_sampling_noise("bernoulli", N, B)

  def step(carry, _):
    p, s, key = carry
    key, k = jax.random.split(key)
    g, aux = msgd.msgd_gradient(loss, p, data, k, noise)
    u, s = tx.update(g, s, p)
    return (optax.apply_updates(p, u), s, key), aux["loss"]

  keys = jax.random.split(jax.random.key(0), 3)
  carry = jax.vmap(lambda k: (params, tx.init(params), k))(keys)
  carry, losses = scan_chunks(jax.vmap(step, in_axes=(0, None)), carry, 40, chunk_size=20)
  assert losses.shape == (40, 3)
  w = np.asarray(carry[0]["w"])
  assert not np.allclose(w[0], w[1])
  assert np.all(losses[-5:].mean(0) < losses[0])
