"""Hyper-parameter sweeps of a scheme table: a grid of one scheme's hyper-parameters run as
extra schemes of the same run (execution layer, no paper equation).

A *sweep* replaces one scheme of a scheme-table config by the product of the values given for
some of its hyper-parameters; every *cell* is a scheme named after its values,
``<kind>[gamma=0.6,sigma=0.02]`` (keys in the order given, values as Python writes them), and
the other schemes run once beside them as references. Two ways to write one:

* on the command line, ``chaosopt run --config NAME --sweep schemes.2.gamma=0.55,0.6
  --sweep schemes.2.sigma=0.01,0.02`` (:func:`parse` + :func:`apply`; the scheme by index or
  name, ``schemes.mpgd_0.6.gamma``); ``--sweep-baseline NAME`` names the reference of the
  paired differences;
* in a config file, ``c.schemes = [gd] + sweep.grid({"kind": "mpgd", "mu": 0.01, ...},
  gamma=(0.55, 0.6), sigma=(0.01, 0.02))`` (:func:`grid`; ``c.sweep_baseline = "gd"``
  optionally).

The cells are ordinary schemes, so nothing else changes: the runner groups schemes of one kind
whose static options agree, and vmaps the traced hyper-parameters (``chaosopt list --kinds``),
so a grid over traced keys is one compiled program (a static key splits it, one program per
static value: :func:`programs` says how many); the expanded scheme list is the stored config,
so the same command resumes; ``metrics.csv`` has a column per hyper-parameter.

:func:`report` adds the sweep's section to an experiment's report (called by
:func:`chaosopt.train.experiment.execute` for every run whose schemes include cells): per metric
a heatmap (two keys) or a line plot (one key) of the median and inter-quartile range over
seeds, the paired differences of every cell against the baseline (default: the first unswept
``gd`` scheme, else the first unswept scheme) Holm-corrected over the grid, and the best cell
with its uncertainty — called better than the baseline only when its corrected test says so.
"""
from __future__ import annotations

import ast
import itertools
import math
import re
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from chaosopt.train import config as config_lib

# a cell's name: base[k=v,k=v]
_CELL_RE = re.compile(r"(?P<base>[^\[\]]+)\[(?P<body>[^\[\]]+)\]")
_KEY_RE = re.compile(r"schemes(?:\.|\[)(?P<scheme>[^\]]+?)\]?\.(?P<key>[A-Za-z_]\w*)")
# metrics whose larger values are better (by substring of the name); every other: smaller
HIGHER_IS_BETTER = ("accuracy",)


class SweepError(config_lib.ConfigError):
  """A bad ``--sweep`` key or value (one line naming it; exit status 2)."""


# ----------------------------------------------------------------------------- cells
def value_text(v: Any) -> str:
  """A value as it appears in a cell's name (``repr`` of a float: shortest round trip)."""
  return repr(v) if isinstance(v, float) else str(v)


def cell_name(base: str, values: Mapping[str, Any]) -> str:
  """``base[k1=v1,k2=v2]``."""
  return f"{base}[{','.join(f'{k}={value_text(v)}' for k, v in values.items())}]"


def parse_cell(name: str) -> Optional[tuple[str, dict]]:
  """``(base, {key: value text})`` of a cell's name, None for any other scheme name."""
  m = _CELL_RE.fullmatch(name or "")
  if not m:
    return None
  pairs = [p.partition("=") for p in m["body"].split(",")]
  if not all(eq and k for k, eq, _ in pairs):
    return None
  return m["base"], {k: v for k, _, v in pairs}


def grid(scheme: Mapping[str, Any], *, name: Optional[str] = None,
         **axes: Sequence[Any]) -> list[dict]:
  """The cells of a grid over ``scheme``'s hyper-parameters, for a config file's schemes.

  ``scheme`` is a scheme dict without a name (or whose name is ignored); ``axes`` maps a
  hyper-parameter to its values. Returns one scheme dict per element of the product (the first
  key varies slowest), named :func:`cell_name` of ``name`` (default: the scheme's kind).

  >>> [s["name"] for s in grid({"kind": "mpgd", "mu": 0.01}, gamma=(0.55, 0.6), sigma=(0.02,))]
  ['mpgd[gamma=0.55,sigma=0.02]', 'mpgd[gamma=0.6,sigma=0.02]']
  """
  if not axes:
    raise ValueError("grid() needs at least one hyper-parameter with its values")
  base = name or scheme.get("kind")
  if not base:
    raise ValueError("grid(): the scheme has no kind")
  for k, vals in axes.items():
    if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence) or not vals:
      raise ValueError(f"grid(): {k} must be a non-empty list of values, got {vals!r}")
    if len(set(map(value_text, vals))) < len(vals):
      raise ValueError(f"grid(): {k} has repeated values {list(vals)}")
  out = []
  for combo in itertools.product(*axes.values()):
    values = dict(zip(axes, combo))
    out.append({**{k: v for k, v in scheme.items() if k != "name"}, **values,
                "name": cell_name(base, values)})
  return out


# ----------------------------------------------------------------------------- --sweep
def parse(text: str) -> tuple[str, list[str]]:
  """``"KEY=v1,v2"`` -> ``(KEY, ["v1", "v2"])``; :class:`SweepError` naming it otherwise."""
  key, eq, values = text.partition("=")
  items = [v.strip() for v in values.split(",")]
  if not eq or not key.strip() or not values.strip() or not all(items):
    raise SweepError(f"--sweep {text!r}: write KEY=v1,v2,... (e.g. schemes.2.gamma=0.55,0.6)")
  if len(set(items)) < len(items):
    raise SweepError(f"--sweep {text!r}: a value is repeated")
  return key.strip(), items


def _typed(text: str, current: Any, where: str) -> Any:
  """``text`` as a value of ``current``'s type (float fields take ints)."""
  try:
    if isinstance(current, bool):
      low = text.lower()
      if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ValueError
      return low in ("true", "1", "yes", "on")
    if isinstance(current, int):
      return int(text)
    if isinstance(current, float):
      v = float(text)
      if not math.isfinite(v):
        raise ValueError
      return v
    if isinstance(current, str):
      return text
    try:
      return ast.literal_eval(text)
    except (ValueError, SyntaxError):
      return text
  except ValueError:
    kind = type(current).__name__
    raise SweepError(f"--sweep {where}: {text!r} is not a{'n' if kind[0] in 'aeiou' else ''} "
                     f"{kind}" + (" (finite)" if kind == "float" else "")) from None


def _scheme_index(config, ref: str, key: str) -> int:
  names = [dict(s).get("name") for s in config.schemes]
  if ref.isdigit():
    if int(ref) >= len(names):
      raise SweepError(f"--sweep {key}: no scheme {ref} (the config has {len(names)}: "
                       f"0..{len(names) - 1})")
    return int(ref)
  if ref not in names:
    raise SweepError(f"--sweep {key}: no scheme named {ref!r}; names: {names}")
  return names.index(ref)


def apply(config, sweeps: Sequence[tuple[str, Sequence[str]]],
          baseline: Optional[str] = None) -> list[dict]:
  """Replaces, in ``config`` (a locked scheme-table ConfigDict, overrides applied), the swept
  scheme by the cells of ``sweeps`` (``[(KEY, [value texts])]``, :func:`parse`); a
  ``config.only`` selection is applied to the scheme list (the swept scheme's name selects its
  cells) and emptied. ``baseline`` is stored as
  ``config.sweep_baseline``. Every key must address a hyper-parameter of one and the same
  scheme (``schemes.<index|name>.<key>``); every value is typed like the field and checked
  against the scheme's kind. Returns the cells. Raises :class:`SweepError` naming the key."""
  if not sweeps:
    if baseline:
      raise SweepError("--sweep-baseline needs --sweep")
    return []
  if "schemes" not in config or not isinstance(config.schemes, list) or not config.schemes:
    raise SweepError(f"--sweep: experiment {config.get('experiment', '?')!r} has no scheme "
                     f"table (config.schemes) to sweep")
  from chaosopt.train import schemes as schemes_lib
  index, axes = None, {}
  for key, texts in sweeps:
    m = _KEY_RE.fullmatch(key)
    if not m:
      raise SweepError(f"--sweep {key}: a sweep key names one scheme's hyper-parameter, "
                       f"schemes.<index|name>.<key> (e.g. schemes.2.gamma)")
    i = _scheme_index(config, m["scheme"], key)
    if index is not None and i != index:
      raise SweepError(f"--sweep {key}: every --sweep must name the same scheme (the first "
                       f"named schemes.{index})")
    index = i
    hp = m["key"]
    if hp in ("name", "kind"):
      raise SweepError(f"--sweep {key}: the scheme's {hp} cannot be swept")
    s = dict(config.schemes[i])
    try:
      spec = schemes_lib.spec_of(s.get("kind"))
    except KeyError as e:
      raise SweepError(f"--sweep {key}: {e.args[0]}") from None
    allowed = {"learning_rate": config.learning_rate, **schemes_lib.defaults(spec),
               **{k: None for k in schemes_lib.required(spec)}}
    if hp not in allowed and hp not in s:
      raise SweepError(f"--sweep {key}: kind {spec.kind!r} has no hyper-parameter {hp!r}; "
                       f"allowed: {sorted(allowed)}")
    if hp in axes:
      raise SweepError(f"--sweep {key}: swept twice")
    current = s.get(hp, allowed.get(hp))
    axes[hp] = [_typed(t, current, f"{key}={t}") for t in texts]
  swept = dict(config.schemes[index])
  base = swept["kind"]
  cells = grid(swept, name=base, **axes)
  others = [dict(s) for j, s in enumerate(config.schemes) if j != index]
  clash = sorted({c["name"] for c in cells} & {s["name"] for s in others})
  if clash:
    raise SweepError(f"--sweep: cell name(s) {clash} are already scheme names")
  for cell in cells:
    try:
      schemes_lib.validate_scheme(index, cell, config.learning_rate)
    except config_lib.ConfigError as e:
      values = parse_cell(cell["name"])[1]
      where = " ".join(f"schemes.{index}.{k}={v}" for k, v in values.items())
      raise SweepError(f"--sweep {where}: {e}") from None
  names = [s["name"] for s in others]
  schemes = others[:index] + cells + others[index:]
  if config.get("only"):
    # cell names hold commas: the selection is applied here (config.only is emptied)
    wanted = [w.strip() for w in config.only.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in names + [swept["name"]]]
    if unknown:
      raise SweepError(f"config.only names unknown scheme(s) {unknown}; names: "
                       f"{names + [swept['name']]}")
    if swept["name"] not in wanted:
      raise SweepError(f"--sweep: config.only={config.only!r} does not select the swept "
                       f"scheme {swept['name']!r}")
    schemes = [s for s in schemes if s["name"] in wanted or s in cells]
    names = [n for n in names if n in wanted]
    config.only = ""
  if baseline is not None and baseline not in names:
    raise SweepError(f"--sweep-baseline {baseline!r}: not an unswept scheme; names: {names}")
  config.schemes = schemes
  if baseline is not None:
    with config.unlocked():
      config.sweep_baseline = baseline
  return cells


def programs(config) -> tuple[int, list[str]]:
  """``(n, static)``: how many compiled programs the cells of ``config`` run in (one per
  distinct kind and static options) and which swept keys are static (split the program)."""
  from chaosopt.train import schemes as schemes_lib
  cells = [dict(s) for s in config.schemes if parse_cell(dict(s).get("name", ""))]
  if not cells:
    return 0, []
  keys = []
  for s in cells:
    keys += [k for k in parse_cell(s["name"])[1] if k not in keys]
  static = [k for k in keys if k != "learning_rate"
            and k not in schemes_lib.spec_of(cells[0]["kind"]).traced]
  sig = {(s["kind"], tuple(repr(s.get(k)) for k in static)) for s in cells}
  return len(sig), static


# ----------------------------------------------------------------------------- analysis
def lower_is_better(metric: str) -> bool:
  """Direction of a metric: smaller is better unless its name has a :data:`HIGHER_IS_BETTER`
  part (accuracies)."""
  return not any(h in metric for h in HIGHER_IS_BETTER)


def find(results: Mapping, config=None) -> Optional[dict]:
  """The sweep of a scheme-table results block: ``{"base", "keys", "cells": {name: {key:
  value}}, "baseline"}`` (cells of the first swept base; values from the schemes'
  hyper-parameters), or None when no scheme is a cell."""
  schemes = results.get("schemes") if isinstance(results, Mapping) else None
  if not isinstance(schemes, Mapping):
    return None
  cells, base, keys = {}, None, []
  for name, s in schemes.items():
    parsed = parse_cell(name)
    if not parsed or (base is not None and parsed[0] != base):
      continue
    base = parsed[0]
    hp = dict(s.get("hparams") or {})
    vals = {}
    for k, text in parsed[1].items():
      keys += [k] if k not in keys else []
      vals[k] = hp.get(k, _literal(text))
    cells[name] = vals
  if not cells:
    return None
  others = [n for n in schemes if n not in cells and not parse_cell(n)]
  wanted = config.get("sweep_baseline") if config is not None and hasattr(config, "get") \
      else None
  baseline = wanted if wanted in others else next(
      (n for n in others if schemes[n].get("kind") == "gd"), others[0] if others else None)
  return {"base": base, "keys": keys, "cells": cells, "baseline": baseline}


def _literal(text: str) -> Any:
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def _final(scheme: Mapping, metric: str) -> np.ndarray:
  """Per-seed final values, NaN for diverged seeds and non-finite values."""
  v = np.array([np.nan if x is None else x for x in scheme["final"][metric]], np.float64)
  d = np.asarray(scheme.get("diverged_at") if scheme.get("diverged_at") is not None
                 else [-1] * len(v))
  d = np.array([-1 if x is None else x for x in d.ravel()])
  return np.where(d < 0, v, np.nan)


def _quartiles(v: np.ndarray) -> tuple[Optional[float], Optional[float], Optional[float], int]:
  v = v[np.isfinite(v)]
  if not v.size:
    return None, None, None, 0
  q25, med, q75 = np.percentile(v, [25, 50, 75])
  return float(med), float(q25), float(q75), int(v.size)


def metrics_of(config, results: Mapping) -> list[str]:
  """The metrics a sweep report shows: ``config.headline`` when set, else every final metric
  the cells share."""
  first = next(iter(results["schemes"].values()))
  finals = list(first.get("final", {}))
  heads = [m for m in (config.get("headline", ()) or ()) if m in finals] \
      if config is not None and hasattr(config, "get") else []
  return heads or finals


def analyse(results: Mapping, config=None, alpha: float = 0.05) -> Optional[dict]:
  """Per metric: per cell the median and quartiles over seeds, the paired comparison with the
  baseline (:func:`chaosopt.analysis.stats.compare_paired` over the baseline and the cells:
  Holm-corrected over the grid) and the best cell by median. None without a sweep."""
  from chaosopt.analysis import stats
  sw = find(results, config)
  if sw is None:
    return None
  schemes = results["schemes"]
  out = dict(sw, metrics={}, alpha=alpha)
  for m in metrics_of(config, results):
    if not all(m in schemes[n].get("final", {}) for n in sw["cells"]):
      continue
    low = lower_is_better(m)
    rows = {}
    for name in sw["cells"]:
      med, q25, q75, n = _quartiles(_final(schemes[name], m))
      rows[name] = {"median": med, "q25": q25, "q75": q75, "n": n}
    base = sw["baseline"]
    if base is not None and m in schemes[base].get("final", {}):
      vals = {base: _final(schemes[base], m)}
      vals.update({n: _final(schemes[n], m) for n in sw["cells"]})
      for r in stats.compare_paired(vals, base, lower_is_better=low, alpha=alpha,
                                    num_resamples=2000):
        rows[r["scheme"]]["paired"] = r
      bmed, bq25, bq75, bn = _quartiles(vals[base])
      ref = {"name": base, "median": bmed, "q25": bq25, "q75": bq75, "n": bn}
    else:
      ref = None
    ranked = [n for n in rows if rows[n]["median"] is not None]
    ranked.sort(key=lambda n: rows[n]["median"] if low else -rows[n]["median"])
    out["metrics"][m] = {"lower_is_better": low, "cells": rows, "baseline": ref,
                         "best": ranked[0] if ranked else None}
  return out


# ----------------------------------------------------------------------------- report
def _num(x: Optional[float], digits: int = 4) -> str:
  if x is None or not math.isfinite(x):
    return "–"
  return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"


def best_text(metric: str, entry: Mapping, alpha: float) -> str:
  """The best cell by median and what the corrected test says of it (never a "winner" without
  a significant Holm-corrected paired test)."""
  best = entry["best"]
  if best is None:
    return f"{metric}: every seed of every cell diverged; no best cell."
  r = entry["cells"][best]
  direction = "lowest" if entry["lower_is_better"] else "highest"
  text = (f"{metric}: the {direction} median is `{best}`, {_num(r['median'])} "
          f"(IQR {_num(r['q25'])}–{_num(r['q75'])}, n = {r['n']})")
  p = r.get("paired")
  ref = entry["baseline"]
  if not p or ref is None:
    return text + "; no baseline to test it against."
  text += (f"; paired difference vs `{ref['name']}` {_num(p['mean_diff'])} ± "
           f"{_num(p['se_diff'])} (SE), 95% bootstrap CI [{_num(p['ci_low'])}, "
           f"{_num(p['ci_high'])}], Holm p = {_num(p['p_ttest_holm'], 3)}")
  if p["verdict"] == "better":
    return text + f": significantly better than `{ref['name']}` (α = {alpha}, Holm over the grid)."
  sig = [n for n, c in entry["cells"].items() if (c.get("paired") or {}).get("verdict")
         == "better"]
  tail = (f" Cells significantly better than `{ref['name']}`: {', '.join(f'`{n}`' for n in sig)}."
          if sig else f" No cell is significantly better than `{ref['name']}` after the Holm "
                      f"correction: the grid names no winner.")
  return text + f": not significantly better (α = {alpha})." + tail


def markdown(an: Mapping) -> str:
  """The sweep section of a report."""
  from chaosopt.train import report as report_lib
  keys = an["keys"]
  ref = an["baseline"]
  lines = [f"\n## Sweep: {an['base']} over {' × '.join(keys)} "
           f"({len(an['cells'])} cells)\n",
           "Each cell is a scheme of this run (same seeds, same initial parameters as every "
           "other scheme); per cell the median and inter-quartile range over seeds that did not "
           "diverge" + (f", and the difference cell − `{ref}` paired by seed, its p-value "
           f"Holm-corrected over the {len(an['cells'])} cells" if ref else "") + ".\n"]
  for m, e in an["metrics"].items():
    lines.append(f"\n### {m} ({'lower' if e['lower_is_better'] else 'higher'} is better)\n")
    if e["baseline"]:
      b = e["baseline"]
      lines.append(f"Baseline `{b['name']}`: median {_num(b['median'])} (IQR "
                   f"{_num(b['q25'])}–{_num(b['q75'])}, n = {b['n']}).\n")
    head = keys + ["median", "IQR", "n"] + (["diff ± SE", "95% CI", "p (t, Holm)", "verdict"]
                                            if ref else [])
    rows = []
    for name, r in e["cells"].items():
      row = [value_text(an["cells"][name][k]) for k in keys]
      row += [_num(r["median"]), f"{_num(r['q25'])}–{_num(r['q75'])}", r["n"]]
      p = r.get("paired")
      if ref:
        row += ([f"{_num(p['mean_diff'])} ± {_num(p['se_diff'])}",
                 f"[{_num(p['ci_low'])}, {_num(p['ci_high'])}]", _num(p["p_ttest_holm"], 3),
                 p["verdict"]] if p else ["–"] * 4)
      rows.append(row)
    lines.append("\n" + report_lib.markdown_table(head, rows))
    lines.append("\n**Best cell.** " + best_text(m, e, an["alpha"]) + "\n")
  return "".join(lines)


def figures(an: Mapping) -> dict:
  """Per metric ``sweep_<metric>``: a heatmap of the median (two keys; IQR in each cell), a
  line plot of the median with its IQR band against the first key (one key, or the first key
  per value of the others), the baseline's median as a dashed line."""
  from chaosopt.train import plots
  figs = {}
  keys = an["keys"]
  for m, e in an["metrics"].items():
    cells = an["cells"]
    if len(keys) == 2:
      xs = _levels(cells, keys[1])
      ys = _levels(cells, keys[0])
      grid_ = np.full((len(ys), len(xs)), np.nan)
      iqr = {}
      for name, v in cells.items():
        r = e["cells"][name]
        i, j = ys.index(v[keys[0]]), xs.index(v[keys[1]])
        if r["median"] is not None:
          grid_[i, j] = r["median"]
          iqr[i, j] = (r["q25"], r["q75"])
      fig, ax = plots.subplots(figsize=(1.3 * len(xs) + 3, 0.9 * len(ys) + 2))
      cmap = "viridis_r" if e["lower_is_better"] else "viridis"
      im = ax.imshow(grid_, cmap=cmap, aspect="auto", origin="lower")
      fig.colorbar(im, ax=ax, label=f"median {plots.metric_label(m)}")
      for (i, j), (a, b) in iqr.items():
        ax.text(j, i, f"{plots.fmt_num(grid_[i, j])}\n[{plots.fmt_num(a)}, {plots.fmt_num(b)}]",
                ha="center", va="center", fontsize=8, color="w",
                path_effects=_outline())
      ax.grid(False)
      ax.set_xticks(range(len(xs)), [plots.fmt_num(x) for x in xs])
      ax.set_yticks(range(len(ys)), [plots.fmt_num(y) for y in ys])
      ax.set_xlabel(plots.metric_label(keys[1]))
      ax.set_ylabel(plots.metric_label(keys[0]))
    else:
      fig, ax = plots.subplots(figsize=(6, 4))
      xs = _levels(cells, keys[0])
      rest = [k for k in keys[1:]]
      series: dict = {}
      for name, v in cells.items():
        series.setdefault(tuple(v[k] for k in rest), []).append((v[keys[0]], e["cells"][name]))
      for label, pts in series.items():
        pts.sort(key=lambda t: t[0])
        x = [p[0] for p in pts]
        med = [np.nan if p[1]["median"] is None else p[1]["median"] for p in pts]
        lo = [np.nan if p[1]["q25"] is None else p[1]["q25"] for p in pts]
        hi = [np.nan if p[1]["q75"] is None else p[1]["q75"] for p in pts]
        text = ", ".join(f"{k}={plots.fmt_num(t)}" for k, t in zip(rest, label)) or an["base"]
        (line,) = ax.plot(x, med, marker="o", label=text)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
      if e["baseline"] and e["baseline"]["median"] is not None:
        ax.axhline(e["baseline"]["median"], color="k", ls="--", lw=1,
                   label=f"{e['baseline']['name']} (median)")
      if all(isinstance(x, (int, float)) and x > 0 for x in xs) and \
          max(xs) / min(xs) >= 20:
        ax.set_xscale("log")
      ax.set_xlabel(plots.metric_label(keys[0]))
      ax.set_ylabel(plots.metric_label(m))
      ax.legend(fontsize=8.5)
    n = max((r["n"] for r in e["cells"].values()), default=0)
    ax.set_title(f"{m}: median over seeds, IQR ({'in brackets' if len(keys) == 2 else 'band'}); "
                 f"n ≤ {n}", fontsize=9)
    figs[f"sweep_{m}"] = fig
  return figs


def _outline():
  from matplotlib import patheffects
  return [patheffects.withStroke(linewidth=2, foreground="k")]


def _levels(cells: Mapping, key: str) -> list:
  out = []
  for v in cells.values():
    if v[key] not in out:
      out.append(v[key])
  try:
    return sorted(out)
  except TypeError:
    return out


def report(config, results) -> tuple[str, dict]:
  """``(markdown, figures)`` of the sweep in ``results`` (empty when there is none)."""
  try:
    an = analyse(results, config)
  except (KeyError, TypeError, ValueError) as e:  # results of another shape: no section
    import logging
    logging.getLogger("chaosopt").warning("sweep: no sweep section in the report (%s: %s)",
                                          type(e).__name__, e)
    return "", {}
  if an is None or not an["metrics"]:
    return "", {}
  return markdown(an), figures(an)
