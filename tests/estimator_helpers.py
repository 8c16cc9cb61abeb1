"""Shared fixtures of the sampling-noise estimator tests (P3 SVAG/NGD, P4 MSGD).

Monte-Carlo tolerance used throughout: with ``M`` i.i.d. samples, the empirical mean of a
coordinate has standard error ``SE = sd/√M`` and the empirical covariance entry ``(i, j)`` (the
mean of ``(x_i - x̄_i)(x_j - x̄_j)``) has ``SE = sd[(x_i - x̄_i)(x_j - x̄_j)]/√M``, both estimated
from the same samples (no Gaussian assumption, so it is valid for the discrete SGD/Bernoulli
noises too). Every check asks ``|empirical - exact| ≤ Z·SE`` with ``Z = 5``: for the ≤ 100
entries checked per assertion the chance of a false failure is < 100 · 5.7e-7 ≈ 6e-5, and the
seeds are fixed so the outcome is deterministic. A wrong formula (e.g. a missing factor
``(n-b)/(n-1)`` or a missing ``l``) is off by many SEs at the sample sizes used.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

Z = 5.0


def assert_mean_cov(samples, mean_exact, cov_exact, *, z: float = Z, what: str = "") -> None:
  """Checks the empirical mean and covariance of ``samples [M, d]`` against exact values."""
  x = np.asarray(samples, dtype=np.float64)
  m = x.shape[0]
  mean_exact = np.asarray(mean_exact, dtype=np.float64)
  cov_exact = np.asarray(cov_exact, dtype=np.float64)
  mean = x.mean(0)
  se_mean = x.std(0, ddof=1) / np.sqrt(m)
  # tiny absolute floor: float32 rounding of the samples (relative 1e-7 of the scale)
  floor = 1e-6 * np.sqrt(np.abs(np.diag(cov_exact)).max()) + 1e-30
  err = np.abs(mean - mean_exact)
  assert np.all(err <= z * se_mean + floor), (
      f"{what}: mean off by {np.max(err / (se_mean + floor)):.1f} SE\n{mean}\nvs\n{mean_exact}")
  c = x - mean
  prods = c[:, :, None] * c[:, None, :]
  cov = prods.sum(0) / (m - 1)
  se_cov = prods.std(0, ddof=1) / np.sqrt(m)
  floor_c = 1e-6 * np.abs(np.diag(cov_exact)).max() + 1e-30
  err_c = np.abs(cov - cov_exact)
  worst = np.max(err_c / (se_cov + floor_c))
  assert np.all(err_c <= z * se_cov + floor_c), (
      f"{what}: covariance off by {worst:.1f} SE\nempirical\n{cov}\nexact\n{cov_exact}")


def logistic_problem(n: int = 8, d: int = 3, seed: int = 0):
  """A small nonlinear model: logistic regression with a bias, per-example loss vmapped.

  Returns ``(per_example_loss, params, data)`` with ``data = (x [n, d], y [n])``.
  """
  from chaosopt.estimators import vmap_per_example
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.normal(size=(n, d)), jnp.float32)
  y = jnp.asarray(rng.integers(0, 2, size=n), jnp.float32)
  params = {"w": jnp.asarray(rng.normal(size=d), jnp.float32), "b": jnp.asarray(0.3, jnp.float32)}

  def loss_i(p, xi, yi):
    z = xi @ p["w"] + p["b"]
    return jax.nn.softplus(z) - yi * z

  return vmap_per_example(loss_i), params, (x, y)


def logistic_problem_with_jacobian(n: int = 8, d: int = 3, seed: int = 0):
  """:func:`logistic_problem` plus its exact gradient matrix (float64 numpy, [n, num_params]).

  Returns ``(per_example_loss, params, data, jmat)``.
  """
  from chaosopt.estimators import msgd
  loss, params, data = logistic_problem(n=n, d=d, seed=seed)
  jmat = np.asarray(jax.jit(lambda p: msgd.gradient_matrix(loss, p, data))(params), np.float64)
  return loss, params, data, jmat


def flat(tree) -> jnp.ndarray:
  return ravel_pytree(tree)[0]


def sample_flat_grads(estimator, key, num: int):
  """``num`` independent draws of ``flat(estimator(key)[0])`` (vmapped over keys, jitted)."""
  keys = jax.random.split(key, num)
  return np.asarray(jax.jit(jax.vmap(lambda k: flat(estimator(k)[0])))(keys), np.float64)
