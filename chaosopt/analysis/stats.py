"""Paired comparisons of schemes over seeds (no paper equation: the statistics every report uses).

Each scheme is run on the same seeds (same data split, initialization and, where shared, noise
seed), so the comparison with a reference scheme is *paired*: per seed, d_i = x_i - r_i.
For every scheme :func:`compare_paired` reports

* mean ± standard error of d (SE = sd(d, ddof=1)/√n) and a seeded percentile-bootstrap
  confidence interval of mean(d);
* the paired t-test (``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank test
  (``scipy.stats.wilcoxon``), two-sided;
* Holm's step-down correction of each test's p-values across the compared schemes (rows):
  with m p-values sorted increasingly, p_(i)^Holm = max_{j ≤ i} min(1, (m - j + 1) p_(j));
* the number of seeds on which the scheme is better than the reference;
* a verdict: "better"/"worse" when the Holm-corrected paired t-test p-value is < α (direction
  from the sign of mean(d) and ``lower_is_better``), else "no significant difference".

Diverged seeds (NaN or ±inf values) are excluded pairwise: a seed enters a row only if both the
scheme and the reference are finite on it; the row counts the excluded seeds.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np
from scipy import stats as sps

VERDICTS = ("better", "worse", "no significant difference")


def holm(pvalues: Sequence[float]) -> np.ndarray:
  """Holm–Bonferroni adjusted p-values (same order as the input; NaN entries stay NaN and do
  not count in m)."""
  p = np.asarray(pvalues, np.float64)
  out = np.full(p.shape, np.nan)
  ok = np.flatnonzero(~np.isnan(p))
  m = ok.size
  if m == 0:
    return out
  order = ok[np.argsort(p[ok], kind="stable")]
  running = 0.0
  for rank, idx in enumerate(order):
    running = max(running, min(1.0, (m - rank) * p[idx]))
    out[idx] = running
  return out


def paired_ttest(x, y) -> tuple[float, float]:
  """(t, two-sided p) of the paired t-test of x - y (finite pairs only); NaN if < 2 pairs or
  all differences equal (zero variance)."""
  x, y = _finite_pairs(x, y)
  d = x - y
  if d.size < 2 or np.all(d == d[0]):
    return math.nan, math.nan
  r = sps.ttest_rel(x, y)
  return float(r.statistic), float(r.pvalue)


def wilcoxon(x, y) -> tuple[float, float]:
  """(W, two-sided p) of the Wilcoxon signed-rank test of x - y (finite pairs; SciPy defaults:
  exact distribution for small samples, zero differences dropped); NaN if no non-zero
  difference."""
  x, y = _finite_pairs(x, y)
  d = x - y
  if np.count_nonzero(d) == 0:
    return math.nan, math.nan
  r = sps.wilcoxon(x, y)
  return float(r.statistic), float(r.pvalue)


def mean_se(d) -> tuple[float, float]:
  """(mean, standard error sd(ddof=1)/√n) of the finite values of d; SE is NaN for n < 2."""
  d = np.asarray(d, np.float64)
  d = d[np.isfinite(d)]
  if d.size == 0:
    return math.nan, math.nan
  se = float(np.std(d, ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan
  return float(np.mean(d)), se


def bootstrap_ci(d, *, level: float = 0.95, num_resamples: int = 10_000, seed: int = 0,
                 statistic=np.mean) -> tuple[float, float]:
  """Percentile bootstrap CI of ``statistic`` (default the mean) of the finite values of d:
  ``num_resamples`` resamples with replacement drawn by ``numpy.random.default_rng(seed)``."""
  d = np.asarray(d, np.float64)
  d = d[np.isfinite(d)]
  if d.size == 0:
    return math.nan, math.nan
  rng = np.random.default_rng(seed)
  idx = rng.integers(0, d.size, size=(num_resamples, d.size))
  vals = statistic(d[idx], axis=1)
  a = (1 - level) / 2
  lo, hi = np.quantile(vals, [a, 1 - a])
  return float(lo), float(hi)


def _finite_pairs(x, y) -> tuple[np.ndarray, np.ndarray]:
  x = np.asarray(x, np.float64).ravel()
  y = np.asarray(y, np.float64).ravel()
  if x.shape != y.shape:
    raise ValueError(f"paired samples need equal lengths, got {x.size} and {y.size}")
  ok = np.isfinite(x) & np.isfinite(y)
  return x[ok], y[ok]


def _num(v: float) -> Optional[float]:
  """JSON-able float: NaN/inf -> None."""
  return float(v) if v is not None and math.isfinite(v) else None


def compare_paired(values_by_scheme: Mapping[str, np.ndarray], reference: str, *,
                   lower_is_better: bool = True, alpha: float = 0.05, level: float = 0.95,
                   num_resamples: int = 10_000, seed: int = 0) -> list[dict]:
  r"""Paired comparison of every scheme with ``reference`` over the same seeds.

  .. code-block:: text

    d_i = x_i - r_i (per seed),  mean(d) ± sd(d)/√n,  bootstrap CI of mean(d),
    paired t-test and Wilcoxon (two-sided), Holm: p_(i) = max_{j<=i} min(1, (m-j+1) p_(j))

  Verdict "better"/"worse" when the Holm-corrected t-test p-value is < ``alpha`` (direction from
  mean(d) and ``lower_is_better``), else "no significant difference". Seeds where either value
  is non-finite are excluded pairwise and counted.

  Args:
    values_by_scheme: ``{name: 1-D array over seeds}``, the same seeds in the same order.
    reference: the scheme every other one is compared with.
    lower_is_better: direction of the metric (loss: True, accuracy: False).
    alpha: significance level of the verdict, in (0, 1).
    level: confidence level of the bootstrap interval.
    num_resamples: bootstrap resamples.
    seed: bootstrap seed (the rows are deterministic).

  Returns:
    One JSON-able dict per scheme other than ``reference``, with keys scheme, reference, n
    (pairs used), n_excluded, n_nonfinite_scheme, n_nonfinite_reference, mean_scheme,
    mean_reference, mean_diff (scheme - reference), se_diff, ci_low, ci_high, ci_level,
    n_improved, t_stat, p_ttest, p_ttest_holm, w_stat, p_wilcoxon, p_wilcoxon_holm, alpha,
    lower_is_better, verdict (non-finite numbers as None).

  Examples:
    >>> import numpy as np
    >>> from chaosopt.analysis.stats import compare_paired
    >>> gd = np.array([1.0, 1.2, 0.9, 1.1, 1.0, 1.3])  # test losses over 6 seeds
    >>> mpgd = gd - 0.1 + 0.01 * np.arange(6)
    >>> row, = compare_paired({"gd": gd, "mpgd": mpgd}, "gd", num_resamples=1000)
    >>> row["scheme"], row["n"], round(row["mean_diff"], 3), row["n_improved"], row["verdict"]
    ('mpgd', 6, -0.075, 6, 'better')

  References:
    Holm, *A simple sequentially rejective multiple test procedure*, Scand. J. Statist. 6 (1979);
    the reports of docs/papers.md's experiments use these rows.
  """
  if reference not in values_by_scheme:
    raise KeyError(f"reference {reference!r} not among {sorted(values_by_scheme)}")
  if not 0 < alpha < 1:
    raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
  ref = np.asarray(values_by_scheme[reference], np.float64).ravel()
  rows = []
  for name, vals in values_by_scheme.items():
    if name == reference:
      continue
    x = np.asarray(vals, np.float64).ravel()
    if x.shape != ref.shape:
      raise ValueError(f"scheme {name!r} has {x.size} values, reference {ref.size}")
    ok = np.isfinite(x) & np.isfinite(ref)
    d = x[ok] - ref[ok]
    m, se = mean_se(d)
    lo, hi = bootstrap_ci(d, level=level, num_resamples=num_resamples, seed=seed)
    t, pt = paired_ttest(x, ref)
    w, pw = wilcoxon(x, ref)
    improved = int(np.sum(d < 0) if lower_is_better else np.sum(d > 0))
    rows.append({
        "scheme": name, "reference": reference, "n": int(ok.sum()),
        "n_excluded": int((~ok).sum()), "n_nonfinite_scheme": int((~np.isfinite(x)).sum()),
        "n_nonfinite_reference": int((~np.isfinite(ref)).sum()),
        "mean_scheme": _num(float(np.mean(x[ok])) if ok.any() else math.nan),
        "mean_reference": _num(float(np.mean(ref[ok])) if ok.any() else math.nan),
        "mean_diff": _num(m), "se_diff": _num(se), "ci_low": _num(lo), "ci_high": _num(hi),
        "ci_level": level, "n_improved": improved, "t_stat": _num(t), "p_ttest": pt,
        "w_stat": _num(w), "p_wilcoxon": pw, "alpha": alpha, "lower_is_better": lower_is_better,
    })
  for key in ("p_ttest", "p_wilcoxon"):
    adj = holm([r[key] for r in rows])
    for r, a in zip(rows, adj):
      r[key + "_holm"] = _num(a)
      r[key] = _num(r[key])
  for r in rows:
    p, m = r["p_ttest_holm"], r["mean_diff"]
    if p is not None and p < alpha and m is not None and m != 0:
      better = (m < 0) == lower_is_better
      r["verdict"] = "better" if better else "worse"
    else:
      r["verdict"] = "no significant difference"
  return rows


__all__ = ["compare_paired", "holm", "paired_ttest", "wilcoxon", "mean_se", "bootstrap_ci",
           "VERDICTS"]
