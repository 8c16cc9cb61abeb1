"""Paired comparison of two scheme-table runs (``chaosopt compare``; no paper equation).

For every scheme and final metric two results documents share, over the seeds both ran, the
difference B − A paired by seed: mean ± SE, the paired t-test's p
(:func:`chaosopt.analysis.stats.paired_ttest`) and Holm's correction over the rows
(:func:`chaosopt.analysis.stats.holm`). A pair with a diverged seed or a non-finite value is
left out and counted. :func:`compare_text` and :func:`compare_latex` are the command's two
outputs.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

__all__ = ["compare_rows", "compare_text", "compare_latex"]


def _by_seed(scheme: dict, metric: str) -> dict:
  """``{seed: value}`` of one final metric; NaN for a diverged seed or a non-finite value."""
  out = {}
  diverged = list(scheme.get("diverged_at") or [])
  for j, seed in enumerate(scheme.get("seeds", [])):
    v = scheme["final"][metric][j]
    v = math.nan if v is None else float(v)
    if j < len(diverged) and diverged[j] is not None and diverged[j] >= 0:
      v = math.nan
    out[int(seed)] = v
  return out


def compare_rows(doc_a: dict, doc_b: dict, metrics: Optional[Sequence[str]] = None) -> list:
  """Paired comparisons of two scheme-table results documents: per scheme and final metric
  they share, over the seeds both ran (pairs with a diverged seed or a non-finite value left
  out): ``{"scheme", "metric", "n", "mean_diff", "se_diff", "p", "p_holm"}``, difference
  B - A, p of the paired t-test (:func:`chaosopt.analysis.stats.paired_ttest`, NaN below 2
  pairs or for identical pairs) and Holm-corrected over the rows
  (:func:`chaosopt.analysis.stats.holm`)."""
  import numpy as np

  from chaosopt.analysis import stats
  sa, sb = doc_a["results"]["schemes"], doc_b["results"]["schemes"]
  rows = []
  for name in [n for n in sa if n in sb]:
    shared = [m for m in sa[name].get("final", {}) if m in sb[name].get("final", {})]
    for m in shared if not metrics else [m for m in metrics if m in shared]:
      a, b = _by_seed(sa[name], m), _by_seed(sb[name], m)
      seeds = sorted(set(a) & set(b))
      if not seeds:
        continue
      x = np.array([a[s] for s in seeds])
      y = np.array([b[s] for s in seeds])
      ok = np.isfinite(x) & np.isfinite(y)
      mean, se = stats.mean_se(y[ok] - x[ok])
      _, p = stats.paired_ttest(y[ok], x[ok])
      rows.append({"scheme": name, "metric": m, "n": int(ok.sum()), "n_seeds": len(seeds),
                   "mean_diff": mean, "se_diff": se, "p": p})
  if rows:
    for r, q in zip(rows, stats.holm([r["p"] for r in rows])):
      r["p_holm"] = float(q)
  return rows


def compare_text(dir_a: str, dir_b: str, doc_a: dict, doc_b: dict, rows: list) -> str:
  """The text of ``chaosopt compare``: what A and B are, the settings that differ, the rows."""
  from chaosopt.train import workdir as workdir_lib

  def what(doc):
    git = (doc.get("provenance") or {}).get("git") or {}
    commit = f", commit {str(git['commit'])[:10]}" if git.get("commit") else ""
    v = doc.get("variant")
    return f"{doc.get('experiment', '?')}{':' + v if v else ''}{commit}"

  num = lambda x: "–" if x is None or not math.isfinite(x) else f"{x:.4g}"  # noqa: E731
  pv = lambda x: "–" if x is None or not math.isfinite(x) else f"{x:.3g}"  # noqa: E731
  lines = [f"A: {dir_a} ({what(doc_a)})", f"B: {dir_b} ({what(doc_b)})"]
  diff = workdir_lib.config_diff(doc_a.get("settings") or {}, doc_b.get("settings") or {})
  if diff:
    lines.append("settings that differ (A -> B): " + "; ".join(diff[:6])
                 + (f"; ... {len(diff) - 6} more" if len(diff) > 6 else ""))
  lines.append("difference B - A of the final metrics, paired by seed (diverged or non-finite "
               "seeds left out);")
  lines.append(f"p: paired t-test, Holm: corrected over the {len(rows)} rows")
  table = [("scheme", "metric", "n", "mean diff ± SE", "p", "p (Holm)")]
  for r in rows:
    n = f"{r['n']}" + (f"/{r['n_seeds']}" if r["n"] != r["n_seeds"] else "")
    table.append((r["scheme"], r["metric"], n, f"{num(r['mean_diff'])} ± {num(r['se_diff'])}",
                  pv(r["p"]), pv(r["p_holm"])))
  w = [max(len(str(t[i])) for t in table) for i in range(6)]
  lines += ["  ".join(str(c).ljust(x) for c, x in zip(t, w)).rstrip() for t in table]
  return "\n".join(lines)


def compare_latex(dir_a: str, dir_b: str, rows: list) -> str:
  """The rows of ``chaosopt compare`` as a LaTeX booktabs table
  (:func:`chaosopt.train.export.latex_table`)."""
  from chaosopt.train import export
  num = lambda x: "–" if x is None or not math.isfinite(x) else f"{x:.4g}"  # noqa: E731
  body = [(r["scheme"], r["metric"], r["n"], f"{num(r['mean_diff'])} ± {num(r['se_diff'])}",
           num(r["p"]), num(r["p_holm"])) for r in rows]
  return export.latex_table(
      ["scheme", "metric", "n", "mean diff B − A ± SE", "p", "p (Holm)"], body,
      caption=f"Paired differences B − A of the final metrics (A: {dir_a}, B: {dir_b}); "
              f"p: paired t-test, Holm-corrected over the {len(rows)} rows.")
