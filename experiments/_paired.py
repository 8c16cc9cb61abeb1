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
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

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
