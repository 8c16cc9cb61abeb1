"""P3 (Li, Malladi & Arora 2021) Thm 4.1: SVAG converges to the Itô SDE at rate O(1/l).

SVAG (eq. 3) with l ∈ {1, 2, 4, 8, 16} on a small problem (2-16-1 tanh MLP, logistic loss,
synthetic two-blob data), thousands of seeds vmapped from the same initialization. Test
functions of x_T at a fixed effective time (steps/l = ``sgd_steps``): training loss, squared
weight norm, training accuracy. Thm 4.1 says ``E g(x^{(l)}_T) = E g(X_T) + C/l + o(1/l)``; we fit
``g_l = g_∞ + C l^{-p}`` (weighted by the Monte-Carlo SE) for the rate ``p`` and the linear
model ``g_l = g_∞ + C/l`` for its quality of fit (χ²). Runs are logged and plotted against
*effective steps* = steps / l.

  python experiments/svag_convergence.py [--quick] [--out DIR]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.svag_convergence import get_config  # noqa: E402
from experiments import _cli  # noqa: E402


def main(argv=None):
  args, cfg = _cli.setup(__file__, get_config, doc=__doc__, argv=argv)

  import jax
  import jax.numpy as jnp
  plt = _cli.pyplot()
  import numpy as np
  import optax
  from scipy.optimize import curve_fit

  from chaosopt.estimators import svag
  from chaosopt.tasks.mlp import MLP
  from chaosopt.core.loop import scan_chunks
  from chaosopt.train.report import markdown_table, write_report

  t0 = time.time()
  rng = np.random.default_rng(cfg.data_seed)
  y = rng.integers(0, 2, cfg.n)
  x = rng.normal(size=(cfg.n, 2)) + np.outer(2 * y - 1, [cfg.blob_distance / 2, 0.0])
  data = (jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32))
  model = MLP(features=(cfg.hidden, 1), activation="tanh")
  params0 = model.init(jax.random.key(cfg.init_seed), data[0][:1])

  def loss_i(p, xi, yi):
    z = model.apply(p, xi[None])[0, 0]
    return jax.nn.softplus(z) - yi * z

  per_example = jax.vmap(loss_i, in_axes=(None, 0, 0))

  def test_functions(p):
    z = model.apply(p, data[0])[:, 0]
    loss = jnp.mean(jax.nn.softplus(z) - data[1] * z)
    acc = jnp.mean((z > 0) == (data[1] > 0.5))
    norm2 = sum(jnp.sum(a ** 2) for a in jax.tree_util.tree_leaves(p))
    return jnp.stack([loss, norm2, acc])

  names = ["train loss", "squared weight norm", "train accuracy"]
  curves, finals = {}, {}
  for l in cfg.ls:
    tx = optax.sgd(svag.svag_learning_rate(cfg.learning_rate, l))
    log_every = cfg.log_every * l

    def step(carry, k, tx=tx, l=l, log_every=log_every):
      p, s, key = carry
      key, sub = jax.random.split(key)
      g, _ = svag.svag_gradient(lambda q, b: per_example(q, *b), p, data, sub,
                                batch_size=cfg.batch_size, l=l)
      u, s = tx.update(g, s, p)
      p = optax.apply_updates(p, u)
      logged = jax.lax.cond((k + 1) % log_every == 0, test_functions,
                            lambda q: jnp.full((3,), jnp.nan), p)
      return (p, s, key), logged

    keys = jax.random.split(jax.random.key(1000 + l), cfg.num_seeds)
    carry = jax.vmap(lambda k: (params0, tx.init(params0), k))(keys)
    vstep = jax.vmap(step, in_axes=(0, None))
    n_steps = svag.svag_num_steps(cfg.sgd_steps, l)
    t1 = time.time()
    _, logs = scan_chunks(vstep, carry, n_steps, chunk_size=min(n_steps, 50 * l * cfg.log_every))
    logs = logs[log_every - 1::log_every]  # [points, seeds, 3]
    eff = svag.effective_steps(np.arange(log_every, n_steps + 1, log_every), l)
    curves[l] = {"effective_steps": eff, "mean": logs.mean(1),
                 "se": logs.std(1, ddof=1) / np.sqrt(cfg.num_seeds)}
    finals[l] = {"mean": logs[-1].mean(0), "se": logs[-1].std(0, ddof=1) / np.sqrt(cfg.num_seeds),
                 "wall_s": time.time() - t1}
    print(f"l={l}: {n_steps} steps, {time.time() - t1:.1f}s, final {finals[l]['mean']}")

  ls = np.array(cfg.ls, float)
  fits = {}
  for j, name in enumerate(names):
    m = np.array([finals[l]["mean"][j] for l in cfg.ls])
    se = np.array([finals[l]["se"][j] for l in cfg.ls])
    lin = np.polyfit(1 / ls, m, 1, w=1 / se)
    chi2 = float(np.sum(((np.polyval(lin, 1 / ls) - m) / se) ** 2))
    fit = {"g_inf_linear": float(lin[1]), "C_linear": float(lin[0]), "chi2_linear": chi2,
           "dof_linear": len(ls) - 2}
    try:
      popt, pcov = curve_fit(lambda l, g, c, p: g + c * l ** (-p), ls, m, sigma=se,
                             absolute_sigma=True, p0=[lin[1], lin[0], 1.0], maxfev=20000)
      fit.update({"g_inf_power": float(popt[0]), "C_power": float(popt[1]),
                  "p": float(popt[2]), "p_se": float(np.sqrt(pcov[2, 2]))})
    except (RuntimeError, ValueError) as e:  # fit failed: report it
      fit["power_fit_error"] = str(e)
    # gap to the largest l in units of its SE: does the test function still move with l?
    fit["gap_l1_minus_lmax"] = float(m[0] - m[-1])
    fit["gap_se"] = float(np.hypot(se[0], se[-1]))
    fits[name] = fit

  fig, axes = plt.subplots(2, 3, figsize=(13, 7))
  for j, name in enumerate(names):
    ax = axes[0, j]
    for l in cfg.ls:
      c = curves[l]
      ax.plot(c["effective_steps"], c["mean"][:, j], label=f"l = {l}")
    ax.set_xlabel("effective steps = steps / l")
    ax.set_title(name)
    ax.legend(fontsize=7)
    ax = axes[1, j]
    m = np.array([finals[l]["mean"][j] for l in cfg.ls])
    se = np.array([finals[l]["se"][j] for l in cfg.ls])
    ax.errorbar(1 / ls, m, yerr=2 * se, fmt="o", label="SVAG (±2 SE)")
    xx = np.linspace(0, 1, 50)
    f = fits[name]
    ax.plot(xx, f["g_inf_linear"] + f["C_linear"] * xx, "k--",
            label=f"g∞ + C/l (χ² = {f['chi2_linear']:.1f}, dof {f['dof_linear']})")
    ax.set_xlabel("1 / l")
    ax.set_ylabel(f"E[{name}] at T")
    ax.legend(fontsize=7)
  fig.tight_layout()

  rows = []
  for name in names:
    f = fits[name]
    rows.append([name, f"{f['g_inf_linear']:.5f}", f"{f['C_linear']:+.5f}",
                 f"{f['chi2_linear']:.2f} / {f['dof_linear']}",
                 f"{f.get('p', float('nan')):.2f} ± {f.get('p_se', float('nan')):.2f}",
                 f"{f['gap_l1_minus_lmax'] / f['gap_se']:+.1f}"])
  per_l = [[l] + [f"{finals[l]['mean'][j]:.5f} ± {finals[l]['se'][j]:.5f}" for j in range(3)]
           for l in cfg.ls]
  md = [
      "# SVAG converges at rate O(1/l) (P3 Thm 4.1)\n\n",
      f"Run: 2-{cfg.hidden}-1 tanh MLP, logistic loss, n = {cfg.n} synthetic points (two unit "
      f"Gaussian blobs {cfg.blob_distance} apart), batch b = {cfg.batch_size}, SGD learning "
      f"rate η = {cfg.learning_rate} (SVAG: η/l, l × more steps), horizon "
      f"{cfg.sgd_steps} effective steps, {cfg.num_seeds} seeds vmapped from one initialization, "
      "float32. Values at the horizon are means ± Monte-Carlo SE over seeds.\n\n",
      markdown_table(["l"] + names, per_l),
      "\nFits over l ∈ " + str(tuple(cfg.ls)) + " (weighted by SE): linear model "
      "g_l = g∞ + C/l (χ² / dof tests it) and free rate g_l = g∞ + C·l^(-p). "
      "Last column: (g_1 − g_lmax) / SE, i.e. whether SGD (l = 1) is resolvably different from "
      "the SDE proxy.\n\n",
      markdown_table(["test function", "g∞ (linear fit)", "C", "χ² / dof", "rate p",
                      "(g_1 − g_lmax)/SE"], rows),
      "\nPaper (Thm 4.1): weak error O(1/l), i.e. p = 1 (an upper bound: p > 1 is allowed). "
      "Paper's own evidence is accuracy curves for PreResNet-32/VGG on CIFAR-10 (Figs. 1-2) that "
      "overlap for l ≥ 2 at B = 64; no rate is fitted there.\n\n",
  ]
  verdict = []
  for name in names:
    f = fits[name]
    resolvable = abs(f["gap_l1_minus_lmax"]) > 4 * f["gap_se"]
    ok_lin = f["chi2_linear"] < 3 * max(f["dof_linear"], 1) + 6
    if not resolvable:
      verdict.append(f"- {name}: the l-dependence is not resolved at this number of seeds "
                     "(gap < 4 SE) — no rate can be claimed.")
    else:
      verdict.append(f"- {name}: l-dependence resolved; the C/l model "
                     + ("fits (χ² consistent with dof)" if ok_lin else "does NOT fit well "
                        "(χ² ≫ dof)") + f"; free-rate fit p = {f.get('p', float('nan')):.2f} ± "
                     f"{f.get('p_se', float('nan')):.2f}.")
  md.append("Verdict:\n" + "\n".join(verdict) + "\n")
  results = {"config": cfg.to_dict(), "finals": {str(k): v for k, v in finals.items()},
             "fits": fits,
             "curves": {str(k): v for k, v in curves.items()}, "wall_seconds": time.time() - t0}
  write_report(args.out, "".join(md), results, {"svag_convergence.png": fig})
  print("".join(md))


if __name__ == "__main__":
  main()
