"""P0 Fig. 2: the widening valley ℓ(u, v) = v² ‖u‖² / 2, d = 10, from (u0, 0), u0 ~ 5·U[0,1]^d.

The recursion is P0 eq. 8 (MPGD, γ = 0.7, β = 0.5), its eq. 11 variant, the Gaussian baseline
(noise η^0.5, and unscaled η^0 as in the authors' script) and plain GD, with η = 0.01,
μ = 0.02, σ = 0.05 (:func:`chaosopt.train.table.run_table`). GD cannot move (the gradient
vanishes at v = 0); the paper's claim is that MPGD drifts towards flatter regions (smaller
Hessian trace tr ∇²ℓ = d v² + ‖u‖²). Per-step metrics are recorded (paths in the
(v, ‖u‖²) plane, the trace). Variants: ``quick`` (200 steps, 2 seeds).
"""
from __future__ import annotations

import ml_collections
import numpy as np

from chaosopt.train import config as config_lib
from chaosopt.train import report as report_lib
from chaosopt.train import table

INFO = {"paper": "P0 (MPGD) Fig. 2", "title": "widening valley, d = 10",
        "cost": "≈ 30 s CPU (8 seeds × 10⁴ steps)", "gpu": False}
VARIANTS = {"quick": "200 steps, 2 seeds (smoke run)",
            "seeds100": "100 seeds (paired tests of the trace-reduction claim)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "widening_valley"
  c.task = ml_collections.ConfigDict({"name": "widening_valley", "dim": 10, "init_scale": 5.0})
  c.learning_rate = 0.01
  c.num_steps = 10000
  c.num_seeds = 8
  c.first_seed = 0
  c.seed = 0
  c.chunk_size = 1000
  c.checkpoint_every = 1
  c.seed_strategy = "vmap"
  c.per_step_metrics = True
  c.history_points = 400
  c.only = ""
  c.headline = ("hessian_trace", "loss")
  mu, sigma = 0.02, 0.05
  c.schemes = [
      {"name": "gd", "kind": "gd"},
      {"name": "gaussian", "kind": "gaussian", "mu": mu, "sigma": sigma, "exponent": 0.5},
      {"name": "gaussian_unscaled", "kind": "gaussian", "mu": mu, "sigma": sigma,
       "exponent": 0.0},
      {"name": "mpgd", "kind": "mpgd", "gamma": 0.7, "beta": 0.5, "mu": mu, "sigma": sigma},
      {"name": "eq11", "kind": "eq11", "gamma": 0.7, "mu": mu, "sigma": sigma},
  ]
  if "seeds100" in variants:
    c.num_seeds, c.history_points = 100, 200
  if "quick" in variants:
    c.num_steps, c.chunk_size, c.num_seeds = 200, 100, 2
  return c


validate = table.validate


def run(config, workdir) -> dict:
  return table.run_table(config, workdir)


def _ratio(results, name):
  s = results["schemes"][name]
  fin = np.asarray(table.values(results, "hessian_trace")[name])
  init = np.asarray(s["initial"]["hessian_trace"], np.float64)
  return fin / init


def report(config, results):
  from chaosopt.train import plots
  summary = results["summary"]

  def ms(name, metric):
    e = summary[name][metric]
    return "–" if e["mean"] is None else f"{e['mean']:.4g} ± {e['std'] or 0:.3g}"

  rows = []
  for name in summary:
    r = _ratio(results, name)
    n_div = sum(1 for d in results["diverged"] if d["scheme"] == name)
    rows.append([name, ms(name, "loss"), ms(name, "hessian_trace"), ms(name, "u_norm2"),
                 ms(name, "v"), f"{np.nanmedian(r):.3f}", f"{np.nanmean(r < 1):.0%}",
                 f"{n_div}/{config.num_seeds}"])
  tab = report_lib.markdown_table(
      ["scheme", "final loss", "final tr ∇²ℓ", "final ‖u‖²", "final v",
       "trace ratio final/initial (median)", "seeds with lower trace", "diverged"], rows)
  init_tr = np.asarray(next(iter(results["schemes"].values()))["initial"]["hessian_trace"],
                       np.float64)
  verdicts = []
  if "gd" in summary:
    r = _ratio(results, "gd")
    verdicts.append({"claim": "GD never moves (the gradient vanishes at v = 0).",
                     "verdict": "reproduced" if np.allclose(r, 1, atol=1e-5) else
                     "not reproduced", "detail": f"final/initial trace ratio {np.mean(r):.4f}"})
  for name in ("mpgd", "eq11"):
    if name not in summary:
      continue
    r = _ratio(results, name)
    ok = np.nanmedian(r) < 0.9 and np.nanmean(r < 1) >= 0.75
    verdicts.append({
        "claim": f"{name} drives the Hessian trace down (towards flat regions).",
        "verdict": "reproduced" if ok else "not reproduced",
        "detail": f"trace ratio final/initial median {np.nanmedian(r):.3f}, lower for "
                  f"{np.nanmean(r < 1):.0%} of {r.size} seeds"
                  + ("" if ok else "; on the valley floor u feels only the noise: the additive "
                     "term σ η^γ v2 is an unrestrained heavy-tailed walk in every u-coordinate, "
                     "which inflates ‖u‖², while μ = 0.02 is too weak to shrink it")})
  comps = table.paired_comparisons(results, "hessian_trace", ("gd", "gaussian"))
  if "gd" in comps:
    rows_gd = {r["scheme"]: r for r in comps["gd"]}
    for name in ("mpgd", "eq11"):
      if name in rows_gd:
        r = rows_gd[name]
        verdicts.append({
            "claim": f"{name} ends with a smaller Hessian trace than GD (paired by seed; GD "
                     f"stays at the start).",
            "verdict": {"better": "holds", "worse": "does not hold: the trace grows"}.get(
                r["verdict"], "not shown"),
            "detail": f"mean paired difference {r['mean_diff']:+.4g} ± {r['se_diff'] or 0:.3g} "
                      f"(scheme − GD), {r['n_improved']}/{r['n']} seeds lower, Holm p (t) = "
                      f"{r['p_ttest_holm']:.3g}"})
  md = f"""# P0 Fig. 2 — widening valley ℓ(u, v) = v²‖u‖²/2, d = 10

{config.num_seeds} seeds × {config.num_steps} iterations × {len(summary)} schemes. The paper
does not state the number of iterations of Fig. 2 (η = 0.01: 100 steps per unit of time).

Setup: start (u0, 0) with u0 ~ 5·U[0,1]^10 drawn per seed (a vector, as the paper states; the
authors' script draws a scalar), η = 0.01, μ = 0.02, σ = 0.05; MPGD γ = 0.7, β = 0.5; eq. 11
γ = 0.7. Gaussian noise exponent: `gaussian` η^0.5 (chaosopt's default), `gaussian_unscaled`
η^0 (σ ξ per step, as in the authors' script, whose noise mean of 10 we do not copy). Mean ± std
(ddof = 1) over seeds that did not diverge; every scheme of a seed starts from the same u0.
Initial tr ∇²ℓ = ‖u0‖²: {np.mean(init_tr):.2f} ± {np.std(init_tr, ddof=1) if init_tr.size > 1 else 0:.2f}.

{tab}
## Paired comparisons
{table.paired_markdown(comps, "hessian_trace")}
## Verdicts

""" + "\n".join(f"- **{v['claim']}** {v['verdict']}: {v['detail']}." for v in verdicts) + "\n"
  if results.get("messages"):
    md += "\n## Diverged runs\n\n" + "\n".join(f"- {m}" for m in results["messages"]) + "\n"
  schemes = table.scheme_dicts(results)
  colors = plots.scheme_colors(schemes)
  noisy = [n for n in results["schemes"] if n != "gd"]
  fig, axes = plots.subplots(1, len(noisy) + 1, figsize=(3.4 * (len(noisy) + 1), 3.4))
  for ax, name in zip(axes, noisy):
    s = results["schemes"][name]
    v = np.asarray(s["history"]["v"], np.float64)
    u2 = np.asarray(s["history"]["u_norm2"], np.float64)
    u0 = np.asarray(s["initial"]["u_norm2"], np.float64)
    shown = min(8, v.shape[0])
    for j in range(shown):
      ax.plot(np.r_[0.0, v[j]], np.r_[u0[j], u2[j]], lw=0.7, color=colors[name], alpha=0.8,
              label=f"one path per seed ({shown} of {v.shape[0]} shown)" if j == 0 else None)
    ax.plot(np.zeros(shown), u0[:shown], "k.", ms=4, label="start (u0, 0)")
    ax.set_yscale("symlog", linthresh=1.0)
    plots.label_axes(ax, "v", "‖u‖²", title=name)
    plots.legend(ax, outside=False)
  ax = axes[-1]
  for name, s in results["schemes"].items():
    tr = np.asarray(s["history"]["hessian_trace"], np.float64)
    plots.curves(ax, np.asarray(s["history_steps"]), tr, label=name, color=colors[name],
                 band="iqr")
  plots.auto_yscale(ax, [np.asarray(s["history"]["hessian_trace"], np.float64)
                         for s in results["schemes"].values()])
  plots.label_axes(ax, "step (iterations)", "Hessian trace tr ∇²ℓ",
                   title="Hessian trace (all seeds)")
  plots.legend(ax, outside=True)
  fig.suptitle("paths in the (v, ‖u‖²) plane; right: " + plots.band_note("iqr", config.num_seeds),
               fontsize=10)
  return md, {"fig2": fig}, verdicts
