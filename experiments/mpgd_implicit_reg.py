"""P0 Thm. 4.3 (implicit regularization): measured E R(x_k) − R(x̄_k) of MPGD vs the ε² prediction.

MPGD (P0 eq. 8, ``chaosopt.mpgd``, float64) with μ = μ0 ε, σ = σ0 ε; the prediction
(:mod:`chaosopt.analysis.implicit_reg`) is E R(x_k) − R(x̄_k) = ε² P_k + O(ε³) with
P_k = ½(tr(C_k ∇²R) − ∇Rᵀλ_k) as printed in Thm. 4.3 ("printed") or P_k + ∇Rᵀκ_k ("with κ": the
correlated-multiplicative-noise term the printed theorem omits, see docs/errata.md). Three
parts, every MPGD ensemble run by :func:`chaosopt.train.ensemble.run_ensemble`:

* **quartic** R = x1⁴/4 + x1²x2²/2 + x2²/2 from x_0 = (1.5, 1): the raw ratio Δ(ε)/ε² and the
  common-random-numbers coefficient B̂(ε) = (Δ(2ε) − 2Δ(ε))/(2ε²) computed per path on the same
  chains (cancels the O(ε) term of every path exactly; B̂(ε) = P_K + O(ε));
* **κ isolation** (1-D, R = 0, σ = 0, F(x) = x): every printed term vanishes, so the printed
  theorem predicts E x_K − 1 = O(ε³) while the κ term predicts ε² κ_K — the erratum check;
* **widening valley** (P0 Sec. 5.1, Fig. 2 setting at s = 1): the same expansion applied to the
  Hessian trace F = d v² + ‖u‖², split into spreading, Hessian-penalty drift and κ terms.

Variants: ``quick`` (40 steps, 300 paths, ε = 0.1 with its 2ε, a 40-step valley at s = 1: a
smoke run).
"""
from __future__ import annotations

import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib import ticker

from chaosopt.analysis import implicit_reg as ir
from chaosopt.analysis import marcus
from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.configs.mpgd_implicit_reg import get_config
from chaosopt.experiments import _setting
from chaosopt.tasks import widening_valley as wv
from chaosopt.train import seeds as seeds_lib
from chaosopt.train import plots
from chaosopt.train import config as config_lib
from chaosopt.train import report as report_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.checkpoint import Checkpointer
from chaosopt.train.config import Int, Num, Positive, Schema, Seed, Seq

INFO = {"paper": "P0 Thm. 4.3 (Sec. 4.3) and Fig. 2 setting",
        "title": "MPGD implicit regularization: ε² prediction vs measurement, κ_k erratum",
        "cost": "≈ 3 min CPU", "gpu": False}
logger = logging.getLogger("chaosopt")


# the keys' types and ranges: γ ∈ (1/2, 1), β ∈ [-1, 1]; valley scales increasing (the common-
# random-numbers coefficient at s pairs it with 2s)
SCHEMA = Schema({
    "seed": Seed(), "gamma": Num(0.5, 1, lo_open=True, hi_open=True), "beta": Num(-1, 1),
    "eta": Positive(), "x0": Seq(Num(), length=2), "num_steps": Int(1), "record_every": Int(1),
    "eps": Seq(Positive(), order="unique"), "num_paths": Int(2), "valley_dim": Int(1),
    "valley_scales": Seq(Positive(), order="increasing"), "valley_steps": Int(1),
    "valley_paths": Int(2), "valley_record_every": Int(1), "rho_chains": Int(1),
    "rho_length": Int(2)})


def validate(config) -> None:
  SCHEMA.check(config)
  req = config_lib.require
  req(config.num_steps % config.record_every == 0,
      f"config.record_every ({config.record_every}) must divide num_steps ({config.num_steps})")
  req(config.valley_steps % config.valley_record_every == 0,
      f"config.valley_record_every ({config.valley_record_every}) must divide valley_steps "
      f"({config.valley_steps})")
  lag = max(config.num_steps, config.valley_steps) + 1
  req(config.rho_length > lag, f"config.rho_length must be > max(num_steps, valley_steps) + 1 "
                               f"= {lag} (the autocorrelation's largest lag), got "
                               f"{config.rho_length}")
  e = config.num_steps // config.record_every + 1
  ev = config.valley_steps // config.valley_record_every + 1
  d = config.valley_dim + 1
  nbytes = 8.0 * (4 * len(config.eps) * e * config.num_paths  # quartic, ε and 2ε per path
                  + 4 * len(config.valley_scales) * ev * config.valley_paths
                  + 5 * config.rho_chains * config.rho_length  # the chains and their FFT
                  + 6 * config.valley_steps * d * d)  # the valley's moment recursions
  config_lib.check_memory(nbytes, "recorded paths, chain autocorrelation and moment "
                                  "recursions", "num_paths, valley_paths, rho_chains, "
                                  "rho_length, valley_dim or the step counts")
VALLEY_MU0, VALLEY_SIGMA0 = 0.02, 0.05  # (μ, σ) = s·(0.02, 0.05); s = 1 is P0 Fig. 2
# the old script's full run (other random streams; same config): value, SE at k = K
OLD_SCRIPT = {
    "quartic_crn": {0.025: (2.4924, 0.0189), 0.05: (2.4011, 0.0205), 0.1: (2.6467, 0.0326),
                    0.2: (5.8709, 0.2041)},
    "kappa_isolation": {0.05: (6.157, 0.534), 0.1: (6.234, 0.276)},
}  # its valley used another u0 draw (tr0 = 78.65): not comparable number for number


def quartic(x):
  return 0.25 * x[0] ** 4 + 0.5 * x[0] ** 2 * x[1] ** 2 + 0.5 * x[1] ** 2


def _paths(config, wd, tag, keys, grad_fn, x0, *, num_steps, mu, sigma, record_every=0,
           observe=None):
  with Checkpointer(os.path.join(wd.checkpoint_dir(tag), "paths"), max_to_keep=1) as ck:
    return marcus.mpgd_ensemble(
        None, grad_fn, x0, keys=keys, learning_rate=config.eta, num_steps=num_steps,
        gamma=config.gamma, beta=config.beta, mu=mu, sigma=sigma, record_every=record_every,
        observe=observe, chunk_size=record_every or num_steps, checkpointer=ck,
        checkpoint_every=4, progress=True, desc=tag)


def _quartic(config, wd, rho) -> dict:
  x0 = jnp.asarray(config.x0, jnp.float64)
  K, rec = config.num_steps, config.record_every
  pred = ir.second_order_moments(quartic, x0, eta=config.eta, gamma=config.gamma, mu0=1.0,
                                 sigma0=1.0, rho=jnp.asarray(rho), num_steps=K)
  p_paper = np.asarray(ir.predicted_shift(quartic, pred, include_kappa=False))
  p_full = np.asarray(ir.predicted_shift(quartic, pred, include_kappa=True))
  ks = np.arange(0, K + 1, rec)
  rbar = np.asarray(jax.vmap(quartic)(pred.xbar))[ks]
  # the same member keys for every ε (and 2ε): common random numbers
  keys = seeds_lib.member_keys(seeds_lib.purpose_key(config.seed, 1), config.num_paths)
  per_path = {}
  for e in sorted(set(config.eps) | {2 * e for e in config.eps}):
    _, r = wd.unit(f"quartic-eps={e:g}", lambda e=e: _paths(
        config, wd, f"quartic-eps={e:g}", keys, jax.grad(quartic), x0, num_steps=K, mu=e,
        sigma=e, record_every=rec, observe=quartic))
    per_path[e] = np.asarray(r, np.float64) - rbar[:, None]  # [len(ks), paths]
    logger.info("quartic ε = %g: mean shift at K %.3e", e, per_path[e][-1].mean())
  n = config.num_paths
  out = {"k": ks, "pred_paper": p_paper, "pred_full": p_full, "eps": []}
  for e in config.eps:
    d1, d2 = per_path[e], per_path[2 * e]
    crn = (d2 - 2 * d1) / (2 * e ** 2)
    out["eps"].append({
        "eps": e, "raw": d1.mean(1) / e ** 2, "raw_se": d1.std(1, ddof=1) / np.sqrt(n) / e ** 2,
        "crn": crn.mean(1), "crn_se": crn.std(1, ddof=1) / np.sqrt(n),
        "finite_2eps": float(np.mean(np.isfinite(d2[-1])))})
  return out


def _kappa_isolation(config, wd, rho) -> dict:
  K, n = config.num_steps, config.num_paths
  zero = lambda x: 0.0 * x[0]  # noqa: E731
  p1 = ir.second_order_moments(zero, jnp.ones(1, jnp.float64), eta=config.eta,
                               gamma=config.gamma, mu0=1.0, sigma0=0.0, rho=jnp.asarray(rho),
                               num_steps=K)
  out = {"kappa_K": float(p1.kappa[-1, 0]), "C_K": float(p1.cov[-1, 0, 0]), "eps": []}
  keys = seeds_lib.member_keys(seeds_lib.purpose_key(config.seed, 2), n)
  for e in (config.eps[1:3] if len(config.eps) >= 3 else config.eps):
    x1, _ = wd.unit(f"kappa-eps={e:g}", lambda e=e: _paths(
        config, wd, f"kappa-eps={e:g}", keys, lambda x: jnp.zeros_like(x),
        jnp.ones(1, jnp.float64), num_steps=K, mu=e, sigma=0.0))
    x1 = np.asarray(x1[:, 0], np.float64)
    out["eps"].append({"eps": e, "mean_shift": (x1.mean() - 1) / e ** 2,
                       "se": x1.std(ddof=1) / np.sqrt(n) / e ** 2, "var": x1.var() / e ** 2})
  return out


def _valley(config, wd, rho) -> dict:
  d = config.valley_dim
  u0 = 5.0 * jax.random.uniform(seeds_lib.purpose_key(config.seed, 3), (d,), jnp.float64)
  z0 = jnp.concatenate([u0, jnp.zeros(1, jnp.float64)])
  unpack = lambda z: {"u": z[:d], "v": z[d:]}  # noqa: E731
  loss = lambda z: wv.loss_fn(unpack(z))  # noqa: E731
  trace = lambda z: wv.hessian_trace(unpack(z))  # noqa: E731
  Kv, recv = config.valley_steps, config.valley_record_every
  vp = ir.second_order_moments(loss, z0, eta=config.eta, gamma=config.gamma, mu0=VALLEY_MU0,
                               sigma0=VALLEY_SIGMA0, rho=jnp.asarray(rho), num_steps=Kv)
  kv = np.arange(0, Kv + 1, recv)
  gF = np.asarray(jax.vmap(jax.grad(trace))(vp.xbar))
  HF = np.asarray(jax.vmap(jax.hessian(trace))(vp.xbar))
  C, lam, kap = (np.asarray(a) for a in (vp.cov, vp.lam, vp.kappa))
  out = {"u0": np.asarray(u0), "trace0": float(trace(z0)), "k": kv,
         "pred_spread": 0.5 * np.einsum("kij,kij->k", C, HF),
         "pred_penalty": -0.5 * np.einsum("ki,ki->k", gF, lam),
         "pred_kappa": np.einsum("ki,ki->k", gF, kap),
         "pred_loss_paper": np.asarray(ir.predicted_shift(loss, vp, include_kappa=False)),
         "scales": []}
  keys = seeds_lib.member_keys(seeds_lib.purpose_key(config.seed, 4), config.valley_paths)
  obs = lambda z: jnp.stack([loss(z), trace(z)])  # noqa: E731
  vpath = {}
  for s in config.valley_scales:
    _, r = wd.unit(f"valley-s={s:g}", lambda s=s: _paths(
        config, wd, f"valley-s={s:g}", keys, jax.grad(loss), z0, num_steps=Kv,
        mu=s * VALLEY_MU0, sigma=s * VALLEY_SIGMA0, record_every=recv, observe=obs))
    r = np.asarray(r, np.float64)  # [len(kv), paths, 2]
    dtr = r[..., 1] - out["trace0"]
    vpath[s] = dtr
    nv = r.shape[1]
    entry = {"s": s, "trace_shift_over_s2": dtr.mean(1) / s ** 2,
             "se": dtr.std(1, ddof=1) / np.sqrt(nv) / s ** 2,
             "median_over_s2": np.median(dtr, 1) / s ** 2,
             "loss_over_s2": r[..., 0].mean(1) / s ** 2}
    if s / 2 in vpath:  # common random numbers: (Δ(2s) − 2Δ(s)) / (2 s²) at the smaller s
      prev = next(x for x in out["scales"] if x["s"] == s / 2)
      crn = (dtr - 2 * vpath[s / 2]) / (2 * (s / 2) ** 2)
      prev["crn"], prev["crn_se"] = crn.mean(1), crn.std(1, ddof=1) / np.sqrt(nv)
    out["scales"].append(entry)
    logger.info("valley s = %g: trace shift / s² at K %.3f", s, entry["trace_shift_over_s2"][-1])
  return out


def run(config, workdir) -> dict:
  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  with jax.enable_x64(True):
    max_lag = max(config.num_steps, config.valley_steps) + 1
    rho = wd.unit("rho", lambda: np.asarray(ir.chain_autocorrelation(
        seeds_lib.purpose_key(config.seed, 0), config.gamma, config.beta, max_lag=max_lag,
        num_chains=config.rho_chains, length=config.rho_length), np.float64))
    logger.info("ρ(0) = %.3f, ρ(1) = %.3f, ρ(%d) = %.4f", rho[0], rho[1], max_lag, rho[-1])
    return {"rho": rho, "max_lag": max_lag, "quartic": _quartic(config, wd, rho),
            "kappa_isolation": _kappa_isolation(config, wd, rho),
            "valley": _valley(config, wd, rho)}


# ------------------------------------------------------------------------------------ report

def _np(tree):
  """``results`` as ``report`` receives it (JSON: lists, None for non-finite) with every list of
  numbers turned back into a float array (None -> NaN)."""
  if isinstance(tree, dict):
    return {k: _np(v) for k, v in tree.items()}
  if isinstance(tree, (list, tuple)):
    if all(x is None or isinstance(x, (int, float)) for x in tree) or (
        tree and all(isinstance(x, (list, tuple)) for x in tree)
        and all(isinstance(y, (int, float)) or y is None for x in tree for y in x)):
      return np.array([[np.nan if y is None else y for y in x] if isinstance(x, (list, tuple))
                       else (np.nan if x is None else x) for x in tree], dtype=float)
    return [_np(x) for x in tree]
  return tree


def verdicts(config, results) -> list:
  """P0 Thm 4.3's claims and its erratum (:mod:`chaosopt.analysis.verdicts`)."""
  setting = _setting.of(config, results)
  results = _np(results)
  q, iso, v = results["quartic"], results["kappa_isolation"], results["valley"]
  K, Kv = config.num_steps, config.valley_steps
  p_paper, p_full = q["pred_paper"][K], q["pred_full"][K]
  first = q["eps"][0]
  b, b_se = first["crn"][-1], first["crn_se"][-1]
  small = [e["crn"][-1] for e in q["eps"] if e["eps"] <= 0.1]
  spread = float(np.ptp(small)) if len(small) >= 2 else float("nan")
  kap_gap = p_full - p_paper
  separable = np.isfinite(spread) and spread < abs(kap_gap) / 2
  status, reason = verdict_lib.equivalence_status((b - 2 * b_se, b + 2 * b_se), p_paper,
                                                  0.1 * abs(p_paper))
  # control: the same coefficient at the largest ε, where the O(ε) remainder is not small: the
  # 10% rule must reject it, or it would accept any coefficient of the right order
  big = max(q["eps"], key=lambda e: e["eps"])
  if big is first:
    ctrl_q = verdict_lib.control("B̂ at a larger ε", "not tested",
                                 must_show="a coefficient outside 10%; not tested: one ε only")
  else:
    bb, bb_se = big["crn"][-1], big["crn_se"][-1]
    ctrl_q = verdict_lib.control(
        f"B̂ at the largest ε = {plots.fmt_num(big['eps'])} (O(ε) remainder not small)",
        verdict_lib.equivalence_status((bb - 2 * bb_se, bb + 2 * bb_se), p_paper,
                                       0.1 * abs(p_paper))[0], bb,
        must_show=f"a coefficient outside 10% of P_K under the same rule (B̂ = {bb:.3f} ± "
                  f"{bb_se:.3f})")
  out = [verdict_lib.decide(
      "E R(x_K) − R(x̄_K) = ε² P_K + O(ε³): the second-order expansion gives the size of the "
      "perturbation's effect.", "P0 Thm 4.3 (quartic R)",
      f"common-random-number ε² coefficient B̂ at ε = {plots.fmt_num(first['eps'])}",
      "reproduced if B̂ ± 2 SE lies within 10% of the printed P_K, not reproduced if it lies "
      "outside, inconclusive otherwise", status=status, reason=reason, estimate=b,
      uncertainty=(b - 2 * b_se, b + 2 * b_se),
      detail=f"printed P_K = {p_paper:.4f}, P_K with the κ term = {p_full:.4f}; B̂ moves by "
             f"{spread:.3f} over ε ≤ 0.1 (higher-order terms) against a κ contribution of "
             f"{kap_gap:.3f}: printed and with-κ are "
             + ("separable." if separable else "not separable at this ε.")
             + " The κ term is tested on its own below.", control=ctrl_q)]
  kap = iso["kappa_K"]
  meas = [(e["eps"], e["mean_shift"], e["se"]) for e in iso["eps"]]
  per = [verdict_lib.interval_status((abs(m) - 4 * se, abs(m) + 4 * se), 0.0,
                                     margin=abs(kap) / 2)[0] for _, m, se in meas]
  status = (per[0] if len(set(per)) == 1 else "inconclusive")
  e0, m0, se0 = min(meas, key=lambda x: x[2])
  out.append(verdict_lib.decide(
      "Thm 4.3 omits a term κ_k that correlated (Thaler) multiplicative noise makes non-zero.",
      "P0 Thm 4.3; docs/errata.md",
      f"(E x_K − 1)/ε² in 1-D with R = 0, σ = 0 (every printed term vanishes), at ε = "
      f"{plots.fmt_num(e0)}",
      "reproduced if |value| ± 4 SE excludes 0 at every ε; not reproduced if it stays below "
      "half the predicted κ_K at every ε; inconclusive otherwise", status=status,
      reason="" if status != "inconclusive" else "the ε disagree or the interval straddles",
      estimate=m0, uncertainty=(m0 - 4 * se0, m0 + 4 * se0),
      detail="measured " + ", ".join(f"{m:.3f} ± {se:.3f} (ε = {plots.fmt_num(e)})"
                                     for e, m, se in meas)
             + f" against κ_K = {kap:.3f} (with κ) and 0 (printed); "
             + ", ".join(f"{(m - kap) / se:+.1f} SE from κ_K" for _, m, se in meas) + ".",
      origin="erratum", control=verdict_lib.control(
          "the same statistic with i.i.d. draws of the observable (κ = 0)", "not tested",
          must_show="a value within κ_K/2 of 0 (uncorrelated noise has no κ term); not "
                    "tested: needs a re-run of the κ isolation with i.i.d. noise")))
  tot_paper = v["pred_spread"] + v["pred_penalty"]
  tot_full = tot_paper + v["pred_kappa"]
  sc = v["scales"]
  s0 = sc[0]
  m, se = s0["trace_shift_over_s2"][-1], s0["se"][-1]
  status, reason = verdict_lib.equivalence_status((m - 2 * se, m + 2 * se), tot_paper[Kv],
                                                  0.1 * abs(tot_paper[Kv]))
  full_status, _ = verdict_lib.equivalence_status((m - 2 * se, m + 2 * se), tot_full[Kv],
                                                  0.1 * abs(tot_full[Kv]))
  # positive control: the same measurement and rule against the expansion with the κ term
  # (the erratum, confirmed on its own above): the rule must be able to accept a prediction
  ctrl_v = verdict_lib.control(
      "the same measurement against the prediction with the κ term", full_status,
      tot_full[Kv], must_show=f"agreement within 10% under the same rule (predicted "
                              f"{tot_full[Kv]:.3f})", expect="reproduced")
  out.append(verdict_lib.decide(
      "The ε² expansion predicts the mean shift of the Hessian trace on the widening valley.",
      "P0 Thm 4.3 (widening valley)",
      f"measured (E tr − tr0)/s² at K = {Kv}, smallest scale s = {plots.fmt_num(s0['s'])}",
      "reproduced if the measured value ± 2 SE lies within 10% of the printed prediction, not "
      "reproduced if outside, inconclusive otherwise", status=status, reason=reason,
      estimate=m, uncertainty=(m - 2 * se, m + 2 * se),
      detail=f"predicted {tot_paper[Kv]:.3f} (printed) / {tot_full[Kv]:.3f} (with κ: "
             f"{full_status} by the same rule); by scale: " + ", ".join(
                 f"s = {plots.fmt_num(e['s'])}: {e['trace_shift_over_s2'][-1]:.3f} ± "
                 f"{e['se'][-1]:.3f}" for e in sc) + ".", control=ctrl_v))
  last = sc[-1]
  m, se = last["trace_shift_over_s2"][-1], last["se"][-1]
  pen, spr, kp = v["pred_penalty"][Kv], v["pred_spread"][Kv], v["pred_kappa"][Kv]
  status, reason = verdict_lib.interval_status((m - 2 * se, m + 2 * se), 0.0, effect="below")
  out.append(verdict_lib.decide(
      "MPGD's implicit regularization (Thm 4.3) lowers the Hessian trace, which explains the "
      "flatter regions of Fig. 2.", "P0 Thm 4.3, Fig. 2",
      f"measured (E tr − tr0)/s² at K = {Kv}, largest scale s = {plots.fmt_num(last['s'])}",
      "reproduced if the measured value ± 2 SE is below 0 (the trace goes down), not "
      "reproduced if at or above 0", status=status, reason=reason, estimate=m,
      uncertainty=(m - 2 * se, m + 2 * se),
      detail=f"tr0 = {v['trace0']:.2f}; the printed regularizer's trace-reducing drift "
             f"−∇Fᵀλ/2 = {pen:.3f} s² at K is {abs(pen) / max(spr, 1e-30):.1%} of the "
             f"spreading term {spr:.3f} s², and the κ term adds {kp:.3f} s²: in this "
             "weak-perturbation regime the expansion predicts the trace to go up.",
      control=verdict_lib.control(
          "a run with a known trace decrease (the valley started off its floor, v0 ≠ 0, where "
          "the gradient itself shrinks u and v)", "not tested",
          must_show="a trace shift below 0 under the same ± 2 SE rule (a positive control); "
                    "not tested: needs a re-run", expect="reproduced")))
  return _setting.finish(setting, out)


def _figure(config, results):
  results = _np(results)
  q, v = results["quartic"], results["valley"]
  K, Kv = config.num_steps, config.valley_steps
  eps_colors = {e["eps"]: f"C{i}" for i, e in enumerate(q["eps"])}
  fig, axes = plots.subplots(1, 3, figsize=(15.5, 4.6), squeeze=False)
  ax = axes[0, 0]
  kk = np.arange(K + 1)
  ax.plot(kk, q["pred_paper"], "k-", label="Thm. 4.3 as printed")
  ax.plot(kk, q["pred_full"], "k--", label="with κ term")
  for e in q["eps"]:
    ax.errorbar(q["k"], e["crn"], e["crn_se"], fmt="o", ms=3.5, color=eps_colors[e["eps"]],
                label=f"B̂ (CRN), ε = {plots.fmt_num(e['eps'])}")
  plots.label_axes(ax, "step k", "(E R(x_k) − R(x̄_k)) / ε²", "quartic: ε² coefficient (±1 SE)")
  plots.legend(ax, loc="upper left")
  ax = axes[0, 1]
  es = np.array([e["eps"] for e in q["eps"]])
  bs = np.array([e["crn"][-1] for e in q["eps"]])
  bse = np.array([e["crn_se"][-1] for e in q["eps"]])
  raws = np.array([e["raw"][-1] for e in q["eps"]])
  rse = np.array([e["raw_se"][-1] for e in q["eps"]])
  ax.axhline(q["pred_paper"][K], color="k", label="printed P_K")
  ax.axhline(q["pred_full"][K], color="k", ls="--", label="P_K with κ")
  ax.errorbar(es, bs, bse, fmt="o", color="C0", label=f"B̂(ε) (CRN) at k = {K}")
  ax.errorbar(es * 1.04, raws, rse, fmt="s", mfc="none", color="C1", label="raw Δ(ε)/ε²")
  ax.set_xscale("log")
  ax.set_xticks(es)  # the ε values themselves (a factor 2 apart: labels never overlap)
  ax.set_xticklabels([plots.fmt_num(e) for e in es])
  ax.xaxis.set_minor_formatter(ticker.NullFormatter())
  # y-range from the ε ≤ 0.1 points and the predictions; points beyond it are marked at the edge
  inside = es <= 0.1 if np.any(es <= 0.1) else np.ones_like(es, bool)
  vals = np.concatenate([bs[inside] - bse[inside], bs[inside] + bse[inside], raws - rse,
                         raws + rse, [q["pred_paper"][K], q["pred_full"][K]]])
  lo, hi = float(np.min(vals)), float(np.max(vals))
  pad = 0.15 * (hi - lo or 1.0)
  ax.set_ylim(lo - 4 * pad, hi + 2 * pad)  # room for the legend below the points
  for e, bb, se in zip(es, bs, bse):
    if bb - se > hi + 2 * pad:
      ax.annotate(f"ε = {plots.fmt_num(e)}: B̂ = {bb:.2f} ± {se:.2f} ↑", (e, hi + 1.6 * pad),
                  ha="right", va="center", fontsize=8.5, color="C0")
  plots.label_axes(ax, "noise scale ε (μ = σ = ε)", f"ε² coefficient at k = {K}",
                   "quartic: ε → 0 (±1 SE)")
  plots.legend(ax, loc="lower center", ncol=2)
  ax = axes[0, 2]
  kv = np.arange(Kv + 1)
  tot_paper = v["pred_spread"] + v["pred_penalty"]
  ax.plot(kv, tot_paper, "k-", label="prediction (printed terms)")
  ax.plot(kv, tot_paper + v["pred_kappa"], "k--", label="prediction + κ term")
  ax.plot(kv, v["pred_penalty"], ":", color="#d62728", label="Hessian-penalty drift −∇Fᵀλ/2")
  for i, e in enumerate(v["scales"]):
    ax.errorbar(v["k"], e["trace_shift_over_s2"], e["se"], fmt="o", ms=3.5, color=f"C{i}",
                label=f"measured mean, s = {plots.fmt_num(e['s'])}")
    if "crn" in e:
      ax.errorbar(v["k"], e["crn"], e["crn_se"], fmt="^", ms=3.5, color=f"C{i}", mfc="none",
                  label=f"B̂ (CRN), s = {plots.fmt_num(e['s'])}")
  plots.label_axes(ax, "step k", "(E tr∇²ℓ − tr∇²ℓ(x̄)) / s²",
                   f"widening valley, (μ, σ) = s·({VALLEY_MU0}, {VALLEY_SIGMA0}) (±1 SE)")
  plots.legend(ax, loc="upper left")
  return fig


def report(config, results):
  results = _np(results)
  q, iso, v = results["quartic"], results["kappa_isolation"], results["valley"]
  rho = np.asarray(results["rho"])
  K, Kv = config.num_steps, config.valley_steps
  max_lag = results["max_lag"]
  vs = verdicts(config, results)
  setting = _setting.of(config, results)
  rows = [[plots.fmt_num(e["eps"]), f"{e['raw'][-1]:.4f} ± {e['raw_se'][-1]:.4f}",
           f"{e['crn'][-1]:.4f} ± {e['crn_se'][-1]:.4f}", f"{q['pred_paper'][K]:.4f}",
           f"{q['pred_full'][K]:.4f}"] for e in q["eps"]]
  iso_rows = [[plots.fmt_num(e["eps"]), f"{e['mean_shift']:.3f} ± {e['se']:.3f}",
               f"{e['var']:.3f}"] for e in iso["eps"]]
  kv = np.asarray(v["k"]).astype(int)
  sp, pen, kp = (np.asarray(v[k]) for k in ("pred_spread", "pred_penalty", "pred_kappa"))
  tot = sp + pen
  vtab = [[int(k), f"{sp[k]:.3f}", f"{pen[k]:.3f}", f"{kp[k]:.3f}", f"{tot[k]:.3f}",
           f"{tot[k] + kp[k]:.3f}"] for k in kv[1::max(1, len(kv) // 5)]]
  vrows = [[plots.fmt_num(e["s"]), f"{e['trace_shift_over_s2'][-1]:.3f} ± {e['se'][-1]:.3f}",
            f"{e['median_over_s2'][-1]:.3f}", f"{e['loss_over_s2'][-1]:.4f}"]
           for e in v["scales"]]
  crn_rows = [[plots.fmt_num(e["s"]), f"{e['crn'][-1]:.4f} ± {e['crn_se'][-1]:.4f}"]
              for e in v["scales"] if "crn" in e]
  idx10 = min(10, len(rho) - 1)
  old_rows = []
  full = get_config("")
  comparable = all(config[k] == full[k] for k in ("gamma", "beta", "eta", "x0", "num_steps",
                                                   "num_paths"))
  for what, table, entries, val, se in (
      ("quartic B̂(ε)", "quartic_crn", q["eps"], lambda e: e["crn"][-1],
       lambda e: e["crn_se"][-1]),
      ("κ isolation (E x_K − 1)/ε²", "kappa_isolation", iso["eps"],
       lambda e: e["mean_shift"], lambda e: e["se"])):
    for e in entries if comparable else []:
      ref = OLD_SCRIPT[table].get(float(e["eps"]))
      if ref is None:
        continue
      z = (val(e) - ref[0]) / np.hypot(se(e), ref[1])
      old_rows.append([what, plots.fmt_num(e["eps"]), f"{ref[0]:.4f} ± {ref[1]:.4f}",
                       f"{val(e):.4f} ± {se(e):.4f}", f"{z:+.1f}"])
  old_md = ("\n## Against the old script's run\n\nThe old script (same config, other random "
            "streams: `PRNGKey`-split keys) gave the values below; z = difference / combined SE "
            "(|z| ≲ 2 is seed noise). Its valley used another draw of u0 "
            "(tr0 = 78.65), so those numbers are not compared one to one.\n\n"
            + report_lib.markdown_table(["quantity", "ε or s", "old script", "this run", "z"],
                                        old_rows)
            if old_rows else "")
  md = f"""# MPGD implicit regularization (P0 Thm. 4.3)

What is computed (see `chaosopt/analysis/implicit_reg.py` for the derivation): with
x_k = x̄_k + ε a_k + ε² b_k + O(ε³), C_k = E a_k a_kᵀ (carried by a recursion over the response
matrices Φ_i because the Thaler noise is correlated in time, with the measured autocorrelation
ρ(τ) of the observable), λ_k exactly as printed, and the extra
κ_k = Σ Φ_i (−μ0 η^γ E[v1_(i−1) ⊙ a_(i−1)]) that the printed theorem omits: it is zero for
uncorrelated noise, not for the Thaler observables (docs/errata.md). Errata used: θ must use
the GD iterates x̄ (printed: x); the GD recursion lacks ∇; the remark's v_k is λ_k;
`chaosopt.mpgd` has one multiplicative chain per coordinate (r1 = d; the theorem assumes
r1 = 1 — both covariances are implemented). The paper gives no numbers for this check.

ρ(0) = E v² = {rho[0]:.3f}, ρ(1) = {rho[1]:.3f}, ρ({idx10}) = {rho[idx10]:.3f},
ρ({max_lag}) = {rho[-1]:.3f} ({config.rho_chains} chains × {config.rho_length} steps,
γ = {config.gamma}, β = {config.beta}).

## ε² scaling on R = x1⁴/4 + x1²x2²/2 + x2²/2

x_0 = {list(config.x0)}, η = {config.eta}, μ = σ = ε, k = K = {K}, {config.num_paths} paths per ε
(the same chains for every ε). Raw = Δ(ε)/ε² (its error bar is dominated by the O(ε) term,
whose mean is 0 but whose spread grows like 1/ε relative to ε²); B̂ = common-random-number
estimate (Δ(2ε) − 2Δ(ε))/(2ε²) = P_K + O(ε).

{report_lib.markdown_table(["ε", "raw Δ/ε² ± SE", "B̂(ε) ± SE", "P_K printed", "P_K with κ"],
                            rows)}
## κ in isolation (1-D, R = 0, σ = 0) — the erratum check

x_0 = 1, μ = ε, η = {config.eta}, K = {K}, {config.num_paths} paths, F(x) = x. Thm. 4.3's terms
are all zero here (∇²F = 0, ∇R = 0), so the printed formula predicts E x_K = 1 + O(ε³); the
correlated-noise term predicts (E x_K − 1)/ε² = κ_K = {iso['kappa_K']:.4f}; C_K =
{iso['C_K']:.4f} predicts Var x_K / ε².

{report_lib.markdown_table(["ε", "(E x_K − 1)/ε² ± SE", "Var x_K / ε²"], iso_rows)}
## Widening valley (P0 Fig. 2 setting at s = 1)

d = {config.valley_dim}, u0 one draw of 5·U[0,1]^d (‖u0‖² = {v['trace0']:.2f} = tr∇²ℓ at the
start), η = {config.eta}, (μ, σ) = s·({VALLEY_MU0}, {VALLEY_SIGMA0}), γ = {config.gamma},
β = {config.beta}, {config.valley_paths} paths, K = {Kv}. GD stays at (u0, 0), so ∇ℓ(x̄) = 0 and
the printed loss prediction is ½ tr(C_k ∇²ℓ) = ½ ‖u0‖² C_k^vv: the implicit regularizer
ε²/2 C^vv ‖u‖² *is* a penalty on the Hessian trace ‖u‖² at v = 0. Applying the same expansion
to F = tr∇²ℓ = d v² + ‖u‖² splits the predicted shift of E F into ½ tr(C_k ∇²F) (spreading;
≥ 0), −∇Fᵀλ_k/2 = −u0ᵀλ_k^u (the drift down the gradient of that penalty; ≤ 0) and ∇Fᵀκ_k
(correlated multiplicative noise).

{report_lib.markdown_table(["k", "spread", "Hessian-penalty drift", "κ term", "total printed",
                            "total with κ"], vtab)}
Measured at k = K (trace shift divided by s², mean ± SE and median; loss / s²):

{report_lib.markdown_table(["s", "(E tr − tr0)/s²", "median/s²", "E ℓ / s²"], vrows)}
Common-random-number ε² coefficient of E tr at k = K, (Δ(2s) − 2Δ(s))/(2s²):

{report_lib.markdown_table(["s", "B̂ ± SE"], crn_rows) if crn_rows else "(needs s and 2s)"}
Predicted at k = K: printed terms {tot[Kv]:.3f}, with κ {tot[Kv] + kp[Kv]:.3f}; predicted
E ℓ/s² (printed) {np.asarray(v['pred_loss_paper'])[Kv]:.4f}.

## Verdicts

""" + verdict_lib.markdown(vs) + """

Seeds: each part has its own key `fold_in(key(seed), part)` (ρ, quartic, κ isolation, valley
start, valley paths); the quartic's ε and 2ε share their chains. The valley start u0 is a new
draw too, so tr0 and the valley predictions differ from the old run's.
""" + old_md + """
![implicit regularization](implicit_reg.png)
"""
  figs = {"implicit_reg": _figure(config, results)}
  return _setting.header(setting) + md, figs, vs
