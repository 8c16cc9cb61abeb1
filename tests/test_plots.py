"""Tests of chaosopt.train.plots (shared figures; no paper equation). Deterministic, no pixels
compared: the tests check returned values, texts and artists."""
from __future__ import annotations

import os

import numpy as np
import pytest
from matplotlib import colors as mcolors

from chaosopt.train import plots


def _airfoil_schemes():
  s = [{"name": "baseline", "kind": "gd"},
       {"name": "gaussian", "kind": "gaussian", "exponent": 0.5}]
  s += [{"name": f"mpgd_{g}", "kind": "mpgd", "gamma": g} for g in (0.55, 0.6, 0.65, 0.7)]
  s += [{"name": f"eq11_{g}", "kind": "eq11", "gamma": g} for g in (0.55, 0.6, 0.65, 0.7)]
  s += [{"name": "gaussian_eta1", "kind": "gaussian", "exponent": 1.0}]
  return s


def test_pyplot_is_agg():
  assert plots.pyplot().get_backend().lower() == "agg"


def test_scheme_colors_distinct_and_by_family():
  schemes = _airfoil_schemes() + [{"name": "levy_1.5", "kind": "levy", "alpha": 1.5},
                                  {"name": "mystery", "kind": "something_new"}]
  cols = plots.scheme_colors(schemes)
  assert list(cols) == [s["name"] for s in schemes]
  assert len(set(cols.values())) == len(schemes)
  # gd is grey (r = g = b); the families do not share a hue
  r, g, b = mcolors.to_rgb(cols["baseline"])
  assert r == pytest.approx(g, abs=1e-6) and g == pytest.approx(b, abs=1e-6)
  hue = {n: mcolors.rgb_to_hsv(mcolors.to_rgb(c))[0] for n, c in cols.items()}
  fam = {"gaussian": hue["gaussian"], "mpgd": hue["mpgd_0.6"], "eq11": hue["eq11_0.6"],
         "levy": hue["levy_1.5"]}
  vals = sorted(fam.values())
  gaps = np.diff(vals + [vals[0] + 1.0])
  assert gaps.min() > 0.08, fam  # hue differences of > ~30 degrees between families
  # within a family, larger gamma is darker
  lum = [sum(mcolors.to_rgb(cols[f"mpgd_{g}"])) for g in (0.55, 0.6, 0.65, 0.7)]
  assert lum == sorted(lum, reverse=True)


def test_scheme_colors_many_same_kind_and_many_kinds():
  many = [{"name": f"m{i}", "kind": "mpgd", "gamma": 0.5 + 0.001 * i} for i in range(60)]
  many += [{"name": f"k{i}", "kind": f"kind{i}"} for i in range(12)]
  many += [{"name": f"dup{i}", "kind": "eq11", "gamma": 0.6} for i in range(5)]
  cols = plots.scheme_colors(many)
  assert len(set(cols.values())) == len(many)
  with pytest.raises(ValueError):
    plots.scheme_colors([{"name": "a", "kind": "gd"}, {"name": "a", "kind": "gd"}])


@pytest.mark.parametrize("x,expected", [
    (0.1, "0.1"), (1e-4, "1e-4"), (0.55, "0.55"), (0.1 + 0.2, "0.3"), (1 / 3, "0.333"),
    (3.0, "3"), (2e6, "2e6"), (2.5e-5, "2.5e-5"), (-0.05, "-0.05"), (0, "0"), (1234, "1234"),
    (0.0012345, "0.00123"), (float("nan"), "nan"), (np.float32(0.7), "0.7"), (9999.96, "1e4"),
    ("abc", "abc")])
def test_fmt_num(x, expected):
  assert plots.fmt_num(x) == expected


def test_metric_label():
  assert plots.metric_label("test_rmse") == "test RMSE (standardized target)"
  assert plots.metric_label("step") == "step (iterations)"
  assert plots.metric_label("train_loss", {"train_loss": "loss (CE)"}) == "loss (CE)"
  assert plots.metric_label("val_acc_aug") == "validation accuracy aug"
  assert plots.metric_label("already (text)") == "already (text)"


def test_curves_nan_seeds_and_band_note():
  fig, ax = plots.subplots()
  steps = np.arange(10)
  v = np.ones((4, 10)) * np.arange(1, 11)
  v[0, 5:] = np.nan          # diverged seed
  v[1, 3] = 1e6              # spike: the median must not follow it
  v[2] = v[2] * 1.1
  line = plots.curves(ax, steps, v, label="mpgd", color="C1", band="iqr")
  y = np.asarray(line.get_ydata())
  assert np.all(np.isfinite(y))
  assert y[3] < 10            # the median ignores one seed's spike
  assert "1/4 diverged" in line.get_label()
  assert len(ax.collections) == 1  # the IQR band
  all_nan = np.full((2, 10), np.nan)
  line2 = plots.curves(ax, steps, all_nan, label="dead", color="C2", band="seeds")
  assert np.all(np.isnan(line2.get_ydata())) and "2/2 diverged" in line2.get_label()
  assert plots.band_note("iqr", 5) == ("line: median over 5 seeds; band: inter-quartile range "
                                       "(25th–75th percentile)")
  assert "individual seeds" in plots.band_note("seeds")
  with pytest.raises(ValueError):
    plots.curves(ax, steps, v, label="x", color="C0", band="mean")
  plots.pyplot().close(fig)


def test_auto_yscale_and_robust_ylim():
  fig, ax = plots.subplots()
  heavy = np.concatenate([np.linspace(1, 2, 1000), [1e5]])
  assert plots.auto_yscale(ax, [heavy]) == "log"
  _, hi = plots.robust_ylim(ax, [heavy])
  assert hi < 1e3             # the single 1e5 spike is outside the 99% quantile
  assert plots.auto_yscale(ax, [np.linspace(-1, 1, 10)]) == "linear"
  _, hi = plots.robust_ylim(ax, [np.linspace(-1, 1, 10)], keep=[np.array([5.0])])
  assert hi > 5.0
  plots.pyplot().close(fig)


def test_histogram_reports_out_of_range_and_nan():
  fig, ax = plots.subplots()
  vals = np.array([-5.0, 0.1, 0.2, 0.3, 0.5, 7.0, 8.0, np.nan])
  info = plots.histogram(ax, vals, bins=4, label="x", range=(0.0, 1.0))
  assert (info.num_below, info.num_above, info.num_nonfinite) == (1, 2, 1)
  assert info.counts.sum() == 7       # every finite value is in a bin
  # bins of width 0.25: [-5 -> 0, 0.1, 0.2] | [0.3] | [0.5] | [7, 8 -> 1]
  assert list(info.counts) == [3, 1, 1, 2]
  assert "3 values outside [0, 1]" in info.note and "1 NaN value not shown" in info.note
  assert any(info.note.split(";")[0].split(" (")[0] in t.get_text().replace("\n", " ")
             for t in ax.texts)
  clean = plots.histogram(ax, np.arange(10.0), bins=5, label="y")
  assert clean.note == "" and clean.counts.sum() == 10
  plots.pyplot().close(fig)


def test_save_writes_png_and_pdf_only(tmp_path):
  fig, ax = plots.subplots(figsize=(2, 2))
  ax.plot([0, 1], [0, 1])
  out = tmp_path / "figs"
  paths = plots.save(fig, str(out), "demo")
  assert sorted(os.listdir(out)) == ["demo.pdf", "demo.png"]
  assert sorted(os.listdir(tmp_path)) == ["figs"]
  assert paths == [str(out / "demo.png"), str(out / "demo.pdf")]
  assert not plots.pyplot().fignum_exists(fig.number)
  with pytest.raises(ValueError):
    plots.save(fig, str(out), "../escape")


def test_final_metrics_nan_seeds_and_references():
  fig, ax = plots.subplots()
  vals = {"baseline": np.array([0.40, 0.41, 0.42]), "mpgd_0.6": np.array([0.39, np.nan, 0.38]),
          "dead": np.array([np.nan, np.nan])}
  stats = plots.final_metrics(ax, vals, colors=plots.scheme_colors(
      [{"name": "baseline", "kind": "gd"}, {"name": "mpgd_0.6", "kind": "mpgd", "gamma": 0.6},
       {"name": "dead", "kind": "eq11"}]), paper={"baseline": 0.45, "mpgd_0.6": 0.43},
      authors={"baseline": 0.44}, ylabel="test_rmse")
  assert stats["mpgd_0.6"]["n_diverged"] == 1 and stats["dead"]["n_diverged"] == 2
  assert stats["baseline"]["median"] == pytest.approx(0.41)
  assert ax.get_ylim()[1] > 0.45            # the paper value is inside the panel
  labels = ax.get_legend().get_texts()
  assert {"paper", "authors' code", "diverged seed (NaN), count"} <= {t.get_text() for t in labels}
  assert ax.get_ylabel() == "test RMSE (standardized target)"
  plots.pyplot().close(fig)


def test_table_and_curves_figures():
  schemes = _airfoil_schemes()[:3]
  final = {s["name"]: {"test_rmse": np.array([0.4, 0.5, np.nan])} for s in schemes}
  fig = plots.table_figure(final, ["test_rmse"], schemes=schemes,
                           paper={"test_rmse": {"baseline": 0.45}})
  assert len(fig.legends) == 1
  plots.pyplot().close(fig)
  per = {s["name"]: {"train_loss": np.ones((2, 5))} for s in schemes}
  fig = plots.curves_figure(np.arange(5), per, ["train_loss"], schemes=schemes)
  assert "median over 2 seeds" in fig.get_suptitle()
  plots.pyplot().close(fig)


# --------------------------------------------------------------------------------------------
# no overlapping text at any seed count

def _polygon(t, renderer, fig):
  """The (possibly rotated) rectangle a text occupies, in display pixels: its unrotated size
  turned by its rotation about the centre of its (axis-aligned) window extent."""
  import math

  from matplotlib.text import Text
  box = t.get_window_extent(renderer)
  flat = Text(0, 0, t.get_text(), fontproperties=t.get_fontproperties())
  flat.set_figure(fig)
  fb = flat.get_window_extent(renderer)
  w, h, a = fb.width / 2, fb.height / 2, math.radians(t.get_rotation())
  cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
  c, s = math.cos(a), math.sin(a)
  return np.array([(cx + c * x - s * y, cy + s * x + c * y)
                   for x, y in ((-w, -h), (w, -h), (w, h), (-w, h))])


def _overlap(p, q, tol=0.5):
  """Separating-axis test of two convex polygons (overlap deeper than ``tol`` pixels)."""
  for poly in (p, q):
    for i in range(len(poly)):
      e = poly[(i + 1) % len(poly)] - poly[i]
      n = np.array([-e[1], e[0]]) / (np.hypot(*e) or 1.0)
      a, b = p @ n, q @ n
      if a.max() <= b.min() + tol or b.max() <= a.min() + tol:
        return False
  return True


def _texts(fig):
  """(name, Text) of every drawn title, axis label, tick label, offset text and annotation."""
  out = [("suptitle", fig._suptitle)] if fig._suptitle is not None else []
  for i, ax in enumerate(fig.axes):
    if not ax.axison:
      continue
    out += [(f"ax{i} title", ax.title), (f"ax{i} xlabel", ax.xaxis.label),
            (f"ax{i} ylabel", ax.yaxis.label),
            (f"ax{i} x offset", ax.xaxis.get_offset_text()),
            (f"ax{i} y offset", ax.yaxis.get_offset_text())]
    for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
      lo, hi = sorted(axis.get_view_interval())
      for tick in axis.get_major_ticks():
        if lo - 1e-9 * abs(hi - lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi - lo):
          out.append((f"ax{i} {name}tick {tick.label1.get_text()}", tick.label1))
    out += [(f"ax{i} text {t.get_text()}", t) for t in ax.texts]
  return [(n, t) for n, t in out if t.get_visible() and t.get_text().strip()]


def assert_no_overlapping_text(fig):
  fig.canvas.draw()
  r = fig.canvas.get_renderer()
  items = [(n, _polygon(t, r, fig)) for n, t in _texts(fig)]
  bad = [(a, b) for i, (a, p) in enumerate(items) for b, q in items[i + 1:] if _overlap(p, q)]
  assert not bad, bad[:5]


def _table_results(num_seeds, seed=0):
  """Synthetic scheme-table results: a positive heavy-tailed metric spanning decades and a
  signed one with outliers, some seeds diverged."""
  rng = np.random.default_rng(seed)
  schemes = {}
  for k, s in enumerate(_airfoil_schemes()):
    rmse = 0.4 * np.exp(rng.standard_t(2, num_seeds) * 0.3 * (1 + k / 3))
    gap = rng.standard_t(2, num_seeds) * 0.02 * (1 + k)
    div = np.where(rng.random(num_seeds) < 0.02 * k, 10 * (1 + np.arange(num_seeds)), -1)
    rmse[div >= 0] = np.nan
    evals = 0.4 + np.abs(rng.normal(size=(num_seeds, 5)))
    schemes[s["name"]] = {
        "kind": s["kind"], "hparams": {k: v for k, v in s.items() if k not in ("name", "kind")},
        "seeds": list(range(num_seeds)),
        "final": {"test_rmse": rmse.tolist(), "gap": gap.tolist()},
        "diverged_at": div.tolist(), "eval_steps": [0, 10000, 20000, 30000, 40000],
        "evals": {"test_rmse": evals.tolist()}}
  return {"schemes": schemes}


@pytest.mark.parametrize("num_seeds", [5, 200])
def test_table_figures_have_no_overlapping_text(num_seeds):
  from chaosopt.train import table
  results = _table_results(num_seeds)
  metrics = ["test_rmse", "gap"]
  for one in (metrics, metrics[:1]):  # two panels, and one narrow panel under a long title
    figs = table.figures(results, one, paper={"baseline": {"test_rmse": 0.45}},
                         curves=("test_rmse",))
    for name, fig in figs.items():
      assert_no_overlapping_text(fig)
      plots.pyplot().close(fig)
  # three schemes only: a narrow figure
  few = {"schemes": dict(list(results["schemes"].items())[:2])}
  fig = table.figures(few, metrics)["final_metrics"]
  assert_no_overlapping_text(fig)
  plots.pyplot().close(fig)
