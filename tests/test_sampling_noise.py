"""P4 (Wu et al. 2020) sampling noises: empirical mean/covariance vs the exact formulas.

Prop. 1 (SGD with / without replacement), Sec. 4.2 (Gaussian-Cov, Gaussian-Fisher), Sec. 4.3
(Bernoulli), Sec. 4.4 ([Fisher-B], sparse default and the printed centred form, whose diagonal
covariance is derived in ``chaosopt/estimators/sampling_noise.py`` — the paper's
"= Var V_sgd(b)" is an erratum). Tolerance: Z = 5 Monte-Carlo standard errors per entry, the SE
estimated from the M = 100,000 samples (see ``estimator_helpers``); e.g. for
Var V_sgd = P/(bn) with n = 6, b = 2 the diagonal entry 0.069 has SE ≈ 3e-4, so the check
resolves ±1.5e-3 (2%), far below the gaps between the candidate formulas (e.g. the
without-replacement factor (n-b)/(n-1) = 0.8). All samples come from ONE jitted program.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.estimators import sampling_noise as sn
from estimator_helpers import assert_mean_cov

N, B, BIG = 6, 2, 3
M = 100_000

CASES = {
    "sgd": ("sgd", {}),
    "sgd_wo": ("sgd_without_replacement", {}),
    "cov": ("gaussian_cov", {}),
    "cov_wo": ("gaussian_cov", {"replacement": False}),
    "fisher": ("gaussian_fisher", {}),
    "bernoulli": ("bernoulli", {}),
    "fisherB": ("sparse_fisher", {"big_batch": BIG}),
    "fisherB_wr": ("sparse_fisher", {"big_batch": BIG, "replacement": True}),
    "fisherB_printed": ("sparse_fisher", {"big_batch": BIG, "centred": True, "replacement": True}),
    "fisherB_printed_wo": ("sparse_fisher", {"big_batch": BIG, "centred": True,
                                             "replacement": False}),
}


@pytest.fixture(scope="module")
def samples():
  noises = {name: sn.make_sampling_noise(k, N, B, **kw) for name, (k, kw) in CASES.items()}
  big = sn.make_sampling_noise("sparse_fisher", 1000, 50, big_batch=10)

  @jax.jit
  def draw(key):
    keys = jax.random.split(key, len(noises) + 2)
    out = {name: jax.vmap(f)(jax.random.split(k, M)) for (name, f), k in zip(noises.items(), keys)}
    out["big_fisherB"] = jax.vmap(big)(jax.random.split(keys[-2], 20))
    out["idx_wo"] = jax.vmap(lambda k: sn.sample_indices(k, 7, 3, replacement=False))(
        jax.random.split(keys[-1], 30_000))
    return out

  return jax.tree_util.tree_map(np.asarray, draw(jax.random.key(123)))


@pytest.mark.parametrize("name", list(CASES))
def test_mean_and_covariance_match_formula(samples, name):
  kind, kw = CASES[name]
  v = samples[name]
  assert v.shape == (M, N)
  assert_mean_cov(v, np.zeros(N), sn.sampling_noise_covariance(kind, N, B, **kw),
                  what=f"{kind} {kw}")


def test_printed_fisher_b_covariance_is_not_the_sgd_one(samples):
  # the erratum: the printed [Fisher-B] noise has uncorrelated coordinates, Var V_sgd(b) has not
  c = np.cov(samples["fisherB_printed"].T)
  off = c[~np.eye(N, dtype=bool)]
  sgd_off = sn.sampling_noise_covariance("sgd", N, B)[0, 1]  # -1/(b n^2) = -0.0139
  assert np.max(np.abs(off)) < abs(sgd_off) / 5


def test_sgd_weights_are_batch_frequencies(samples):
  for name in ("sgd", "sgd_wo"):
    w = samples[name][:500] + 1.0 / N
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-6)
    counts = np.round(w * B)
    np.testing.assert_allclose(counts / B, w, atol=1e-6)  # multiples of 1/b
    if name == "sgd_wo":
      assert set(np.unique(counts)) <= {0.0, 1.0}


def test_centred_gaussian_sums_to_zero(samples):
  np.testing.assert_allclose(samples["cov"][:500].sum(1), 0.0, atol=1e-6)


def test_bernoulli_takes_two_values(samples):
  allowed = np.array([1 / B - 1 / N, -1 / N])
  assert np.all(np.min(np.abs(samples["bernoulli"][..., None] - allowed), -1) < 1e-6)


def test_fisher_b_is_sparse(samples):
  nnz = (samples["big_fisherB"] != 0).sum(1)
  assert np.all(nnz <= 10) and np.all(nnz >= 9)  # B = 10 entries (a normal draw is never 0)
  nnz_small = (samples["fisherB"] != 0).sum(1)
  assert np.all(nnz_small <= BIG)


def test_indices_without_replacement_distinct_and_uniform(samples):
  idx = samples["idx_wo"]
  assert all(len(set(r)) == 3 for r in idx[:500])
  freq = np.bincount(idx.ravel(), minlength=7) / idx.size
  # each index has probability 1/7 per slot; 5 SE of a frequency over 30k rows of 3 slots
  # (slots within a row are negatively correlated, which only shrinks the SE)
  np.testing.assert_allclose(freq, 1 / 7, atol=5 * np.sqrt((1 / 7) * (6 / 7) / 30_000))


@pytest.mark.parametrize("call", [
    lambda: sn.make_sampling_noise("nope", 5, 2),
    lambda: sn.make_sampling_noise("sgd_without_replacement", 5, 6),
    lambda: sn.make_sampling_noise("bernoulli", 5, 0),
    lambda: sn.make_sampling_noise("sparse_fisher", 5, 2),
    lambda: sn.make_sampling_noise("sparse_fisher", 5, 2, big_batch=6),
    lambda: sn.make_sampling_noise("sgd", 0, 1),
    lambda: sn.make_sampling_noise("gaussian_cov", 5, 6, replacement=False),
    lambda: sn.sampling_noise_covariance("bernoulli", 5, 9),
    lambda: sn.sample_indices(jax.random.key(0), 5, 6, replacement=False),
])
def test_bad_arguments_raise(call):
  with pytest.raises(ValueError):
    call()


def test_exact_covariance_identities():
  # Bernoulli = diag of the without-replacement SGD covariance (P4 Sec. 4.3)
  np.testing.assert_allclose(sn.sampling_noise_covariance("bernoulli", 9, 4),
                             np.diag(np.diag(sn.sampling_noise_covariance(
                                 "sgd_without_replacement", 9, 4))))
  # Gaussian-Cov matches SGD, Gaussian-Fisher is the uncentred version
  np.testing.assert_allclose(sn.sampling_noise_covariance("gaussian_cov", 9, 4),
                             sn.sampling_noise_covariance("sgd", 9, 4))
  np.testing.assert_allclose(sn.sampling_noise_covariance("sparse_fisher", 9, 4, big_batch=3),
                             sn.sampling_noise_covariance("gaussian_fisher", 9, 4))
