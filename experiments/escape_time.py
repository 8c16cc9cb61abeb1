"""P2 Figs. 3-4: escape time of SGD from a minimum vs learning rate and batch size.

A 5-32-32-1 ReLU MLP is trained on the airfoil data (P2's UCI sets are not available here) with
SGD (lr 0.05, batch 128) to a minimum w*; then SGD with a smaller batch restarts from w* with many
seeds (vmapped, one jitted chunked scan per setting) and the escape time is the first step with
``||w - w*|| > radius``. Fig. 3: mean escape time vs learning rate (fitted by a power law
``tau ∝ eta^-k``, the polynomial dependence of P2 eq. 17 for Lévy noise, and by the Kramers form
``log tau = a + b / eta`` of Gaussian-noise theories); Fig. 4: survival ``P(tau > u)``.

  python experiments/escape_time.py [--quick] [--out DIR]
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.escape_time import get_config  # noqa: E402
from experiments import _cli  # noqa: E402


def main(argv=None):
  args, cfg = _cli.setup(__file__, get_config, doc=__doc__, argv=argv)

  import jax
  import jax.flatten_util
  import jax.numpy as jnp
  plt = _cli.pyplot()
  import numpy as np
  import optax
  from scipy import stats

  from chaosopt.tasks.airfoil import load_split
  from chaosopt.tasks.mlp import MLP
  from chaosopt.core.loop import scan_chunks
  from chaosopt.train.report import markdown_table, write_report

  t_start = time.time()
  d = load_split(0)
  x, y = jnp.asarray(d.x_train), jnp.asarray(d.y_train)
  n = x.shape[0]
  model = MLP(features=tuple(cfg.hidden) + (1,), activation="relu")
  params0 = model.init(jax.random.key(cfg.seed), x[:1])
  flat0, unravel = jax.flatten_util.ravel_pytree(params0)
  loss = lambda f, idx: jnp.mean((model.apply(unravel(f), x[idx])[:, 0] - y[idx]) ** 2)
  full_loss = jax.jit(lambda f: jnp.mean((model.apply(unravel(f), x)[:, 0] - y) ** 2))

  def sgd_step(f, key, lr, batch):
    # with replacement: choice(replace=False) permutes all n rows every step, ~20x the cost of
    # this tiny MLP's gradient (batch << n, so the two samplers barely differ)
    idx = jax.random.randint(key, (batch,), 0, n)
    return f - lr * jax.grad(loss)(f, idx)

  def train_step(c, k):
    f, key = c
    key, sub = jax.random.split(key)
    return (sgd_step(f, sub, cfg.train_lr, cfg.train_batch), key), None

  (w_star, _), _ = scan_chunks(train_step, (flat0, jax.random.key(cfg.seed + 1)),
                               cfg.train_steps, chunk_size=cfg.chunk_size)
  l_star = float(full_loss(w_star))
  radius = cfg.radius_rel * float(jnp.linalg.norm(w_star))
  print(f"minimum: train MSE {l_star:.4f}, ||w*|| {float(jnp.linalg.norm(w_star)):.3f}, "
        f"radius {radius:.4f}, {w_star.size} params")

  def escape_times(lr, batch, num_seeds, seed):
    def one(c, k):
      f, key, t = c
      key, sub = jax.random.split(key)
      f2 = sgd_step(f, sub, lr, batch)
      out = jnp.linalg.norm(f2 - w_star) > radius
      new = (t < 0) & out
      return (jnp.where(t < 0, f2, f), key, jnp.where(new, k + 1, t))

    step = lambda c, k: (jax.vmap(one, in_axes=(0, None))(c, k), None)
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    carry = (jnp.broadcast_to(w_star, (num_seeds,) + w_star.shape), keys,
             jnp.full((num_seeds,), -1, jnp.int32))
    carry, _ = scan_chunks(step, carry, cfg.max_steps, chunk_size=cfg.chunk_size,
                           on_chunk=lambda c, m, s: bool(jnp.all(c[2] >= 0)))
    return np.asarray(carry[2])

  lr_rows = []
  for i, lr in enumerate(cfg.lrs):
    t0 = time.time()
    t = escape_times(lr, cfg.lr_batch, cfg.lr_seeds, 100 + i)
    esc = t >= 0
    tt = np.where(esc, t, cfg.max_steps)  # censored at max_steps
    row = dict(lr=lr, escaped=int(esc.sum()), mean=float(tt.mean()),
               se=float(tt.std(ddof=1) / math.sqrt(len(tt))), median=float(np.median(tt)),
               censored=int((~esc).sum()), within_10=int(np.sum(esc & (t <= 10))),
               wall_s=time.time() - t0)
    lr_rows.append(row)
    print(f"lr {lr}: escaped {row['escaped']}/{cfg.lr_seeds}, mean {row['mean']:.0f} ± "
          f"{row['se']:.0f} ({row['wall_s']:.0f} s)")
  surv = {}
  for j, b in enumerate(cfg.survival_batches):
    t0 = time.time()
    surv[b] = escape_times(cfg.survival_lr, b, cfg.survival_seeds, 200 + j)
    print(f"batch {b}: escaped {(surv[b] >= 0).sum()}/{cfg.survival_seeds} "
          f"({time.time() - t0:.0f} s)")

  lrs = np.array([r["lr"] for r in lr_rows])
  means = np.array([r["mean"] for r in lr_rows])
  fits = {}
  ok = np.array([r["censored"] == 0 for r in lr_rows])
  if ok.sum() >= 3:
    lm = np.log(means[ok])
    for name, xx in (("power_law", np.log(lrs[ok])), ("kramers", 1 / lrs[ok])):
      A = np.stack([np.ones_like(xx), xx], 1)
      coef, res, *_ = np.linalg.lstsq(A, lm, rcond=None)
      rss = float(np.sum((A @ coef - lm) ** 2))
      fits[name] = dict(a=float(coef[0]), b=float(coef[1]), rss_log=rss)

  fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
  ax[0].errorbar(lrs, means, yerr=[2 * r["se"] for r in lr_rows], fmt="o",
                 label=f"SGD, batch {cfg.lr_batch}, {cfg.lr_seeds} seeds (±2 SE)")
  xx = np.linspace(lrs.min(), lrs.max(), 100)
  if "power_law" in fits:
    f = fits["power_law"]
    ax[0].plot(xx, np.exp(f["a"] + f["b"] * np.log(xx)), "k--",
               label=f"power law η^{f['b']:.2f}")
    f = fits["kramers"]
    ax[0].plot(xx, np.exp(f["a"] + f["b"] / xx), "r:", label="Kramers exp(b/η)")
  ax[0].set_xscale("log"); ax[0].set_yscale("log")
  ax[0].set_xlabel("learning rate η"); ax[0].set_ylabel("mean escape step")
  ax[0].legend(fontsize=7)
  for b, t in surv.items():
    tt = np.sort(np.where(t >= 0, t, np.inf))
    u = np.unique(tt[np.isfinite(tt)])
    if len(u):
      ax[1].step(u, [np.mean(tt > v) for v in u], where="post", label=f"batch {b}")
  ax[1].set_yscale("log")
  ax[1].set_xlabel("u (steps)"); ax[1].set_ylabel("P(escape time > u)")
  ax[1].set_title(f"η = {cfg.survival_lr}, {cfg.survival_seeds} seeds")
  ax[1].legend(fontsize=8)
  fig.tight_layout()

  surv_rows, surv_stats = [], {}
  for b, t in surv.items():
    esc = t >= 0
    tt = np.where(esc, t, cfg.max_steps)
    # exponential check (P2 Cor. 4.6: P(tau > u) ~ exp(-c u)): an exponential law has
    # std/mean = 1 and median/mean = ln 2 = 0.69, and log P(tau > u) is linear in u; R^2 of that
    # line over u between the 10% and 90% quantiles of tau (escaped runs)
    te = np.sort(t[esc]).astype(np.float64)
    uu = np.unique(te[(te >= np.quantile(te, 0.1)) & (te <= np.quantile(te, 0.9))])
    ls = np.log([np.mean(tt > v) for v in uu])
    r2 = float(np.corrcoef(uu, ls)[0, 1] ** 2) if len(uu) > 2 else float("nan")
    # Kolmogorov-Smirnov test of the escaped runs against an exponential of the same mean
    ks = stats.kstest(te, "expon", args=(0, te.mean()))
    surv_stats[b] = dict(mean=float(np.mean(tt)), median=float(np.median(tt)),
                         cv=float(np.std(tt) / np.mean(tt)),
                         median_over_mean=float(np.median(tt) / np.mean(tt)), r2_log_survival=r2,
                         ks_stat=float(ks.statistic), ks_p=float(ks.pvalue),
                         within_10=int(np.sum(esc & (t <= 10))))
    surv_rows.append([b, f"{esc.sum()}/{len(t)}", f"{np.mean(tt):.0f}", f"{np.median(tt):.0f}",
                      f"{surv_stats[b]['cv']:.2f}", f"{surv_stats[b]['median_over_mean']:.2f}",
                      f"{r2:.3f}", f"{ks.statistic:.3f} (p = {ks.pvalue:.2g})",
                      surv_stats[b]["within_10"]])
  results = dict(config=cfg.to_dict(), minimum=dict(train_mse=l_star, radius=radius,
                                                    num_params=int(w_star.size)),
                 lr_sweep=lr_rows, fits=fits,
                 survival={str(b): t.tolist() for b, t in surv.items()},
                 survival_stats={str(b): v for b, v in surv_stats.items()},
                 total_wall_s=time.time() - t_start)
  verdict_fit = ""
  if fits:
    better = min(fits, key=lambda k: fits[k]["rss_log"])
    verdict_fit = (f"Least squares on log(mean escape): power law RSS {fits['power_law']['rss_log']:.3g}"
                   f" (exponent {fits['power_law']['b']:.2f}), Kramers RSS "
                   f"{fits['kramers']['rss_log']:.3g}: the {better.replace('_', ' ')} fits better "
                   "(P2 reports that its Lévy theory, Mori et al. and Xie et al. all fit).\n")
  monotone = bool(np.all(np.diff(means[np.argsort(lrs)]) < 0))
  bs = sorted(surv_stats)
  batch_faster = all(surv_stats[a]["mean"] < surv_stats[b]["mean"] for a, b in zip(bs, bs[1:]))
  md = ("# Escape time of SGD from a minimum (P2 Figs. 3-4)\n\n"
        f"Run: {'QUICK smoke run' if args.quick else 'full run'}. Data: UCI airfoil self-noise "
        "(vendored; P2's Speech/Cardio/Ionosphere are not available here), 1202 standardized "
        f"training rows, MSE. MLP 5-{'-'.join(map(str, cfg.hidden))}-1 ReLU ({w_star.size} "
        f"params), trained {cfg.train_steps} SGD steps (lr {cfg.train_lr}, batch "
        f"{cfg.train_batch}, as P2) to train MSE {l_star:.4f}. Escape: first step with "
        f"‖w − w*‖₂ > {cfg.radius_rel}·‖w*‖ = {radius:.4f} (P2's basin definition is in an "
        f"appendix we do not have). Runs censored at {cfg.max_steps} steps (counted as "
        f"{cfg.max_steps} in means). Seeds vmapped in one jitted chunked scan per setting; "
        f"CPU, {results['total_wall_s']:.0f} s.\n\n"
        "## Mean escape time vs learning rate (Fig. 3)\n\n"
        + markdown_table(["lr", "escaped", "mean ± SE", "median", "censored",
                          "escaped within 10 steps"],
                         [[r["lr"], f"{r['escaped']}/{cfg.lr_seeds}",
                           f"{r['mean']:.0f} ± {r['se']:.0f}", f"{r['median']:.0f}",
                           r["censored"], r["within_10"]] for r in lr_rows])
        + "\n" + verdict_fit +
        "\n## Survival P(τ > u) (Fig. 4)\n\n"
        + markdown_table(["batch", "escaped", "mean τ", "median τ",
                          "std/mean (exponential: 1)", "median/mean (exponential: 0.69)",
                          "R² of log P(τ>u) vs u (10-90% quantiles)",
                          "KS vs exponential of same mean", "escaped within 10 steps"],
                         surv_rows)
        + "\nPaper: mean escape time decreases with the learning rate (Fig. 3, polynomially per "
        "eq. 17) and P(τ > u) decays exponentially in u (Cor. 4.6), faster for smaller batches "
        "(Fig. 4).\n\n## As measured\n\n"
        + f"- Mean escape time {'decreases' if monotone else 'does NOT decrease'} monotonically "
        f"with the learning rate over η = {lrs.min()}..{lrs.max()} (batch {cfg.lr_batch}, "
        f"{cfg.lr_seeds} seeds each; P2: 100 seeds per point).\n"
        + f"- Escapes within 10 steps (a jump, not a first passage): "
        + ", ".join(f"η {r['lr']}: {r['within_10']}" for r in lr_rows)
        + f" of {cfg.lr_seeds}. Where this is large the learning rate is too large for this "
        "minimum and 'escape' is an immediate jump; the rest leave by a slow drift of ‖w − w*‖.\n"
        + "".join(
            f"- Batch {b}: std/mean {v['cv']:.2f}, median/mean {v['median_over_mean']:.2f}, KS "
            f"p = {v['ks_p']:.2g}: "
            + ("consistent with an exponential law (Cor. 4.6) at the 5% level.\n"
               if v["ks_p"] >= 0.05 else
               "exponential law rejected at the 5% level (KS): "
               + ("the escape time is concentrated around its mean, as for a drift-driven "
                  "first passage, not a memoryless Kramers/Lévy exit.\n" if v["cv"] < 0.8 else
                  "the spread of escape times is close to exponential (std/mean ≈ 1, straight "
                  "log-survival) but the shape differs (e.g. excess early escapes).\n"))
            for b, v in surv_stats.items())
        + f"- Smaller batches escape {'faster' if batch_faster else 'NOT faster'} (mean τ "
        + ", ".join(f"batch {b}: {v['mean']:.0f}" for b, v in surv_stats.items()) + ").\n"
        "- Mini-batches are drawn with replacement (batch ≪ 1202 rows, so this barely differs "
        "from P2's without-replacement sampler).\n")
  write_report(args.out, md, results, {"escape_time.png": fig})
  print(md)


if __name__ == "__main__":
  main()
