"""P0 Thm. 4.1: the law of MPGD iterates x_{⌊t/η⌋} approaches the Marcus SDE's law at time t.

On a diagonal quadratic R(x) = Σ a_i x_i²/2 (d = 2), MPGD (``chaosopt.mpgd``, eq. 8, one Thaler
chain per coordinate; params float32, chains float64 because x64 is on for the SDE) is run for ⌊t/η⌋ steps with 10^4 orbits per η (one jitted
vmapped program per η), and the limiting SDE ``dX = -∇R dt - μ diag(X) ◇ dL1 + σ dL2``
(:mod:`chaosopt.analysis.marcus`) with 2·10^4 paths. Per coordinate we report the two-sample
Kolmogorov–Smirnov distance and (when the SDE has a finite mean, β = 1) W1
(:func:`chaosopt.analysis.distributions.wasserstein1_samples`), against the Monte-Carlo floor
(distance between two independent SDE halves of the same size) and the SDE's own
discretization check (dt vs 2 dt).

  python experiments/mpgd_homogenization.py [--quick] [--out DIR]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.mpgd_homogenization import get_config  # noqa: E402
from experiments import _cli  # noqa: E402


def main(argv=None):
  args, cfg = _cli.setup(__file__, get_config, doc=__doc__, argv=argv)

  import jax
  # float64 SDE: for β < 1, exp(-μ ΔL) of a large negative stable jump overflows float32.
  jax.config.update("jax_enable_x64", True)
  import jax.numpy as jnp
  plt = _cli.pyplot()
  import numpy as np
  from scipy.stats import ks_2samp

  from chaosopt.analysis import marcus
  from chaosopt.analysis.distributions import wasserstein1_samples
  from chaosopt.train.report import markdown_table, write_report

  t_start = time.time()
  a = np.asarray(cfg.curvatures, np.float32)
  grad_fn = lambda x: jnp.asarray(a, x.dtype) * x
  x0 = jnp.asarray(cfg.x0, jnp.float32)
  alpha = 1.0 / cfg.gamma
  n = cfg.num_paths
  d = len(cfg.x0)
  key = jax.random.key(cfg.seed)

  def dists(x, y, with_w1):
    # KS on the finite values (the fraction dropped is recorded; a float64 SDE path can still
    # overflow when β < 1 because X_t has a heavy tail with infinite mean)
    fin = lambda z: z[np.isfinite(z)]
    out = {"ks": [float(ks_2samp(fin(x[:, i]), fin(y[:, i])).statistic) for i in range(d)],
           "nonfinite": [float(np.mean(~np.isfinite(x))), float(np.mean(~np.isfinite(y)))]}
    if with_w1:
      out["w1"] = [wasserstein1_samples(x[:, i], y[:, i]) for i in range(d)]
    return out

  results = {"config": cfg.to_dict(), "cases": {}}
  figs = {}
  fig, axes = plt.subplots(1, 2 * len(cfg.betas), figsize=(5.2 * len(cfg.betas) * 2 / 2, 3.4))
  axes = np.atleast_1d(axes)
  md_cases = []
  for ci, beta in enumerate(cfg.betas):
    with_w1 = beta == 1.0
    key, k_sde, k_sde2, k_mp = jax.random.split(key, 4)
    t0 = time.time()
    sde = np.asarray(marcus.simulate_marcus(
        k_sde, grad_fn, x0.astype(jnp.float64), t_end=cfg.t_end, dt=cfg.sde_dt, mu=cfg.mu, sigma=cfg.sigma,
        alpha=alpha, beta=beta, num_paths=2 * n, chunk_size=cfg.chunk_size), np.float64)
    sde_coarse = np.asarray(marcus.simulate_marcus(
        k_sde2, grad_fn, x0.astype(jnp.float64), t_end=cfg.t_end, dt=2 * cfg.sde_dt, mu=cfg.mu, sigma=cfg.sigma,
        alpha=alpha, beta=beta, num_paths=n, chunk_size=cfg.chunk_size), np.float64)
    t_sde = time.time() - t0
    ref, ref2 = sde[:n], sde[n:]
    floor = dists(ref, ref2, with_w1)
    disc = dists(sde_coarse, ref2, with_w1)
    kept = {}
    rows, case = [], {"beta": beta, "sde_seconds": t_sde, "floor": floor,
                      "sde_dt_vs_2dt": disc, "sde_mean": ref.mean(0), "sde_median":
                      np.median(ref, 0), "etas": {}}
    for eta in cfg.etas:
      k_mp, sub = jax.random.split(k_mp)
      steps = int(np.floor(cfg.t_end / eta + 1e-9))
      t0 = time.time()
      x, _ = marcus.mpgd_ensemble(sub, grad_fn, x0, learning_rate=eta, num_steps=steps,
                                  num_paths=n, gamma=cfg.gamma, beta=beta, mu=cfg.mu,
                                  sigma=cfg.sigma, chunk_size=cfg.chunk_size)
      x = np.asarray(x, np.float64)
      if eta in (cfg.etas[0], cfg.etas[-1]):
        kept[eta] = x[:, 0]
      dd = dists(x, ref, with_w1)
      dd.update({"steps": steps, "seconds": time.time() - t0, "mean": x.mean(0),
                 "median": np.median(x, 0), "finite": float(np.mean(np.isfinite(x)))})
      case["etas"][str(eta)] = dd
      row = [eta, steps] + [f"{v:.4f}" for v in dd["ks"]]
      if with_w1:
        row += [f"{v:.4f}" for v in dd["w1"]]
      rows.append(row)
      print(f"beta={beta} eta={eta}: KS={dd['ks']}" + (f" W1={dd['w1']}" if with_w1 else ""),
            flush=True)
    floor_row = ["SDE vs SDE (MC floor)", "-"] + [f"{v:.4f}" for v in floor["ks"]]
    disc_row = [f"SDE dt={2 * cfg.sde_dt:g} vs dt={cfg.sde_dt:g}", "-"] + [
        f"{v:.4f}" for v in disc["ks"]]
    if with_w1:
      floor_row += [f"{v:.4f}" for v in floor["w1"]]
      disc_row += [f"{v:.4f}" for v in disc["w1"]]
    rows += [floor_row, disc_row]
    headers = ["η", "steps ⌊t/η⌋"] + [f"KS x{i + 1}" for i in range(d)] + (
        [f"W1 x{i + 1}" for i in range(d)] if with_w1 else [])
    # slope of log KS (coordinate-averaged, floor-subtracted in quadrature) vs log eta
    ks_mean = np.array([np.mean(case["etas"][str(e)]["ks"]) for e in cfg.etas])
    fl = np.mean(floor["ks"])
    excess = np.sqrt(np.clip(ks_mean**2 - fl**2, 1e-12, None))
    ok = ks_mean > 2 * fl
    slope = float(np.polyfit(np.log(np.asarray(cfg.etas)[ok]), np.log(excess[ok]), 1)[0]) \
        if ok.sum() >= 2 else float("nan")
    case["ks_excess_slope"] = slope
    results["cases"][str(beta)] = case
    mono = bool(np.all(np.diff(ks_mean) <= 2 * fl))
    verdict = (f"β = {beta}: mean KS distance goes {ks_mean[0]:.4f} (η = {cfg.etas[0]}) → "
               f"{ks_mean[-1]:.4f} (η = {cfg.etas[-1]}); MC floor {fl:.4f}; "
               f"{'decreasing in η (up to the floor)' if mono else 'NOT monotone in η'}; "
               f"smallest-η distance {'within' if ks_mean[-1] <= 2 * fl else 'above'} twice "
               f"the floor.")
    case["verdict"] = verdict
    md_cases.append((beta, markdown_table(headers, rows), slope, verdict))
    ax = axes[2 * ci]
    for i in range(d):
      ax.loglog(cfg.etas, [case["etas"][str(e)]["ks"][i] for e in cfg.etas], "o-",
                label=f"KS x{i + 1}")
      if with_w1:
        ax.loglog(cfg.etas, [case["etas"][str(e)]["w1"][i] for e in cfg.etas], "s--",
                  label=f"W1 x{i + 1}")
    ax.axhline(fl, color="k", lw=0.8, ls=":", label="KS MC floor")
    if with_w1:
      ax.axhline(np.mean(floor["w1"]), color="gray", lw=0.8, ls="-.", label="W1 MC floor")
    ax.set_xlabel("η"); ax.set_title(f"MPGD vs Marcus SDE, β={beta}")
    ax.legend(fontsize=6)
    ax = axes[2 * ci + 1]
    lo, hi = np.quantile(ref[:, 0], [0.01, 0.99])
    bins = np.linspace(lo, hi, 60)
    ax.hist(ref[:, 0], bins, density=True, histtype="step", color="k", lw=1.5, label="SDE")
    for e, xx in kept.items():
      ax.hist(xx, bins, density=True, histtype="step", label=f"MPGD η={e}")
    ax.set_title(f"x1 at t={cfg.t_end}, β={beta}"); ax.legend(fontsize=6)
  fig.tight_layout()
  figs["homogenization.png"] = fig
  results["wall_seconds"] = time.time() - t_start

  md = [f"# MPGD → Marcus SDE (P0 Thm. 4.1)\n",
        f"R(x) = Σ a_i x_i²/2 with a = {list(cfg.curvatures)}, x_0 = {list(cfg.x0)}, t = "
        f"{cfg.t_end}, γ = {cfg.gamma} (α = {alpha:.4f}), μ = {cfg.mu}, σ = {cfg.sigma}. "
        f"MPGD (`chaosopt.mpgd`, float32 params, float64 chains, excursion sign rule, invariant-measure chain start) "
        f"with {n} orbits per η; Marcus SDE (`chaosopt.analysis.marcus.simulate_marcus`, Strang "
        f"splitting with the exact jump map x ↦ x·exp(−μΔL), dt = {cfg.sde_dt:g}) with {2 * n} "
        f"paths split into two independent halves. Distances are between the MPGD sample and "
        f"one SDE half; the floor row is between the two SDE halves (what two samples of the "
        f"same law give at this size); the dt row compares the SDE at dt and 2 dt.\n",
        "The paper gives no numbers for this check (Thm. 4.1 is a convergence-in-law "
        "statement); the claim tested is that the distance shrinks as η → 0 down to the floor.\n"]
  for beta, table, slope, _ in md_cases:
    md.append(f"\n## β = {beta}\n")
    if beta != 1.0:
      md.append("For β < 1 the multiplicative driver L1 has a heavy *left* tail, so "
                "exp(−μ L1) and X_t have infinite mean: W1 is undefined for the SDE and only "
                "the KS distance is reported.\n\n")
    md.append(table)
    md.append(f"\nFitted slope of the floor-subtracted mean KS distance vs η (log-log, points "
              f"above twice the floor): {slope:.3f}.\n")
  from chaosopt.dynamics import observables
  vl, vr = (float(v) for v in observables.observable_values(cfg.gamma))
  p_left = 2.0 ** (cfg.gamma - 1)
  ev2 = p_left * vl**2 + (1 - p_left) * vr**2
  bias = {str(e): 0.5 * cfg.mu**2 * e ** (2 * cfg.gamma - 1) * cfg.t_end * ev2 for e in cfg.etas}
  results["log_product_bias"] = bias
  md.append(
      "\n## Why the convergence is slow\n\n"
      "Two η-dependent effects decay only as small powers of η. (i) MPGD multiplies x by "
      "Π_j (1 − μ η^γ v_j) where the SDE applies exp(−μ Σ_j η^γ v_j); log(1 − z) = −z − z²/2 − … "
      "leaves a systematic shrink of log x by about μ² η^{2γ−1} t E[v²]/2 "
      f"(E[v²] = {ev2:.3f}): "
      + ", ".join(f"{v:.3f} at η = {e}" for e, v in bias.items())
      + " — a bias ∝ η^{2γ−1} = η^" + f"{2 * cfg.gamma - 1:.1f}. (ii) The Thaler Birkhoff sums "
      "reach the stable law slowly (docs/papers.md: scale a few % off at k = 4000) and a bounded "
      "observable truncates the stable tail at ≈ t η^{γ−1} max|v|: the mass beyond it "
      "(∝ η^{(1−γ)α}) is what W1 feels, so W1 (tail-sensitive) barely moves while KS "
      "(body) shrinks.\n")
  md.append("\n## Verdict\n\n" + "\n".join(f"- {c[3]}" for c in md_cases) + "\n")
  md.append(f"\nRun: `python experiments/mpgd_homogenization.py` ("
            f"{'--quick' if args.quick else 'full config'}, as committed), {results['wall_seconds']:.0f} s on {jax.default_backend()} "
            f"({os.cpu_count()} cores, shared).\n")
  md.append("\n![homogenization](homogenization.png)\n")
  write_report(args.out, "".join(md), results, figs)
  print(f"wrote {args.out} in {results['wall_seconds']:.0f} s")


if __name__ == "__main__":
  main()
