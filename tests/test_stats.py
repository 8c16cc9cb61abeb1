"""Tests of chaosopt.analysis.stats (paired scheme comparisons): against SciPy and hand cases."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from chaosopt.analysis import stats


def test_holm_hand_computed():
  # m = 4, sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, max(0.06, 1*0.04)
  adj = stats.holm([0.01, 0.04, 0.03, 0.005])
  np.testing.assert_allclose(adj, [0.03, 0.06, 0.06, 0.02], rtol=0, atol=1e-15)


def test_holm_caps_at_one_and_skips_nan():
  adj = stats.holm([0.5, math.nan, 0.4])
  # m = 2 (NaN not counted): 2*0.4 = 0.8, then max(0.8, min(1, 1*0.5)) = 0.8
  np.testing.assert_allclose(adj[[0, 2]], [0.8, 0.8])
  assert math.isnan(adj[1])
  np.testing.assert_allclose(stats.holm([0.6, 0.7]), [1.0, 1.0])


def test_tests_match_scipy():
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=12), rng.normal(size=12) + 0.3
  t, p = stats.paired_ttest(x, y)
  ref = sps.ttest_rel(x, y)
  assert t == pytest.approx(ref.statistic, rel=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-12)
  w, pw = stats.wilcoxon(x, y)
  refw = sps.wilcoxon(x, y)
  assert w == refw.statistic and pw == pytest.approx(refw.pvalue, rel=1e-12)


def test_mean_se_and_bootstrap():
  d = np.array([1.0, 2.0, 3.0, 4.0])
  m, se = stats.mean_se(d)
  assert m == 2.5 and se == pytest.approx(np.std(d, ddof=1) / 2)
  lo, hi = stats.bootstrap_ci(d, seed=3)
  assert (lo, hi) == stats.bootstrap_ci(d, seed=3)  # seeded: reproducible
  assert 1.0 <= lo < 2.5 < hi <= 4.0
  # a constant sample has a degenerate interval
  assert stats.bootstrap_ci(np.full(5, 0.7)) == pytest.approx((0.7, 0.7))


def test_bootstrap_covers_normal_mean():
  # 95% percentile CI of the mean of N(0,1), n = 50: half-width ≈ 1.96/√50 = 0.28; with the
  # seeded sample the interval must contain the sample mean and have width within 25% of that
  # (the bootstrap SE is the plug-in SE up to O(1/√n) fluctuations).
  d = np.random.default_rng(1).normal(size=50)
  lo, hi = stats.bootstrap_ci(d, num_resamples=20_000, seed=0)
  assert lo < d.mean() < hi
  expect = 2 * 1.96 * np.std(d, ddof=1) / math.sqrt(50)
  assert abs((hi - lo) - expect) < 0.25 * expect


def test_compare_paired_verdicts_and_nan_exclusion():
  rng = np.random.default_rng(2)
  ref = rng.normal(1.0, 0.1, size=20)
  better = ref - 0.2 + rng.normal(0, 0.02, size=20)     # clearly lower
  worse = ref + 0.2 + rng.normal(0, 0.02, size=20)      # clearly higher
  same = ref + rng.normal(0, 0.05, size=20)
  same[[3, 7]] = np.nan                                  # two diverged seeds
  ref_nan = ref.copy()
  rows = stats.compare_paired({"gd": ref_nan, "a": better, "b": worse, "c": same}, "gd")
  by = {r["scheme"]: r for r in rows}
  assert by["a"]["verdict"] == "better" and by["b"]["verdict"] == "worse"
  assert by["a"]["n_improved"] == 20 and by["b"]["n_improved"] == 0
  assert by["c"]["n"] == 18 and by["c"]["n_excluded"] == 2 and by["c"]["n_nonfinite_scheme"] == 2
  # the 'c' row's statistics are those of the 18 finite pairs
  ok = np.isfinite(same)
  ref_t = sps.ttest_rel(same[ok], ref[ok])
  assert by["c"]["p_ttest"] == pytest.approx(ref_t.pvalue, rel=1e-12)
  assert by["c"]["mean_diff"] == pytest.approx(np.mean(same[ok] - ref[ok]), rel=1e-12)
  # Holm across the three rows, recomputed by hand
  ps = [by[k]["p_ttest"] for k in "abc"]
  np.testing.assert_allclose([by[k]["p_ttest_holm"] for k in "abc"], stats.holm(ps))
  # higher-is-better flips the verdicts
  rows_hi = stats.compare_paired({"gd": ref, "a": better, "b": worse}, "gd", lower_is_better=False)
  assert [r["verdict"] for r in rows_hi] == ["worse", "better"]
  json.dumps(rows)  # JSON-able (NaN written as None)


def test_compare_paired_no_difference_and_holm_decides():
  rng = np.random.default_rng(5)
  ref = rng.normal(size=10)
  rows = stats.compare_paired({"r": ref, "x": ref.copy()}, "r")
  assert rows[0]["verdict"] == "no significant difference" and rows[0]["p_ttest"] is None
  # two schemes whose paired differences have raw t-test p = 0.03 exactly (shift solved from the
  # t quantile): significant alone, but Holm makes both 2 * 0.03 = 0.06 > 0.05.
  n = 10
  base = rng.normal(size=n)
  base -= base.mean()
  shift = sps.t.isf(0.015, n - 1) * np.std(base, ddof=1) / math.sqrt(n)
  d = base - shift
  rows = stats.compare_paired({"r": ref, "u": ref + d, "v": ref + d}, "r")
  for r in rows:
    assert r["p_ttest"] == pytest.approx(0.03, rel=1e-6)
    assert r["p_ttest_holm"] == pytest.approx(0.06, rel=1e-6)
    assert r["verdict"] == "no significant difference"
  one = stats.compare_paired({"r": ref, "u": ref + d}, "r")[0]
  assert one["verdict"] == "better"  # m = 1: Holm leaves p = 0.03
