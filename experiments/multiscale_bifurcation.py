"""P1 (Kong & Tao 2020) App. D.1, Fig. 9: period doubling of GD on ``x^4/4 − eps cos(x/eps)``
(eps = 1e-3) as η goes from 1 eps to 5 eps, and the onset of chaos.

The map is GD, ``x_{k+1} = x_k − η f'(x_k)`` (P1 eq. 1's φ); for each η/eps on a grid we keep the
attractor after a transient, detect its period (:mod:`chaosopt.analysis.bifurcation`) and
measure the Lyapunov exponent of P1 eq. 4 (:func:`chaosopt.analysis.lyapunov.lyapunov_exponents`).
Near the micro-minimum x = 0, ``u = x/eps`` follows ``u → u − (η/eps) sin u − η eps² u³``, so the
fixed point loses stability at η = 2 eps exactly (φ' = 1 − η/eps = −1). Deterministic (no
random numbers). Needs float64 (``config.x64``). Variants: ``quick`` (41 grid points, short
transients).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from matplotlib import ticker

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.experiments import _multiscale as common
from chaosopt.train import config as config_lib
from chaosopt.experiments import _setting
from chaosopt.train import plots
from chaosopt.train import report as report_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.config import Bool, Int, Num, Positive, Schema, Seed, Seq

INFO = {"paper": "P1 Fig. 9", "title": "bifurcation diagram of GD on x^4/4 − eps cos(x/eps)",
        "cost": "≈ 15 s CPU", "gpu": False}
PAPER = {"period_at_2.5": 2, "chaos_threshold": 3.5}
# the positive control of the chaos detector: the logistic map x -> r x (1 - x), whose
# period-doubling cascade accumulates at the Feigenbaum point r_inf (Feigenbaum 1978; value to
# 10 digits), chaos beyond it; the negative control of "period 2 at 2.5": η/eps below 2, where
# the fixed point in the micro-well is stable (GD's |1 − η f''| < 1 needs η < 2 eps)
LOGISTIC_R_INF = 3.569945672
PERIOD_CONTROL_ETA_OVER_EPS = 1.5
FIG_KEEP = 32  # attractor points per η kept in results.json for the figure (4 decimals)


# the keys' types and ranges: eta_over_eps = (lo, hi, n) for linspace(lo, hi, n), lo > 0
SCHEMA = Schema({
    "x64": Bool(), "seed": Seed(), "eps": Positive(),
    "eta_over_eps": Seq(Positive(), length=3), "x0": Num(), "num_transient": Int(0),
    "num_keep": Int(2), "max_period": Int(1), "rtol": Positive(), "lyapunov_steps": Int(1),
    "control_logistic_r": Seq(Positive(), length=3)})


def validate(config) -> None:
  SCHEMA.check(config)
  common.check_x64(config, [config.eps])
  lo, hi, n = config.eta_over_eps
  req = config_lib.require
  req(isinstance(n, int) or float(n).is_integer(),
      f"config.eta_over_eps[2] (the number of values) must be a whole number, got {n!r}")
  req(lo < hi or int(n) == 1, f"config.eta_over_eps must be (lo, hi, n) with lo < hi, got "
                              f"{tuple(config.eta_over_eps)}")
  req(2 * config.max_period <= config.num_keep,
      f"config.max_period must be <= num_keep / 2 = {config.num_keep // 2} (a period is "
      f"detected from two repeats), got {config.max_period}")
  # the kept tails of every η (float64) and the Lyapunov runs' states
  config_lib.check_memory(8.0 * int(n) * (3 * config.num_keep + 64),
                          f"{int(n):,} values of η/eps x {config.num_keep} kept steps",
                          "eta_over_eps[2] or num_keep")


def run(config, workdir) -> dict:
  from chaosopt.analysis import bifurcation as bf
  from chaosopt.analysis.lyapunov import lyapunov_exponents
  from chaosopt.tasks import multiscale as ms

  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  r = np.linspace(config.eta_over_eps[0], config.eta_over_eps[1], int(config.eta_over_eps[2]))

  def compute():
    with common.precision(config) as x64:
      obj = ms.quartic_negcos(config.eps)
      etas = jnp.asarray(r * config.eps)
      x0 = jnp.full((r.size, 1), config.x0)
      gd = lambda x, e: obj.gd_map(x, e)
      tails = np.asarray(bf.attractor_tails(gd, x0, etas, num_transient=config.num_transient,
                                            num_keep=config.num_keep))
      lyap = np.asarray(lyapunov_exponents(gd, x0, etas, num_steps=config.lyapunov_steps,
                                           burn_in=config.num_transient))
    return {"tails": tails[:, :, 0], "lyap": lyap, "float64": x64}

  out = wd.unit("attractors", compute)

  def logistic():
    # the same detector (attractor tails, period <= max_period, Lyapunov exponent) on the
    # logistic map over its own grid: the positive control of the chaos threshold
    rl = np.linspace(*config.control_logistic_r[:2], int(config.control_logistic_r[2]))
    with common.precision(config):
      fn = lambda x, p: p * x * (1.0 - x)
      x0l = jnp.full((rl.size, 1), 0.3)
      tl = np.asarray(bf.attractor_tails(fn, x0l, jnp.asarray(rl),
                                         num_transient=config.num_transient,
                                         num_keep=config.num_keep))[:, :, 0]
      ll = np.asarray(lyapunov_exponents(fn, x0l, jnp.asarray(rl),
                                         num_steps=config.lyapunov_steps,
                                         burn_in=config.num_transient))
    pl = np.array([bf.detect_period(t[:, None], max_period=config.max_period, rtol=config.rtol)
                   for t in tl])
    return {"r": rl, "threshold": bf.chaos_threshold(rl, pl, ll), "known": LOGISTIC_R_INF,
            "step": float(rl[1] - rl[0]) if rl.size > 1 else 0.0}

  control = wd.unit("control_logistic", logistic)
  tails, lyap = out["tails"], out["lyap"]
  periods = np.array([bf.detect_period(t[:, None], max_period=config.max_period,
                                       rtol=config.rtol) for t in tails])
  first = {str(p): bf.first_eta_with_period(r, periods, p) for p in (2, 4, 8, 16)}
  half = np.max(np.abs(tails), axis=1)
  escaped = r[half > np.pi * config.eps]
  return {"float64": out["float64"], "eta_over_eps": r, "periods": periods, "lyapunov": lyap,
          "attractor_over_eps": np.round(tails[:, :FIG_KEEP] / config.eps, 4),
          "first_eta_over_eps_with_period": first,
          "chaos_threshold_eta_over_eps": bf.chaos_threshold(r, periods, lyap),
          "no_period_from": bf.chaos_threshold(r, periods),
          "first_eta_over_eps_leaving_micro_well": float(escaped.min()) if escaped.size else None,
          "control_logistic": {k: control[k] for k in ("threshold", "known", "step")}}


def _fmt(v) -> str:
  return "–" if v is None else plots.fmt_num(v, 4)


def report(config, results):
  r = np.asarray(results["eta_over_eps"], float)
  periods = np.asarray(results["periods"])
  i25 = int(np.argmin(np.abs(r - 2.5)))
  thr = results["chaos_threshold_eta_over_eps"]
  first = results["first_eta_over_eps_with_period"]
  rows = [[f"period at η = {plots.fmt_num(r[i25])} eps", PAPER["period_at_2.5"], periods[i25]],
          ["first η/eps with period 2", "(fixed point unstable at 2)", _fmt(first["2"])],
          ["first η/eps with period 4", "–", _fmt(first["4"])],
          ["first η/eps with period 8", "–", _fmt(first["8"])],
          ["first η/eps with period 16", "–", _fmt(first["16"])],
          [f"chaos threshold η/eps (no period ≤ {config.max_period} and λ > 0)",
           f"≈ {PAPER['chaos_threshold']}", _fmt(thr)],
          [f"first η/eps with no period ≤ {config.max_period}", "–",
           _fmt(results["no_period_from"])]]
  vs = verdicts(config, results)
  setting = _setting.of(config, results)
  md = f"""# P1 Fig. 9: bifurcation diagram, x^4/4 − eps cos(x/eps), eps = {plots.fmt_num(config.eps)}

{len(r)} values of η/eps in [{plots.fmt_num(r[0])}, {plots.fmt_num(r[-1])}], x0 = {plots.fmt_num(config.x0)},
{config.num_transient} transient steps, {config.num_keep} kept; period = smallest p ≤
{config.max_period} with |x_(i+p) − x_i| ≤ {config.rtol:g} × max(range, max|x|); Lyapunov exponent
(eq. 4) over {config.lyapunov_steps} steps after the transient; float64 = {results['float64']}.
Deterministic: the numbers equal the earlier report's.

{report_lib.markdown_table(["quantity", "paper", "ours"], rows)}
The attractor first leaves the micro-well [−eps π, eps π] (global chaos) at η/eps =
{_fmt(results['first_eta_over_eps_leaving_micro_well'])}.

## Verdicts

""" + verdict_lib.markdown(vs)
  figs = {"bifurcation": _figure(config, results)}
  return _setting.header(setting) + md, figs, vs


def verdicts(config, results) -> list:
  """P1 Fig. 9 (:mod:`chaosopt.analysis.verdicts`); deterministic orbits: exact comparisons,
  the grid step as the resolution of the chaos threshold."""
  setting = _setting.of(config, results)
  r = np.asarray(results["eta_over_eps"], float)
  periods = np.asarray(results["periods"])
  i25 = int(np.argmin(np.abs(r - 2.5)))
  thr = results["chaos_threshold_eta_over_eps"]
  step = (r[-1] - r[0]) / max(len(r) - 1, 1)
  p = int(periods[i25])
  p_status = lambda q: "reproduced" if q == PAPER["period_at_2.5"] else "not reproduced"
  ic = int(np.argmin(np.abs(r - PERIOD_CONTROL_ETA_OVER_EPS)))
  pc = int(periods[ic])
  out = [verdict_lib.decide(
      "GD has period 2 at η = 2.5 eps.", "P1 Fig. 9", f"detected period at η/eps = "
      f"{plots.fmt_num(r[i25])}", "reproduced if the period is 2, not reproduced otherwise",
      status=p_status(p), estimate=p, uncertainty="exact (deterministic orbit)",
      control=verdict_lib.control(
          f"η/eps = {plots.fmt_num(r[ic])} (below 2: the fixed point is stable), same detector "
          "and rule", p_status(pc), pc, must_show="no period 2 (a fixed point, period 1)"))]
  if thr is None:
    st, reason = "inconclusive", "no chaos threshold in the scanned range"
  else:
    st, reason = verdict_lib.equivalence_status((thr - step, thr + step),
                                                PAPER["chaos_threshold"], 0.25)
  ctrl = None
  cl = results.get("control_logistic")
  if cl is not None:
    if cl["threshold"] is None:
      cst = "inconclusive"
    else:
      cst, _ = verdict_lib.equivalence_status((cl["threshold"] - cl["step"],
                                               cl["threshold"] + cl["step"]), cl["known"], 0.25)
    ctrl = verdict_lib.control(
        f"logistic map x → r x (1 − x), same detector and tolerance, against its known onset "
        f"r∞ = {cl['known']:.6f}", cst, cl["threshold"], expect="reproduced",
        must_show="the known chaos onset found within ± 0.25")
  out.append(verdict_lib.decide(
      "Chaos sets in around η = 3.5 eps.", "P1 Fig. 9 (read off the plot)",
      f"first η/eps with no period ≤ {config.max_period} and a positive Lyapunov exponent",
      "reproduced if the threshold ± one grid step lies within ± 0.25 of 3.5 (a value read off "
      "a figure), not reproduced if outside, inconclusive otherwise", status=st, reason=reason,
      estimate=thr, uncertainty=None if thr is None else (thr - step, thr + step),
      detail=f"grid step {plots.fmt_num(step)}.", control=ctrl,
      no_control="No control in these results (run before the logistic-map control existed)."))
  return _setting.finish(setting, out)


def _figure(config, results):
  r = np.asarray(results["eta_over_eps"], float)
  tails = np.asarray(results["attractor_over_eps"], float)
  lyap = np.asarray(results["lyapunov"], float)
  fig, (a1, a2) = plots.subplots(2, 1, figsize=(7.5, 6.5), sharex=True)
  k = tails.shape[1]
  a1.plot(np.repeat(r, k), tails.ravel(), ls="none", marker=".", ms=0.6, color="black",
          alpha=0.35, rasterized=True)
  for s in (-np.pi, np.pi):
    a1.axhline(s, color=plots.PAPER_COLOR, ls="--", lw=0.9)
  # symmetric-log axis: the micro-well (|x/eps| <= pi) linear, the escaped orbits compressed
  a1.set_yscale("symlog", linthresh=np.pi, linscale=1.5)
  top = float(np.nanmax(np.abs(tails))) if np.isfinite(tails).any() else np.pi
  ticks = [t for t in (10.0, 100.0, 1000.0) if t <= 1.05 * top]
  a1.set_yticks([-t for t in ticks[::-1]] + [-np.pi, 0.0, np.pi] + ticks)
  a1.set_yticklabels([f"−{plots.fmt_num(t)}" for t in ticks[::-1]] + ["−π", "0", "π"]
                     + [plots.fmt_num(t) for t in ticks])
  a1.yaxis.set_minor_locator(ticker.NullLocator())
  plots.label_axes(a1, "", "attractor x / eps",
                   title=f"GD attractor, {tails.shape[1]} iterates per η (dashed: micro-well "
                         "edges ± π; symlog axis beyond)")
  a1.set_xlabel("")
  fin = np.isfinite(lyap)
  a2.plot(r[fin], lyap[fin], ls="none", marker=".", ms=3, color="C0", label="λ (eq. 4)")
  a2.plot(r, np.log(r) - np.log(2), "k--", lw=1.0, label="m + ln(η/eps), m = −ln 2 (Thm. 9)")
  a2.axhline(0, color="0.5", lw=0.7)
  theory = np.log(r) - np.log(2)
  lo, _ = plots.robust_ylim(a2, [lyap[fin]], q=(0.02, 1.0), keep=theory)
  clipped = int(np.sum(lyap[fin] < lo))
  if clipped:
    low = lyap[fin][lyap[fin] < lo]
    a2.plot(r[fin][lyap[fin] < lo], np.full(clipped, lo), ls="none", marker="v", ms=5,
            color="C0", clip_on=False,
            label=f"{clipped} value{'s' if clipped > 1 else ''} below the axis "
                  f"(min {plots.fmt_num(low.min())})")
  plots.label_axes(a2, "η / eps", "Lyapunov exponent λ (per step)")
  plots.legend(a2, loc="lower right")
  return fig
