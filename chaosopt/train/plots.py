"""Shared figures for every chaosopt experiment (matplotlib, Agg backend).

No paper equation: this is the presentation layer. It draws the quantities the experiments
measure (losses, the P0 eq. 8 / eq. 11 MPGD runs, Hessian traces, Table reproductions) and is
built so that the usual defects of quick plots cannot happen:

* a curve over seeds is the **median** with an inter-quartile band or the individual seeds
  (:func:`curves`), never a mean that one spiking seed drags; diverged (NaN) seeds are marked
  and counted, and :func:`band_note` states what the band is for the caption;
* heavy-tailed data get a log axis (:func:`auto_yscale`) with non-overlapping tick labels and
  a robust y-range (:func:`robust_ylim`);
* axis labels come from :data:`METRIC_LABELS` (human text with units), never raw keys;
* every scheme has its own colour (:func:`scheme_colors`): one hue family per optimizer kind,
  shaded by gamma / exponent / alpha, for any number of schemes;
* legends use >= 8 pt fonts, deduplicated labels and compact numbers (:func:`fmt_num`);
* histograms never drop data silently (:func:`histogram`);
* final-metric plots show every seed, the paper's and the authors'-code values and the
  diverged seeds (:func:`final_metrics`, :func:`table_figure`);
* figures are saved as PNG and PDF (:func:`save`).

All functions are pure apart from drawing on the axes / figure they are given.
"""
from __future__ import annotations

import colorsys
import contextlib
import math
import os
import re
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import ticker as mticker
from matplotlib import transforms as mtransforms
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

__all__ = [
    "FORMATS", "METRIC_LABELS", "HistogramInfo", "auto_yscale", "band_note", "curves",
    "curves_figure", "final_metrics", "fit_labels", "fmt_num", "histogram", "label_axes",
    "legend", "log_ticks", "metric_label", "pyplot", "render", "robust_ylim", "save",
    "scheme_colors", "style", "subplots", "table_figure",
]

BANDS = ("iqr", "seeds", "none")
MIN_LEGEND_PT = 8.0
PAPER_COLOR = "#d62728"
AUTHORS_COLOR = "black"

_RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "legend.framealpha": 0.85,
    "axes.grid": True,
    "axes.grid.which": "major",
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    # plain-text tick labels: mathtext ones ("$\\mathdefault{0.5}$") were parsed once per
    # label and resolution, ≈ 0.3 s of a main job's figures
    "axes.formatter.use_mathtext": False,
    "axes.formatter.limits": (-3, 4),
    "lines.linewidth": 1.8,
    "figure.constrained_layout.use": True,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
}


def pyplot():
  """Returns ``matplotlib.pyplot``, selecting the non-interactive Agg backend when nothing
  imported pyplot before (a script or the command). A session that already uses pyplot (a
  notebook's inline backend) keeps its backend: figures are saved and closed either way."""
  if "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


@contextlib.contextmanager
def style() -> Iterator[None]:
  """Context manager with the rc parameters every chaosopt figure uses: readable fonts
  (legends >= 8 pt), a light grid, constrained (tight) layout, 150 dpi PNGs, TrueType fonts in
  PDFs. Create, draw and save figures inside it (:func:`save`, :func:`subplots`,
  :func:`table_figure` and :func:`curves_figure` enter it themselves)."""
  pyplot()
  with matplotlib.rc_context(_RC):
    yield


def subplots(nrows: int = 1, ncols: int = 1, **kw: Any) -> tuple[Figure, Any]:
  """``plt.subplots`` under :func:`style` (``squeeze`` as in matplotlib)."""
  with style():
    return pyplot().subplots(nrows, ncols, **kw)


# --------------------------------------------------------------------------------------------
# numbers and labels

def fmt_num(x: Any, sig: int = 3) -> str:
  """Compact text for a number in a label or legend: at most ``sig`` significant digits (more
  only for integers below 1e4), plain decimals for 1e-3 <= |x| < 1e4, otherwise ``1e-4`` /
  ``2.5e-5`` style. Examples: 0.1 -> '0.1', 1e-4 -> '1e-4', 0.55 -> '0.55', 0.1 + 0.2 -> '0.3',
  1/3 -> '0.333', 3.0 -> '3', 2e6 -> '2e6'. Non-numbers are returned as ``str(x)``."""
  try:
    v = float(x)
  except (TypeError, ValueError):
    return str(x)
  if math.isnan(v):
    return "nan"
  if math.isinf(v):
    return "∞" if v > 0 else "-∞"
  if v == 0:
    return "0"
  sign = "-" if v < 0 else ""
  a = abs(v)
  if 1e-3 <= a < 1e4:
    if a == round(a):
      return f"{sign}{round(a)}"
    e = math.floor(math.log10(a))
    decimals = max(0, sig - 1 - e)
    s = f"{a:.{decimals}f}"
    if "." in s:
      s = s.rstrip("0").rstrip(".")
    if float(s) >= 1e4:  # rounding pushed it over the boundary
      return sign + _fmt_exp(a, sig)
    return sign + s
  return sign + _fmt_exp(a, sig)


def _fmt_exp(a: float, sig: int) -> str:
  mant, exp = f"{a:.{max(sig - 1, 0)}e}".split("e")
  if "." in mant:
    mant = mant.rstrip("0").rstrip(".")
  return f"{mant}e{int(exp)}"


METRIC_LABELS: dict[str, str] = {
    "step": "step (iterations)",
    "epoch": "epoch",
    "time": "time",
    "learning_rate": "learning rate η",
    "train_loss": "training loss (MSE)",
    "test_loss": "test loss",
    "val_loss": "validation loss",
    "train_mse": "training MSE (standardized target)",
    "test_mse": "test MSE (standardized target)",
    "train_rmse": "training RMSE (standardized target)",
    "test_rmse": "test RMSE (standardized target)",
    "test_rmse_final": "final test RMSE (standardized target)",
    "gap": "generalization gap: test RMSE − train RMSE",
    "coded_gap": "coded gap: test RMSE − train MSE",
    "hessian_trace": "Hessian trace tr ∇²R",
    "train_accuracy": "training accuracy (%)",
    "val_accuracy": "validation accuracy (%)",
    "test_accuracy": "test accuracy (%)",
    "test_error": "test error (%)",
    "escape_time": "escape time (steps)",
    "gamma": "γ",
    "sigma": "σ",
    "mu": "μ",
    "alpha": "tail index α",
}

_TOKENS = {
    "rmse": "RMSE", "mse": "MSE", "acc": "accuracy", "lr": "learning rate", "val": "validation",
    "hessian": "Hessian", "sgd": "SGD", "gd": "GD", "mpgd": "MPGD", "tr": "tr", "eta": "η",
    "gamma": "γ", "sigma": "σ", "mu": "μ", "alpha": "α", "beta": "β", "eps": "ε",
}


def metric_label(key: str, labels: Mapping[str, str] | None = None) -> str:
  """Human label (with units where known) for a metric key: ``labels`` (caller overrides, e.g.
  ``{"train_loss": "training loss (cross-entropy)"}`` for classification), then
  :data:`METRIC_LABELS`, then a readable form of an identifier-like key ('test_loss_aug' ->
  'test loss aug'). Text that is not an identifier is returned unchanged."""
  if labels and key in labels:
    return labels[key]
  if key in METRIC_LABELS:
    return METRIC_LABELS[key]
  if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key or ""):
    return key
  words = [_TOKENS.get(w.lower(), w) for w in key.split("_") if w]
  return " ".join(words)


def label_axes(ax: Axes, x: str, y: str, title: str | None = None,
               labels: Mapping[str, str] | None = None) -> None:
  """Sets x/y labels and the title, each passed through :func:`metric_label` (so a raw metric key
  becomes its human label with units; ready-made text is kept)."""
  ax.set_xlabel(metric_label(x, labels))
  ax.set_ylabel(metric_label(y, labels))
  if title is not None:
    ax.set_title(metric_label(title, labels))


def _fill_width(text: str, width_in: float, fontsize: float) -> str:
  """``text`` wrapped (line by line) to about ``width_in`` inches at ``fontsize`` points."""
  chars = max(20, int(width_in * 72 / (0.55 * fontsize)))
  return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def fit_labels(fig: Figure) -> None:
  """Wraps every axis label longer than its axes (a y-label taller than the panel, an x-label
  wider) onto more lines, so it reaches neither the title above nor a neighbouring panel. Draws
  the figure's layout once to measure (no rasterization); labels holding mathtext (``$``) are
  left as they are."""
  fig.draw_without_rendering()
  renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
  for ax in fig.axes:
    if not ax.axison:
      continue
    box = ax.get_window_extent(renderer)
    for label, vertical in ((ax.yaxis.label, True), (ax.xaxis.label, False)):
      text = label.get_text()
      if not text or "$" in text:
        continue
      ext = label.get_window_extent(renderer)
      size, room = (ext.height, box.height) if vertical else (ext.width, box.width)
      if size > 0.98 * room:
        lines = text.count("\n") + 1
        chars = max(8, int(len(text) / lines * 0.95 * room / size))
        label.set_text(textwrap.fill(" ".join(text.split()), chars))


# --------------------------------------------------------------------------------------------
# colours

# one sequential hue family per optimizer kind; gd is black/grey; red is kept for "paper" marks
_FAMILIES = {
    "gd": "Greys",
    "gaussian": "Blues",
    "mpgd": "Oranges",
    "eq11": "Greens",
    "levy": "Purples",
}
_EXTRA_FAMILIES = ("RdPu", "YlOrBr", "PuBuGn", "copper_r")
_SHADE_KEYS = ("gamma", "exponent", "alpha")


def _shade_value(s: Mapping[str, Any]) -> float | None:
  for k in _SHADE_KEYS:
    v = s.get(k)
    if v is not None:
      try:
        return float(v)
      except (TypeError, ValueError):
        return None
  return None


def _family_colors(cmap_name: str | None, hue: float | None, n: int, gd: bool) -> list[str]:
  """``n`` distinct shades, light to dark."""
  lo, hi = (0.55, 1.0) if gd else (0.42, 0.95)
  if n == 1:
    pos = [hi if gd else 0.75]
  else:
    pos = list(np.linspace(lo, hi, n))
  if cmap_name is not None:
    cmap = matplotlib.colormaps[cmap_name].resampled(max(1024, 8 * n))
    return [mcolors.to_hex(cmap(p)) for p in pos]
  # generated family for the n-th unknown kind beyond the named ones: fixed hue, lightness ramp
  out = []
  for p in pos:
    r, g, b = colorsys.hls_to_rgb(hue, 0.8 - 0.6 * p, 0.75)
    out.append(mcolors.to_hex((r, g, b)))
  return out


def scheme_colors(schemes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
  """Colour (hex string) for each scheme dict (``{"name", "kind", optional "gamma" / "exponent" /
  "alpha"}``): one hue family per kind (gd black/grey, gaussian blue, mpgd orange, eq11 green,
  levy purple, further kinds pink, brown, teal, copper, then generated hues), shaded within the
  family by gamma (or exponent / alpha; darker = larger), ties and schemes without the value in
  list order. No two schemes get the same colour, for any number of schemes."""
  names = [str(s["name"]) for s in schemes]
  if len(set(names)) != len(names):
    raise ValueError(f"scheme names must be unique, got {names}")
  by_kind: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
  for i, s in enumerate(schemes):
    by_kind.setdefault(str(s.get("kind", "")), []).append((i, s))
  out: dict[str, str] = {}
  extra = 0
  for kind, members in by_kind.items():
    def key(item):
      v = _shade_value(item[1])
      return (v is not None, v if v is not None else 0.0, item[0])
    members = sorted(members, key=key)
    if kind in _FAMILIES:
      cols = _family_colors(_FAMILIES[kind], None, len(members), kind == "gd")
    elif extra < len(_EXTRA_FAMILIES):
      cols = _family_colors(_EXTRA_FAMILIES[extra], None, len(members), False)
      extra += 1
    else:
      hue = (0.9 + 0.381966 * (extra - len(_EXTRA_FAMILIES))) % 1.0
      cols = _family_colors(None, hue, len(members), False)
      extra += 1
    for (_, s), c in zip(members, cols):
      out[str(s["name"])] = c
  # guarantee distinctness (only reachable with very many generated families)
  seen: set[str] = set()
  for name in names:
    c = out[name]
    while c in seen:
      r, g, b = mcolors.to_rgb(c)
      c = mcolors.to_hex(((r + 0.013) % 1.0, (g + 0.029) % 1.0, b))
    seen.add(c)
    out[name] = c
  return {n: out[n] for n in names}


# --------------------------------------------------------------------------------------------
# curves over seeds

def _as_seeds(values: Any) -> np.ndarray:
  v = np.asarray(values, dtype=float)
  if v.ndim == 1:
    v = v[None, :]
  if v.ndim != 2:
    raise ValueError(f"values must be [num_seeds, num_steps], got shape {v.shape}")
  return v


def band_note(band: str, num_seeds: int | None = None, diverged: bool = False) -> str:
  """Caption text stating what :func:`curves` drew, e.g. 'line: median over 5 seeds; band:
  inter-quartile range (25th-75th percentile)'. ``diverged`` adds the meaning of the × marks."""
  if band not in BANDS:
    raise ValueError(f"band must be one of {BANDS}, got {band!r}")
  over = f"median over {num_seeds} seeds" if num_seeds is not None else "median over seeds"
  parts = [f"line: {over}"]
  if band == "iqr":
    parts.append("band: inter-quartile range (25th–75th percentile)")
  elif band == "seeds":
    parts.append("thin lines: individual seeds")
  if diverged:
    parts.append("×: last finite value of a diverged seed")
  return "; ".join(parts)


def curves(ax: Axes, steps: Any, values: Any, *, label: str, color: Any, band: str = "iqr",
           lw: float = 2.0, linestyle: str = "-") -> Line2D:
  """Draws ``values`` ([num_seeds, num_steps], NaN = seed diverged / not recorded) against
  ``steps``: the median over the seeds alive at each step as a bold line, with ``band`` = "iqr"
  (shaded 25th-75th percentile), "seeds" (thin per-seed lines under the median) or "none". A seed
  that turns NaN after a finite value gets a × at its last finite value and the legend label
  says how many seeds diverged. Returns the median line (state the band with :func:`band_note`)."""
  if band not in BANDS:
    raise ValueError(f"band must be one of {BANDS}, got {band!r}")
  v = _as_seeds(values)
  x = np.asarray(steps, dtype=float)
  if x.shape != (v.shape[1],):
    raise ValueError(f"steps has shape {x.shape}, values {v.shape}: need [num_seeds, len(steps)]")
  finite = np.isfinite(v)
  n_alive = finite.sum(axis=0)
  vm = np.where(finite, v, np.nan)
  med = np.full(v.shape[1], np.nan)
  ok = n_alive > 0
  if ok.any():
    med[ok] = np.nanmedian(vm[:, ok], axis=0)
  if band == "iqr" and v.shape[0] > 1:
    two = n_alive >= 2
    if two.any():
      q25 = np.full(v.shape[1], np.nan)
      q75 = np.full(v.shape[1], np.nan)
      q25[two], q75[two] = np.nanpercentile(vm[:, two], [25, 75], axis=0)
      ax.fill_between(x, q25, q75, where=two, color=color, alpha=0.22, linewidth=0,
                      label="_nolegend_", interpolate=False)
  elif band == "seeds":
    for row in vm:
      ax.plot(x, row, color=color, lw=0.7, alpha=0.45, label="_nolegend_", linestyle=linestyle)
  diverged = 0
  for row, fin in zip(vm, finite):
    if fin.any() and not fin[-1]:
      last = np.flatnonzero(fin)[-1]
      ax.plot([x[last]], [row[last]], marker="x", ms=7, mew=1.8, color=color, ls="none",
              label="_nolegend_", zorder=4)
      diverged += 1
    elif not fin.any():
      diverged += 1
  text = label if not diverged else f"{label} ({diverged}/{v.shape[0]} diverged)"
  (line,) = ax.plot(x, med, color=color, lw=lw, label=text, linestyle=linestyle, zorder=3)
  return line


# --------------------------------------------------------------------------------------------
# axis scales and limits

def _pool(arrays: Any) -> np.ndarray:
  if isinstance(arrays, np.ndarray) or np.isscalar(arrays):
    arrays = [arrays]
  parts = [np.asarray(a, dtype=float).ravel() for a in arrays]
  allv = np.concatenate(parts) if parts else np.zeros(0)
  return allv[np.isfinite(allv)]


def log_ticks(ax: Axes, which: str = "y") -> None:
  """Log-axis ticks whose labels never overlap: labelled decades only (at most ~6, thinned by
  ``LogLocator(numticks)``), unlabelled minor ticks; for an axis spanning under ~1.5 decades the
  majors are 1-2-5 per decade instead, so at least two labels show."""
  axis = ax.yaxis if which == "y" else ax.xaxis
  lo, hi = (ax.get_ylim() if which == "y" else ax.get_xlim())
  lo, hi = min(lo, hi), max(lo, hi)
  span = math.log10(hi / lo) if lo > 0 and hi > 0 else 10.0
  if span < 1.5:
    axis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: fmt_num(v)))
  else:
    axis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0,), numticks=6))
    axis.set_major_formatter(mticker.LogFormatterSciNotation())
  axis.set_minor_locator(mticker.LogLocator(base=10, subs=np.arange(2, 10) * 1.0, numticks=12))
  axis.set_minor_formatter(mticker.NullFormatter())


def auto_yscale(ax: Axes, arrays: Any, *, decades: float = 2.0) -> str:
  """Log y-axis when all finite values are > 0 and span more than ``decades`` decades (heavy
  tails, losses), linear otherwise; returns "log" or "linear". Call :func:`robust_ylim` after."""
  v = _pool(arrays)
  if v.size and np.all(v > 0) and math.log10(v.max() / v.min()) > decades:
    ax.set_yscale("log")
    log_ticks(ax, "y")
    return "log"
  ax.set_yscale("linear")
  return "linear"


def robust_ylim(ax: Axes, arrays: Any, *, q: tuple[float, float] = (0.01, 0.99),
                pad: float = 0.1, keep: Any = None) -> tuple[float, float]:
  """Sets the y-range to the ``q`` quantiles of all finite values in ``arrays``, widened to
  include every finite value of ``keep`` (e.g. the median lines, which one seed cannot drag),
  padded by ``pad`` of the span (in log10 space on a log axis, where non-positive values are
  ignored), so a rare spike does not flatten everything else; spikes beyond it leave the frame
  visibly. Returns the limits (the current ones if there is no finite data)."""
  v = _pool(arrays)
  k = _pool(keep) if keep is not None else np.zeros(0)
  log = ax.get_yscale() == "log"
  if log:
    v, k = v[v > 0], k[k > 0]
  if not v.size and not k.size:
    return tuple(ax.get_ylim())
  lo, hi = np.quantile(v, q) if v.size else (k.min(), k.max())
  if k.size:
    lo, hi = min(lo, k.min()), max(hi, k.max())
  if log:
    llo, lhi = math.log10(lo), math.log10(hi)
    span = max(lhi - llo, 0.3)
    mid = (llo + lhi) / 2
    llo, lhi = min(llo, mid - span / 2), max(lhi, mid + span / 2)
    lim = (10 ** (llo - pad * span), 10 ** (lhi + pad * span))
  else:
    span = hi - lo
    if span <= 0:
      span = abs(hi) * 0.1 or 1.0
      lo, hi = lo - span / 2, hi + span / 2
    lim = (lo - pad * span, hi + pad * span)
  ax.set_ylim(*lim)
  if log:
    log_ticks(ax, "y")
  return lim


# --------------------------------------------------------------------------------------------
# legends

def legend(ax: Axes | Figure, *, outside: bool | None = None, fontsize: float = 8.5,
           **kw: Any) -> Legend | None:
  """Legend with deduplicated labels (first handle wins; '_'-prefixed labels skipped) and a font
  of at least 8 pt. On an Axes: ``outside`` (default: more than 6 entries) puts it right of the
  axes, else ``loc="best"``. On a Figure: collects the entries of all its axes and places one
  legend below them. Extra keywords go to ``legend``; returns None if there is nothing to show."""
  axes = ax.axes if isinstance(ax, Figure) else [ax]
  handles, labels = [], []
  for a in axes:
    h, lab = a.get_legend_handles_labels()
    handles += h
    labels += lab
  uniq: dict[str, Any] = {}
  for h, lab in zip(handles, labels):
    if lab and not lab.startswith("_") and lab not in uniq:
      uniq[lab] = h
  if "handles" in kw:  # explicit handles (e.g. proxies) replace the collected ones
    uniq = {h.get_label(): h for h in kw.pop("handles")}
    kw.pop("labels", None)
  if not uniq:
    return None
  kw["fontsize"] = max(float(kw.get("fontsize", fontsize)), MIN_LEGEND_PT)
  kw.pop("prop", None)
  if isinstance(ax, Figure):
    kw.setdefault("loc", "outside lower center")
    kw.setdefault("ncol", min(len(uniq), 6))
    return ax.legend(list(uniq.values()), list(uniq.keys()), **kw)
  if outside is None:
    outside = len(uniq) > 6
  if outside:
    kw.setdefault("loc", "upper left")
    kw.setdefault("bbox_to_anchor", (1.02, 1.0))
    kw.setdefault("borderaxespad", 0.0)
  else:
    kw.setdefault("loc", "best")
  return ax.legend(list(uniq.values()), list(uniq.keys()), **kw)


# --------------------------------------------------------------------------------------------
# final metrics per scheme (strip + median/IQR)

def final_metrics(ax: Axes, values_by_scheme: Mapping[str, Any], *,
                  colors: Mapping[str, Any] | None = None,
                  paper: Mapping[str, float] | None = None,
                  authors: Mapping[str, float] | None = None, ylabel: str,
                  order: Sequence[str] | None = None, show_legend: bool = True,
                  jitter: float = 0.14, decades: float = 2.0,
                  robust: bool = False) -> dict[str, dict[str, float]]:
  """One column per scheme: every seed as a jittered point, the median as a black tick and the
  inter-quartile range as a shaded bar; ``paper`` values as red horizontal ticks (legend
  "paper"), ``authors`` (authors' code) values as black dashed ticks; non-finite (diverged) seeds
  as × marks in a band at the top of the panel with their count, never dropped. The y-axis is
  log when the values are positive and span more than ``decades`` decades (:func:`auto_yscale`).
  ``robust``: when a few seeds stretch the axis (the full range is over 3 times the 1-99 %
  quantile range of the seeds, in log10 space on a log axis), the axis shows that quantile
  range (widened to every median, quartile and reference value) and the seeds beyond it are
  drawn as triangles on its edge (▲ above, ▼ below), never dropped. Scheme labels are rotated.
  Returns per scheme ``{"median", "q25", "q75", "n", "n_diverged", "n_beyond"}``."""
  names = list(order) if order is not None else list(values_by_scheme)
  colors = dict(colors or {})
  rng = np.random.default_rng(0)  # deterministic jitter
  stats: dict[str, dict[str, float]] = {}
  finite_all = []
  for n in names:
    v = np.asarray(values_by_scheme[n], dtype=float).ravel()
    finite_all.append(v[np.isfinite(v)])
  refs = [float(d[n]) for d in (paper or {}, authors or {}) for n in names
          if n in d and d[n] is not None and np.isfinite(d[n])]
  pooled = _pool(finite_all + [np.asarray(refs)])
  scale = auto_yscale(ax, pooled, decades=decades)
  any_div = False
  xs_all: dict[str, np.ndarray] = {}
  for i, n in enumerate(names):
    v = np.asarray(values_by_scheme[n], dtype=float).ravel()
    fin = v[np.isfinite(v)]
    c = colors.get(n, "C0")
    n_div = int(v.size - fin.size)
    any_div |= n_div > 0
    if fin.size:
      q25, med, q75 = np.percentile(fin, [25, 50, 75])
      ax.add_patch(Rectangle((i - 0.22, q25), 0.44, max(q75 - q25, 0.0), facecolor=c,
                             alpha=0.25, edgecolor="none", zorder=1))
      ax.hlines(med, i - 0.26, i + 0.26, color="black", lw=1.6, zorder=3)
      xs_all[n] = i + rng.uniform(-jitter, jitter, fin.size)
      ax.scatter(xs_all[n], fin, s=22, color=c, edgecolors="black", linewidths=0.5, zorder=4)
    else:
      q25 = med = q75 = float("nan")
    stats[n] = {"median": float(med), "q25": float(q25), "q75": float(q75), "n": int(fin.size),
                "n_diverged": n_div, "n_beyond": 0}
    if paper and paper.get(n) is not None and np.isfinite(paper[n]):
      ax.hlines(float(paper[n]), i - 0.36, i + 0.36, color=PAPER_COLOR, lw=2.4, zorder=5)
    if authors and authors.get(n) is not None and np.isfinite(authors[n]):
      ax.hlines(float(authors[n]), i - 0.36, i + 0.36, color=AUTHORS_COLOR, lw=1.6,
                linestyles=(0, (2, 1.5)), zorder=5)
  # limits: all finite points and reference values visible (robust: all but the seeds drawn on
  # the edge), headroom for diverged marks
  any_beyond = False
  if pooled.size:
    log = scale == "log"
    f = np.log10 if log else np.asarray
    lo, hi = float(f(pooled.min())), float(f(pooled.max()))
    seeds = _pool(finite_all)
    if robust and seeds.size:
      keep = [float(f(v)) for v in refs + [x for st in stats.values()
                                            for x in (st["q25"], st["median"], st["q75"])]
              if np.isfinite(v)]
      rlo, rhi = (float(x) for x in np.quantile(f(seeds), (0.01, 0.99)))
      rlo, rhi = min([rlo] + keep), max([rhi] + keep)
      if hi - lo > 3 * max(rhi - rlo, 1e-12):
        lo, hi = rlo, rhi
    top_room = 0.18 if any_div else 0.08
    if log:
      span = max(hi - lo, 0.3)
      ylim = (10 ** (lo - 0.08 * span), 10 ** (hi + top_room * span))
    else:
      span = hi - lo if hi > lo else (abs(hi) * 0.1 or 1.0)
      ylim = (lo - 0.08 * span, hi + top_room * span)
    ax.set_ylim(*ylim)
    if log:
      log_ticks(ax, "y")
    for i, n in enumerate(names):  # seeds beyond a robust range: triangles on the edge
      v = np.asarray(values_by_scheme[n], dtype=float).ravel()
      fin = v[np.isfinite(v)]
      for side, marker, y in (((fin > ylim[1]), "^", ylim[1]), ((fin < ylim[0]), "v", ylim[0])):
        k = int(side.sum())
        if k:
          stats[n]["n_beyond"] += k
          any_beyond = True
          ax.scatter(xs_all[n][side], np.full(k, y), marker=marker, s=26,
                     color=colors.get(n, "C0"), edgecolors="black", linewidths=0.5, zorder=6,
                     clip_on=False)
  if any_div:
    tr = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    for i, n in enumerate(names):
      k = stats[n]["n_diverged"]
      if k:
        xs = i + np.linspace(-0.15, 0.15, k) if k > 1 else np.array([float(i)])
        ax.scatter(xs, np.full(k, 0.95), marker="x", s=30, color=colors.get(n, "C0"),
                   linewidths=1.6, transform=tr, zorder=6, clip_on=False)
        ax.text(i + 0.2, 0.95, f"{k}", transform=tr, fontsize=8, va="center", ha="left")
  ax.set_xlim(-0.6, len(names) - 0.4)
  ax.set_xticks(range(len(names)))
  ax.set_xticklabels(names, rotation=40, ha="right", rotation_mode="anchor", fontsize=8.5)
  ax.grid(False, axis="x")
  ax.set_ylabel(metric_label(ylabel))
  if show_legend:
    legend(ax, handles=final_metrics_handles(paper=bool(paper), authors=bool(authors),
                                             diverged=any_div, beyond=any_beyond),
           outside=True)
  return stats


def final_metrics_handles(*, paper: bool = False, authors: bool = False,
                          diverged: bool = False, beyond: bool = False) -> list[Any]:
  """Legend proxies explaining a :func:`final_metrics` panel (seed point, median, IQR bar and,
  if requested, paper / authors'-code / diverged marks)."""
  hs: list[Any] = [
      Line2D([], [], ls="none", marker="o", ms=5, mfc="0.6", mec="black", mew=0.5,
             label="one seed"),
      Line2D([], [], color="black", lw=1.6, label="median over seeds"),
      Patch(facecolor="0.6", alpha=0.35, label="inter-quartile range"),
  ]
  if paper:
    hs.append(Line2D([], [], color=PAPER_COLOR, lw=2.4, label="paper"))
  if authors:
    hs.append(Line2D([], [], color=AUTHORS_COLOR, lw=1.6, ls=(0, (2, 1.5)),
                     label="authors' code"))
  if diverged:
    hs.append(Line2D([], [], ls="none", marker="x", ms=6, mew=1.6, color="0.3",
                     label="diverged seed (NaN), count"))
  if beyond:
    hs.append(Line2D([], [], ls="none", marker="^", ms=5, mfc="0.6", mec="black", mew=0.5,
                     label="seed beyond the axis range"))
  return hs


# --------------------------------------------------------------------------------------------
# histograms

@dataclass(frozen=True)
class HistogramInfo:
  """What :func:`histogram` drew: bin ``counts`` and ``edges`` (all finite values are counted),
  how many values were clipped into the lower / upper edge bin, how many were NaN / ±inf (not
  drawable), and the ``note`` annotated on the axes ('' when nothing was clipped or missing)."""
  counts: np.ndarray
  edges: np.ndarray
  num_below: int
  num_above: int
  num_nonfinite: int
  note: str


def histogram(ax: Axes, values: Any, *, bins: Any, label: str, range: tuple[float, float] | None
              = None, color: Any = None, density: bool = False,
              histtype: str = "stepfilled") -> HistogramInfo:
  """Histogram that never drops data silently. Without ``range`` the bins cover all finite
  values; with ``range=(a, b)`` values outside are clipped into the edge bins and the axes are
  annotated 'k values outside [a, b] shown in the edge bins'. NaN / ±inf values are counted and
  annotated too. Returns a :class:`HistogramInfo` with the counts and the annotation text."""
  v = np.asarray(values, dtype=float).ravel()
  fin = v[np.isfinite(v)]
  n_nonfinite = int(v.size - fin.size)
  below = above = 0
  if range is not None:
    a, b = float(range[0]), float(range[1])
    if not a < b:
      raise ValueError(f"range must be (a, b) with a < b, got {range}")
    below = int(np.sum(fin < a))
    above = int(np.sum(fin > b))
    fin = np.clip(fin, a, b)
    hist_range = (a, b)
  else:
    hist_range = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    if hist_range[0] == hist_range[1]:
      hist_range = (hist_range[0] - 0.5, hist_range[1] + 0.5)
  counts, edges = np.histogram(fin, bins=bins, range=hist_range, density=density)
  kw = {"alpha": 0.5} if histtype == "stepfilled" else {"lw": 1.6}
  ax.hist(edges[:-1], bins=edges, weights=counts, label=label, color=color, histtype=histtype,
          **kw)
  notes = []
  if below or above:
    k = below + above
    word = "value" if k == 1 else "values"
    detail = f" ({below} below, {above} above)" if below and above else ""
    notes.append(f"{k} {word} outside [{fmt_num(hist_range[0])}, {fmt_num(hist_range[1])}]"
                 f"{detail} shown in the edge bins")
  if n_nonfinite:
    n_nan = int(np.isnan(v).sum())
    n_inf = n_nonfinite - n_nan
    what = " and ".join(p for p in (f"{n_nan} NaN" if n_nan else "",
                                    f"{n_inf} ±inf" if n_inf else "") if p)
    notes.append(f"{what} {'value' if n_nonfinite == 1 else 'values'} not shown")
  note = "; ".join(notes)
  if note:
    prefix = f"{label}: " if label and not label.startswith("_") else ""
    fig = ax.get_figure()
    width_in = ax.get_position().width * fig.get_figwidth() if fig is not None else 4.0
    text = textwrap.fill(prefix + note, width=max(24, int(width_in / 0.075)))
    nlines = text.count("\n") + 1
    prior = [t for t in ax.texts if getattr(t, "_chaosopt_hist_note", 0)]
    used = sum(t._chaosopt_hist_note for t in prior)
    y = 0.97 - 0.065 * used
    t = ax.text(0.02, y, text, transform=ax.transAxes, fontsize=8, va="top", ha="left",
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.7", "alpha": 0.9},
                zorder=10)
    t.set_in_layout(False)
    t._chaosopt_hist_note = nlines
    # headroom above the tallest bar for the notes (linear count axes only)
    if ax.get_yscale() == "linear" and counts.size and counts.max() > 0:
      frac = min(0.6, 0.065 * (used + nlines) + 0.05)
      ax.set_ylim(top=max(ax.get_ylim()[1], counts.max() / (1.0 - frac)))
  return HistogramInfo(counts=counts, edges=edges, num_below=below, num_above=above,
                       num_nonfinite=n_nonfinite, note=note)


# --------------------------------------------------------------------------------------------
# saving

FORMATS = (".png", ".pdf")


def render(fig: Figure, *, dpi: int = 150) -> dict[str, bytes]:
  """The file contents of ``fig`` as PNG (``dpi``) and PDF, ``{".png": bytes, ".pdf": bytes}``
  (what :func:`save` writes), and closes ``fig``. No timestamps: the same figure gives the
  same bytes."""
  import io
  out = {}
  try:
    with style():
      # the layout and the tight bounding box once (no rasterization), then one render per
      # format with that layout frozen: 3 passes over the figure instead of 4 for
      # bbox_inches="tight" twice
      if fig.stale:  # not laid out since its last change (fit_labels may have done it)
        fig.draw_without_rendering()
      renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
      bbox = fig.get_tightbbox(renderer).padded(matplotlib.rcParams["savefig.pad_inches"])
      fig.set_layout_engine("none")
      for ext, kwargs in ((".png", {"dpi": dpi, "metadata": {"Software": None}}),
                          (".pdf", {"metadata": {"CreationDate": None}})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext[1:], bbox_inches=bbox, **kwargs)
        out[ext] = buf.getvalue()
  finally:
    pyplot().close(fig)
  return out


def save(fig: Figure, directory: str, stem: str, *, dpi: int = 150) -> list[str]:
  """Writes ``<directory>/<stem>.png`` (``dpi``) and ``<stem>.pdf`` (:func:`render`), closes
  ``fig`` and returns the two paths. ``stem`` must be a plain file name (no directories), so
  nothing is written outside ``directory`` (which is created if missing)."""
  if not stem or os.path.basename(stem) != stem or stem in (".", ".."):
    pyplot().close(fig)
    raise ValueError(f"stem must be a plain file name, got {stem!r}")
  os.makedirs(directory, exist_ok=True)
  paths = []
  for ext, data in render(fig, dpi=dpi).items():
    paths.append(os.path.join(directory, stem + ext))
    with open(paths[-1], "wb") as f:
      f.write(data)
  return paths


# --------------------------------------------------------------------------------------------
# multi-panel figures

def _grid(n: int, ncols: int | None) -> tuple[int, int]:
  ncols = ncols or min(3, max(n, 1))
  return -(-n // ncols), ncols


def table_figure(per_scheme_final: Mapping[str, Mapping[str, Any]], metrics: Sequence[str], *,
                 schemes: Sequence[Mapping[str, Any]],
                 paper: Mapping[str, Mapping[str, float]] | None = None,
                 authors: Mapping[str, Mapping[str, float]] | None = None,
                 labels: Mapping[str, str] | None = None, ncols: int | None = None,
                 title: str | None = None) -> Figure:
  """One :func:`final_metrics` panel per metric, for table reproductions.
  ``per_scheme_final[scheme][metric]`` is the array over seeds of the final value;
  ``paper[metric][scheme]`` / ``authors[metric][scheme]`` the reference values (any may be
  missing). Scheme order and colours come from ``schemes`` (see :func:`scheme_colors`); schemes
  absent from ``per_scheme_final`` are skipped. One legend below the panels."""
  colors = scheme_colors(schemes)
  order = [str(s["name"]) for s in schemes if str(s["name"]) in per_scheme_final]
  nrow, ncol = _grid(len(metrics), ncols)
  width = max(3.2, 0.42 * len(order) + 1.4)
  with style():
    fig, axes = pyplot().subplots(nrow, ncol, figsize=(width * ncol, 3.4 * nrow + 0.6),
                                  squeeze=False)
    any_div = any_beyond = False
    for ax, m in zip(axes.flat, metrics):
      vals = {n: np.asarray(per_scheme_final[n].get(m, [np.nan]), dtype=float) for n in order}
      st = final_metrics(ax, vals, colors=colors, paper=(paper or {}).get(m),
                         authors=(authors or {}).get(m), ylabel=metric_label(m, labels),
                         order=order, show_legend=False, decades=1.0, robust=True)
      any_div |= any(s["n_diverged"] for s in st.values())
      any_beyond |= any(s["n_beyond"] for s in st.values())
    for ax in list(axes.flat)[len(metrics):]:
      ax.axis("off")
    has_paper = any((paper or {}).get(m) for m in metrics)
    has_auth = any((authors or {}).get(m) for m in metrics)
    legend(fig, handles=final_metrics_handles(paper=has_paper, authors=has_auth,
                                              diverged=any_div, beyond=any_beyond))
    if title:
      fig.suptitle(_fill_width(title, fig.get_figwidth(), 11))
    fit_labels(fig)
  return fig


def curves_figure(steps: Any, per_scheme: Mapping[str, Mapping[str, Any]], metrics: Sequence[str],
                  *, schemes: Sequence[Mapping[str, Any]], band: str = "iqr",
                  labels: Mapping[str, str] | None = None, xlabel: str = "step",
                  ncols: int | None = None, title: str | None = None) -> Figure:
  """One panel per metric with :func:`curves` for every scheme (median over seeds + ``band``),
  :func:`auto_yscale` and :func:`robust_ylim` on the per-seed values, labelled axes, one legend
  below the panels and the :func:`band_note` as a caption line. ``per_scheme[scheme][metric]`` is
  [num_seeds, num_steps]; ``steps`` an array, or a dict metric -> array when metrics are recorded
  at different steps."""
  colors = scheme_colors(schemes)
  order = [str(s["name"]) for s in schemes if str(s["name"]) in per_scheme]
  nrow, ncol = _grid(len(metrics), ncols)
  num_seeds = max((_as_seeds(per_scheme[n][m]).shape[0] for n in order for m in metrics
                   if m in per_scheme[n]), default=None)
  with style():
    fig, axes = pyplot().subplots(nrow, ncol, figsize=(4.6 * ncol, 3.4 * nrow + 0.9),
                                  squeeze=False)
    any_div = False
    for ax, m in zip(axes.flat, metrics):
      x = steps[m] if isinstance(steps, Mapping) else steps
      arrays, medians = [], []
      for n in order:
        if m not in per_scheme[n]:
          continue
        v = _as_seeds(per_scheme[n][m])
        line = curves(ax, x, v, label=n, color=colors[n], band=band)
        any_div |= bool(np.any(~np.isfinite(v[:, -1])))
        arrays.append(v)
        medians.append(np.asarray(line.get_ydata(), dtype=float))
      auto_yscale(ax, arrays)
      robust_ylim(ax, arrays, keep=medians)
      label_axes(ax, xlabel, m, labels=labels)
    for ax in list(axes.flat)[len(metrics):]:
      ax.axis("off")
    legend(fig)
    note = band_note(band, num_seeds, diverged=any_div)
    fig.suptitle(_fill_width(note if not title else f"{title}\n{note}", fig.get_figwidth(),
                             9 if not title else 11), fontsize=9 if not title else 11)
    fit_labels(fig)
  return fig
