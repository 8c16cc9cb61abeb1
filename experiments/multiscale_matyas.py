"""P1 (Kong & Tao 2020) Figs. 10-12: on the 2-D Matyas multiscale function, the GD ensemble law
matches the stochastic map phi_hat's (Thm. 4, Fig. 10) and rescaled Gibbs (Thm. 7, Fig. 11),
and one GD orbit's histogram matches both (ergodicity, Fig. 12). 2-D binned TV distances and
marginal W1.

  python experiments/multiscale_matyas.py [--quick] [--out DIR]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.multiscale_matyas import get_config  # noqa: E402
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
  from chaosopt.train.report import markdown_table, write_report

  t0 = time.time()
  obj = ms.matyas_sincos(cfg.eps)
  eta = cfg.eta
  k0, k1 = jax.random.split(jax.random.PRNGKey(cfg.seed))
  x0 = jax.random.uniform(k0, (cfg.num_orbits, 2), minval=cfg.init[0], maxval=cfg.init[1])
  e1 = np.linspace(-cfg.box, cfg.box, cfg.bins + 1)
  edges = [e1, e1]
  q = di.bin_probabilities(di.rescaled_gibbs_logpdf(obj.f0, eta, obj.sigma2), edges, refine=8)
  _, gd = di.iterate_ensemble(di.gd_ensemble_step(obj, eta), x0, cfg.num_steps,
                              snapshots=cfg.snapshots, chunk_size=cfg.chunk_size)
  _, sm = di.iterate_ensemble(di.stochastic_map_step(obj, eta), (x0, k1), cfg.num_steps,
                              snapshots=cfg.snapshots, chunk_size=cfg.chunk_size,
                              observe=lambda c: c[0])
  burn = min(10_000, cfg.orbit_steps // 10)
  counts, outside, _ = di.orbit_histogram(lambda x: obj.gd_map(x, eta), jnp.array([0.3, -0.2]),
                                          cfg.orbit_steps, lo=[-cfg.box] * 2,
                                          hi=[cfg.box] * 2, bins=cfg.bins, burn_in=burn,
                                          chunk_size=100_000)
  n_orb = cfg.orbit_steps - burn
  po = counts / n_orb
  floor = di.tv_sampling_floor(q, cfg.num_orbits)
  fine = np.linspace(-1.5, 1.5, 3001)
  # marginal densities of the Gibbs law on a fine grid (numerical integration over the other axis)
  X, Y = np.meshgrid(fine, fine, indexing="ij")
  lp = np.asarray(jax.vmap(di.rescaled_gibbs_logpdf(obj.f0, eta, obj.sigma2))(
      jnp.asarray(np.stack([X.ravel(), Y.ravel()], -1))), np.float64).reshape(X.shape)
  dens = np.exp(lp - lp.max())
  marg = [dens.sum(1), dens.sum(0)]
  rows = []
  res_t = {}
  for t in cfg.snapshots:
    pg, og = di.histogram_probs(gd[t], edges)
    ps, os_ = di.histogram_probs(sm[t], edges)
    r = {"tv_gd_gibbs": di.total_variation(pg, q, og, 0.0),
         "tv_phihat_gibbs": di.total_variation(ps, q, os_, 0.0),
         "tv_gd_phihat": di.total_variation(pg, ps, og, os_),
         "w1_x_gd_gibbs": di.wasserstein1_to_density(gd[t][:, 0], fine, marg[0]),
         "w1_y_gd_gibbs": di.wasserstein1_to_density(gd[t][:, 1], fine, marg[1])}
    res_t[t] = r
    rows.append([t, f"{r['tv_gd_gibbs']:.4f}", f"{r['tv_phihat_gibbs']:.4f}",
                 f"{r['tv_gd_phihat']:.4f}", f"{r['w1_x_gd_gibbs']:.4f}",
                 f"{r['w1_y_gd_gibbs']:.4f}", f"{floor:.4f}"])
  tf = max(cfg.snapshots)
  pg, og = di.histogram_probs(gd[tf], edges)
  orbit = {"tv_orbit_gibbs": di.total_variation(po, q, outside / n_orb, 0.0),
           "tv_orbit_ensemble": di.total_variation(po, pg, outside / n_orb, og)}
  results = {"config": cfg.to_dict(), "objective": obj.info(), "snapshots": res_t,
             "orbit": orbit, "tv_floor": floor, "wall_seconds": time.time() - t0}
  rf = res_t[tf]
  thm4 = rf["tv_gd_phihat"] < 3 * np.sqrt(2) * floor
  erg = orbit["tv_orbit_ensemble"] < 3 * floor
  md = [f"# P1 Figs. 10-12: Matyas + eps sin(x/eps) + eps cos(y/eps), eps = {cfg.eps:g}, "
        f"eta = {eta}\n\n",
        f"Run: {cfg.num_orbits} orbits from U{tuple(cfg.init)}^2, {cfg.num_steps} steps; one "
        f"orbit of {cfg.orbit_steps} steps ({burn} dropped); {cfg.bins}x{cfg.bins} bins on "
        f"[-{cfg.box}, {cfg.box}]^2; float64 = {ms.x64_enabled()}. TV floor = expected TV of "
        f"{cfg.num_orbits} i.i.d. Gibbs draws.\n\n",
        markdown_table(["step", "TV(GD, Gibbs)", "TV(phi_hat, Gibbs)", "TV(GD, phi_hat)",
                        "W1 x-marginal (GD, Gibbs)", "W1 y-marginal", "TV floor"], rows),
        f"\nSingle orbit (Fig. 12): TV(orbit, Gibbs) = {orbit['tv_orbit_gibbs']:.4f}, "
        f"TV(orbit, GD ensemble) = {orbit['tv_orbit_ensemble']:.4f}.\n\n## Verdict\n\n"
        "Paper: 'good agreement' of phi and phi_hat (Fig. 10) and of GD with rescaled Gibbs "
        "(Fig. 11), single orbit = ensemble (Fig. 12); pictures only. Ours: Thm. 4 (TV(GD, "
        f"phi_hat) < 3 sqrt2 floor) {'**reproduced**' if thm4 else '**NOT reproduced**'}; "
        f"ergodicity (TV(orbit, ensemble) < 3 floor) "
        f"{'**reproduced**' if erg else '**NOT reproduced**'}; TV(GD, Gibbs) = "
        f"{rf['tv_gd_gibbs']:.4f} vs floor {floor:.4f}.\n",
        f"\nWall time {results['wall_seconds']:.0f} s.\n"]
  fig, axes = plt.subplots(1, 4, figsize=(13, 3))
  for ax, (title, p) in zip(axes, [("GD ensemble", pg), ("phi_hat ensemble",
                                                         di.histogram_probs(sm[tf], edges)[0]),
                                   ("one GD orbit", po), ("rescaled Gibbs", q)]):
    ax.imshow(p.T, origin="lower", extent=[-cfg.box, cfg.box, -cfg.box, cfg.box])
    ax.set_title(title, fontsize=9)
  fig.tight_layout()
  write_report(args.out, "".join(md), results, {"matyas.png": fig})
  print("".join(md))


if __name__ == "__main__":
  main()
