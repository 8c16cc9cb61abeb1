"""Tests of chaosopt.dynamics.tail_index (P3 Thm F.2 estimator, log-moment and CF fits)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.dynamics import tail_index as ti
from chaosopt.dynamics.stable import sample_sas

N, C = 1000, 400  # samples per coordinate, coordinates


def _data(alpha, scale=1.0, seed=0):
  return sample_sas(jax.random.key(seed), alpha, (C, N), scale)  # samples last


@pytest.mark.parametrize("alpha", [0.8, 1.5, 1.9])
def test_mohammadi_recovers_alpha(alpha):
  inv = np.asarray(ti.mohammadi_inverse_alpha(_data(alpha)))
  bound = ti.mohammadi_standard_error_bound(alpha, N)  # per-coordinate sd bound on (1/alpha)^
  # mean over C independent coordinates: within 5 sd / sqrt(C) of 1/alpha
  assert abs(inv.mean() - 1 / alpha) < 5 * bound / math.sqrt(C), (inv.mean(), 1 / alpha)
  # spread across coordinates below the analytic bound (10% slack: the sample sd of C = 400
  # values has relative sd 1/sqrt(2C) = 3.5%)
  assert inv.std() < 1.1 * bound, (inv.std(), bound)


@pytest.mark.parametrize("alpha", [0.7, 1.3, 1.7])
def test_log_moment_recovers_alpha_and_scale(alpha):
  x = _data(alpha, scale=3.0, seed=1)
  a, s = map(np.asarray, ti.log_moment_fit(x))
  # delta method per coordinate, from the data's own moments of log|X|:
  la = np.log(np.abs(np.asarray(x, np.float64)))
  c = la - la.mean(-1, keepdims=True)
  v, m4 = (c ** 2).mean(-1), (c ** 4).mean(-1)
  se_v = np.sqrt((m4 - v ** 2) / N)
  r = 12 * v / math.pi ** 2 - 1
  da_dv = (12 / math.pi ** 2) * math.sqrt(2) / 2 * r ** -1.5
  se_mean = np.sqrt(np.mean((da_dv * se_v) ** 2) / C)
  assert abs(a.mean() - alpha) < 5 * se_mean + 1 / N, (a.mean(), alpha, se_mean)
  # scale: log s = mean log|X| - gamma (1/alpha - 1); spread measured across coordinates
  ls = np.log(s)
  assert abs(ls.mean() - math.log(3.0)) < 5 * ls.std() / math.sqrt(C) + 5 * se_mean, ls.mean()


@pytest.mark.parametrize("alpha", [0.7, 1.3, 1.7])
def test_cf_fit_recovers_alpha_and_scale(alpha):
  a, s = map(np.asarray, ti.cf_fit(_data(alpha, scale=0.5, seed=2)))
  # 5 standard errors of the mean over C coordinates (sd measured across coordinates)
  assert abs(a.mean() - alpha) < 5 * a.std() / math.sqrt(C), (a.mean(), a.std())
  ls = np.log(s)
  assert abs(ls.mean() - math.log(0.5)) < 5 * ls.std() / math.sqrt(C), (ls.mean(), ls.std())


def test_gaussian_is_alpha_two():
  x = jax.random.normal(jax.random.key(4), (C, N))
  a_lm, s_lm = ti.log_moment_fit(x)
  a_cf, s_cf = ti.cf_fit(x)
  a_m = ti.mohammadi_alpha(x, clip=True)
  assert float(jnp.mean(a_lm)) > 1.9 and float(jnp.mean(a_cf)) > 1.9 and float(jnp.mean(a_m)) > 1.9
  # N(0,1) = SaS(2, scale 1/sqrt 2)
  assert abs(float(jnp.median(s_cf)) - 1 / math.sqrt(2)) < 0.03


def test_block_sizes_any_n_and_axis():
  assert ti.block_sizes(2) == (2, 1) and ti.block_sizes(3) == (2, 1)
  assert ti.block_sizes(1000) == (31, 32)
  rng = np.random.default_rng(0)
  for n in (2, 3):
    x = rng.standard_cauchy((n, 3)).astype(np.float32)
    out = ti.mohammadi_inverse_alpha(x, axis=0)
    assert out.shape == (3,) and bool(jnp.all(jnp.isfinite(out)))
  with pytest.raises(ValueError, match="at least 2"):
    ti.block_sizes(1)
  with pytest.raises(ValueError, match="k1"):
    ti.block_sizes(10, k1=1)
  x = rng.standard_cauchy((4, 50, 6)).astype(np.float32)
  assert ti.mohammadi_alpha(x, axis=1).shape == (4, 6)
  assert ti.log_moment_fit(x, axis=1)[0].shape == (4, 6)
  assert ti.cf_fit(x, axis=1)[1].shape == (4, 6)
  np.testing.assert_allclose(ti.mohammadi_alpha(x, axis=1),
                             ti.mohammadi_alpha(jnp.moveaxis(x, 1, -1)), rtol=1e-6)
