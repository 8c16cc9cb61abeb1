"""P2 Figs. 3-4: escape time of SGD from a minimum vs learning rate and batch size.

The recursion is plain mini-batch SGD, ``w_{k+1} = w_k - η ∇U_B(w_k)`` (P2 eq. 1: the gradient
noise ``u_B = ∇U - ∇U_B`` whose heavy tails P2 models as SαS, eq. 17 gives the escape time
``E τ ∝ η^{-k}`` polynomial in η for Lévy noise). A 5-32-32-1 ReLU MLP is trained on the
airfoil data (P2's UCI Speech/Cardio/Ionosphere are not available here) with SGD (lr 0.05,
batch 128, as P2) to a minimum w*; SGD with a smaller batch then restarts from w* (one
ensemble member per seed, :func:`chaosopt.train.ensemble.run_ensemble`, early-stopped per seed
by ``done``) and the escape time is the first step with ``‖w − w*‖₂ > radius``.

* Fig. 3: mean escape time vs learning rate (batch ``lr_batch``), fitted by a power law
  ``τ ∝ η^b`` (P2 eq. 17) and by the Kramers form ``log τ = a + b/η`` (Gaussian-noise theories).
* Fig. 4: the survival function ``P(τ > u)`` for several batch sizes (P2 Cor. 4.6: exponential).

Variants: ``quick`` (a 200-step minimum, 2 learning rates × 8 seeds, one batch size × 16
seeds, at most 400 steps: a smoke run).
"""
from __future__ import annotations

import itertools
import logging
import math

import numpy as np

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.configs.escape_time import get_config
from chaosopt.train import config as config_lib
from chaosopt.experiments import _setting
from chaosopt.train import report as report_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.config import Int, Positive, Schema, Seed, Seq

INFO = {"paper": "P2 Figs. 3-4", "title": "escape time of SGD from a minimum (airfoil MLP)",
        "cost": "≈ 120 s CPU", "gpu": False}
logger = logging.getLogger("chaosopt")


# the keys' types and ranges
SCHEMA = Schema({
    "seed": Seed(), "hidden": Seq(Int(1)), "split_seed": Seed(), "train_lr": Positive(),
    "train_batch": Int(1), "train_steps": Int(1), "radius_rel": Positive(),
    "lrs": Seq(Positive(), order="unique"), "lr_batch": Int(1), "lr_seeds": Int(1),
    "survival_lr": Positive(), "survival_batches": Seq(Int(1), order="unique"),
    "survival_seeds": Int(1), "max_steps": Int(1), "chunk_size": Int(1)})


def validate(config) -> None:
  SCHEMA.check(config)
  sizes = [5, *config.hidden, 1]
  params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
  seeds = max(config.lr_seeds, config.survival_seeds)
  batch = max([config.train_batch, config.lr_batch, *config.survival_batches])
  # per member: parameters, the step's copy, gradient and w*; a batch's activations
  nbytes = 4.0 * seeds * (5 * params + 3 * batch * max(sizes))
  config_lib.check_memory(nbytes, f"{seeds:,} seeds at once, {params:,} parameters each",
                          "lr_seeds, survival_seeds, hidden or the batch sizes")
# the same full config run by the earlier script (other seed rule, hence another minimum):
# mean escape step per learning rate, mean τ per survival batch, the minimum's train MSE
EARLIER = {"lr_mean": {0.03: 6291, 0.04: 3174, 0.05: 1734, 0.06: 893, 0.07: 458, 0.08: 225},
           "survival_mean": {"4": 94, "16": 2434}, "train_mse": 0.0461, "radius": 1.8493,
           "power_law_exponent": -3.34,
           # its findings: mean τ monotone in η, power law preferred, smaller batches faster,
           # exponential law rejected (KS, 5%) for every batch
           "findings": {"monotone": True, "power_law": True, "batch_faster": True,
                        "exp_rejected": True}}


def _member_keys(key, n: int):
  import jax
  import jax.numpy as jnp
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))


def _finite(carry, metrics):
  # the ensemble calls is_finite(new_carry, metrics); its default all_finite takes one argument
  from chaosopt.train import ensemble
  return ensemble.all_finite(carry)


def run(config, workdir) -> dict:
  import jax
  import jax.flatten_util
  import jax.numpy as jnp

  from chaosopt.tasks.airfoil import load_split
  from chaosopt.tasks.mlp import MLP
  from chaosopt.train import ensemble

  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  base = jax.random.key(config.seed)
  # distinct purposes: 0 = initialization, 1 = the SGD run to the minimum, 2 = escape runs
  d = load_split(config.split_seed)
  x, y = jnp.asarray(d.x_train), jnp.asarray(d.y_train)
  n = x.shape[0]
  model = MLP(features=tuple(config.hidden) + (1,), activation="relu")
  params0 = model.init(jax.random.fold_in(base, 0), x[:1])
  flat0, unravel = jax.flatten_util.ravel_pytree(params0)

  def loss(f, idx):
    return jnp.mean((model.apply(unravel(f), x[idx])[:, 0] - y[idx]) ** 2)

  def full_loss(f):
    return jnp.mean((model.apply(unravel(f), x)[:, 0] - y) ** 2)

  def sgd_step(f, key, lr, batch):
    # with replacement: choice(replace=False) permutes all n rows every step, ~20x the cost of
    # this tiny MLP's gradient (batch << n, so the two samplers barely differ)
    idx = jax.random.randint(key, (batch,), 0, n)
    return f - lr * jax.grad(loss)(f, idx)

  def minimum():
    res = ensemble.run_ensemble(
        lambda key, hp: flat0,
        lambda f, k, key, hp: (sgd_step(f, key, config.train_lr, config.train_batch), {}),
        config.train_steps, keys=jax.random.fold_in(base, 1)[None],
        chunk_size=min(config.chunk_size, config.train_steps),
        is_finite=_finite, checkpoint_dir=wd.checkpoint_dir("minimum"), progress=True,
        desc="minimum")
    return np.asarray(res.carry[0])

  w_star = jnp.asarray(wd.unit("minimum", minimum))
  l_star = float(jax.jit(full_loss)(w_star))
  radius = config.radius_rel * float(jnp.linalg.norm(w_star))
  logger.info("minimum: train MSE %.4f, ||w*|| %.3f, radius %.4f, %d params", l_star,
              float(jnp.linalg.norm(w_star)), radius, w_star.size)

  # every escape run of seed i starts from w* with the same member key (paired across settings)
  run_keys = jax.random.fold_in(base, 2)

  def escape_times(tag, lr, batch, num_seeds):
    def init(key, hp):
      return {"w": w_star, "t": jnp.array(-1, jnp.int32)}

    def step(c, k, key, hp):
      w2 = sgd_step(c["w"], key, hp["lr"], batch)
      out = jnp.linalg.norm(w2 - w_star) > radius
      running = c["t"] < 0
      return {"w": jnp.where(running, w2, c["w"]),
              "t": jnp.where(running & out, (k + 1).astype(jnp.int32), c["t"])}, {}

    res = ensemble.run_ensemble(
        init, step, config.max_steps, keys=_member_keys(run_keys, num_seeds),
        hparams={"lr": jnp.full((num_seeds,), lr, jnp.float32)}, chunk_size=config.chunk_size,
        is_finite=_finite, done=lambda c: c["t"] >= 0, checkpoint_dir=wd.checkpoint_dir(tag), progress=True,
        desc=tag)
    t = np.asarray(res.carry["t"])
    logger.info("%s: escaped %d/%d (stopped at step %d)", tag, int((t >= 0).sum()), num_seeds,
                res.steps_done)
    return {"t": t, "diverged": int((res.diverged_at >= 0).sum())}

  lr_runs = {}
  for lr in config.lrs:
    tag = f"lr={lr}"
    lr_runs[lr] = wd.unit(tag, lambda lr=lr, tag=tag: escape_times(
        tag, lr, config.lr_batch, config.lr_seeds))
  surv = {}
  for b in config.survival_batches:
    tag = f"batch={b}"
    surv[b] = wd.unit(tag, lambda b=b, tag=tag: escape_times(
        tag, config.survival_lr, b, config.survival_seeds))

  lr_rows = []
  for lr, r in lr_runs.items():
    t = r["t"]
    esc = t >= 0
    tt = np.where(esc, t, config.max_steps)  # censored at max_steps
    lr_rows.append({"lr": lr, "escaped": int(esc.sum()), "mean": float(tt.mean()),
                    "se": float(tt.std(ddof=1) / math.sqrt(len(tt))) if len(tt) > 1 else None,
                    "median": float(np.median(tt)), "censored": int((~esc).sum()),
                    "within_10": int(np.sum(esc & (t <= 10))), "escape_steps": t})
  fits = _fits(lr_rows)
  surv_stats = {str(b): _survival_stats(r["t"], config.max_steps) for b, r in surv.items()}
  return {"minimum": {"train_mse": l_star, "radius": radius, "num_params": int(w_star.size),
                      "w_norm": float(jnp.linalg.norm(w_star))},
          "lr_sweep": lr_rows, "fits": fits,
          "survival": {str(b): r["t"] for b, r in surv.items()}, "survival_stats": surv_stats,
          "diverged": [{"setting": f"lr={k}", "count": r["diverged"]}
                       for k, r in lr_runs.items() if r["diverged"]]
          + [{"setting": f"batch={k}", "count": r["diverged"]}
             for k, r in surv.items() if r["diverged"]]}


def _fits(lr_rows: list) -> dict:
  """Least-squares fits of log(mean escape step) against log η (power law, P2 eq. 17) and 1/η
  (Kramers); only learning rates without censored runs."""
  ok = [r for r in lr_rows if r["censored"] == 0]
  if len(ok) < 3:
    return {}
  lrs = np.array([r["lr"] for r in ok])
  lm = np.log([r["mean"] for r in ok])
  fits = {}
  for name, xx in (("power_law", np.log(lrs)), ("kramers", 1 / lrs)):
    a = np.stack([np.ones_like(xx), xx], 1)
    coef, *_ = np.linalg.lstsq(a, lm, rcond=None)
    fits[name] = {"a": float(coef[0]), "b": float(coef[1]),
                  "rss_log": float(np.sum((a @ coef - lm) ** 2))}
  return fits


def _survival_stats(t: np.ndarray, max_steps: int) -> dict:
  """Exponential check (P2 Cor. 4.6: P(τ > u) ~ exp(-c u)): an exponential law has std/mean = 1
  and median/mean = ln 2 = 0.69, and log P(τ > u) is linear in u (R² of that line over u between
  the 10% and 90% quantiles of the escaped runs); KS test against an exponential of the same
  mean."""
  from scipy import stats
  esc = t >= 0
  tt = np.where(esc, t, max_steps)
  te = np.sort(t[esc]).astype(np.float64)
  out = {"escaped": int(esc.sum()), "num": len(t), "mean": float(np.mean(tt)),
         "median": float(np.median(tt)), "cv": float(np.std(tt) / np.mean(tt)),
         "median_over_mean": float(np.median(tt) / np.mean(tt)),
         "within_10": int(np.sum(esc & (t <= 10))), "r2_log_survival": None, "ks_stat": None,
         "ks_p": None}
  if te.size >= 3:
    uu = np.unique(te[(te >= np.quantile(te, 0.1)) & (te <= np.quantile(te, 0.9))])
    if len(uu) > 2:
      ls = np.log([np.mean(tt > v) for v in uu])
      out["r2_log_survival"] = float(np.corrcoef(uu, ls)[0, 1] ** 2)
    ks = stats.kstest(te, "expon", args=(0, te.mean()))
    out["ks_stat"], out["ks_p"] = float(ks.statistic), float(ks.pvalue)
  return out


def _fmt(x, spec: str) -> str:
  return "–" if x is None else format(x, spec)


def report(config, results):
  from matplotlib import ticker

  from chaosopt.train import plots

  lr_rows = results["lr_sweep"]
  fits = results["fits"]
  surv_stats = results["survival_stats"]
  mn = results["minimum"]
  lrs = np.array([r["lr"] for r in lr_rows])
  means = np.array([r["mean"] for r in lr_rows])

  # Fig. 3: mean escape step vs learning rate
  fig3, ax = plots.subplots(figsize=(5.6, 4.0))
  se = np.array([r["se"] if r["se"] is not None else np.nan for r in lr_rows])
  ax.errorbar(lrs, means, yerr=2 * np.nan_to_num(se), fmt="o", color="C0", capsize=3,
              label=f"SGD, batch {config.lr_batch}, {config.lr_seeds} seeds (mean ± 2 SE)")
  xx = np.geomspace(lrs.min(), lrs.max(), 100)
  if fits:
    f = fits["power_law"]
    ax.plot(xx, np.exp(f["a"] + f["b"] * np.log(xx)), "k--",
            label=f"power law ∝ η^{plots.fmt_num(f['b'])}")
    f = fits["kramers"]
    ax.plot(xx, np.exp(f["a"] + f["b"] / xx), ":", color="C3",
            label=f"Kramers ∝ exp({plots.fmt_num(f['b'])}/η)")
  ax.set_xscale("log")
  # the learning rates span well under a decade: label each one, no minor ticks
  ax.set_xticks(lrs, [plots.fmt_num(v) for v in lrs])
  ax.xaxis.set_minor_locator(ticker.NullLocator())
  plots.auto_yscale(ax, [means], decades=1.0)
  plots.robust_ylim(ax, [means - 2 * np.nan_to_num(se), means + 2 * np.nan_to_num(se)],
                    q=(0.0, 1.0), keep=means)
  plots.label_axes(ax, "learning rate η", "mean escape time (steps)",
                   f"P2 Fig. 3: airfoil MLP, escape radius {plots.fmt_num(mn['radius'])}")
  plots.legend(ax, fontsize=8)

  # Fig. 4: survival function for each batch size
  fig4, ax = plots.subplots(figsize=(5.6, 4.0))
  colors = plots.scheme_colors([{"name": b, "kind": "sgd", "alpha": -float(b)}
                                for b in results["survival"]])
  for b, t in results["survival"].items():
    t = np.asarray(t, float)
    tt = np.sort(np.where(t >= 0, t, np.inf))
    u = np.unique(tt[np.isfinite(tt)])
    if len(u):
      p = np.array([1.0] + [np.mean(tt > v) for v in u])
      u = np.concatenate([[0.0], u])
      st = surv_stats[b]
      ax.step(u, np.where(p > 0, p, np.nan), where="post", color=colors[b],
              label=f"batch {b} (mean τ {plots.fmt_num(st['mean'])}, std/mean "
                    f"{plots.fmt_num(st['cv'], 2)})")
  ax.set_yscale("log")
  n_min = min(len(t) for t in results["survival"].values())
  ax.set_ylim(0.5 / n_min, 1.3)
  plots.log_ticks(ax, "y")
  plots.label_axes(ax, "u (steps)", "P(escape time > u)",
                   f"P2 Fig. 4: η = {plots.fmt_num(config.survival_lr)}, "
                   f"{config.survival_seeds} seeds per batch size")
  plots.legend(ax, fontsize=8)

  vs = verdicts(config, results)
  setting = _setting.of(config, results)
  full = config.train_steps == get_config().train_steps  # the earlier run used the full config
  table1 = report_lib.markdown_table(
      ["η", "escaped", "mean ± SE (steps)", "earlier script's mean", "median", "censored",
       "escaped within 10 steps"],
      [[plots.fmt_num(r["lr"]), f"{r['escaped']}/{config.lr_seeds}",
        f"{r['mean']:.0f} ± {_fmt(r['se'], '.0f')}",
        EARLIER["lr_mean"].get(r["lr"], "–") if full else "–", f"{r['median']:.0f}",
        r["censored"], r["within_10"]] for r in lr_rows])
  fit_line = ""
  if fits:
    better = min(fits, key=lambda k: fits[k]["rss_log"])
    fit_line = (f"Least squares on log(mean escape time): power law RSS "
                f"{fits['power_law']['rss_log']:.3g} (exponent {fits['power_law']['b']:.2f}), "
                f"Kramers RSS {fits['kramers']['rss_log']:.3g}: the "
                f"{better.replace('_', ' ')} fits better (P2 reports that its Lévy theory, Mori "
                "et al. and Xie et al. all fit).\n")
  table2 = report_lib.markdown_table(
      ["batch", "escaped", "mean τ", "earlier script's mean τ", "median τ", "std/mean (exponential: 1)",
       "median/mean (exponential: 0.69)", "R² of log P(τ>u) vs u (10–90% quantiles)",
       "KS vs exponential of the same mean", "escaped within 10 steps"],
      [[b, f"{s['escaped']}/{s['num']}", f"{s['mean']:.0f}",
        EARLIER["survival_mean"].get(b, "–") if full else "–", f"{s['median']:.0f}",
        f"{s['cv']:.2f}", f"{s['median_over_mean']:.2f}", _fmt(s["r2_log_survival"], ".3f"),
        f"{_fmt(s['ks_stat'], '.3f')} (p = {_fmt(s['ks_p'], '.2g')})", s["within_10"]]
       for b, s in surv_stats.items()])
  md = f"""# Escape time of SGD from a minimum (P2 Figs. 3–4)

Data: UCI airfoil self-noise (P2's Speech/Cardio/Ionosphere are not available here), 1202
standardized training rows, MSE. MLP 5-{'-'.join(map(str, config.hidden))}-1 ReLU
({mn['num_params']} parameters), trained {config.train_steps} SGD steps (η {config.train_lr},
batch {config.train_batch}, as P2) to train MSE {mn['train_mse']:.4f}. Escape: first step with
‖w − w*‖₂ > {config.radius_rel}·‖w*‖ = {mn['radius']:.4f} (P2's basin definition is in an
appendix we do not have). Runs censored at {config.max_steps} steps (counted as
{config.max_steps} in the means). One ensemble member per seed, each stopped at its escape;
seed i uses the same key in every setting (paired). Mini-batches are drawn with replacement
(batch ≪ 1202 rows, so this barely differs from P2's sampler).

## Mean escape time vs learning rate (Fig. 3, batch {config.lr_batch})

{table1}
{fit_line}
![mean escape time](escape_vs_lr.png)

## Survival P(τ > u) (Fig. 4, η = {config.survival_lr})

{table2}
![survival](survival.png)

Paper: the mean escape time decreases with the learning rate (Fig. 3, polynomially per
eq. 17; no numbers printed, only plots) and P(τ > u) decays exponentially in u (Cor. 4.6),
faster for smaller batches (Fig. 4).

## Verdicts

""" + verdict_lib.markdown(vs) + """

Escapes within 10 steps are jumps, not first passages: where they are frequent, the learning
rate is too large for this minimum; the rest leave by a slow drift of ‖w − w*‖.
"""
  if full:
    now = _findings(lr_rows, fits, surv_stats)
    same = [k for k in now if now[k] == EARLIER["findings"][k]]
    diff = [k for k in now if now[k] != EARLIER["findings"][k]]
    md += f"""
**Against the earlier script's run** (same config): the seed rule changed with the port to the
ensemble driver (initialization `fold_in(key(seed), 0)`, the run to the minimum
`fold_in(key(seed), 1)`, escape member i `fold_in(fold_in(key(seed), 2), i)`), so the network is
trained to *another minimum* (earlier: train MSE {EARLIER['train_mse']}, radius
{EARLIER['radius']}; now {mn['train_mse']:.4f}, {mn['radius']:.4f}). Escape times depend on
the minimum's curvature, so the means differ by more than their standard errors (earlier
power-law exponent {EARLIER['power_law_exponent']}). Qualitative findings that agree with the
earlier run: {', '.join(same) or 'none'}; that differ: {', '.join(diff) or 'none'}.
"""
  figs = {"escape_vs_lr": fig3, "survival": fig4}
  return _setting.header(setting) + md, figs, vs


def _findings(lr_rows, fits, surv_stats) -> dict:
  order = np.argsort([r["lr"] for r in lr_rows])
  means = np.array([lr_rows[i]["mean"] for i in order])
  bs = sorted(surv_stats, key=int)
  return {"monotone": bool(np.all(np.diff(means) < 0)),
          "power_law": bool(fits) and min(fits, key=lambda k: fits[k]["rss_log"]) == "power_law",
          "batch_faster": all(surv_stats[a]["mean"] < surv_stats[b]["mean"]
                              for a, b in itertools.pairwise(bs)),
          "exp_rejected": all(s["ks_p"] is not None and s["ks_p"] < 0.05
                              for s in surv_stats.values())}


# why no verdict of this experiment decides its claim (the measured criterion is not P2's)
NOT_A_BASIN_EXIT = ("the escape criterion ‖w − w*‖₂ > radius is a drift threshold around the "
                    "minimum, not an exit from its basin: the time measured is not the escape "
                    "time of P2's theory")


def verdicts(config, results) -> list:
  """P2 Figs. 3-4's claims (:mod:`chaosopt.analysis.verdicts`). The statistics are computed,
  but every status is ``"inconclusive"``: the escape criterion does not measure a basin exit
  (:data:`NOT_A_BASIN_EXIT`); what the old thresholds said is kept in each detail."""
  setting = _setting.of(config, results)
  lr_rows, fits, surv_stats = results["lr_sweep"], results["fits"], results["survival_stats"]
  out = []
  order = np.argsort([r["lr"] for r in lr_rows])
  means = np.array([lr_rows[i]["mean"] for i in order])
  ratios = means[1:] / means[:-1]
  worst = float(np.max(ratios)) if ratios.size else None
  out.append(("The mean escape time decreases with the learning rate.", "P2 Fig. 3",
              "largest ratio of mean escape times between consecutive learning rates", worst,
              "SE per learning rate in the table",
              "mean escape steps " + ", ".join(
                  f"η {lr_rows[i]['lr']}: {lr_rows[i]['mean']:.0f}" for i in order)
              + f" (batch {config.lr_batch}, {config.lr_seeds} seeds each); strictly "
                f"decreasing: {'yes' if worst is not None and worst < 1 else 'no'}."))
  if fits:
    better = min(fits, key=lambda k: fits[k]["rss_log"])
    out.append(("The dependence of the escape time on η is polynomial.", "P2 eq. 17, Fig. 3",
                "exponent b of the power-law fit τ ∝ η^b", fits["power_law"]["b"],
                f"RSS of log mean: power law {fits['power_law']['rss_log']:.3g}, Kramers "
                f"{fits['kramers']['rss_log']:.3g}",
                f"the {better.replace('_', ' ')} form has the smaller RSS (two-parameter fits to "
                f"{len([r for r in lr_rows if r['censored'] == 0])} points)."))
  for b, st in surv_stats.items():
    if st["ks_p"] is None:
      continue
    out.append((f"P(τ > u) decays exponentially in u (batch {b}).", "P2 Cor. 4.6, Fig. 4",
                "KS p-value against an exponential law of the same mean", st["ks_p"],
                f"std/mean {st['cv']:.2f} (exponential: 1), median/mean "
                f"{st['median_over_mean']:.2f} (0.69)",
                "KS " + ("rejects" if st["ks_p"] < 0.05 else "does not reject")
                + " the exponential law at the 5% level."))
  bs = sorted(surv_stats, key=int)
  if len(bs) > 1:
    faster = all(surv_stats[a]["mean"] < surv_stats[c]["mean"]
                 for a, c in itertools.pairwise(bs))
    out.append(("Smaller batches escape faster.", "P2 Fig. 4",
                f"ratio of mean escape times, batch {bs[0]} / batch {bs[-1]}",
                surv_stats[bs[0]]["mean"] / surv_stats[bs[-1]]["mean"], None,
                "mean τ " + ", ".join(f"batch {x}: {surv_stats[x]['mean']:.0f}" for x in bs)
                + f"; ordered by batch: {'yes' if faster else 'no'}."))
  vs = [verdict_lib.decide(claim, where, stat, "none that decides: see the reason",
                           status="inconclusive", reason="not a basin exit", estimate=est,
                           uncertainty=unc, detail=detail + " Inconclusive because "
                           + NOT_A_BASIN_EXIT + ".")
        for claim, where, stat, est, unc, detail in out]
  return _setting.finish(setting, vs)
