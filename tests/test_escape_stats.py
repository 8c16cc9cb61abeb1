"""The escape-time statistics (:mod:`chaosopt.analysis.escape`; P2 eq. 17, Cor. 4.6): the
censored MLE, the rate fits' χ², and the censored KS test's size and power. Analysis layer."""
from __future__ import annotations

import math

import numpy as np
import pytest

from chaosopt.analysis import escape as esc


def _ks_p(kind, seed, mean=300.0, num=150, horizon=3000, burn=10):
  d = esc.residuals(esc.surrogate_times(kind, mean, num, horizon, burn, seed=seed), horizon,
                    burn)
  return esc.censored_ks(d["r"], d["event"], d["c"], num_draws=299, seed=seed)["p"]


def test_censored_ks_size_and_power():
  """40 exponential samples (150 runs, ≈ 0.05% censored at 10 means): at most 6 rejections at
  the 5% level (expected 2; P(≥ 7) ≈ 0.5% for a calibrated test). 40 Gamma(2) samples of the
  same size: at least 36 rejections (std/mean 0.71 against 1; the power is ≈ 1 here)."""
  exp_rej = sum(_ks_p("exponential", s) < 0.05 for s in range(40))
  gam_rej = sum(_ks_p("gamma2", s) < 0.05 for s in range(40))
  assert exp_rej <= 6 and gam_rej >= 36, (exp_rej, gam_rej)


def test_exponential_mle_under_censoring():
  """Mean 1000 censored at 1500 steps (≈ 22% censored), 4000 runs: the MLE (exposure / exits)
  is within 4 bootstrap SEs of 1000 while the mean of the exits alone is biased low."""
  t = esc.surrogate_times("exponential", 1000.0, 4000, 1500, 0, seed=3)
  s = esc.exponential_mle(t, 1500, 0)
  assert 0.15 < s["censored"] / s["runs"] < 0.3
  assert abs(math.log(s["mean"] / 1000.0)) < 4 * s["log_se"]
  assert np.mean(t[t > 0]) < 700


def test_rate_fit_chi2():
  """Exact power-law data: b recovered, χ² = 0; the Kramers form on the same data: χ² > 0."""
  lrs = np.array([0.01, 0.02, 0.03, 0.05])
  y = np.log(5.0 * lrs ** -2.5)
  f = esc.rate_fit(np.log(lrs), y, np.full(4, 0.1))
  assert f["b"] == pytest.approx(-2.5) and f["chi2"] == pytest.approx(0.0, abs=1e-9)
  assert f["dof"] == 2 and f["p"] == pytest.approx(1.0)
  assert esc.rate_fit(1 / lrs, y, np.full(4, 0.1))["chi2"] > 10
