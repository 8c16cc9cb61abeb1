"""P1 (Kong & Tao 2020) App. D.5, Figs. 20-22: the nonconvex dichotomy of large-LR GD on
``k(x² − 1)² + eps sin(x/eps)``, η = 0.05, eps = 1e-4.

GD (P1 eq. 1's φ) from an ensemble in the right well: for k = 0.02 < k_critical = 3√3/8 orbits
cross x = 0 and the ensemble approaches the two-well rescaled Gibbs law (eq. 2); for k = 5 >
k_critical no orbit crosses (the stochastic map's noise |ζ| ≤ 1 cannot beat |f0'| on the
barrier, Rmk. 12) and the law in the right well is the restricted Gibbs law, ≈
``exp(−16k(x − 1)²/η)`` (Fig. 22: the zoomed variable ``z = 1 + (x − 1)/√η`` approaches
``exp(−16k(z − 1)²)`` as η decreases). Also: single long orbits counting sign changes. Needs
float64 (``config.x64``). Variants: ``quick`` (500 orbits, 1000 steps).
"""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.experiments import _multiscale as common
from chaosopt.train import config as config_lib
from chaosopt.experiments import _setting
from chaosopt.train import plots
from chaosopt.train import report as report_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.config import Int, Positive, Schema, Seq

INFO = {"paper": "P1 Figs. 20-22", "title": "double well: crossing below k_critical, not above",
        "cost": "≈ 210 s CPU", "gpu": False}
PAPER = {"0.02": "crosses between the wells (Fig. 20)", "5": "never crosses (Fig. 21)"}


# the keys' types and ranges (ENSEMBLE_KEYS: shared with the other ensemble experiments)
SCHEMA = Schema({
    **common.ENSEMBLE_KEYS, "eps": Positive(), "eta": Positive(), "ks": Seq(Positive()),
    "num_long_orbits": Int(0), "fig22_etas": Seq(Positive())})


def validate(config) -> None:
  SCHEMA.check(config)
  common.check_x64(config, [config.eps])
  config_lib.require(config.num_long_orbits <= config.num_orbits,
                     f"config.num_long_orbits must be in [0, num_orbits = {config.num_orbits}], "
                     f"got {config.num_long_orbits}")
  common.check_ensemble(config, final_snapshot=True)  # Fig. 22 snapshots the last step


def _x0(config, purpose: int):
  return jax.random.uniform(common.key(config, purpose), (config.num_orbits, 1),
                            minval=config.init[0], maxval=config.init[1])


def _case(config, ci: int, k: float) -> dict:
  from chaosopt.analysis import distributions as di
  from chaosopt.tasks import multiscale as ms

  obj = ms.double_well_sin(k, config.eps)
  eta = config.eta
  x0 = _x0(config, 2 * ci)
  _, snap = di.iterate_ensemble(di.gd_ensemble_step(obj, eta), x0, config.num_steps,
                                snapshots=config.snapshots, chunk_size=config.chunk_size)
  _, ssnap = di.iterate_ensemble(di.stochastic_map_step(obj, eta),
                                 (x0, common.key(config, 2 * ci + 1)), config.num_steps,
                                 snapshots=config.snapshots, chunk_size=config.chunk_size,
                                 observe=lambda c: c[0])
  tf = max(config.snapshots)
  # reference: two-well Gibbs (k small) or Gibbs restricted to the right well (k large)
  lo = -1.8 if k < ms.K_CRITICAL else 0.0
  edges = np.linspace(lo, 1.8, config.bins + 1)
  q = di.bin_probabilities(di.rescaled_gibbs_logpdf(obj.f0, eta, obj.sigma2), [edges])

  def cross_step(c):
    x, n = c
    y = jax.vmap(lambda z: obj.gd_map(z, eta))(x)
    return y, n + (jnp.sign(y[:, 0]) != jnp.sign(x[:, 0]))

  xl = x0[:config.num_long_orbits]
  (_, crossings), _ = di.iterate_ensemble(cross_step, (xl, jnp.zeros(xl.shape[0], jnp.int32)),
                                          config.orbit_steps,
                                          chunk_size=min(100_000, config.orbit_steps))
  pg, og = di.histogram_probs(snap[tf], [edges])
  ps, os_ = di.histogram_probs(ssnap[tf], [edges])
  return {"k": k, "frac_left": {str(t): float(np.mean(snap[t] < 0)) for t in config.snapshots},
          "frac_left_phi_hat": float(np.mean(ssnap[tf] < 0)),
          "gibbs_frac_left": float(q[(edges[:-1] + edges[1:]) / 2 < 0].sum()),
          "restricted": bool(lo >= 0),
          "tv_gd_vs_gibbs": di.compare_to_reference(snap[tf][:, 0], q, edges),
          "tv_phi_hat_vs_gibbs": di.compare_to_reference(ssnap[tf][:, 0], q, edges),
          "single_orbit_crossings": np.asarray(crossings),
          "edges": edges, "gibbs": q, "final": {"gd": pg, "gd_outside": og, "phi_hat": ps,
                                                "phi_hat_outside": os_}}


def _fig22(config, j: int, eta: float, purpose: int = 100) -> dict:
  from chaosopt.analysis import distributions as di
  from chaosopt.tasks import multiscale as ms

  k = config.ks[-1]
  obj = ms.double_well_sin(k, config.eps)
  x0 = _x0(config, purpose + j)
  _, snap = di.iterate_ensemble(di.gd_ensemble_step(obj, eta), x0, config.num_steps,
                                snapshots=(config.num_steps,), chunk_size=config.chunk_size)
  z = 1.0 + (snap[config.num_steps][:, 0] - 1.0) / np.sqrt(eta)  # the paper's zoom
  half = 4 / np.sqrt(32 * k)
  edges = np.linspace(1 - half, 1 + half, config.bins + 1)
  q = di.bin_probabilities(lambda x: -16.0 * k * jnp.sum((x - 1.0) ** 2), [edges])
  cmp = di.compare_to_reference(z, q, edges)
  p, out = di.histogram_probs(z, [edges])
  return {"eta": eta, **cmp, "var_zoomed": float(np.var(z)), "var_gaussian": 1 / (32 * k),
          "probs": p, "outside": out, "edges": edges, "gaussian": q}


def run(config, workdir) -> dict:
  from chaosopt.tasks import multiscale as ms

  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  with common.precision(config) as x64:
    cases = [wd.unit(f"k={k:g}", lambda ci=ci, k=k: _case(config, ci, float(k)))
             for ci, k in enumerate(config.ks)]
    fig22 = [wd.unit(f"fig22_eta={eta:g}", lambda j=j, eta=eta: _fig22(config, j, float(eta)))
             for j, eta in enumerate(config.fig22_etas)]
    # Fig. 22's negative control: as many independent ensembles (other starts) at the largest
    # η as the claim has values of η, through the same rule: no drop beyond sampling noise
    eta0 = float(config.fig22_etas[0])
    ctrl = [wd.unit(f"fig22_control{j}", lambda j=j: _fig22(config, j, eta0, purpose=200))
            for j in range(len(config.fig22_etas))]
  fig22_control = [{k: r[k] for k in ("eta", "tv", "w1", "tv_floor")} for r in ctrl]
  return {"float64": x64, "k_critical": ms.K_CRITICAL, "cases": cases, "fig22": fig22,
          "fig22_control": fig22_control}


def report(config, results):
  kc = results["k_critical"]
  tf = str(max(config.snapshots))
  rows = []
  for r in results["cases"]:
    g = r["tv_gd_vs_gibbs"]
    rows.append([plots.fmt_num(r["k"]), PAPER.get(plots.fmt_num(r["k"]), "–"),
                 f"{r['frac_left'][tf]:.4f}", f"{r['frac_left_phi_hat']:.4f}",
                 "(restricted: 0)" if r["restricted"] else f"{r['gibbs_frac_left']:.4f}",
                 f"{g['tv']:.4f} (floor {g['tv_floor']:.4f})",
                 " / ".join(str(int(c)) for c in r["single_orbit_crossings"])])
  rows22 = [[plots.fmt_num(r["eta"]), f"{r['tv']:.4f}", f"{r['w1']:.4f}", f"{r['tv_floor']:.4f}",
             f"{r['var_zoomed']:.5f}", f"{r['var_gaussian']:.5f}"] for r in results["fig22"]]
  vs = verdicts(config, results)
  setting = _setting.of(config, results)
  md = f"""# P1 Figs. 20-22: double well k(x²−1)² + eps sin(x/eps), η = {plots.fmt_num(config.eta)}, eps = {plots.fmt_num(config.eps)}

k_critical = 3√3/8 = {kc:.4f}. {config.num_orbits} orbits from U{tuple(config.init)} for
{config.num_steps} steps (GD and φ̂); {config.num_long_orbits} single orbits of
{config.orbit_steps} steps counting sign changes; float64 = {results['float64']}. Random
numbers: `fold_in(key(seed), j)` (the old script split `PRNGKey(seed)`), so ensemble values
differ from the earlier report within sampling noise.

{report_lib.markdown_table(["k", "paper", "fraction x<0 (GD)", "fraction x<0 (φ̂)",
                            "Gibbs fraction x<0", "TV(GD, Gibbs)",
                            "sign changes of single orbits"], rows)}
## Fig. 22: k = {plots.fmt_num(config.ks[-1])}, zoomed law z = 1 + (x−1)/√η vs exp(−16k(z−1)²)

{report_lib.markdown_table(["η", "TV", "W1", "TV floor", "Var z (GD)", "Var z (Gaussian)"],
                           rows22)}
## Verdicts

""" + verdict_lib.markdown(vs)
  figs = {"double_well": _figure(config, results)}
  return _setting.header(setting) + md, figs, vs


def _crosses(config, r) -> str:
  """Status of "orbits cross x = 0 and the ensemble fills the left well" for one case."""
  tf = str(max(config.snapshots))
  c = np.asarray(r["single_orbit_crossings"])
  if c.min() > 0 and r["frac_left"][tf] > 0.1:
    return "reproduced"
  if c.max() == 0 and r["frac_left"][tf] == 0:
    return "not reproduced"
  return "inconclusive"


def _approaches(rows) -> tuple[str, str]:
  """Status of "the TV to the Gaussian drops as η decreases" for Fig. 22's rows (in the
  order of ``fig22_etas``): every step down by more than the first row's sampling floor."""
  tvs = [r["tv"] for r in rows]
  floor = rows[0]["tv_floor"]
  steps = [a - b for a, b in zip(tvs, tvs[1:])]
  if steps and all(d > floor for d in steps):
    return "reproduced", ""
  if any(d < -floor for d in steps):
    return "not reproduced", ""
  return "inconclusive", "the TV does not move by more than its floor"


def verdicts(config, results) -> list:
  """P1 Figs. 20-22 (:mod:`chaosopt.analysis.verdicts`): the two wells are each other's
  control (below k_critical orbits must cross, above they must not)."""
  setting = _setting.of(config, results)
  tf = str(max(config.snapshots))
  r0, r1 = results["cases"][0], results["cases"][-1]
  c0 = np.asarray(r0["single_orbit_crossings"])
  c1 = np.asarray(r1["single_orbit_crossings"])
  s0, s1 = _crosses(config, r0), _crosses(config, r1)
  rule = ("reproduced if every single orbit crosses x = 0 and > 10% of the ensemble ends at "
          "x < 0; not reproduced if no orbit crosses and none ends at x < 0; else inconclusive")
  out = [verdict_lib.decide(
      f"k = {plots.fmt_num(r0['k'])} < k_critical: GD hops between the wells (orbits cross "
      "x = 0 and the ensemble fills the left well).", "P1 Fig. 20",
      f"fewest sign changes over {c0.size} single orbits of {config.orbit_steps} steps",
      rule, status=s0, estimate=float(c0.min()),
      uncertainty=f"ensemble fraction at x < 0: {r0['frac_left'][tf]:.3f} (Gibbs "
                  f"{r0['gibbs_frac_left']:.3f})",
      control=verdict_lib.control(f"k = {plots.fmt_num(r1['k'])} > k_critical, same rule", s1,
                                  float(c1.min()), must_show="no crossing"))]
  # the claim of Fig. 21 is the absence of crossings: its status is the opposite of the rule's
  flip = {"reproduced": "not reproduced", "not reproduced": "reproduced"}
  out.append(verdict_lib.decide(
      f"k = {plots.fmt_num(r1['k'])} > k_critical: no orbit ever crosses x = 0.", "P1 Fig. 21",
      f"most sign changes over {c1.size} single orbits", "reproduced if no orbit crosses and "
      "no ensemble mass ends at x < 0; not reproduced if every orbit crosses; else inconclusive",
      status=flip.get(s1, s1), estimate=float(c1.max()),
      uncertainty=f"ensemble fraction at x < 0: {r1['frac_left'][tf]:.4f}",
      control=verdict_lib.control(f"k = {plots.fmt_num(r0['k'])} < k_critical, same rule",
                                  flip.get(s0, s0), float(c0.max()),
                                  must_show="crossings (the counter sees them)")))
  st, reason = _approaches(results["fig22"])
  tvs = [r["tv"] for r in results["fig22"]]
  floor = results["fig22"][0]["tv_floor"]
  ctrl = None
  if results.get("fig22_control"):
    rc = results["fig22_control"]
    ctrl = verdict_lib.control(
        f"{len(rc)} independent ensembles at the same η = {plots.fmt_num(rc[0]['eta'])}, "
        "same rule", _approaches(rc)[0], rc[-1]["tv"],
        must_show="no drop beyond the floor (TVs " + ", ".join(f"{r['tv']:.4f}" for r in rc)
                  + ")")
  out.append(verdict_lib.decide(
      "As η decreases the zoomed in-well law approaches exp(−16k(z − 1)²).", "P1 Fig. 22",
      "TV to the Gaussian at the smallest η", "reproduced if the TV drops by more than its "
      "sampling floor at every decrease of η, not reproduced if it rises by more than the floor, "
      "else inconclusive", status=st, reason=reason, estimate=tvs[-1] if tvs else None,
      uncertainty=f"TV floor {floor:.4f}",
      detail="TV by η: " + ", ".join(f"{plots.fmt_num(r['eta'])}: {r['tv']:.4f}"
                                     for r in results["fig22"]) + ".", control=ctrl,
      no_control="No control in these results (run before the same-η control existed)."))
  return _setting.finish(setting, out)


def _figure(config, results):
  tf = max(config.snapshots)
  fig, axes = plots.subplots(1, 3, figsize=(14, 3.9))
  for ax, r in zip(axes, results["cases"]):
    e, f = np.asarray(r["edges"]), r["final"]
    common.density_panel(ax, f["gd"], e, label=f"GD ensemble, step {tf}", color="C0",
                         outside=f["gd_outside"])
    common.density_panel(ax, f["phi_hat"], e, label="φ̂ ensemble", color="C1",
                         outside=f["phi_hat_outside"], filled=False)
    common.reference_curve(ax, r["gibbs"], e, label="restricted rescaled Gibbs"
                           if r["restricted"] else "rescaled Gibbs (eq. 2)")
    ax.set_ylim(0, 1.35 * ax.get_ylim()[1])
    plots.label_axes(ax, "x (dimensionless)", "probability density",
                     title=f"k = {plots.fmt_num(r['k'])} "
                           f"({'<' if r['k'] < results['k_critical'] else '>'} k_critical)")
    plots.legend(ax, loc="upper left")
  ax = axes[2]
  for r, c in zip(results["fig22"], ("C0", "C2", "C3", "C4", "C5")):
    common.density_panel(ax, r["probs"], r["edges"], label=f"η = {plots.fmt_num(r['eta'])}",
                         color=c, outside=r["outside"], filled=False)
  r = results["fig22"][-1]
  common.reference_curve(ax, r["gaussian"], r["edges"], label="exp(−16k(z−1)²)")
  ax.set_ylim(0, 1.35 * ax.get_ylim()[1])
  plots.label_axes(ax, "z = 1 + (x − 1)/√η", "probability density",
                   title=f"Fig. 22: k = {plots.fmt_num(config.ks[-1])}, zoomed in-well law")
  plots.legend(ax, outside=True)
  return fig
