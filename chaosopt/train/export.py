"""``metrics.csv``: a run's numbers in long format, for pandas, R or a spreadsheet (execution
layer, no paper equation).

Every run writes it beside ``results.json`` (:func:`write_csv`, called by
:func:`chaosopt.train.experiment.execute`), through the workdir's manifest. One row per number:

  experiment, variant, scheme, <hyper-parameter columns>, seed, diverged_at, step, metric, value

* **Scheme tables** (``results["schemes"][name]`` with ``seeds``, ``final`` and, if recorded,
  ``eval_steps`` / ``evals`` / ``initial`` / ``hparams``): per scheme and seed, the evaluation
  curves (``step`` = the step of the evaluation; the metrics before training, ``initial``, at
  step 0 when the evaluations do not include it) and the final metrics (``step`` empty: the
  value after the whole run). The hyper-parameter columns are the union of the schemes'
  ``hparams`` (e.g. ``learning_rate``, ``mu``, ``sigma``, ``gamma``), empty where a scheme has
  none; ``diverged_at`` is the step at which a diverged seed was stopped (empty if it never
  diverged: its final value is then that of its last finite parameters, which the report's
  summaries leave out). A non-finite value (``None`` in results.json) is written ``nan``.
* **Every other number** of ``results``: the scalar leaves (ints and floats) of its nested
  dicts, one row each, ``metric`` the dotted path (``minimum.train_mse``), the other columns
  empty. Lists (per-seed arrays, curves, samples) are left out: they are in results.json /
  results.npz. For a scheme table these are the leaves outside ``schemes`` (and ``summary``,
  which the rows above determine); an experiment without scalar leaves gets the header only.
"""
from __future__ import annotations

import csv
import math
import numbers
from typing import Any, Iterator

CSV_FILE = "metrics.csv"
HEAD = ("experiment", "variant", "scheme")
TAIL = ("seed", "diverged_at", "step", "metric", "value")


def _value(v: Any) -> str:
  if v is None:
    return "nan"  # results.json's non-finite
  if isinstance(v, bool):
    return str(int(v))
  if isinstance(v, numbers.Integral):
    return str(int(v))
  v = float(v)
  return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else str(v))


def _is_scheme_table(results: Any) -> bool:
  schemes = results.get("schemes") if isinstance(results, dict) else None
  return isinstance(schemes, dict) and bool(schemes) and all(
      isinstance(s, dict) and "seeds" in s and isinstance(s.get("final"), dict)
      for s in schemes.values())


def _scalar_leaves(x: Any, path: tuple = ()) -> Iterator[tuple[str, Any]]:
  if isinstance(x, dict):
    if set(x) == {"$array", "shape", "dtype"}:  # an array left in results.npz
      return
    for k, v in x.items():
      yield from _scalar_leaves(v, path + (str(k),))
  elif isinstance(x, numbers.Real) and path:
    yield ".".join(path), x


def _hparam_columns(schemes: dict) -> list[str]:
  cols = []
  for s in schemes.values():
    for k, v in (s.get("hparams") or {}).items():
      if k not in cols and isinstance(v, (numbers.Real, str)):
        cols.append(k)
  return cols


def _column(name: str) -> str:
  """A hyper-parameter named like a fixed column gets the prefix ``hp_``."""
  return f"hp_{name}" if name in HEAD + TAIL else name


def rows(doc: dict) -> tuple[list[str], list[list[str]]]:
  """``(header, rows)`` of the results document ``doc`` (see the module docstring)."""
  results = doc.get("results")
  results = results if isinstance(results, dict) else {}
  exp, variant = str(doc.get("experiment", "")), str(doc.get("variant", "") or "")
  table = _is_scheme_table(results)
  hp_cols = _hparam_columns(results["schemes"]) if table else []
  header = list(HEAD) + [_column(c) for c in hp_cols] + list(TAIL)
  out = []
  if table:
    for name, s in results["schemes"].items():
      hp = s.get("hparams") or {}
      hp_cells = ["" if hp.get(c) is None else (hp[c] if isinstance(hp[c], str)
                                                 else _value(hp[c])) for c in hp_cols]
      diverged = list(s.get("diverged_at") or [])
      steps = [int(t) for t in (s.get("eval_steps") or [])]
      curves = []
      if isinstance(s.get("initial"), dict) and 0 not in steps:
        curves += [("0", m, lambda j, v=v: v[j]) for m, v in s["initial"].items()]
      for m, v in (s.get("evals") or {}).items():
        curves += [(str(t), m, lambda j, v=v, e=e: v[j][e]) for e, t in enumerate(steps)]
      curves += [("", m, lambda j, v=v: v[j]) for m, v in s["final"].items()]
      for j, seed in enumerate(s["seeds"]):
        d = diverged[j] if j < len(diverged) else None
        d = "" if d is None or d < 0 else str(int(d))
        for step, metric, get in curves:
          try:
            value = get(j)
          except (IndexError, TypeError):
            continue  # a curve shorter than the others (a scheme stopped early)
          if isinstance(value, (list, dict)):
            continue
          out.append([exp, variant, name] + hp_cells + [str(seed), d, step, metric,
                                                         _value(value)])
  blank = [""] * len(hp_cols)
  rest = {k: v for k, v in results.items() if not (table and k in ("schemes", "summary"))}
  for path, value in _scalar_leaves(rest):
    out.append([exp, variant, ""] + blank + ["", "", "", path, _value(value)])
  return header, out


def write_csv(wd, doc: dict) -> str:
  """Writes ``metrics.csv`` of the results document ``doc`` into the workdir ``wd`` (a
  :class:`chaosopt.train.workdir.Workdir`; the file is recorded in its manifest first) and
  returns its path. It is derived from the results, so it is simply rewritten (not atomically:
  a run killed while writing it rewrites it when resumed or re-rendered)."""
  header, body = rows(doc)
  path = wd.file(CSV_FILE)
  with open(path, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(header)
    w.writerows(body)
  return path


# ----------------------------------------------------------------------------- LaTeX
_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "±": r"$\pm$", "−": "$-$", "–": "--"}


def latex_escape(text: Any) -> str:
  """``text`` with LaTeX's special characters escaped (``±`` as ``$\\pm$``)."""
  return "".join(_LATEX_ESCAPES.get(c, c) for c in str(text))


def latex_table(headers: list, rows: list, *, caption: str = "", label: str = "") -> str:
  """A booktabs table (``\\toprule``, ``\\midrule``, ``\\bottomrule``; needs
  ``\\usepackage{booktabs}``) of ``rows`` under ``headers``; the first column left-aligned, the
  others right-aligned; every cell escaped (:func:`latex_escape`)."""
  spec = "l" + "r" * (len(headers) - 1)
  lines = [r"\begin{table}[t]", r"\centering"]
  if caption:
    lines.append(rf"\caption{{{latex_escape(caption)}}}")
  if label:
    lines.append(rf"\label{{{label}}}")
  lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
            " & ".join(latex_escape(h) for h in headers) + r" \\", r"\midrule"]
  lines += [" & ".join(latex_escape(c) for c in r) + r" \\" for r in rows]
  lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
  return "\n".join(lines)
