"""Tests of chaosopt.analysis.sgd_noise (P2 per-parameter SGD noise, Tables 1-2 fit errors)."""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.analysis import sgd_noise
from chaosopt.dynamics.stable import sample_sas


def test_noise_is_full_minus_batch_gradient_per_parameter():
  # linear "model": loss_i = w . x_i + b * y_i  => per-example gradient (x_i, y_i) exactly
  rng = np.random.default_rng(0)
  data = {"x": rng.standard_normal((300, 3)).astype(np.float32),
          "y": rng.standard_normal((300,)).astype(np.float32)}
  params = {"w": jnp.ones(3), "b": jnp.ones(())}
  loss = lambda p, d: jnp.mean(d["x"] @ p["w"] + p["b"] * d["y"])
  u, idx = sgd_noise.sgd_noise(loss, params, data, batch_size=10, num_batches=37,
                               key=jax.random.key(1), batches_per_step=8, return_indices=True)
  assert u.shape == (4, 37) and idx.shape == (37, 10)
  assert all(len(set(r)) == 10 for r in idx.tolist())  # without replacement
  g = np.concatenate([data["y"][:, None], data["x"]], axis=1)  # ravel order: b, w
  expect = (g.mean(0)[None] - g[idx].mean(1)).T
  np.testing.assert_allclose(np.asarray(u), expect, atol=1e-5)


def test_flax_model_runs_and_noise_is_centered():
  class Tiny(nn.Module):
    @nn.compact
    def __call__(self, x):
      return nn.Dense(1)(nn.relu(nn.Dense(4)(x)))[:, 0]

  rng = np.random.default_rng(1)
  x = rng.standard_normal((256, 2)).astype(np.float32)
  y = (x[:, 0] > 0).astype(np.float32)
  model = Tiny()
  params = model.init(jax.random.key(0), x[:2])["params"]
  loss = lambda p, d: jnp.mean((model.apply({"params": p}, d[0]) - d[1]) ** 2)
  u = sgd_noise.sgd_noise(loss, params, (x, y), batch_size=16, num_batches=400,
                          key=jax.random.key(2))
  assert u.shape == (17, 400)
  # E u_B = 0 (uniform batches): |mean| within 5 standard errors per parameter
  m, s = np.asarray(u).mean(1), np.asarray(u).std(1)
  assert np.all(np.abs(m) <= 5 * s / math.sqrt(400) + 1e-7)


def test_fit_errors_prefer_the_true_family():
  # heavy-tailed noise (alpha = 1.3): SaS fits better; Gaussian noise: SaS ~ Gaussian (alpha ~ 2)
  heavy = np.asarray(sample_sas(jax.random.key(3), 1.3, (8, 3000)))
  fe = sgd_noise.fit_errors(heavy, bins=40)
  assert np.mean(fe["sse_sas"] < fe["sse_gauss"]) >= 7 / 8
  assert np.mean(fe["chi2_sas"] < fe["chi2_gauss"]) >= 7 / 8
  gauss = np.random.default_rng(4).standard_normal((8, 3000))
  fg = sgd_noise.fit_errors(gauss, bins=40)
  assert np.median(fg["alpha"]) > 1.85
  # both fits describe Gaussian data: errors within a factor 2 of each other on average
  assert np.mean(fg["sse_sas"]) < 2 * np.mean(fg["sse_gauss"])
  a = sgd_noise.alpha_per_parameter(heavy)
  assert abs(np.mean(a["cf"]) - 1.3) < 0.1 and a["mohammadi"].shape == (8,)
