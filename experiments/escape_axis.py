"""P2 Fig. 6: the process escapes the basin through the axis with the smaller alpha.

GD + independent SaS noise per axis (:func:`chaosopt.transforms.levy.levy_gd`, per-coordinate
alpha = (alpha_2 - Delta, alpha_2)) on 2-D Ackley from the global minimum, all seeds vmapped in
one jitted chunked scan per Delta. Reports P(exit through x_1) vs Delta with binomial SEs, the
escape-time distribution, and a first-large-jump prediction
``P(x_1) ~ r_1 / (r_1 + r_2)``, ``r_i = 2 C_{alpha_i} (R / (sigma eta^{1/alpha_i}))^{-alpha_i}``
(``C_a = Gamma(a) sin(pi a / 2) / pi`` is the SaS tail constant), i.e. the chance that the first
jump longer than the radius R happens on axis 1 (ignores the drift and the small jumps).

  python experiments/escape_axis.py [--quick] [--out DIR]
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.escape_axis import get_config  # noqa: E402
from experiments import _cli  # noqa: E402


def first_jump_prediction(alphas, sigma, eta, radius):
  rates = [2 * math.gamma(a) * math.sin(math.pi * a / 2) / math.pi
           * (radius / (sigma * eta ** (1 / a))) ** (-a) for a in alphas]
  return rates[0] / sum(rates), rates


def main(argv=None):
  args, cfg = _cli.setup(__file__, get_config, doc=__doc__, argv=argv)

  import jax
  import jax.numpy as jnp
  plt = _cli.pyplot()
  import numpy as np

  from chaosopt.tasks.ackley import ackley
  from chaosopt.core.loop import scan_chunks
  from chaosopt.train.report import markdown_table, write_report
  from chaosopt.transforms.levy import levy_gd

  grad = jax.grad(ackley)
  results = {"config": cfg.to_dict(), "per_delta": []}
  t_start = time.time()
  for d in cfg.deltas:
    alphas = (round(cfg.alpha2 - d, 6), cfg.alpha2)
    tx_of = lambda key: levy_gd(cfg.learning_rate, alpha=jnp.asarray(alphas), sigma=cfg.sigma,
                                key=key)

    def init(key):
      x = jnp.zeros(2)
      return dict(x=x, opt=tx_of(key).init(x), done=jnp.array(False),
                  t=jnp.array(-1, jnp.int32), axis=jnp.array(-1, jnp.int32))

    def step_one(c, k):
      tx = tx_of(jax.random.key(0))  # the key lives in the state; this one is unused
      u, opt = tx.update(grad(c["x"]), c["opt"], c["x"])
      x = c["x"] + u
      out = jnp.sqrt(jnp.sum(x * x)) > cfg.radius
      new = ~c["done"] & out
      return dict(x=jnp.where(c["done"], c["x"], x), opt=opt, done=c["done"] | out,
                  t=jnp.where(new, k + 1, c["t"]),
                  axis=jnp.where(new, jnp.argmax(jnp.abs(x)).astype(jnp.int32), c["axis"]))

    step = lambda c, k: (jax.vmap(step_one, in_axes=(0, None))(c, k), None)
    keys = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), int(d * 1000)),
                            cfg.num_seeds)
    carry = jax.vmap(init)(keys)
    t0 = time.time()
    carry, _ = scan_chunks(step, carry, cfg.max_steps, chunk_size=cfg.chunk_size,
                           on_chunk=lambda c, m, s: bool(jnp.all(c["done"])))
    done = np.asarray(carry["done"])
    axis = np.asarray(carry["axis"])
    t = np.asarray(carry["t"])
    n_esc = int(done.sum())
    p1 = float((axis == 0).sum() / max(n_esc, 1))
    se = math.sqrt(p1 * (1 - p1) / max(n_esc, 1))
    pred, rates = first_jump_prediction(alphas, cfg.sigma, cfg.learning_rate, cfg.radius)
    row = dict(delta=d, alpha1=alphas[0], alpha2=alphas[1], escaped=n_esc,
               p_exit_x1=p1, se=se, first_jump_prediction=pred,
               median_escape_step=float(np.median(t[done])) if n_esc else None,
               mean_escape_step=float(np.mean(t[done])) if n_esc else None,
               escape_steps=t.tolist(), wall_s=time.time() - t0)
    results["per_delta"].append(row)
    print(f"Delta={d:.2f} alphas={alphas} escaped {n_esc}/{cfg.num_seeds} P(x1)={p1:.3f}±{se:.3f}"
          f" pred {pred:.3f} median t {row['median_escape_step']} ({row['wall_s']:.0f} s)")
  results["total_wall_s"] = time.time() - t_start

  rows_ = results["per_delta"]
  fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
  ds = np.array([r["delta"] for r in rows_])
  ax[0].errorbar(ds, [r["p_exit_x1"] for r in rows_], yerr=[2 * r["se"] for r in rows_],
                 fmt="o-", label=f"measured ({cfg.num_seeds} seeds, ±2 SE)")
  ax[0].plot(ds, [r["first_jump_prediction"] for r in rows_], "k--",
             label="first-large-jump prediction")
  ax[0].axhline(0.5, color="gray", lw=0.5)
  ax[0].set_xlabel("Δ = α2 − α1")
  ax[0].set_ylabel("P(exit through x1)")
  ax[0].set_title(f"2-D Ackley, η = {cfg.learning_rate}, α2 = {cfg.alpha2}")
  ax[0].legend(fontsize=8)
  for r in rows_:
    tt = np.sort(np.array(r["escape_steps"])[np.array(r["escape_steps"]) > 0])
    if len(tt):
      ax[1].step(tt, 1 - np.arange(1, len(tt) + 1) / cfg.num_seeds, label=f"Δ = {r['delta']}")
  ax[1].set_xscale("log")
  ax[1].set_xlabel("escape step")
  ax[1].set_ylabel("P(escape time > u)")
  ax[1].legend(fontsize=7)
  fig.tight_layout()

  table = markdown_table(
      ["Δ", "α1", "α2", "escaped", "P(exit via x1) ± SE", "first-jump prediction",
       "median escape step"],
      [[r["delta"], r["alpha1"], r["alpha2"], f"{r['escaped']}/{cfg.num_seeds}",
        f"{r['p_exit_x1']:.3f} ± {r['se']:.3f}", f"{r['first_jump_prediction']:.3f}",
        r["median_escape_step"]] for r in rows_])
  p = [r["p_exit_x1"] for r in rows_]
  monotone = all(b >= a - 2 * math.hypot(ra["se"], rb["se"])
                 for a, b, ra, rb in zip(p, p[1:], rows_, rows_[1:]))
  z0 = (p[0] - 0.5) / max(rows_[0]["se"], 1e-12)
  zl = (p[-1] - 0.5) / max(rows_[-1]["se"], 1e-12)
  md = ("# Escape axis on 2-D Ackley (P2 Fig. 6)\n\n"
        f"Run: {'QUICK smoke run' if args.quick else 'full run'}: GD + SaS noise per axis "
        f"(`chaosopt.levy_gd`, Euler scheme, increments σ η^(1/α_i) ξ_i, ξ ~ SaS(1)), "
        f"η = {cfg.learning_rate}, σ = {cfg.sigma}, α2 = {cfg.alpha2}, α1 = α2 − Δ, start at the "
        f"global minimum 0, escape = first step with ‖x‖₂ > {cfg.radius}; then the larger |x_i| "
        f"names the exit axis. {cfg.num_seeds} seeds vmapped in one jitted chunked scan per Δ, "
        f"at most {cfg.max_steps} steps, float32, CPU ({results['total_wall_s']:.0f} s total).\n\n"
        + table +
        "\nPaper (Fig. 6, values only plotted, α2/σ/radius not given): P(exit through x1) grows "
        "with Δ, i.e. the lower-α axis is the likelier exit, and more so as Δ grows.\n\n"
        "## Verdict\n\n"
        f"- Δ = 0 (symmetric check): P = {p[0]:.3f}, {z0:+.1f} SE from 1/2.\n"
        f"- Largest Δ = {rows_[-1]['delta']}: P = {p[-1]:.3f}, {zl:+.1f} SE from 1/2.\n"
        f"- P(exit via x1) non-decreasing in Δ within 2 SE: {'yes' if monotone else 'no'}.\n"
        f"- {'Reproduced' if (monotone and zl > 4) else 'NOT reproduced'}: "
        + ("the lower-α axis is the likelier exit and increasingly so with Δ."
           if (monotone and zl > 4) else "see the table; the trend is not resolved at this size.")
        + "\n- The first-large-jump prediction (dashed) is a heuristic that ignores the drift "
        "and the small-jump diffusion; it is shown for scale, not fitted.\n")
  for r in rows_:
    r.pop("escape_steps") if args.quick else None
  write_report(args.out, md, results, {"escape_axis.png": fig})
  print(md)


if __name__ == "__main__":
  main()
