"""P1 (Kong & Tao 2020) Figs. 20-22: the nonconvex dichotomy. GD on k(x^2-1)^2 + eps sin(x/eps)
from an ensemble in the right well: for k = 0.02 < k_critical = 3 sqrt3/8 orbits cross x = 0
and the ensemble approaches the two-well rescaled Gibbs law; for k = 5 > k_critical no orbit
crosses (the stochastic map's noise |zeta| <= 1 cannot beat |f0'| on the barrier, Rmk. 12) and
the law in the right well is the restricted Gibbs law, ~ exp(-16k(x-1)^2/eta) (Fig. 22).

  python experiments/multiscale_double_well.py [--quick] [--out DIR]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.multiscale_double_well import get_config  # noqa: E402
from experiments import _cli  # noqa: E402
from chaosopt.tasks import multiscale as ms  # noqa: E402


def main(argv=None):
  args, cfg = _cli.setup(__file__, get_config, doc=__doc__, argv=argv)
  ms.configure_precision(cfg)

  import jax
  import jax.numpy as jnp
  plt = _cli.pyplot()
  import numpy as np

  from chaosopt.analysis import distributions as di
  from chaosopt.core.loop import scan_chunks
  from chaosopt.train.report import markdown_table, write_report

  t0 = time.time()
  key = jax.random.PRNGKey(cfg.seed)
  results = {"config": cfg.to_dict(), "k_critical": ms.K_CRITICAL, "cases": []}
  md = [f"# P1 Figs. 20-22: double well k(x^2-1)^2 + eps sin(x/eps), eta = {cfg.eta}, "
        f"eps = {cfg.eps:g}\n\n",
        f"k_critical = 3 sqrt3 / 8 = {ms.K_CRITICAL:.4f}. Run: {cfg.num_orbits} orbits from "
        f"U{tuple(cfg.init)} for {cfg.num_steps} steps; {cfg.num_long_orbits} single orbits of "
        f"{cfg.orbit_steps} steps counting sign changes; float64 = {ms.x64_enabled()}.\n\n"]
  rows = []
  fig, axes = plt.subplots(1, 3, figsize=(12, 3))
  for ci, k in enumerate(cfg.ks):
    obj = ms.double_well_sin(k, cfg.eps)
    key, k0, k1 = jax.random.split(key, 3)
    x0 = jax.random.uniform(k0, (cfg.num_orbits, 1), minval=cfg.init[0], maxval=cfg.init[1])
    _, snap = di.iterate_ensemble(di.gd_ensemble_step(obj, cfg.eta), x0, cfg.num_steps,
                                  snapshots=cfg.snapshots, chunk_size=cfg.chunk_size)
    _, ssnap = di.iterate_ensemble(di.stochastic_map_step(obj, cfg.eta), (x0, k1),
                                   cfg.num_steps, snapshots=cfg.snapshots,
                                   chunk_size=cfg.chunk_size, observe=lambda c: c[0])
    tf = max(cfg.snapshots)
    frac_left = {t: float(np.mean(snap[t] < 0)) for t in cfg.snapshots}
    # reference: two-well Gibbs (k small) or Gibbs restricted to the right well (k large)
    lo = -1.8 if k < ms.K_CRITICAL else 0.0
    edges = np.linspace(lo, 1.8, cfg.bins + 1)
    q = di.bin_probabilities(di.rescaled_gibbs_logpdf(obj.f0, cfg.eta, obj.sigma2), [edges])
    cmp_gd = di.compare_to_reference(snap[tf][:, 0], q, edges)
    cmp_sm = di.compare_to_reference(ssnap[tf][:, 0], q, edges)

    def cross_step(c, _):
      x, n = c
      y = jax.vmap(lambda z: obj.gd_map(z, cfg.eta))(x)
      return (y, n + (jnp.sign(y[:, 0]) != jnp.sign(x[:, 0]))), None

    xl = x0[:cfg.num_long_orbits]
    (xe, crossings), _ = scan_chunks(cross_step, (xl, jnp.zeros(xl.shape[0], jnp.int32)),
                                     cfg.orbit_steps, chunk_size=min(100_000, cfg.orbit_steps))
    crossings = np.asarray(crossings)
    res = {"k": k, "frac_left": frac_left, "frac_left_phi_hat": float(np.mean(ssnap[tf] < 0)),
           "gibbs_frac_left": float(q[(edges[:-1] + edges[1:]) / 2 < 0].sum()),
           "tv_gd_vs_gibbs": cmp_gd, "tv_phi_hat_vs_gibbs": cmp_sm,
           "single_orbit_crossings": crossings}
    results["cases"].append(res)
    rows.append([k, "crosses" if k < ms.K_CRITICAL else "never crosses",
                 f"{frac_left[tf]:.4f}", f"{res['frac_left_phi_hat']:.4f}",
                 f"{res['gibbs_frac_left']:.4f}" if lo < 0 else "(restricted: 0)",
                 f"{cmp_gd['tv']:.4f} (floor {cmp_gd['tv_floor']:.4f})",
                 " / ".join(str(int(c)) for c in crossings)])
    ax = axes[ci]
    c = 0.5 * (edges[1:] + edges[:-1])
    ax.hist(snap[tf][:, 0], bins=edges, density=True, alpha=0.5, label=f"GD ensemble t={tf}")
    ax.plot(c, q / np.diff(edges), "k-", label="rescaled Gibbs")
    ax.set_title(f"k = {k}", fontsize=9)
    ax.legend(fontsize=7)
  md.append(markdown_table(["k", "paper", "fraction x<0 (GD)", "fraction x<0 (phi_hat)",
                            "Gibbs fraction x<0", "TV(GD, Gibbs)",
                            "sign changes of single orbits"], rows))
  # Fig. 22: k = 5, the in-well law vs exp(-16k(x-1)^2/eta) for decreasing eta.
  k = cfg.ks[-1]
  obj = ms.double_well_sin(k, cfg.eps)
  rows22 = []
  ax = axes[2]
  for eta in cfg.fig22_etas:
    key, k0 = jax.random.split(key)
    x0 = jax.random.uniform(k0, (cfg.num_orbits, 1), minval=cfg.init[0], maxval=cfg.init[1])
    _, snap = di.iterate_ensemble(di.gd_ensemble_step(obj, eta), x0, cfg.num_steps,
                                  snapshots=(cfg.num_steps,), chunk_size=cfg.chunk_size)
    z = 1.0 + (snap[cfg.num_steps][:, 0] - 1.0) / np.sqrt(eta)  # the paper's zoom
    edges = np.linspace(1 - 4 / np.sqrt(32 * k) * 1.0, 1 + 4 / np.sqrt(32 * k), cfg.bins + 1)
    q = di.bin_probabilities(lambda x: -16.0 * k * jnp.sum((x - 1.0) ** 2), [edges])
    cmp = di.compare_to_reference(z, q, edges)
    rows22.append([eta, f"{cmp['tv']:.4f}", f"{cmp['w1']:.4f}", f"{cmp['tv_floor']:.4f}",
                   f"{np.var(z):.5f}", f"{1 / (32 * k):.5f}"])
    results.setdefault("fig22", []).append({"eta": eta, **cmp, "var_zoomed": float(np.var(z))})
    ax.hist(z, bins=edges, density=True, histtype="step", label=f"eta={eta}")
  c = 0.5 * (edges[1:] + edges[:-1])
  ax.plot(c, q / np.diff(edges), "k-", label="exp(-16k(z-1)^2)")
  ax.set_title("Fig. 22 (k=5), z = 1 + (x-1)/sqrt(eta)", fontsize=9)
  ax.legend(fontsize=6)
  md.append("\n## Fig. 22: k = 5, zoomed law z = 1 + (x-1)/sqrt(eta) vs exp(-16k(z-1)^2)\n\n")
  md.append(markdown_table(["eta", "TV", "W1", "TV floor", "Var z (GD)", "Var z (Gaussian)"],
                           rows22))
  r0, r1 = results["cases"][0], results["cases"][-1]
  cross_ok = min(r0["single_orbit_crossings"]) > 0 and r0["frac_left"][max(cfg.snapshots)] > 0.1
  stay_ok = max(r1["single_orbit_crossings"]) == 0 and r1["frac_left"][max(cfg.snapshots)] == 0
  results["wall_seconds"] = time.time() - t0
  md.append("\n## Verdict\n\n"
            f"- k = {r0['k']} (< k_critical): every single orbit crosses x = 0 and the ensemble "
            f"fills the left well: {'**reproduced**' if cross_ok else '**NOT reproduced**'}.\n"
            f"- k = {r1['k']} (> k_critical): no orbit ever crosses: "
            f"{'**reproduced**' if stay_ok else '**NOT reproduced**'}.\n"
            "- Fig. 22: the TV to the Gaussian should shrink as eta decreases (table above).\n"
            f"\nWall time {results['wall_seconds']:.0f} s.\n")
  fig.tight_layout()
  write_report(args.out, "".join(md), results, {"double_well.png": fig})
  print("".join(md))


if __name__ == "__main__":
  main()
