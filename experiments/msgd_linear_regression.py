"""P4 (Wu et al. 2020) Thm 1: large-batch MSGD generalizes like small-batch SGD on online
linear regression (averaged iterates); plain large-batch SGD does not.

Online linear regression: ``x ~ N(0, diag(i^-decay))``, ``y = xᵀθ* + ε``, ``ε ~ N(0, σ²)``,
``θ* ~ N(0, I_d)`` per seed, ``θ_0 = 0``, fresh samples every step, equal iteration counts and
learning rate. Excess risk of the averaged iterate ``θ̄_k = (1/(k+1)) Σ_{j≤k} θ_j``:
``f(θ̄) − f(θ*) = ½ (θ̄ − θ*)ᵀ Σ (θ̄ − θ*)`` (exact, Σ known), for

* small-batch SGD (batch ``b``) and large-batch SGD (batch ``B``): mean-loss gradients;
* large-batch MSGD (P4 eq. 4 / Alg. 2): a batch of ``B`` with the randomized weights
  ``1/B + V``, ``Var V = (B−b)/(bB(B−1)) (I − 11ᵀ/B)`` (Gaussian sampling noise,
  :func:`chaosopt.estimators.make_sampling_noise` ``("gaussian_cov", B, b,
  replacement=False)``).

Thm 1: the first and the last obey the same bound ``C1/(n+1) + C2/(n+1)²`` with constants
independent of ``B``. One ensemble member per seed (:func:`chaosopt.train.ensemble.run_ensemble`),
one unit per method; seed i has the same θ* and the same data keys in every method (paired).
Batch gradients are means (P4 eq. 3 prints a sum with the same η; with ``E W = 1/B`` in eq. 4
the mean is what makes the two comparable). Variants: ``quick`` (200 steps, 16 seeds).
"""
from __future__ import annotations

import logging

import numpy as np

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.configs.msgd_linear_regression import get_config
from chaosopt.train import seeds as seeds_lib
from chaosopt.train import config as config_lib
from chaosopt.experiments import _setting
from chaosopt.train import report as report_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.config import Int, NonNegative, Positive, Schema, Seed

INFO = {"paper": "P4 Thm 1", "title": "online linear regression: large-batch MSGD vs SGD",
        "cost": "≈ 110 s CPU", "gpu": False}
logger = logging.getLogger("chaosopt")


# the keys' types and ranges (the MSGD weights need a large batch of >= 2 and >= the small one;
# standard errors need >= 2 seeds)
SCHEMA = Schema({
    "seed": Seed(), "dim": Int(1), "decay": NonNegative(), "noise_std": NonNegative(),
    "small_batch": Int(1), "large_batch": Int(2), "learning_rate": Positive(),
    "num_steps": Int(1), "num_seeds": Int(2), "chunk_size": Int(1)})


def validate(config) -> None:
  SCHEMA.check(config)
  config_lib.require(config.large_batch >= config.small_batch,
                     f"config.large_batch must be >= small_batch ({config.small_batch}), got "
                     f"{config.large_batch}")
  s = config.num_seeds
  # per method: the per-step excess risks of every seed (float32, two curves, percentile copies)
  # and one large batch per seed
  nbytes = 4.0 * s * (8 * config.num_steps + 3 * config.large_batch * (config.dim + 1)
                      + 8 * config.dim)
  config_lib.check_memory(nbytes, f"{s:,} seeds x {config.num_steps:,} steps of history",
                          "num_seeds, num_steps, large_batch or dim")
# the same full config run by the earlier script (other seed rule): final averaged excess risk
# (mean over seeds) and the paired geometric-mean ratios to small-batch SGD
EARLIER = {"final_avg_mean": {"sgd_small": 1.504e-3, "sgd_large": 6.731e-4,
                              "msgd_large": 1.482e-3},
           "ratio_msgd": 0.992, "ratio_sgd": 0.447}
NUM_CURVE_POINTS = 60  # log-spaced steps kept for the figures (quantiles over seeds)


def methods(config) -> dict:
  b, bb = config.small_batch, config.large_batch
  return {"sgd_small": f"SGD b={b}", "sgd_large": f"SGD B={bb}",
          "msgd_large": f"MSGD B={bb} (Var W of b={b})"}


def _finite(carry, metrics):
  # the ensemble calls is_finite(new_carry, metrics); its default all_finite takes one argument
  from chaosopt.train import ensemble
  return ensemble.all_finite(carry)


def curve_steps(num_steps: int) -> np.ndarray:
  """Log-spaced iteration numbers 1..num_steps (unique integers) kept for the figures."""
  return np.unique(np.geomspace(1, num_steps, NUM_CURVE_POINTS).round().astype(int))


def run(config, workdir) -> dict:
  import jax
  import jax.numpy as jnp
  import optax

  from chaosopt.estimators import (
    full_batch_gradient,
    make_sampling_noise,
    msgd_gradient,
  )
  from chaosopt.train import ensemble

  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  d, b, bb = config.dim, config.small_batch, config.large_batch
  eig = jnp.arange(1, d + 1, dtype=jnp.float32) ** (-config.decay)
  sqrt_eig = jnp.sqrt(eig)

  def per_example(theta, batch):
    x, y = batch
    return 0.5 * (x @ theta - y) ** 2

  def draw(key, m, theta_star):
    kx, ke = jax.random.split(key)
    x = jax.random.normal(kx, (m, d)) * sqrt_eig
    return x, x @ theta_star + config.noise_std * jax.random.normal(ke, (m,))

  def excess(theta, theta_star):
    e = theta - theta_star
    return 0.5 * jnp.sum(eig * e ** 2)

  msgd_noise = make_sampling_noise("gaussian_cov", bb, b, replacement=False)
  grads = {
      "sgd_small": lambda th, key, ts: full_batch_gradient(per_example, th, draw(key, b, ts))[0],
      "sgd_large": lambda th, key, ts: full_batch_gradient(per_example, th,
                                                           draw(key, bb, ts))[0],
      "msgd_large": lambda th, key, ts: msgd_gradient(
          per_example, th, draw(jax.random.fold_in(key, 1), bb, ts), key, msgd_noise)[0],
  }
  tx = optax.sgd(config.learning_rate)
  keep = curve_steps(config.num_steps) - 1  # history index of iteration n is n - 1

  def one_method(name):
    grad_fn = grads[name]

    def init(key, hp):
      th = jnp.zeros((d,))
      # θ* from the member key: the same problem instance for seed i in every method
      return {"theta": th, "avg": th, "opt": tx.init(th),
              "ts": jax.random.normal(jax.random.fold_in(key, 0), (d,))}

    def step(c, k, key, hp):
      g = grad_fn(c["theta"], key, c["ts"])
      u, opt = tx.update(g, c["opt"], c["theta"])
      theta = optax.apply_updates(c["theta"], u)
      avg = c["avg"] + (theta - c["avg"]) / (k + 2.0)  # mean of theta_0..theta_{k+1}
      return ({"theta": theta, "avg": avg, "opt": opt, "ts": c["ts"]},
              {"avg": excess(avg, c["ts"]), "last": excess(theta, c["ts"])})

    res = ensemble.run_ensemble(
        init, step, config.num_steps, keys=seeds_lib.seed_keys(config.seed, config.num_seeds),
        chunk_size=min(config.chunk_size, config.num_steps), is_finite=_finite,
        checkpoint_dir=wd.checkpoint_dir(name), progress=True, desc=name)
    avg, last = res.history["avg"], res.history["last"]  # [seeds, steps]
    q = lambda v: {"q25": np.nanpercentile(v[:, keep], 25, axis=0),
                   "median": np.nanmedian(v[:, keep], axis=0),
                   "q75": np.nanpercentile(v[:, keep], 75, axis=0),
                   "mean": np.nanmean(v[:, keep], axis=0)}
    logger.info("%s: final averaged excess risk %.3e (mean over seeds)", name,
                float(np.mean(avg[:, -1])))
    return {"final_avg": avg[:, -1], "final_last": last[:, -1], "curve_avg": q(avg),
            "curve_last": q(last), "diverged": int((res.diverged_at >= 0).sum())}

  out = {name: wd.unit(name, lambda name=name: one_method(name)) for name in grads}
  n1 = config.num_steps + 1
  gm = lambda r: float(np.exp(np.mean(np.log(r))))
  gse = lambda r: float(np.std(np.log(r), ddof=1) / np.sqrt(len(r)))
  ratio_msgd = out["msgd_large"]["final_avg"] / out["sgd_small"]["final_avg"]
  ratio_sgd = out["sgd_large"]["final_avg"] / out["sgd_small"]["final_avg"]
  return {
      "curve_steps": curve_steps(config.num_steps),
      "methods": {name: {"label": methods(config)[name],
                         "final_avg_mean": float(np.mean(r["final_avg"])),
                         "final_avg_se": float(np.std(r["final_avg"], ddof=1)
                                               / np.sqrt(len(r["final_avg"]))),
                         "final_last_mean": float(np.mean(r["final_last"])),
                         "n_times_excess": float(np.mean(r["final_avg"]) * n1),
                         "final_avg": r["final_avg"],
                         "curve_avg": r["curve_avg"], "curve_last": r["curve_last"]}
                  for name, r in out.items()},
      "ratio_msgd_to_small_sgd": {"geomean": gm(ratio_msgd), "log_se": gse(ratio_msgd)},
      "ratio_large_sgd_to_small_sgd": {"geomean": gm(ratio_sgd), "log_se": gse(ratio_sgd)},
      "diverged": [{"method": n, "count": r["diverged"]} for n, r in out.items()
                   if r["diverged"]],
  }


# "like small-batch SGD": the paired geometric-mean ratio within this factor of 1
MARGIN = 0.1


def _ratio_status(r: dict, n: int) -> tuple[str, str, tuple]:
  lo = float(np.exp(np.log(r["geomean"]) - 2 * r["log_se"]))
  hi = float(np.exp(np.log(r["geomean"]) + 2 * r["log_se"]))
  st, reason = verdict_lib.equivalence_status((lo, hi), 1.0, MARGIN, n=n,
                                              min_n=verdict_lib.MIN_SEEDS)
  return st, reason, (lo, hi)


def verdicts(config, results) -> list:
  """P4 Thm 1 (:mod:`chaosopt.analysis.verdicts`): large-batch MSGD's averaged excess risk
  equals small-batch SGD's, with plain large-batch SGD as the negative control."""
  setting = _setting.of(config, results)
  rm, rs = results["ratio_msgd_to_small_sgd"], results["ratio_large_sgd_to_small_sgd"]
  n = int(config.num_seeds)
  st, reason, unc = _ratio_status(rm, n)
  cs, _, cunc = _ratio_status(rs, n)
  ctrl = verdict_lib.control(
      f"plain large-batch SGD (B = {config.large_batch}) vs small-batch SGD, same rule", cs,
      rs["geomean"], must_show="a ratio outside 1 ± 0.1 (large-batch SGD without the "
                               "small-batch noise does not generalize like small-batch SGD)")
  v = verdict_lib.decide(
      "Large-batch MSGD with the small-batch noise covariance generalizes like small-batch SGD "
      "(the averaged iterates obey the same C1/(n+1) + C2/(n+1)² bound, independent of B).",
      "P4 Thm 1", "paired geometric-mean ratio of the final averaged excess risk, MSGD B / SGD b",
      f"reproduced if exp(log ratio ± 2 log-SE) lies within 1 ± {MARGIN}, not reproduced if "
      f"outside, inconclusive otherwise or below {verdict_lib.MIN_SEEDS} seeds", status=st,
      reason=reason, estimate=rm["geomean"], uncertainty=unc, control=ctrl,
      detail=f"log-SE {rm['log_se']:.3f}; control ratio {rs['geomean']:.3f} "
             f"[{cunc[0]:.3f}, {cunc[1]:.3f}] (log-SE {rs['log_se']:.3f}); {n} seeds. In this "
             "convex, well-specified problem the large batch is *better* per iteration (it sees "
             "B/b times more samples): 'does not generalize like small-batch SGD' means "
             "different, not worse.")
  return _setting.finish(setting, [v])


def report(config, results):
  from chaosopt.train import plots

  ms = results["methods"]
  steps = np.asarray(results["curve_steps"], float)
  colors = dict(zip(ms, ("#1f77b4", "#7f7f7f", "#ff7f0e")))
  fig, axes = plots.subplots(1, 2, figsize=(11, 4.3))
  for ax, key, ylabel in ((axes[0], "curve_avg", "excess risk of the averaged iterate θ̄_n"),
                          (axes[1], "curve_last", "excess risk of the last iterate θ_n")):
    arrays = []
    for name, m in ms.items():
      c = {k: np.asarray(v, float) for k, v in m[key].items()}
      # the median over seeds with the inter-quartile band (the quantiles were taken in run())
      ax.fill_between(steps, c["q25"], c["q75"], color=colors[name], alpha=0.22, linewidth=0)
      ax.plot(steps, c["median"], color=colors[name], lw=2, label=m["label"])
      ax.plot(steps, c["mean"], color=colors[name], lw=1, ls="--", label="_nolegend_")
      arrays += [c["q25"], c["q75"]]
    if key == "curve_avg":
      c1 = ms["sgd_small"]["n_times_excess"]
      ax.plot(steps, c1 / (steps + 1), "k:", lw=1.2, label="C1/(n+1) (fit to SGD b at the end)")
    ax.set_xscale("log")
    plots.log_ticks(ax, "x")
    ax.set_yscale("log")
    plots.robust_ylim(ax, arrays, q=(0.0, 1.0))
    plots.label_axes(ax, "iteration n", ylabel + " (f − f*)")
    plots.legend(ax, fontsize=8)
  fig.suptitle(f"P4 Thm 1, online linear regression (d = {config.dim}): "
               + plots.band_note("iqr", config.num_seeds) + "; dashed: mean", fontsize=9)

  vs = verdicts(config, results)
  setting = _setting.of(config, results)
  full = config.num_steps == get_config().num_steps and config.num_seeds == get_config().num_seeds
  early = EARLIER["final_avg_mean"]
  rows = [[m["label"], f"{m['final_avg_mean']:.3e} ± {m['final_avg_se']:.1e}",
           f"{early[n]:.3e}" if full else "–", f"{m['final_last_mean']:.3e}",
           f"{m['n_times_excess']:.3f}"] for n, m in ms.items()]
  rm, rs = results["ratio_msgd_to_small_sgd"], results["ratio_large_sgd_to_small_sgd"]
  md = f"""# P4 Thm 1: online linear regression, averaged iterates

d = {config.dim}, Σ = diag(i^-{config.decay}), noise std {config.noise_std}, θ* ~ N(0, I) per
seed, θ0 = 0, η = {config.learning_rate}, {config.num_steps} iterations, {config.num_seeds} seeds
(seed i has the same θ* and data keys in every method), batch gradients are means, float32.

{report_lib.markdown_table(["method", "E excess risk of θ̄_n (± SE)", "earlier script",
                            "last iterate", "(n+1) × excess (≈ C1)"], rows)}
Paired ratios of the final averaged excess risk to small-batch SGD (geometric mean over
instances): MSGD B={config.large_batch}: **{rm['geomean']:.3f}** (log-SE {rm['log_se']:.3f});
plain SGD B={config.large_batch}: **{rs['geomean']:.3f}** (log-SE {rs['log_se']:.3f}).

Paper (Thm 1): large-batch MSGD with Var W = (B−b)/(bB(B−1))(I − 11ᵀ/B) has the same
C1/(n+1) + C2/(n+1)² bound as small-batch SGD, constants independent of B; no numbers are given
(it is a bound), so there is no paper number to put beside ours.

![excess risk](excess_risk.png)

## Verdicts

""" + verdict_lib.markdown(vs) + """

The seed rule changed with the port to the ensemble driver (member keys
`fold_in(key(seed), i)`), so the numbers differ from the earlier script's run.
"""
  if full:
    z = [(ms[n]["final_avg_mean"] - early[n]) / (np.sqrt(2) * ms[n]["final_avg_se"])
         for n in ms]
    md += (f"Against the earlier script's run of this config: final averaged excess risks differ "
           f"by {', '.join(f'{v:+.1f}' for v in z)} combined SE (same within seed noise if "
           f"|z| < 3); ratios then {EARLIER['ratio_msgd']} (MSGD) and {EARLIER['ratio_sgd']} "
           f"(large-batch SGD), now {rm['geomean']:.3f} and {rs['geomean']:.3f}.\n")
  figs = {"excess_risk": fig}
  return _setting.header(setting) + md, figs, vs
