"""The status of an "A beats B" claim from paired-by-seed comparisons (not an experiment; no
paper equation).

The rows are :func:`chaosopt.analysis.stats.compare_paired`'s (difference = scheme − reference,
paired t-test Holm-corrected across the rows, percentile-bootstrap 95% CI of the mean
difference). One row's status (:func:`row_status`):

* ``reproduced`` — the row is significantly better (Holm-corrected paired t, α = 0.05);
* ``not reproduced`` — it is significantly worse, or its CI excludes the gain the paper claims
  for it (the data rule out an improvement as large as the paper's);
* ``inconclusive`` — otherwise.

The claim (:func:`claim_status`) is reproduced if some claimed row is, not reproduced if every
claimed row is not, inconclusive otherwise, and inconclusive whenever fewer than
:data:`chaosopt.analysis.verdicts.MIN_SEEDS` paired seeds entered a row.

The negative control of such a claim (:func:`split_half`): one scheme's seeds split in two halves
(even and odd positions, paired in order) run through the same paired test. The halves differ by
chance only, so the control must not come out "better"; when it does, the test cannot tell an
effect from seed noise (the power rule, :func:`chaosopt.analysis.verdicts.apply_control`).
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from chaosopt.analysis import verdicts as verdict_lib

RULE = ("per row, reproduced if significantly better (paired t-test, Holm-corrected over the "
        "rows, α = 0.05), not reproduced if significantly worse or if the 95% bootstrap CI of "
        "the mean paired difference excludes the paper's gain for that row; the claim is "
        "reproduced if any claimed row is, not reproduced if all are, else inconclusive; "
        f"inconclusive below {verdict_lib.MIN_SEEDS} paired seeds")
# the same where the paper gives no number (a figure only)
RULE_NO_GAIN = ("reproduced if significantly better (paired t-test, Holm-corrected over the rows, "
                "α = 0.05), not reproduced if significantly worse, else inconclusive (the paper "
                f"gives no number to exclude); inconclusive below {verdict_lib.MIN_SEEDS} paired "
                "seeds")


def row_status(row: Mapping, gain: Optional[float] = None) -> str:
  """One row's status; ``gain``: the paper's claimed difference (scheme − reference, in the
  metric's units, negative = better when lower is better), or None when the paper gives none."""
  if row["verdict"] == "better":
    return "reproduced"
  if row["verdict"] == "worse":
    return "not reproduced"
  lo, hi = row.get("ci_low"), row.get("ci_high")
  if gain is not None and lo is not None and hi is not None:
    if (row["lower_is_better"] and lo > gain) or (not row["lower_is_better"] and hi < gain):
      return "not reproduced"
  return "inconclusive"


def claim_status(rows: Sequence[Mapping], gains: Optional[Mapping[str, Optional[float]]] = None,
                 *, min_n: int = verdict_lib.MIN_SEEDS) -> dict:
  """``{"status", "reason", "per_row", "best"}`` over ``rows`` (the claimed rows only);
  ``best`` is the row with the most favourable mean difference."""
  gains = gains or {}
  if not rows:
    return {"status": "not tested", "reason": "no claimed row was run", "per_row": {},
            "best": None}
  per_row = {r["scheme"]: row_status(r, gains.get(r["scheme"])) for r in rows}
  sign = 1.0 if rows[0]["lower_is_better"] else -1.0
  finite = [r for r in rows if r.get("mean_diff") is not None]
  best = min(finite, key=lambda r: sign * r["mean_diff"]) if finite else rows[0]
  n = min(r["n"] for r in rows)
  few = verdict_lib.too_few(n, min_n)
  if few:
    return {"status": "inconclusive", "reason": few, "per_row": per_row, "best": best}
  vals = set(per_row.values())
  if "reproduced" in vals:
    return {"status": "reproduced", "reason": "", "per_row": per_row, "best": best}
  if vals == {"not reproduced"}:
    return {"status": "not reproduced", "reason": "", "per_row": per_row, "best": best}
  open_rows = [k for k, v in per_row.items() if v == "inconclusive"]
  return {"status": "inconclusive",
          "reason": f"undecided rows: {', '.join(open_rows)}", "per_row": per_row,
          "best": best}


def per_row_text(per_row: Mapping[str, str]) -> str:
  """``"reproduced: a, b; not reproduced: c"``."""
  groups = {}
  for k, v in per_row.items():
    groups.setdefault(v, []).append(k)
  return "; ".join(f"{s}: {', '.join(groups[s])}" for s in verdict_lib.STATUSES if s in groups)


def split_half(values: Sequence[float], name: str, *, lower_is_better: bool = True,
               num_resamples: int = 10_000) -> Optional[dict]:
  """The split-half control row of ``name``'s per-seed ``values``: the even-position seeds
  (scheme ``"<name> even seeds"``) against the odd-position ones (reference), the k-th even seed
  paired with the k-th odd one, through :func:`chaosopt.analysis.stats.compare_paired` (the
  treatment's paired t-test and bootstrap CI; one row, so Holm changes nothing — the control is
  judged no more leniently than the treatment's rows). The split is fixed (by position, not
  drawn), so the control is reproducible. ``None`` with fewer than 2 seeds."""
  from chaosopt.analysis import stats
  v = np.asarray(values, np.float64).ravel()
  m = len(v) // 2
  if m < 1:
    return None
  row, = stats.compare_paired({f"{name} even seeds": v[0:2 * m:2], f"{name} odd seeds":
                               v[1:2 * m:2]}, f"{name} odd seeds",
                              lower_is_better=lower_is_better, num_resamples=num_resamples)
  return row


def split_half_control(values: Sequence[float], name: str, gain: Optional[float] = None, *,
                       lower_is_better: bool = True, what: str = "gain") -> Optional[dict]:
  """A negative control record (:func:`chaosopt.analysis.verdicts.control`) of an "A beats B"
  claim: :func:`split_half` of one scheme, its status by :func:`claim_status` with the paper's
  ``gain`` (the smallest claimed gain, the hardest to exclude) and the same seed minimum (counting
  the pairs of halves). It must come out not reproduced. ``None`` with fewer than 2 seeds."""
  row = split_half(values, name, lower_is_better=lower_is_better)
  if row is None:
    return None
  comp = claim_status([row], {row["scheme"]: gain})
  return verdict_lib.control(
      f"{name}'s seeds split in halves (even vs odd, paired in order)", comp["status"],
      row["mean_diff"], must_show=f"no {what} under the same rule (two halves of one scheme "
      f"differ by chance only; n = {row['n']} pairs, mean difference "
      f"{_f(row['mean_diff'])}, 95% CI [{_f(row['ci_low'])}, {_f(row['ci_high'])}])")


def _f(x) -> str:
  return "–" if x is None else f"{x:+.4f}"
