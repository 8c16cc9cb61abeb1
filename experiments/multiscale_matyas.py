"""P1 (Kong & Tao 2020) App. D.2, Figs. 10-12: GD on the 2-D Matyas multiscale function
``0.26(x² + y²) − 0.48xy + eps sin(x/eps) + eps cos(y/eps)`` (f0 as in
:func:`chaosopt.tasks.multiscale.matyas_sincos`), eps = 1e-7, η = 0.01.

The GD ensemble law (P1 eq. 1's φ) is compared with the stochastic map φ̂ (Thm. 4, Fig. 10) and
with the rescaled Gibbs law ``exp(−2 f0/(η σ²))``, σ² = 1/2 per axis (eq. 2, Thm. 7, Fig. 11);
one long GD orbit's histogram with both (ergodicity, Fig. 12). 2-D binned TV distances (with
the i.i.d. sampling floor) and marginal W1. Needs float64 (``config.x64``). Variants: ``quick``
(500 orbits, 1000 steps).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.experiments import _multiscale as common
from chaosopt.experiments import _setting
from chaosopt.train import plots
from chaosopt.train import report as report_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.config import Int, Num, Positive, Schema, Seq

INFO = {"paper": "P1 Figs. 10-12", "title": "Matyas multiscale: GD vs φ̂ vs rescaled Gibbs (2-D)",
        "cost": "≈ 100 s CPU", "gpu": False}


# the keys' types and ranges (ENSEMBLE_KEYS: shared with the other ensemble experiments)
SCHEMA = Schema({
    **common.ENSEMBLE_KEYS, "eps": Positive(), "eta": Positive(),
    "orbit_x0": Seq(Num(), length=2), "box": Positive(), "marginal_grid": Int(2),
    "control_eta_over_eps": Positive()})


def validate(config) -> None:
  SCHEMA.check(config)
  common.check_x64(config, [config.eps])
  g = config.marginal_grid
  # the Gibbs marginals on a g x g grid (float64 temporaries) and the 2-D histograms
  common.check_ensemble(config, dim=2, extra_bytes=8.0 * (6 * g * g + 8 * config.bins ** 2))


def run(config, workdir) -> dict:
  from chaosopt.analysis import distributions as di
  from chaosopt.tasks import multiscale as ms

  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  e1 = np.linspace(-config.box, config.box, config.bins + 1)
  edges = [e1, e1]
  burn = min(10_000, config.orbit_steps // 10)
  with common.precision(config) as x64:
    obj = ms.matyas_sincos(config.eps)
    eta = config.eta
    x0 = jax.random.uniform(common.key(config, 0), (config.num_orbits, 2),
                            minval=config.init[0], maxval=config.init[1])
    q = di.bin_probabilities(di.rescaled_gibbs_logpdf(obj.f0, eta, obj.sigma2), edges,
                             refine=8)

    def orbit():
      counts, outside, _ = di.orbit_histogram(
          lambda x: obj.gd_map(x, eta), jnp.asarray(config.orbit_x0), config.orbit_steps,
          lo=[-config.box] * 2, hi=[config.box] * 2, bins=config.bins, burn_in=burn,
          chunk_size=100_000)
      return {"counts": counts, "outside": outside}

    ens = wd.unit("ensembles", lambda: common.gd_and_phi_hat(obj, eta, x0, config,
                                                             common.key(config, 1)))
    orb = wd.unit("orbit", orbit)

    def control():
      # negative controls, same start, bins and thresholds: GD on f0 alone (no micro-scale)
      # at the same η, and GD at η = control_eta_over_eps × eps, below the stability threshold
      # 2/max f'' ≈ 2 eps of the micro-minima (orbits stop in the nearest one)
      eta_c = float(config.control_eta_over_eps) * float(config.eps)
      xf0 = common.gd_final(obj, eta, x0, config, f0_only=True)
      p0, o0 = di.histogram_probs(xf0, edges)
      xc = common.gd_final(obj, eta_c, x0, config)
      pc, oc = di.histogram_probs(xc, edges)
      counts, outside, _ = di.orbit_histogram(
          lambda x: obj.gd_map(x, eta_c), jnp.asarray(config.orbit_x0), config.orbit_steps,
          lo=[-config.box] * 2, hi=[config.box] * 2, bins=config.bins, burn_in=burn,
          chunk_size=100_000)
      return {"eta_below": eta_c, "f0_gd": p0, "f0_gd_outside": o0,
              "f0_gd_std": float(np.std(xf0, axis=0).max()), "below": pc, "below_outside": oc,
              "below_orbit": counts, "below_orbit_outside": outside}

    ctl = wd.unit("control", control)
    # marginal densities of the Gibbs law on a fine grid (numerical integration over the other
    # axis)
    fine = np.linspace(-1.5, 1.5, int(config.marginal_grid))
    X, Y = np.meshgrid(fine, fine, indexing="ij")
    lp = np.asarray(jax.vmap(di.rescaled_gibbs_logpdf(obj.f0, eta, obj.sigma2))(
        jnp.asarray(np.stack([X.ravel(), Y.ravel()], -1))), np.float64).reshape(X.shape)
  dens = np.exp(lp - lp.max())
  marg = [dens.sum(1), dens.sum(0)]
  gd, sm = ens["gd"], ens["phi_hat"]
  n_orb = config.orbit_steps - burn
  po = orb["counts"] / n_orb
  floor = di.tv_sampling_floor(q, config.num_orbits)
  snaps = {}
  for t in config.snapshots:
    pg, og = di.histogram_probs(gd[t], edges)
    ps, os_ = di.histogram_probs(sm[t], edges)
    snaps[str(t)] = {"tv_gd_gibbs": di.total_variation(pg, q, og, 0.0),
                     "tv_phihat_gibbs": di.total_variation(ps, q, os_, 0.0),
                     "tv_gd_phihat": di.total_variation(pg, ps, og, os_),
                     "w1_x_gd_gibbs": di.wasserstein1_to_density(gd[t][:, 0], fine, marg[0]),
                     "w1_y_gd_gibbs": di.wasserstein1_to_density(gd[t][:, 1], fine, marg[1])}
  tf = max(config.snapshots)
  pg, og = di.histogram_probs(gd[tf], edges)
  ps, os_ = di.histogram_probs(sm[tf], edges)
  orbit_r = {"tv_orbit_gibbs": di.total_variation(po, q, orb["outside"] / n_orb, 0.0),
             "tv_orbit_ensemble": di.total_variation(po, pg, orb["outside"] / n_orb, og),
             "burn_in": burn, "mass_outside": orb["outside"] / n_orb}
  control = {
      "eta_below": ctl["eta_below"], "f0_gd_std": ctl["f0_gd_std"],
      "tv_f0_gd_phihat": di.total_variation(ctl["f0_gd"], ps, ctl["f0_gd_outside"], os_),
      "tv_f0_gd_gibbs": di.total_variation(ctl["f0_gd"], q, ctl["f0_gd_outside"], 0.0),
      "tv_below_orbit_ensemble": di.total_variation(
          ctl["below_orbit"] / n_orb, ctl["below"], ctl["below_orbit_outside"] / n_orb,
          ctl["below_outside"])}
  return {"float64": x64, "objective": obj.info(), "snapshots": snaps, "orbit": orbit_r,
          "control": control,
          "tv_floor": floor, "edges": e1,
          "final": {"gd": pg, "gd_outside": og, "phi_hat": ps, "phi_hat_outside": os_,
                    "orbit": po, "gibbs": q}}


def report(config, results):
  floor = results["tv_floor"]
  rows = [[t, f"{r['tv_gd_gibbs']:.4f}", f"{r['tv_phihat_gibbs']:.4f}", f"{r['tv_gd_phihat']:.4f}",
           f"{r['w1_x_gd_gibbs']:.4f}", f"{r['w1_y_gd_gibbs']:.4f}", f"{floor:.4f}"]
          for t, r in results["snapshots"].items()]
  tf = str(max(config.snapshots))
  rf, orbit = results["snapshots"][tf], results["orbit"]
  vs = verdicts(config, results)
  md = f"""# P1 Figs. 10-12: Matyas + eps sin(x/eps) + eps cos(y/eps), eps = {plots.fmt_num(config.eps)}, η = {plots.fmt_num(config.eta)}

{config.num_orbits} orbits from U{tuple(config.init)}², {config.num_steps} steps (GD and φ̂ from the
same start); one GD orbit of {config.orbit_steps} steps from {tuple(config.orbit_x0)}
({orbit['burn_in']} dropped); {config.bins}×{config.bins} bins on [−{plots.fmt_num(config.box)},
{plots.fmt_num(config.box)}]²; float64 = {results['float64']}. TV floor = expected TV of
{config.num_orbits} i.i.d. Gibbs draws. Paper: 'good agreement' (pictures only). Random numbers:
`fold_in(key(seed), j)`, one j per purpose; the old script used `split(PRNGKey(seed))`, whose
keys are the same (`split(k)[j] == fold_in(k, j)` for jax's partitionable threefry), so the
numbers equal the earlier report's.

{report_lib.markdown_table(["step", "TV(GD, Gibbs)", "TV(φ̂, Gibbs)", "TV(GD, φ̂)",
                            "W1 x-marginal (GD, Gibbs)", "W1 y-marginal", "TV floor"], rows)}
Single orbit (Fig. 12): TV(orbit, Gibbs) = {orbit['tv_orbit_gibbs']:.4f}, TV(orbit, GD ensemble) =
{orbit['tv_orbit_ensemble']:.4f}.

## Verdicts

""" + verdict_lib.markdown(vs)
  figs = {"matyas": _figure(config, results)}
  return _setting.header(_setting.of(config, results)) + md, figs, vs


def verdicts(config, results) -> list:
  """P1 Figs. 10-12 (:mod:`chaosopt.analysis.verdicts`): GD vs φ̂ (Thm 4), GD vs the rescaled
  Gibbs law (Thm 7: a gap is inconclusive, Gibbs being only O(η²)-accurate), ergodicity."""
  setting = _setting.of(config, results)
  floor = results["tv_floor"]
  tf = str(max(config.snapshots))
  rf, orbit = results["snapshots"][tf], results["orbit"]
  tv4 = rf["tv_gd_phihat"]
  st4, _ = verdict_lib.interval_status((tv4, tv4), 3 * np.sqrt(2) * floor, effect="below")
  tv7 = rf["tv_gd_gibbs"]
  st7, _ = verdict_lib.interval_status((tv7, tv7), 3 * floor, effect="below")
  tve = orbit["tv_orbit_ensemble"]
  ste, _ = verdict_lib.interval_status((tve, tve), 3 * floor, effect="below")
  ctl = results.get("control")
  c4 = c7 = ce = None
  if ctl is not None:
    name0 = "GD on f0 alone (no micro-scale), same η and start"
    c4 = verdict_lib.control(
        f"{name0}, vs the same φ̂ ensemble and threshold", verdict_lib.interval_status(
            (ctl["tv_f0_gd_phihat"],) * 2, 3 * np.sqrt(2) * floor, effect="below")[0],
        ctl["tv_f0_gd_phihat"], must_show="a different law (it converges to the minimizer)")
    c7 = verdict_lib.control(
        f"{name0}, vs the same Gibbs law and threshold", verdict_lib.interval_status(
            (ctl["tv_f0_gd_gibbs"],) * 2, 3 * floor, effect="below")[0], ctl["tv_f0_gd_gibbs"],
        must_show="no agreement (it converges to the minimizer)")
    ce = verdict_lib.control(
        f"GD at η = {plots.fmt_num(ctl['eta_below'])} (below the micro-minima's stability "
        "threshold ≈ 2 eps), same start, orbit and threshold", verdict_lib.interval_status(
            (ctl["tv_below_orbit_ensemble"],) * 2, 3 * floor, effect="below")[0],
        ctl["tv_below_orbit_ensemble"],
        must_show="no ergodicity (the orbit stops in one micro-minimum)")
  no_ctrl = "No control in these results (run before the controls existed)."
  out = [
      verdict_lib.decide(
          "GD's ensemble law agrees with that of the stochastic map φ̂.", "P1 Thm 4, Fig. 10",
          f"TV(GD, φ̂) at step {tf}", "reproduced if below 3√2 × the i.i.d. TV floor (the "
          "two-sample floor with a factor 3), not reproduced otherwise", status=st4,
          estimate=tv4, uncertainty=f"threshold {3 * np.sqrt(2) * floor:.4f}", control=c4,
          no_control=no_ctrl),
      verdict_lib.decide(
          "GD's ensemble agrees with the rescaled Gibbs law.", "P1 Thm 7, Fig. 11",
          f"TV(GD, Gibbs) at step {tf}", "reproduced if below 3 × the i.i.d. TV floor; "
          "inconclusive otherwise (Gibbs is only O(η²)-accurate, so a gap does not refute)",
          status=st7 if st7 == "reproduced" else "inconclusive",
          reason="" if st7 == "reproduced" else "Gibbs is only O(η²)-accurate",
          estimate=tv7, uncertainty=f"threshold {3 * floor:.4f} (floor {floor:.4f})",
          detail=f"TV(φ̂, Gibbs) = {rf['tv_phihat_gibbs']:.4f}." + (
              "" if ctl is None else " The control's status is the threshold's alone (below: "
              "reproduced, above: not reproduced)."), control=c7, no_control=no_ctrl),
      verdict_lib.decide(
          "One GD orbit has the ensemble's law (ergodicity).", "P1 Fig. 12",
          "TV(single orbit, GD ensemble)", "reproduced if below 3 × the i.i.d. TV floor, not "
          "reproduced otherwise", status=ste, estimate=tve,
          uncertainty=f"threshold {3 * floor:.4f}",
          detail=f"TV(orbit, Gibbs) = {orbit['tv_orbit_gibbs']:.4f}.", control=ce,
          no_control=no_ctrl)]
  return _setting.finish(setting, out)


def _figure(config, results):
  f = results["final"]
  e = np.asarray(results["edges"])
  area = (e[1] - e[0]) ** 2
  panels = [(f"GD ensemble, step {max(config.snapshots)}", f["gd"]),
            ("φ̂ ensemble", f["phi_hat"]),
            (f"one GD orbit ({config.orbit_steps} steps)", f["orbit"]),
            ("rescaled Gibbs (eq. 2)", f["gibbs"])]
  dens = [np.asarray(p, float) / area for _, p in panels]
  vmax = max(float(d.max()) for d in dens)
  fig, axes = plots.subplots(1, 4, figsize=(14, 3.6))
  for ax, (title, _), d in zip(axes, panels, dens):
    im = ax.imshow(d.T, origin="lower", extent=[e[0], e[-1], e[0], e[-1]], vmin=0, vmax=vmax,
                   cmap="viridis", aspect="equal")
    ax.grid(False)
    plots.label_axes(ax, "x (dimensionless)", "y (dimensionless)", title=title)
    ax.title.set_fontsize(9.5)
  fig.colorbar(im, ax=list(axes), shrink=0.85, label="probability density")
  notes = [f"{name}: {plots.fmt_num(100 * v)}% of the mass outside the box"
           for name, v in (("GD", f["gd_outside"]), ("φ̂", f["phi_hat_outside"]),
                           ("orbit", results["orbit"]["mass_outside"])) if v and v > 0]
  if notes:
    fig.suptitle("; ".join(notes), fontsize=8.5)
  return fig
