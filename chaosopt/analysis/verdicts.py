"""The verdict contract: a paper's claim as data, its status computed by a fixed decision rule.

Analysis layer, no paper equation (it imports nothing from ``chaosopt.train``). Every
experiment's ``verdicts(config, results)`` returns :class:`Verdict` dicts (:meth:`Verdict.as_dict`);
``results.json`` stores them, the reports render them (:func:`markdown`) and ``chaosopt status``
tabulates them. A verdict records

* ``claim`` — the paper's words (or ``origin`` says it is our extension, an erratum or a check);
* ``where`` — paper and figure / equation / table (``"P0 Table 1"``);
* ``statistic`` and ``rule`` — what is measured and the decision rule, fixed in code;
* ``estimate`` and ``uncertainty`` — a number and its interval ``(low, high)`` or a sentence
  (``"exact (deterministic)"``);
* ``status`` — one of :data:`STATUSES`, computed, never typed by hand:

  - ``"reproduced"``: the interval lies on the claim's side of the decision boundary;
  - ``"not reproduced"``: it lies on the other side;
  - ``"inconclusive"``: it straddles the boundary, too few seeds, or no power (below), with
    ``reason`` saying which;
  - ``"not tested"``: the run cannot speak to the claim (a smoke test, a shortened run);

* ``control`` — ``{"name", "status", "estimate", "must_show", "expect"}`` of a run judged by
  the same rule that must *not* show the effect (a negative control, ``expect = "not
  reproduced"``) or must show it (a positive control), or ``None`` where no control was run
  (``detail`` says so).

The power rule (:func:`apply_control`): a control that misses its ``expect`` and gets the same
decisive status as the treatment means the test could not tell them apart, so the treatment is
``"inconclusive"`` with reason "no power".
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

STATUSES = ("reproduced", "not reproduced", "inconclusive", "not tested")
DECISIVE = ("reproduced", "not reproduced")
ORIGINS = ("paper", "extension", "erratum", "check")
# seed-based statistics (t intervals, paired tests) below this many seeds decide nothing
MIN_SEEDS = 10
# how a verdict without a status (written before the contract) is shown
OLD_FORMAT = "not tested (old format)"

Uncertainty = Union[str, tuple, list, None]


@dataclasses.dataclass(frozen=True)
class Verdict:
  """One claim and its computed status (see the module docstring for the fields)."""
  claim: str
  where: str
  statistic: str
  rule: str
  status: str
  estimate: Optional[float] = None
  uncertainty: Uncertainty = None
  control: Optional[dict] = None
  detail: str = ""
  reason: str = ""
  origin: str = "paper"

  def __post_init__(self):
    if self.status not in STATUSES:
      raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
    if self.origin not in ORIGINS:
      raise ValueError(f"origin must be one of {ORIGINS}, got {self.origin!r}")
    if self.control is not None:
      missing = {"name", "status"} - set(self.control)
      if missing:
        raise ValueError(f"control needs keys name and status, missing {sorted(missing)}")
      if self.control["status"] not in STATUSES:
        raise ValueError(f"control status must be one of {STATUSES}, got "
                         f"{self.control['status']!r}")

  def as_dict(self) -> dict:
    """Plain JSON data; ``verdict`` is the one-line form (status and reason) for old readers."""
    unc = self.uncertainty
    if isinstance(unc, (tuple, list)):
      unc = [_num(u) for u in unc]
    control = None
    if self.control is not None:
      control = dict(self.control, estimate=_num(self.control.get("estimate")))
    return {"claim": self.claim, "where": self.where, "origin": self.origin,
            "statistic": self.statistic, "rule": self.rule, "estimate": _num(self.estimate),
            "uncertainty": unc, "status": self.status, "reason": self.reason,
            "control": control, "detail": self.detail, "verdict": short(self.as_status())}

  def as_status(self) -> dict:
    return {"status": self.status, "reason": self.reason}

  def replace(self, **changes) -> "Verdict":
    return dataclasses.replace(self, **changes)


def _num(x) -> Optional[float]:
  if x is None:
    return None
  x = float(x)
  return x if math.isfinite(x) else None


def short(v: Mapping) -> str:
  """``status`` or ``status (reason)``; a verdict without a status: :data:`OLD_FORMAT`."""
  status = v.get("status")
  if status not in STATUSES:
    return OLD_FORMAT
  reason = v.get("reason") or ""
  return f"{status} ({reason})" if reason and status in ("inconclusive", "not tested") \
      else status


def normalize(v: Mapping) -> dict:
  """A stored verdict as a contract dict: one written before the contract (no ``status``)
  keeps its old text in ``detail`` and is marked ``"not tested"`` with reason "old format",
  never shown as if it had been decided by a rule."""
  if v.get("status") in STATUSES:
    return dict(v)
  old = v.get("verdict", "")
  return {"claim": v.get("claim", ""), "where": v.get("where", ""), "origin": "paper",
          "statistic": "", "rule": "", "estimate": None, "uncertainty": None,
          "status": "not tested", "reason": "old format", "control": None,
          "detail": (f"old verdict text: {old}. " if old else "") + v.get("detail", ""),
          "verdict": OLD_FORMAT}


# ----------------------------------------------------------------------------- decision rules
def too_few(n: Optional[int], min_n: Optional[int]) -> Optional[str]:
  """The reason a seed-based statistic decides nothing (``None`` when ``n`` suffices)."""
  if n is None or min_n is None or n >= min_n:
    return None
  return f"too few seeds: n = {n} < {min_n}"


def interval_status(interval: Sequence[float], boundary: float, *, effect: str = "above",
                    margin: float = 0.0, n: Optional[int] = None,
                    min_n: Optional[int] = None) -> tuple[str, str]:
  """``(status, reason)`` of a one-sided claim "the quantity is ``effect`` the ``boundary``".

  ``interval`` = (low, high) of the estimate (``(x, x)`` for an exact value). The effect is
  reproduced when the whole interval is beyond the boundary; not reproduced when the whole
  interval falls short of ``boundary ± margin`` (no effect as large as ``margin``, the smallest
  effect the claim is about; touching the boundary counts as no effect); inconclusive when it
  straddles, when an end is not finite, or when ``n < min_n``.
  """
  if effect not in ("above", "below"):
    raise ValueError(f"effect must be 'above' or 'below', got {effect!r}")
  few = too_few(n, min_n)
  if few:
    return "inconclusive", few
  lo, hi = (float("nan") if x is None else float(x) for x in interval)
  if not (math.isfinite(lo) and math.isfinite(hi)):
    return "inconclusive", "no finite estimate"
  lo, hi = min(lo, hi), max(lo, hi)
  beyond = lo > boundary if effect == "above" else hi < boundary
  short_of = (hi <= boundary + margin if margin <= 0 else hi < boundary + margin) \
      if effect == "above" else \
      (lo >= boundary - margin if margin <= 0 else lo > boundary - margin)
  if beyond:
    return "reproduced", ""
  if short_of:
    return "not reproduced", ""
  return "inconclusive", f"the interval [{_g(lo)}, {_g(hi)}] straddles the boundary {_g(boundary)}"


def equivalence_status(interval: Sequence[float], target: float, margin: float, *,
                       n: Optional[int] = None, min_n: Optional[int] = None) -> tuple[str, str]:
  """``(status, reason)`` of the claim "the quantity equals ``target`` within ``margin``"
  (two one-sided tests): reproduced when the interval lies inside ``[target − margin,
  target + margin]``, not reproduced when it lies entirely outside, inconclusive otherwise."""
  few = too_few(n, min_n)
  if few:
    return "inconclusive", few
  lo, hi = sorted(float("nan") if x is None else float(x) for x in interval)
  if not (math.isfinite(lo) and math.isfinite(hi)):
    return "inconclusive", "no finite estimate"
  a, b = target - margin, target + margin
  if a <= lo and hi <= b:
    return "reproduced", ""
  if hi < a or lo > b:
    return "not reproduced", ""
  return "inconclusive", (f"the interval [{_g(lo)}, {_g(hi)}] is neither inside nor outside "
                          f"[{_g(a)}, {_g(b)}]")


def apply_control(status: str, reason: str, control: Optional[Mapping]) -> tuple[str, str]:
  """The power rule: a control that misses what it must show (``control["expect"]``: a negative
  control must be ``"not reproduced"``, a positive one ``"reproduced"``) and gets the same
  decisive status as the treatment means the test cannot tell the two apart:
  ``("inconclusive", "no power: ...")``."""
  if not control or status not in DECISIVE:
    return status, reason
  expect = control.get("expect", "not reproduced")
  if control.get("status") == status and status != expect:
    return "inconclusive", (f"no power: the control ({control.get('name')}) is also "
                            f"{status}")
  return status, reason


def control(name: str, status: str, estimate: Optional[float] = None, *,
            must_show: str = "no effect", expect: str = "not reproduced") -> dict:
  """A control record for :class:`Verdict`: ``status`` is the control's own status under the
  treatment's rule, ``must_show`` says in words what it must show for the treatment's result
  to count, ``expect`` is that status (``"not reproduced"``: a negative control, the default;
  ``"reproduced"``: a positive control)."""
  if status not in STATUSES:
    raise ValueError(f"control status must be one of {STATUSES}, got {status!r}")
  if expect not in DECISIVE:
    raise ValueError(f"expect must be one of {DECISIVE}, got {expect!r}")
  return {"name": name, "status": status, "estimate": _num(estimate), "must_show": must_show,
          "expect": expect}


def decide(claim: str, where: str, statistic: str, rule: str, *, status: str,
           reason: str = "", estimate: Optional[float] = None, uncertainty: Uncertainty = None,
           control: Optional[Mapping] = None, detail: str = "", origin: str = "paper",
           no_control: str = "No control was run for this claim.") -> Verdict:
  """A :class:`Verdict` with the power rule applied (:func:`apply_control`); without a control,
  ``no_control`` (what stands in for one, or that none was run) ends ``detail``."""
  status, reason = apply_control(status, reason, control)
  if control is None and no_control:
    detail = (detail.rstrip() + " " if detail else "") + no_control
  return Verdict(claim=claim, where=where, statistic=statistic, rule=rule, status=status,
                 reason=reason, estimate=estimate, uncertainty=uncertainty,
                 control=None if control is None else dict(control), detail=detail,
                 origin=origin)


def not_tested(verdicts: Iterable[Union[Verdict, Mapping]], reason: str) -> list:
  """Every verdict marked ``"not tested"`` with ``reason`` (the numbers stay, for reading)."""
  out = []
  for v in verdicts:
    d = v.as_dict() if isinstance(v, Verdict) else normalize(v)
    d = dict(d, status="not tested", reason=reason)
    if d.get("control"):
      d["control"] = dict(d["control"], status="not tested")
    d["verdict"] = short(d)
    out.append(d)
  return out


def as_dicts(verdicts: Iterable[Union[Verdict, Mapping]]) -> list[dict]:
  return [v.as_dict() if isinstance(v, Verdict) else normalize(v) for v in verdicts]


# ----------------------------------------------------------------------------- rendering
def _g(x, digits: int = 4) -> str:
  if x is None:
    return "–"
  x = float(x)
  if not math.isfinite(x):
    return "–"
  return f"{x:.{digits}g}"


def fmt_uncertainty(unc: Any) -> str:
  if unc is None:
    return ""
  if isinstance(unc, (list, tuple)) and len(unc) == 2:
    return f"[{_g(unc[0])}, {_g(unc[1])}]"
  return str(unc)


def markdown(verdicts: Iterable[Union[Verdict, Mapping]]) -> str:
  """The verdicts as a markdown list: status, claim and where, the statistic with its estimate
  and uncertainty, the rule, the control and the detail."""
  lines = []
  for v in as_dicts(verdicts):
    origin = {"extension": "Our extension: ", "erratum": "Erratum: ",
              "check": "Check: "}.get(v.get("origin"), "")
    where = f" ({v['where']})" if v.get("where") else ""
    parts = [f"- **{short(v)}** — {origin}{v['claim']}{where}"]
    if v.get("statistic"):
      est = "" if v.get("estimate") is None else f" = {_g(v['estimate'])}"
      unc = fmt_uncertainty(v.get("uncertainty"))
      parts.append(f"  {v['statistic']}{est}" + (f" ({unc})" if unc else "") + ".")
    if v.get("rule"):
      parts.append(f"  Rule: {v['rule']}.")
    c = v.get("control")
    if c:
      est = "" if c.get("estimate") is None else f", estimate {_g(c['estimate'])}"
      parts.append(f"  Control: {c['name']} → {c['status']}{est} (must show: "
                   f"{c.get('must_show', 'no effect')}).")
    if v.get("detail"):
      parts.append(f"  {v['detail']}")
    lines.append("\n".join(parts))
  return "\n".join(lines) + ("\n" if lines else "")


__all__ = ["STATUSES", "DECISIVE", "ORIGINS", "MIN_SEEDS", "OLD_FORMAT", "Verdict", "short",
           "normalize", "too_few", "interval_status", "equivalence_status", "apply_control",
           "control", "decide", "not_tested", "as_dicts", "markdown", "fmt_uncertainty"]
