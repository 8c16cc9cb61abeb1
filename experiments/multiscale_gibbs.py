"""P1 (Kong & Tao 2020) Figs. 1, 3, 4: large-LR GD is 'stochastic' -- its ensembles (mixing) and
single orbits (ergodicity) follow the rescaled Gibbs law exp(-2 f0/(eta sigma^2)) (eq. 2,
Thm. 7), like the stochastic map phi_hat (Thm. 4). Distances: binned TV (with its sampling
floor for i.i.d. samples) and W1.

  python experiments/multiscale_gibbs.py [--quick] [--out DIR]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.multiscale_gibbs import get_config  # noqa: E402
from experiments import _cli  # noqa: E402
from chaosopt.tasks import multiscale as ms  # noqa: E402


def main(argv=None):
  args, cfg = _cli.setup(__file__, get_config, doc=__doc__, argv=argv)
  ms.configure_precision(cfg)  # before any array exists

  import jax
  import jax.numpy as jnp
  plt = _cli.pyplot()
  import numpy as np

  from chaosopt.analysis import distributions as di
  from chaosopt.train.report import markdown_table, write_report

  t_start = time.time()
  results = {"config": cfg.to_dict(), "cases": []}
  md = ["# P1 Figs. 1, 3, 4: GD statistics vs rescaled Gibbs\n",
        f"Run: {cfg.num_orbits} orbits x {cfg.num_steps} steps per ensemble, single orbits of "
        f"{cfg.orbit_steps} steps (first {cfg.orbit_burn_in} dropped), {cfg.bins} bins, "
        f"float64 = {ms.x64_enabled()}. TV floor = expected TV of that many i.i.d. draws of the "
        "reference law (orbit samples are correlated, so their floor is higher).\n"]
  fig, axes = plt.subplots(len(cfg.cases), 2, figsize=(9, 2.6 * len(cfg.cases)))
  for ci, case in enumerate(cfg.cases):
    obj = ms.get_objective(case["objective"], eps=case["eps"])
    eta = case["eta"]
    key = jax.random.PRNGKey(cfg.seed + ci)
    k0, k1 = jax.random.split(key)
    lo, hi = case["init"]
    x0 = jax.random.uniform(k0, (cfg.num_orbits, 1), minval=lo, maxval=hi)
    edges = np.linspace(-case["box"], case["box"], cfg.bins + 1)
    q = di.bin_probabilities(di.rescaled_gibbs_logpdf(obj.f0, eta, obj.sigma2), [edges])
    _, gd_snap = di.iterate_ensemble(di.gd_ensemble_step(obj, eta), x0, cfg.num_steps,
                                     snapshots=cfg.snapshots, chunk_size=cfg.chunk_size)
    _, sm_snap = di.iterate_ensemble(di.stochastic_map_step(obj, eta), (x0, k1), cfg.num_steps,
                                     snapshots=cfg.snapshots, chunk_size=cfg.chunk_size,
                                     observe=lambda c: c[0])
    rows, snaps = [], {}
    for t in cfg.snapshots:
      g = di.compare_to_reference(gd_snap[t][:, 0], q, edges)
      s = di.compare_to_reference(sm_snap[t][:, 0], q, edges)
      pg, og = di.histogram_probs(gd_snap[t], [edges])
      ps, os_ = di.histogram_probs(sm_snap[t], [edges])
      tv_gs = di.total_variation(pg, ps, og, os_)
      snaps[t] = {"gd": g, "phi_hat": s, "tv_gd_vs_phi_hat": tv_gs}
      rows.append([t, f"{g['tv']:.4f}", f"{g['w1']:.4f}", f"{s['tv']:.4f}", f"{tv_gs:.4f}",
                   f"{g['tv_floor']:.4f}"])
    counts, outside, _ = di.orbit_histogram(lambda x: obj.gd_map(x, eta), jnp.array([0.3]),
                                            cfg.orbit_steps, lo=[-case["box"]],
                                            hi=[case["box"]], bins=cfg.bins,
                                            burn_in=cfg.orbit_burn_in, chunk_size=10000)
    n_orb = cfg.orbit_steps - cfg.orbit_burn_in
    po = counts / n_orb
    orbit = {"tv": di.total_variation(po, q, outside / n_orb, 0.0),
             "w1": di.wasserstein1_binned(po, q, edges),
             "tv_floor_iid": di.tv_sampling_floor(q, n_orb), "x0": 0.3}
    pe, oe = di.histogram_probs(gd_snap[max(cfg.snapshots)], [edges])
    orbit["tv_vs_ensemble"] = di.total_variation(po, pe, outside / n_orb, oe)
    res = {"figure": case["figure"], "objective": obj.info(), "eta": eta, "ensemble": snaps,
           "orbit": orbit}
    results["cases"].append(res)
    md.append(f"\n## {case['figure']}: `{obj.description}`, eta = {eta}, eps = {obj.eps:g}, "
              f"sigma^2 = {obj.sigma2}\n")
    md.append("Paper: the ensemble converges to 'approximately the rescaled Gibbs' and so does "
              "the histogram of one orbit (pictures only, no number).\n\n")
    md.append(markdown_table(["step", "TV(GD, Gibbs)", "W1(GD, Gibbs)", "TV(phi_hat, Gibbs)",
                              "TV(GD, phi_hat)", "TV floor"], rows))
    md.append(f"\nSingle GD orbit from x0 = 0.3: TV(orbit, Gibbs) = {orbit['tv']:.4f}, "
              f"W1 = {orbit['w1']:.4f} (i.i.d. floor {orbit['tv_floor_iid']:.4f}).\n")
    centers = 0.5 * (edges[1:] + edges[:-1])
    w = np.diff(edges)
    ax = axes[ci, 0] if len(cfg.cases) > 1 else axes[0]
    tf = max(cfg.snapshots)
    ax.hist(gd_snap[tf][:, 0], bins=edges, density=True, alpha=0.5, label=f"GD ensemble t={tf}")
    ax.hist(sm_snap[tf][:, 0], bins=edges, density=True, histtype="step", label="phi_hat")
    ax.plot(centers, q / w, "k-", label="rescaled Gibbs")
    ax.set_title(f"{case['figure']} ensemble", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[ci, 1] if len(cfg.cases) > 1 else axes[1]
    ax.bar(centers, po / w, width=w, alpha=0.5, label="one GD orbit")
    ax.plot(centers, q / w, "k-", label="rescaled Gibbs")
    ax.set_title(f"{case['figure']} single orbit", fontsize=9)
    ax.legend(fontsize=7)
  fig.tight_layout()
  results["wall_seconds"] = time.time() - t_start
  md.append("\n## Verdict\n")
  md.append("Criteria (P1's claims, not a tuned threshold): Thm. 4 -- GD's ensemble law equals "
            "phi_hat's: TV(GD, phi_hat) below 3 x the two-sample floor (sqrt2 x floor); "
            "ergodicity -- one orbit's histogram equals the ensemble's: TV(orbit, GD ensemble) "
            "below 3 x floor. Gibbs is only O(eta^2)-accurate (Thm. 7), so TV(., Gibbs) is "
            "reported, not thresholded.\n\n")
  for r in results["cases"]:
    tf = max(cfg.snapshots)
    e = r["ensemble"][tf]
    fl = e["gd"]["tv_floor"]
    thm4 = e["tv_gd_vs_phi_hat"] < 3 * np.sqrt(2) * fl
    erg = r["orbit"]["tv_vs_ensemble"] < 3 * fl
    md.append(f"- {r['figure']}: TV(GD, Gibbs) = {e['gd']['tv']:.4f}, TV(phi_hat, Gibbs) = "
              f"{e['phi_hat']['tv']:.4f}, TV(GD, phi_hat) = {e['tv_gd_vs_phi_hat']:.4f} "
              f"(floor {fl:.4f}) -> Thm. 4 {'**reproduced**' if thm4 else '**NOT reproduced**'}; "
              f"TV(orbit, ensemble) = {r['orbit']['tv_vs_ensemble']:.4f} -> ergodicity "
              f"{'**reproduced**' if erg else '**NOT reproduced**'}; TV(orbit, Gibbs) = "
              f"{r['orbit']['tv']:.4f}.\n")
  md.append("\nNote: Thm. 4 is an eps -> 0 statement; Fig. 1's eps = 0.01 (eta/eps = 10) is far "
            "from that limit (the paper only draws this function), so a gap between GD and "
            "phi_hat there is not a contradiction of the theorem.\n")
  md.append(f"\nWall time {results['wall_seconds']:.0f} s.\n")
  write_report(args.out, "".join(md), results, {"histograms.png": fig})
  print("".join(md))


if __name__ == "__main__":
  main()
