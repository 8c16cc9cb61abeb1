"""P3 (Li, Malladi & Arora 2021) Fig. 3: discretization error of GD on f(x) = x².

GD ``x_{k+1} = x_k - η f'(x_k) = (1 - 2η) x_k`` against gradient flow ``x(t) = x0 e^{-2t}`` at
equal time ``t = kη``. Closed forms: ``x_k = (1-2η)^k x0`` and, for small η,
``x_k / x(kη) = exp(k(log(1-2η) + 2η)) ≈ exp(-2η t)``, so the gap grows with η (first order);
at η = 0.9 the factor 1 - 2η = -0.8 flips the sign each step: GD oscillates, GF does not.

  python experiments/discretization_x2.py [--quick] [--out DIR]
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.discretization_x2 import get_config  # noqa: E402
from experiments import _cli  # noqa: E402


def main(argv=None):
  args, cfg = _cli.setup(__file__, get_config, doc=__doc__, argv=argv)

  import jax
  import jax.numpy as jnp
  plt = _cli.pyplot()
  import numpy as np
  import optax

  from chaosopt.core.loop import scan_chunks
  from chaosopt.train.report import markdown_table, write_report

  t0 = time.time()
  grad = jax.grad(lambda x: x ** 2)
  runs = {}
  for eta in cfg.etas:
    steps = int(math.ceil(cfg.horizon / eta - 1e-9))
    tx = optax.sgd(eta)

    def step(carry, _):
      x, s = carry
      u, s = tx.update(grad(x), s, x)
      x = optax.apply_updates(x, u)
      return (x, s), x

    x0 = jnp.asarray(cfg.x0, jnp.float32)
    _, xs = scan_chunks(step, (x0, tx.init(x0)), steps, chunk_size=min(cfg.chunk_size, steps))
    xs = np.concatenate([[cfg.x0], np.asarray(xs, np.float64)])
    t = eta * np.arange(steps + 1)
    gf = cfg.x0 * np.exp(-2 * t)
    closed = cfg.x0 * (1 - 2 * eta) ** np.arange(steps + 1)
    runs[eta] = {"t": t, "gd": xs, "gf": gf,
                 "max_abs_error": float(np.max(np.abs(xs - gf))),
                 "closed_form_max_dev": float(np.max(np.abs(xs - closed))),
                 "sign_changes": int(np.sum(np.sign(xs[1:]) != np.sign(xs[:-1]))),
                 "steps": steps}

  fig, axes = plt.subplots(1, len(cfg.etas), figsize=(4 * len(cfg.etas), 3.2))
  for ax, eta in zip(np.atleast_1d(axes), cfg.etas):
    r = runs[eta]
    tt = np.linspace(0, cfg.horizon, 400)
    ax.plot(tt, cfg.x0 * np.exp(-2 * tt), "k-", lw=2, label="gradient flow")
    ax.plot(r["t"], r["gd"], "o--" if r["steps"] < 60 else "-", color="C1", ms=4,
            label=f"GD, η = {eta:g}")
    ax.set_xlabel("time t = kη")
    ax.set_title(f"η = {eta:g}: max abs(GD − GF) = {r['max_abs_error']:.2g}")
    ax.legend(fontsize=8)
  np.atleast_1d(axes)[0].set_ylabel("x")
  fig.tight_layout()

  monotone = all(runs[a]["max_abs_error"] < runs[b]["max_abs_error"]
                 for a, b in zip(cfg.etas, cfg.etas[1:]))
  rows = [[f"{eta:g}", r["steps"], f"{r['max_abs_error']:.3e}",
           f"{(1 - 2 * eta):+.3f}", r["sign_changes"], f"{r['closed_form_max_dev']:.1e}",
           f"{eta / math.e:.3e}"]
          for eta, r in runs.items()]
  md = ["# P3 Fig. 3: GD on x² vs gradient flow\n\n",
        f"Run: x0 = {cfg.x0}, horizon T = {cfg.horizon} (continuous time), GD via optax.sgd in "
        "`scan_chunks`, float32. The paper shows only the three panels (no numbers); its claim "
        "is *'as η increases, the discretization error increases'*.\n\n",
        markdown_table(["η", "steps", "max_t abs(x_GD − x_GF)", "1 − 2η", "sign flips",
                        "abs(GD − (1−2η)^k x0)", "η/e"], rows),
        "\nVerdict: " + ("**reproduced** — the error grows with η (≈ η/e · x0 for small η: "
                         "the maximum of x0·2ηt·e^{-2t} is x0·η/e at t = 1/2), and at η = 0.9 "
                         "GD oscillates around 0 with |1−2η| = 0.8 per step while GF decays "
                         "monotonically." if monotone else
                         "**not reproduced**: the error is not increasing in η (see table)."),
        "\n"]
  results = {"config": cfg.to_dict(),
             "runs": {str(k): {kk: vv for kk, vv in v.items() if kk not in ("t", "gd", "gf")}
                      for k, v in runs.items()},
             "small_eta_prediction_eta_over_e": {str(e): e / math.e for e in cfg.etas},
             "error_increasing_in_eta": monotone, "wall_seconds": time.time() - t0}
  write_report(args.out, "".join(md), results, {"gd_vs_gf.png": fig})
  print("".join(md))


if __name__ == "__main__":
  main()
