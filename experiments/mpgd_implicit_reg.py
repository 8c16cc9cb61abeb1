"""P0 Thm. 4.3: measured E R(x_k) - R(x̄_k) of MPGD vs the ε² prediction; widening valley.

For μ = μ0 ε, σ = σ0 ε, the prediction (``chaosopt.analysis.implicit_reg``) is
E R(x_k) - R(x̄_k) = ε² P_k + O(ε³) with P_k = ½(tr(C_k ∇²R) - ∇Rᵀλ_k) as printed ("paper") or
P_k + ∇Rᵀκ_k ("full": adds the correlated-multiplicative-noise term the theorem omits). We
measure Δ(ε) = mean_paths R(x_k) - R(x̄_k) with MPGD (``chaosopt.mpgd``, float64) and
(i) the raw ratio Δ(ε)/ε² with its Monte-Carlo standard error, (ii) the common-random-numbers
coefficient B̂(ε) = (Δ(2ε) - 2Δ(ε)) / (2ε²) computed per path on the same chains, which cancels
the O(ε) term of every path exactly, so B̂(ε) = P_k + O(ε) with a small standard error.
On the widening valley the same expansion is applied to the Hessian trace F = d v² + ‖u‖².

  python experiments/mpgd_implicit_reg.py [--quick] [--out DIR]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.mpgd_implicit_reg import get_config  # noqa: E402
from experiments import _cli  # noqa: E402


def main(argv=None):
  args, cfg = _cli.setup(__file__, get_config, doc=__doc__, argv=argv)

  import jax
  jax.config.update("jax_enable_x64", True)
  import jax.numpy as jnp
  plt = _cli.pyplot()
  import numpy as np

  from chaosopt.analysis import implicit_reg as ir
  from chaosopt.analysis.marcus import mpgd_ensemble
  from chaosopt.tasks import widening_valley as wv
  from chaosopt.train.report import markdown_table, write_report

  t_start = time.time()
  key = jax.random.key(cfg.seed)
  k_rho, k_a, k_u, k_v = jax.random.split(key, 4)
  max_lag = max(cfg.num_steps, cfg.valley_steps) + 1
  rho = ir.chain_autocorrelation(k_rho, cfg.gamma, cfg.beta, max_lag=max_lag,
                                 num_chains=cfg.rho_chains, length=cfg.rho_length)
  print(f"rho: {rho[:4]} ... rho({max_lag}) = {rho[-1]:.4f}", flush=True)
  results = {"config": cfg.to_dict(), "rho": rho}

  # ---------------------------------------------------------------- quartic, ε² scaling
  def R(x):
    return 0.25 * x[0] ** 4 + 0.5 * x[0] ** 2 * x[1] ** 2 + 0.5 * x[1] ** 2

  x0 = jnp.asarray(cfg.x0, jnp.float64)
  K, rec = cfg.num_steps, cfg.record_every
  pred = ir.second_order_moments(R, x0, eta=cfg.eta, gamma=cfg.gamma, mu0=1.0, sigma0=1.0,
                                 rho=rho, num_steps=K)
  p_paper = np.asarray(ir.predicted_shift(R, pred, include_kappa=False))
  p_full = np.asarray(ir.predicted_shift(R, pred, include_kappa=True))
  ks = np.arange(0, K + 1, rec)
  rbar = np.asarray(jax.vmap(R)(pred.xbar))[ks]
  eps_all = sorted(set(cfg.eps) | {2 * e for e in cfg.eps})
  per_path = {}
  for e in eps_all:
    t0 = time.time()
    _, r = mpgd_ensemble(k_a, jax.grad(R), x0, learning_rate=cfg.eta, num_steps=K,
                         num_paths=cfg.num_paths, gamma=cfg.gamma, beta=cfg.beta, mu=e, sigma=e,
                         record_every=rec, chunk_size=cfg.chunk_size, observe=jax.vmap(R))
    per_path[e] = np.asarray(r, np.float64) - rbar[:, None]  # [len(ks), paths]
    print(f"eps={e}: {time.time() - t0:.0f} s, mean shift at K {per_path[e][-1].mean():.3e}",
          flush=True)
  n = cfg.num_paths
  rows, quartic = [], {"k": ks, "pred_paper": p_paper[ks], "pred_full": p_full[ks], "eps": {}}
  for e in cfg.eps:
    d1, d2 = per_path[e], per_path[2 * e]
    raw = d1.mean(1) / e**2
    raw_se = d1.std(1, ddof=1) / np.sqrt(n) / e**2
    crn = (d2 - 2 * d1) / (2 * e**2)
    b, b_se = crn.mean(1), crn.std(1, ddof=1) / np.sqrt(n)
    finite = float(np.mean(np.isfinite(d2[-1])))
    quartic["eps"][str(e)] = {"raw": raw, "raw_se": raw_se, "crn": b, "crn_se": b_se,
                              "finite_2eps": finite}
    rows.append([e, f"{raw[-1]:.4f} ± {raw_se[-1]:.4f}", f"{b[-1]:.4f} ± {b_se[-1]:.4f}",
                 f"{p_paper[K]:.4f}", f"{p_full[K]:.4f}"])
  # B̂(ε) = P_K + O(ε): compare at the smallest ε; the spread of B̂ over ε ≤ 0.1 measures how
  # large the O(ε) (and heavier-tail higher-order) corrections still are.
  es = np.asarray(cfg.eps)
  bs = np.array([quartic["eps"][str(e)]["crn"][-1] for e in cfg.eps])
  ses = np.array([quartic["eps"][str(e)]["crn_se"][-1] for e in cfg.eps])
  small = es <= 0.1
  extrap, extrap_se = float(bs[0]), float(ses[0])
  spread_b = float(np.ptp(bs[small])) if small.sum() >= 2 else float("nan")
  quartic["smallest_eps_B"] = [extrap, extrap_se]
  quartic["B_spread_eps_le_0.1"] = spread_b
  results["quartic"] = quartic

  # κ in isolation: pure multiplicative noise, R = 0, F(x) = x
  zero = lambda x: 0.0 * x[0]
  p1 = ir.second_order_moments(zero, jnp.ones(1), eta=cfg.eta, gamma=cfg.gamma, mu0=1.0,
                               sigma0=0.0, rho=rho, num_steps=K)
  kap1, cov1 = float(p1.kappa[-1, 0]), float(p1.cov[-1, 0, 0])
  iso_rows, iso = [], {"kappa_K": kap1, "C_K": cov1, "eps": {}}
  for e in cfg.eps[1:3] if len(cfg.eps) >= 3 else cfg.eps:
    x1, _ = mpgd_ensemble(k_a, lambda x: jnp.zeros_like(x), jnp.ones(1), learning_rate=cfg.eta,
                          num_steps=K, num_paths=n, gamma=cfg.gamma, beta=cfg.beta, mu=e,
                          chunk_size=cfg.chunk_size)
    x1 = np.asarray(x1[:, 0], np.float64)
    m1, se1, var1 = (x1.mean() - 1) / e**2, x1.std(ddof=1) / np.sqrt(n) / e**2, x1.var() / e**2
    iso["eps"][str(e)] = {"mean_shift": m1, "se": se1, "var": var1}
    iso_rows.append([e, f"{m1:.3f} ± {se1:.3f}", f"{var1:.3f}"])
  results["kappa_isolation"] = iso

  fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
  ax = axes[0]
  ax.plot(np.arange(K + 1), p_paper, "k-", label="Thm 4.3 as printed")
  ax.plot(np.arange(K + 1), p_full, "k--", label="with κ term")
  for e in cfg.eps:
    q = quartic["eps"][str(e)]
    ax.errorbar(ks, q["crn"], q["crn_se"], fmt="o", ms=3, label=f"B̂ (CRN), ε={e}")
  ax.set_xlabel("k"); ax.set_ylabel("(E R(x_k) − R(x̄_k)) / ε²"); ax.legend(fontsize=6)
  ax.set_title("quartic: ε² coefficient")
  ax = axes[1]
  ax.errorbar(es, bs, ses, fmt="o", label=f"B̂(ε) at k={K}")
  raws = [quartic["eps"][str(e)]["raw"][-1] for e in cfg.eps]
  raw_ses = [quartic["eps"][str(e)]["raw_se"][-1] for e in cfg.eps]
  ax.errorbar(es, raws, raw_ses, fmt="s", mfc="none", label="raw Δ(ε)/ε²")
  ax.axhline(p_paper[K], color="k", label="printed"); ax.axhline(p_full[K], color="k", ls="--",
                                                                 label="with κ")
  ax.set_xscale("log"); ax.set_xlabel("ε"); ax.legend(fontsize=6)
  ax.set_title(f"k = {K}: ε → 0")

  # ---------------------------------------------------------------- widening valley
  d = cfg.valley_dim
  u0 = 5.0 * jax.random.uniform(k_u, (d,), jnp.float64)
  z0 = jnp.concatenate([u0, jnp.zeros(1)])
  unpack = lambda z: {"u": z[:d], "v": z[d:]}
  loss = lambda z: wv.loss_fn(unpack(z))
  trace = lambda z: wv.hessian_trace(unpack(z))
  Kv, recv = cfg.valley_steps, cfg.valley_record_every
  mu0, sigma0 = 0.02, 0.05
  vp = ir.second_order_moments(loss, z0, eta=cfg.eta, gamma=cfg.gamma, mu0=mu0, sigma0=sigma0,
                               rho=rho, num_steps=Kv)
  kv = np.arange(0, Kv + 1, recv)
  gF = np.asarray(jax.vmap(jax.grad(trace))(vp.xbar))
  HF = np.asarray(jax.vmap(jax.hessian(trace))(vp.xbar))
  C, lam, kap = (np.asarray(a) for a in (vp.cov, vp.lam, vp.kappa))
  spread = 0.5 * np.einsum("kij,kij->k", C, HF)
  penalty = -0.5 * np.einsum("ki,ki->k", gF, lam)
  corr = np.einsum("ki,ki->k", gF, kap)
  loss_paper = np.asarray(ir.predicted_shift(loss, vp, include_kappa=False))
  valley = {"u0": u0, "trace0": float(trace(z0)), "k": kv, "pred_trace_spread": spread[kv],
            "pred_trace_hessian_penalty": penalty[kv], "pred_trace_kappa": corr[kv],
            "pred_loss_paper": loss_paper[kv], "scales": {}}
  obs = jax.vmap(lambda z: jnp.stack([loss(z), trace(z)]))
  vrows, vpath = [], {}
  ax = axes[2]
  for s in cfg.valley_scales:
    t0 = time.time()
    _, r = mpgd_ensemble(k_v, jax.grad(loss), z0, learning_rate=cfg.eta, num_steps=Kv,
                         num_paths=cfg.valley_paths, gamma=cfg.gamma, beta=cfg.beta,
                         mu=s * mu0, sigma=s * sigma0, record_every=recv,
                         chunk_size=cfg.chunk_size, observe=obs)
    r = np.asarray(r, np.float64)  # [len(kv), paths, 2]
    dtr = r[..., 1] - valley["trace0"]
    vpath[s] = dtr
    nv = r.shape[1]
    m, se = dtr.mean(1) / s**2, dtr.std(1, ddof=1) / np.sqrt(nv) / s**2
    med = np.median(dtr, 1) / s**2
    ml = r[..., 0].mean(1) / s**2
    valley["scales"][str(s)] = {"trace_shift_over_s2": m, "se": se, "median_over_s2": med,
                                "loss_over_s2": ml, "seconds": time.time() - t0}
    vrows.append([s, f"{m[-1]:.3f} ± {se[-1]:.3f}", f"{med[-1]:.3f}", f"{ml[-1]:.4f}"])
    ax.errorbar(kv, m, se, fmt="o", ms=3, label=f"measured mean, s={s}")
    print(f"valley s={s}: {time.time() - t0:.0f} s; trace shift/s² at K {m[-1]:.3f}", flush=True)
  tot_paper = spread + penalty
  crn_rows = []
  for s in cfg.valley_scales:  # common random numbers: (Δ(2s) − 2Δ(s)) / (2 s²) per path
    if 2 * s in vpath:
      crn = (vpath[2 * s] - 2 * vpath[s]) / (2 * s**2)
      b, b_se = crn.mean(1), crn.std(1, ddof=1) / np.sqrt(crn.shape[1])
      valley["scales"][str(s)]["crn"], valley["scales"][str(s)]["crn_se"] = b, b_se
      crn_rows.append([s, f"{b[-1]:.4f} ± {b_se[-1]:.4f}"])
      ax.errorbar(kv, b, b_se, fmt="^", ms=3, label=f"B̂ (CRN), s={s}")
  ax.plot(np.arange(Kv + 1), tot_paper, "k-", label="pred. (printed terms)")
  ax.plot(np.arange(Kv + 1), tot_paper + corr, "k--", label="pred. + κ term")
  ax.plot(np.arange(Kv + 1), penalty, "r:", label="Hessian-penalty drift −∇Fᵀλ/2")
  ax.set_xlabel("k"); ax.set_ylabel("(E tr∇²ℓ − tr∇²ℓ(x̄)) / s²"); ax.legend(fontsize=6)
  ax.set_title("widening valley, s·(μ, σ) = s·(0.02, 0.05)")
  fig.tight_layout()
  results["valley"] = valley
  results["wall_seconds"] = time.time() - t_start

  # ---------------------------------------------------------------- report
  md = ["# MPGD implicit regularization (P0 Thm. 4.3)\n\n",
        "What is computed (see `chaosopt/analysis/implicit_reg.py` for the derivation): with "
        "x_k = x̄_k + ε a_k + ε² b_k + O(ε³), C_k = E a_k a_kᵀ (carried by a recursion over the "
        "response matrices Φ_i because the Thaler noise is correlated in time, with the "
        "measured autocorrelation ρ(τ) of the observable), λ_k exactly as printed, and the extra "
        "κ_k = Σ Φ_i (−μ0 η^γ E[v1_{i−1} ⊙ a_{i−1}]) that the printed theorem omits: it is zero "
        "for uncorrelated noise, not for the Thaler observables. Errata used: θ must use the GD "
        "iterates x̄ (printed: x); the GD recursion lacks ∇; the remark's v_k is λ_k; "
        "`chaosopt.mpgd` has one multiplicative chain per coordinate (r1 = d; the theorem "
        "assumes r1 = 1 — both covariances are implemented).\n\n",
        f"ρ(0) = E v² = {rho[0]:.3f}, ρ(1) = {rho[1]:.3f}, ρ(10) = {rho[10]:.3f}, "
        f"ρ({max_lag}) = {rho[-1]:.3f} ({cfg.rho_chains} chains × {cfg.rho_length} steps, "
        f"γ = {cfg.gamma}, β = {cfg.beta}).\n\n",
        f"## ε² scaling on R = x1⁴/4 + x1²x2²/2 + x2²/2\n\n"
        f"x_0 = {list(cfg.x0)}, η = {cfg.eta}, μ = σ = ε, k = K = {K}, {n} paths per ε. "
        f"Raw = Δ(ε)/ε² (its error bar is dominated by the O(ε) term, whose mean is 0 but "
        f"whose spread grows like 1/ε relative to ε²); B̂ = common-random-number estimate "
        f"(Δ(2ε) − 2Δ(ε))/(2ε²) = P_K + O(ε).\n\n",
        markdown_table(["ε", "raw Δ/ε² ± SE", "B̂(ε) ± SE", "P_K printed", "P_K with κ"],
                       rows),
        f"\nB̂ at the smallest ε = {cfg.eps[0]}: **{extrap:.4f} ± {extrap_se:.4f}** vs printed "
        f"{p_paper[K]:.4f} and with κ {p_full[K]:.4f}; B̂ still moves by {spread_b:.3f} over "
        f"ε ≤ 0.1 (higher-order terms), more than the κ contribution "
        f"{p_full[K] - p_paper[K]:.3f}.\n\n",
        "## κ in isolation (1-D, R = 0, σ = 0)\n\n"
        f"x_0 = 1, μ = ε, η = {cfg.eta}, K = {K}, {n} paths, F(x) = x. Thm. 4.3's terms are all "
        f"zero here (∇²F = 0, ∇R = 0), so the printed formula predicts E x_K = 1 + O(ε³); the "
        f"correlated-noise term predicts (E x_K − 1)/ε² = κ_K = {kap1:.4f}; C_K = {cov1:.4f} "
        f"predicts Var x_K / ε².\n\n",
        markdown_table(["ε", "(E x_K − 1)/ε² ± SE", "Var x_K / ε²"], iso_rows), "\n",
        "## Widening valley (P0 Fig. 2 setting, s = 1)\n\n"
        f"d = {d}, u0 one draw of 5·U[0,1]^d (‖u0‖² = {valley['trace0']:.2f} = tr∇²ℓ at the "
        f"start), η = {cfg.eta}, (μ, σ) = s·({mu0}, {sigma0}), γ = {cfg.gamma}, β = {cfg.beta}, "
        f"{cfg.valley_paths} paths, K = {Kv}. GD stays at (u0, 0), so ∇ℓ(x̄) = 0 and the "
        f"printed loss prediction is ½ tr(C_k ∇²ℓ) = ½ ‖u0‖² C_k^{{vv}}: the implicit regularizer "
        f"ε²/2 C^{{vv}} ‖u‖² *is* a penalty on the Hessian trace ‖u‖² at v = 0. Applying the "
        f"same expansion to F = tr∇²ℓ = d v² + ‖u‖² splits the predicted shift of E F into "
        f"½ tr(C_k ∇²F) (spreading; ≥ 0), −∇Fᵀλ_k/2 = −u0ᵀλ_k^u (the drift down the gradient "
        f"of that penalty; ≤ 0) and ∇Fᵀκ_k (correlated multiplicative noise).\n\n",
        markdown_table(["k", "spread", "Hessian-penalty drift", "κ term", "total printed",
                        "total with κ"],
                       [[int(k), f"{spread[k]:.3f}", f"{penalty[k]:.3f}", f"{corr[k]:.3f}",
                         f"{spread[k] + penalty[k]:.3f}", f"{spread[k] + penalty[k] + corr[k]:.3f}"]
                        for k in kv[1::max(1, len(kv) // 5)]]),
        "\nMeasured at k = K (trace shift divided by s², mean ± SE and median; loss / s²):\n\n",
        markdown_table(["s", "(E tr − tr0)/s²", "median/s²", "E ℓ / s²"], vrows),
        "\nCommon-random-number ε² coefficient of E tr at k = K, (Δ(2s) − 2Δ(s))/(2s²):\n\n"
        + (markdown_table(["s", "B̂ ± SE"], crn_rows) if crn_rows else "(needs s and 2s)\n"),
        f"\nPredicted at k = K: printed terms {tot_paper[Kv]:.3f}, with κ "
        f"{tot_paper[Kv] + corr[Kv]:.3f}; predicted E ℓ/s² (printed) {loss_paper[Kv]:.4f}.\n\n",
        "## Verdict\n\nVERDICT\n",
        f"\nRun: `python experiments/mpgd_implicit_reg.py` "
        f"({'--quick' if args.quick else 'full config'}), {results['wall_seconds']:.0f} s on "
        f"{jax.default_backend()} ({os.cpu_count()} cores, shared).\n\n"
        "![implicit regularization](implicit_reg.png)\n"]
  # verdict computed from the numbers
  z_paper = (extrap - p_paper[K]) / extrap_se if extrap_se > 0 else float("nan")
  z_full = (extrap - p_full[K]) / extrap_se if extrap_se > 0 else float("nan")
  sc = valley["scales"]
  s_last = str(cfg.valley_scales[-1])
  v = [f"- ε² scaling (quartic): B̂ at ε = {cfg.eps[0]} is {extrap:.4f} ± {extrap_se:.4f}: "
       f"{z_paper:+.1f} SE from the printed P_K and {z_full:+.1f} SE from P_K with κ; the spread "
       f"of B̂ over ε ≤ 0.1 ({spread_b:.3f}) exceeds the κ contribution "
       f"({p_full[K] - p_paper[K]:.3f}), so this problem confirms the ε² scaling and size of the "
       f"prediction but cannot separate the two formulas.",
       "- κ isolation (1-D, R = 0): measured (E x_K − 1)/ε² " + ", ".join(
           f"{r[1]} (ε={r[0]})" for r in iso_rows) + f" vs κ_K = {kap1:.3f}; the printed "
       "theorem predicts 0.",
       f"- Valley: measured (E tr − tr0)/s² at K = {Kv}: " + ", ".join(
           f"s={s}: {sc[s]['trace_shift_over_s2'][-1]:.3f} ± {sc[s]['se'][-1]:.3f}" for s in sc)
       + f"; predicted {tot_paper[Kv]:.3f} (printed) / {tot_paper[Kv] + corr[Kv]:.3f} (with κ). "
       f"Median/s² at s = {s_last}: {sc[s_last]['median_over_s2'][-1]:.3f}. CRN coefficient: "
       + (", ".join(f"s={r[0]}: {r[1]}" for r in crn_rows) or "n/a") + ".",
       f"- Hessian-trace reduction (P0 Fig. 2 claim): in this weak-perturbation regime the mean "
       f"trace goes {'UP' if sc[s_last]['trace_shift_over_s2'][-1] > 0 else 'down'} "
       f"(tr0 = {valley['trace0']:.2f}). The printed regularizer's trace-reducing drift "
       f"−∇Fᵀλ/2 = {penalty[Kv]:.3f} s² at K is {abs(penalty[Kv]) / max(spread[Kv], 1e-30):.1%} "
       f"of the spreading term {spread[Kv]:.3f} s² and is outweighed by it and by the κ term "
       f"{corr[Kv]:.3f} s²: Thm. 4.3 does not explain a trace reduction here; it predicts the "
       f"increase we measure (better with κ)."]
  results["verdict"] = v
  md = "".join(md).replace("VERDICT", "\n".join(v))
  write_report(args.out, md, results, {"implicit_reg.png": fig})
  print(f"wrote {args.out} in {results['wall_seconds']:.0f} s")


if __name__ == "__main__":
  main()
