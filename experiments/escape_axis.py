"""P2 Fig. 6: the process escapes the basin through the axis with the smaller alpha.

The recursion is the Euler scheme of P2 eq. 3, ``x_{k+1} = x_k − η ∇U(x_k) + σ η^{1/α_i} ξ_i``
per coordinate i, ξ_i i.i.d. SαS(1) (:func:`chaosopt.transforms.levy.levy_gd` with the
per-coordinate alphas ``(α_2 − Δ, α_2)``), on 2-D Ackley from the global minimum 0. A run stops
at the first step with ``‖x‖₂ > radius`` (per-member ``done`` of
:func:`chaosopt.train.ensemble.run_ensemble`); the larger ``|x_i|`` names the exit axis.
Reported: P(exit through x_1) vs Δ with binomial SEs, the escape-time distribution, and a
first-large-jump prediction ``P(x_1) ≈ r_1 / (r_1 + r_2)``,
``r_i = 2 C_{α_i} (R / (σ η^{1/α_i}))^{−α_i}`` (``C_a = Γ(a) sin(πa/2)/π``, the SαS tail
constant): the chance that the first jump longer than the radius R is on axis 1 (ignores the
drift and the small jumps). One unit per Δ. Variants: ``quick`` (Δ ∈ {0, 0.5}, 64 seeds, at
most 4000 steps: a smoke run).
"""
from __future__ import annotations

import logging
import math

import numpy as np

from chaosopt.train import seeds as seeds_lib
from chaosopt.train import config as config_lib
from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.experiments import _setting
from chaosopt.train import report as report_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.config import Int, NonNegative, Num, Positive, Schema, Seed, Seq

INFO = {"paper": "P2 Fig. 6", "title": "escape axis of SαS-driven GD on 2-D Ackley",
        "cost": "≈ 2000 s CPU (1000 seeds × 7 Δ × ≤ 10⁵ steps)", "gpu": False}
logger = logging.getLogger("chaosopt")


# the keys' types and ranges: stable indices α ∈ (0, 2], the exit-axis curve in increasing Δ
SCHEMA = Schema({
    "seed": Seed(), "learning_rate": Positive(), "alpha2": Num(0, 2, lo_open=True),
    "deltas": Seq(NonNegative(), order="increasing"), "sigma": Positive(), "radius": Positive(),
    "num_seeds": Int(1), "max_steps": Int(1), "chunk_size": Int(1)})


def validate(config) -> None:
  SCHEMA.check(config)
  top = max(config.deltas)
  config_lib.require(
      round(config.alpha2 - top, 6) > 0,
      f"config.deltas: alpha1 = alpha2 - delta must be in (0, 2], so every delta must be < "
      f"alpha2 = {config.alpha2}; got delta = {top}")
  # per seed: position, Lévy state and key, stop step and axis (vmapped), the escape steps kept
  config_lib.check_memory(config.num_seeds * (512.0 + 8 * len(config.deltas)),
                          f"{config.num_seeds:,} seeds at once", "num_seeds")


def first_jump_prediction(alphas, sigma: float, eta: float, radius: float):
  """``(r_1 / (r_1 + r_2), [r_1, r_2])``: rates of single SαS jumps longer than ``radius``."""
  rates = [2 * math.gamma(a) * math.sin(math.pi * a / 2) / math.pi
           * (radius / (sigma * eta ** (1 / a))) ** (-a) for a in alphas]
  return rates[0] / sum(rates), rates


def _finite(carry, metrics):
  # the ensemble calls is_finite(new_carry, metrics); its default all_finite takes one argument
  from chaosopt.train import ensemble
  return ensemble.all_finite(carry)


def run(config, workdir) -> dict:
  import jax
  import jax.numpy as jnp

  from chaosopt.tasks.ackley import ackley
  from chaosopt.train import ensemble
  from chaosopt.transforms.levy import levy_gd

  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  grad = jax.grad(ackley)
  # seed i uses the same member key for every Delta (paired)
  keys = seeds_lib.seed_keys(config.seed, config.num_seeds)

  def one_delta(d):
    alphas = (round(config.alpha2 - d, 6), config.alpha2)

    def tx_of(key):
      return levy_gd(config.learning_rate, alpha=jnp.asarray(alphas), sigma=config.sigma,
                     key=key)

    def init(key, hp):
      x = jnp.zeros(2)
      return {"x": x, "opt": tx_of(jax.random.fold_in(key, 0)).init(x),
              "t": jnp.array(-1, jnp.int32), "axis": jnp.array(-1, jnp.int32)}

    def step(c, k, key, hp):
      tx = tx_of(jax.random.key(0))  # the noise key lives in the state; this one is unused
      u, opt = tx.update(grad(c["x"]), c["opt"], c["x"])
      x = c["x"] + u
      running = c["t"] < 0
      new = running & (jnp.sqrt(jnp.sum(x * x)) > config.radius)
      return {"x": jnp.where(running, x, c["x"]), "opt": opt,
              "t": jnp.where(new, (k + 1).astype(jnp.int32), c["t"]),
              "axis": jnp.where(new, jnp.argmax(jnp.abs(x)).astype(jnp.int32), c["axis"])}, {}

    tag = f"delta={d}"
    res = ensemble.run_ensemble(init, step, config.max_steps, keys=keys,
                                chunk_size=config.chunk_size, is_finite=_finite,
                                done=lambda c: c["t"] >= 0,
                                checkpoint_dir=wd.checkpoint_dir(tag), progress=True, desc=tag)
    t, axis = np.asarray(res.carry["t"]), np.asarray(res.carry["axis"])
    esc = t >= 0
    n_esc = int(esc.sum())
    p1 = float((axis == 0).sum() / max(n_esc, 1))
    pred, _ = first_jump_prediction(alphas, config.sigma, config.learning_rate,
                                        config.radius)
    logger.info("Δ=%.2f α=%s: escaped %d/%d, P(x1)=%.3f, prediction %.3f", d, alphas, n_esc,
                config.num_seeds, p1, pred)
    return {"delta": d, "alpha1": alphas[0], "alpha2": alphas[1], "escaped": n_esc,
            "p_exit_x1": p1, "se": math.sqrt(p1 * (1 - p1) / max(n_esc, 1)),
            "first_jump_prediction": pred,
            "median_escape_step": float(np.median(t[esc])) if n_esc else None,
            "mean_escape_step": float(np.mean(t[esc])) if n_esc else None,
            "escape_steps": t, "diverged": int((res.diverged_at >= 0).sum())}

  rows = [wd.unit(f"delta={d}", lambda d=d: one_delta(d)) for d in config.deltas]
  return {"per_delta": rows,
          "diverged": [{"delta": r["delta"], "count": r["diverged"]} for r in rows
                       if r["diverged"]]}


# the smallest exit preference the claim is about (P(exit via x1) − 1/2)
MARGIN = 0.05


def verdicts(config, results) -> list:
  """P2 Fig. 6's claim (:mod:`chaosopt.analysis.verdicts`), with Δ = 0 (equal α: no preferred
  axis) as the negative control."""
  setting = _setting.of(config, results)
  rows = results["per_delta"]
  p = [r["p_exit_x1"] for r in rows]
  monotone = all(b >= a - 2 * math.hypot(ra["se"], rb["se"])
                 for a, b, ra, rb in zip(p, p[1:], rows, rows[1:]))
  last = rows[-1]
  n = int(config.num_seeds)
  status, reason = verdict_lib.interval_status(
      (last["p_exit_x1"] - 2 * last["se"], last["p_exit_x1"] + 2 * last["se"]), 0.5,
      margin=MARGIN, n=n, min_n=verdict_lib.MIN_SEEDS)
  if status == "reproduced" and not monotone:
    status, reason = "inconclusive", "P(exit via x1) is not non-decreasing in Δ within 2 SE"
  ctrl = None
  zero = [r for r in rows if r["delta"] == 0]
  if zero and last["delta"] != 0:
    z = zero[0]
    cs, _ = verdict_lib.interval_status((z["p_exit_x1"] - 2 * z["se"],
                                         z["p_exit_x1"] + 2 * z["se"]), 0.5,
                                        margin=MARGIN, n=n, min_n=verdict_lib.MIN_SEEDS)
    ctrl = verdict_lib.control("Δ = 0 (equal α on both axes)", cs, z["p_exit_x1"],
                               must_show="no preferred axis: P(exit via x1) not above 1/2")
  v = verdict_lib.decide(
      "The axis with the smaller α is the more likely exit, increasingly so as Δ grows.",
      "P2 Fig. 6", f"P(exit through x1) at the largest Δ = {last['delta']}",
      "reproduced if its ± 2 SE (binomial) interval lies above 1/2 and P is non-decreasing in "
      f"Δ within 2 combined SE; not reproduced if it lies below 1/2 + {MARGIN} (no preference "
      f"as large as {MARGIN}); "
      f"inconclusive otherwise or below {verdict_lib.MIN_SEEDS} seeds",
      status=status, reason=reason, estimate=last["p_exit_x1"],
      uncertainty=(last["p_exit_x1"] - 2 * last["se"], last["p_exit_x1"] + 2 * last["se"]),
      control=ctrl,
      detail=f"{n} seeds per Δ; P by Δ: " + ", ".join(
          f"{r['delta']}: {r['p_exit_x1']:.3f} ± {r['se']:.3f}" for r in rows)
      + f"; non-decreasing within 2 SE: {'yes' if monotone else 'no'}.")
  return _setting.finish(setting, [v])


def report(config, results):
  from chaosopt.train import plots

  rows = results["per_delta"]
  ds = np.array([r["delta"] for r in rows])
  p = np.array([r["p_exit_x1"] for r in rows])
  se = np.array([r["se"] for r in rows])
  fig, axes = plots.subplots(1, 2, figsize=(11, 4.2))
  ax = axes[0]
  ax.errorbar(ds, p, yerr=2 * se, fmt="o-", color="C0", capsize=3,
              label=f"measured ({config.num_seeds} seeds, ± 2 SE)")
  ax.plot(ds, [r["first_jump_prediction"] for r in rows], "k--",
          label="first-large-jump prediction")
  ax.axhline(0.5, color="0.5", lw=0.8, label="_nolegend_")
  ax.set_ylim(min(0.4, float(np.min(p - 2 * se)) - 0.02), 1.0)
  plots.label_axes(ax, "Δ = α₂ − α₁", "P(exit through x₁)",
                   f"2-D Ackley, η = {plots.fmt_num(config.learning_rate)}, "
                   f"α₂ = {plots.fmt_num(config.alpha2)}, σ = {plots.fmt_num(config.sigma)}")
  plots.legend(ax, fontsize=8, loc="lower right")
  ax = axes[1]
  colors = plots.scheme_colors([{"name": str(r["delta"]), "kind": "levy",
                                 "alpha": -r["alpha1"]} for r in rows])
  for r in rows:
    t = np.asarray(r["escape_steps"], float)
    tt = np.sort(t[t > 0])
    if len(tt):
      surv = 1 - np.arange(1, len(tt) + 1) / config.num_seeds
      ax.step(np.concatenate([[tt[0]], tt]), np.concatenate([[1.0], surv]), where="post",
              color=colors[str(r["delta"])],
              label=f"Δ = {plots.fmt_num(r['delta'])} (α₁ = {plots.fmt_num(r['alpha1'])})")
  ax.set_xscale("log")
  plots.log_ticks(ax, "x")
  ax.set_ylim(0, 1.02)
  plots.label_axes(ax, "u (steps)", "P(escape time > u)",
                   f"survival; runs censored at {plots.fmt_num(config.max_steps)} steps")
  plots.legend(ax, fontsize=8)

  vs = verdicts(config, results)
  setting = _setting.of(config, results)
  table = report_lib.markdown_table(
      ["Δ", "α₁", "α₂", "escaped", "P(exit via x₁) ± SE", "first-jump prediction",
       "median escape step"],
      [[plots.fmt_num(r["delta"]), plots.fmt_num(r["alpha1"]), plots.fmt_num(r["alpha2"]),
        f"{r['escaped']}/{config.num_seeds}", f"{r['p_exit_x1']:.3f} ± {r['se']:.3f}",
        f"{r['first_jump_prediction']:.3f}",
        "–" if r["median_escape_step"] is None else f"{r['median_escape_step']:.0f}"]
       for r in rows])
  md = f"""# Escape axis on 2-D Ackley (P2 Fig. 6)

GD + SαS noise per axis (`chaosopt.levy_gd`, Euler scheme, increments σ η^(1/α_i) ξ_i,
ξ ~ SαS(1)), η = {plots.fmt_num(config.learning_rate)}, σ = {config.sigma}, α₂ = {config.alpha2},
α₁ = α₂ − Δ, start at the global minimum 0, escape = first step with ‖x‖₂ > {config.radius};
the larger |x_i| names the exit axis. {config.num_seeds} seeds per Δ (seed i has the same key for
every Δ), each stopped at its escape, at most {config.max_steps} steps, float32.

{table}
Paper (Fig. 6, values only plotted; α₂, σ and the radius are not given): P(exit through x₁)
grows with Δ, i.e. the lower-α axis is the likelier exit, and more so as Δ grows. There is no
printed number to put beside ours.

![escape axis](escape_axis.png)

## Verdicts

""" + verdict_lib.markdown(vs) + """

The first-large-jump prediction (dashed) is a heuristic that ignores the drift and the
small-jump diffusion; it is shown for scale, not fitted.
"""
  figs = {"escape_axis": fig}
  return _setting.header(setting) + md, figs, vs
