"""P2 Tables 1-2 and Fig. 5 on FashionMNIST: is the per-parameter SGD noise SaS or Gaussian?

A small CNN (:class:`chaosopt.tasks.models.SmallCNN`, 11,330 parameters, P4's ConvSmall) is
trained with plain SGD on a FashionMNIST training subset; at the trained weights w the SGD noise
``u_B = grad U(w) - grad U_B(w)`` (P2 eq. 1) is collected per parameter over many mini-batches
(:func:`chaosopt.analysis.sgd_noise.sgd_noise`). For randomly chosen parameters we fit SaS and
Gaussian laws and report the SSE and chi^2 fitting errors (the papers' Table 1-2 format), and the
tail index alpha of every parameter (Fig. 5: Mohammadi estimator of P3 Thm F.2 and CF fit).

  python experiments/sgd_noise_fmnist.py [--quick] [--out DIR] [--train-size N] [--train-steps N]
                                        [--num-batches N] [--fit-params N]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import _cli  # noqa: E402


def get_settings(quick: bool) -> dict:
  s = dict(train_size=10_000, train_steps=3_000, train_batch=64, learning_rate=0.1,
           noise_batch=64, num_batches=1_000, fit_params=200, bins=50, seed=0)
  if quick:
    s.update(train_size=1_000, train_steps=100, num_batches=100, fit_params=8)
  return s


def add_overrides(ap):
  for flag in ("train_size", "train_steps", "num_batches", "fit_params"):
    ap.add_argument("--" + flag.replace("_", "-"), type=int, default=None,
                    help="override the default (full) setting")


def main(argv=None):
  args, _ = _cli.setup(__file__, doc=__doc__, extra=add_overrides, argv=argv)
  cfg = get_settings(args.quick)
  cfg.update({k: getattr(args, k) for k in ("train_size", "train_steps", "num_batches",
                                             "fit_params") if getattr(args, k) is not None})

  import jax
  import jax.numpy as jnp
  plt = _cli.pyplot()
  import numpy as np
  import optax

  from chaosopt.analysis import sgd_noise
  from chaosopt.tasks.fashion_mnist import load_fashion_mnist
  from chaosopt.tasks.models import SmallCNN
  from chaosopt.core.loop import scan_chunks
  from chaosopt.train.report import fmt_mean_std, markdown_table, write_report

  t_start = time.time()
  xs, ys = load_fashion_mnist("train")
  rng = np.random.default_rng(cfg["seed"])
  sel = rng.choice(len(xs), cfg["train_size"], replace=False)
  x = jnp.asarray(xs[sel], jnp.float32) / 255.0
  y = jnp.asarray(ys[sel])
  xt_np, yt_np = load_fashion_mnist("test")
  model = SmallCNN()
  params = model.init(jax.random.key(cfg["seed"]), x[:2])["params"]

  def loss_fn(p, batch):
    bx, by = batch
    logits = model.apply({"params": p}, bx)
    return optax.softmax_cross_entropy_with_integer_labels(logits, by).mean()

  tx = optax.sgd(cfg["learning_rate"])

  def step(carry, k):
    p, opt, key = carry
    key, sub = jax.random.split(key)
    # with replacement: choice(replace=False) permutes all n examples every step (2/3 of the
    # step time on CPU); the noise measurement below still draws batches without replacement
    idx = jax.random.randint(sub, (cfg["train_batch"],), 0, x.shape[0])
    loss, g = jax.value_and_grad(loss_fn)(p, (x[idx], y[idx]))
    upd, opt = tx.update(g, opt, p)
    return (optax.apply_updates(p, upd), opt, key), loss

  (params, _, _), losses = scan_chunks(step, (params, tx.init(params), jax.random.key(1)),
                                       cfg["train_steps"], chunk_size=500)
  acc = lambda xx, yy: float(jnp.mean(jnp.argmax(model.apply({"params": params}, xx), -1) == yy))
  train_acc = acc(x, y)
  test_acc = acc(jnp.asarray(xt_np[:5000], jnp.float32) / 255.0, jnp.asarray(yt_np[:5000]))
  full_loss = float(loss_fn(params, (x, y)))
  print(f"trained: loss {full_loss:.4f}, train acc {train_acc:.4f}, test acc {test_acc:.4f}")

  t0 = time.time()
  u = sgd_noise.sgd_noise(loss_fn, params, (x, y), batch_size=cfg["noise_batch"],
                          num_batches=cfg["num_batches"], key=jax.random.key(2))
  t_noise = time.time() - t0
  alphas = sgd_noise.alpha_per_parameter(u)
  t0 = time.time()
  fe = sgd_noise.fit_errors(u, bins=cfg["bins"], max_params=cfg["fit_params"], seed=3)
  t_fit = time.time() - t0
  n_fit = len(fe["index"])
  frac_sse = float(np.mean(fe["sse_sas"] < fe["sse_gauss"]))
  frac_chi = float(np.mean(fe["chi2_sas"] < fe["chi2_gauss"]))
  # P3's point: the noise of a finite data set has finite variance; check the running variance
  uv = np.asarray(u[fe["index"]], np.float64)
  half = uv.shape[1] // 2
  var_ratio = np.var(uv, axis=1) / np.var(uv[:, :half], axis=1)

  am, ac = alphas["mohammadi"], alphas["cf"]
  results = dict(settings=cfg, train=dict(loss=full_loss, train_acc=train_acc,
                                          test_acc_5000=test_acc),
                 num_params=int(u.shape[0]), fit=dict(
                     n=n_fit, sse_gauss=fe["sse_gauss"], sse_sas=fe["sse_sas"],
                     chi2_gauss=fe["chi2_gauss"], chi2_sas=fe["chi2_sas"], alpha=fe["alpha"],
                     frac_sas_better_sse=frac_sse, frac_sas_better_chi2=frac_chi),
                 alpha_all=dict(mohammadi_quantiles=np.nanquantile(am, [.05, .25, .5, .75, .95]),
                                cf_quantiles=np.nanquantile(ac, [.05, .25, .5, .75, .95]),
                                frac_cf_below_1_9=float(np.mean(ac[np.isfinite(ac)] < 1.9)),
                                num_valid=int(alphas["valid"].sum())),
                 variance_ratio_all_vs_first_half=dict(
                     median=float(np.median(var_ratio)), q95=float(np.quantile(var_ratio, .95))),
                 timing_s=dict(noise=t_noise, fits=t_fit, total=time.time() - t_start))

  fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
  ax[0].hist(ac[np.isfinite(ac)], bins=60, range=(0.5, 2.0), alpha=0.7, label="CF fit")
  ax[0].hist(am[np.isfinite(am)], bins=60, range=(0.5, 2.0), alpha=0.5,
             label="Mohammadi (P3 Thm F.2)")
  ax[0].set_xlabel("α per parameter")
  ax[0].set_title(f"all {u.shape[0]} parameters, {cfg['num_batches']} batches of {cfg['noise_batch']}")
  ax[0].legend(fontsize=8)
  j = int(np.argmin(fe["alpha"]))
  from scipy import stats
  z = np.asarray(u[fe["index"][j]], np.float64)
  z = (z - np.median(z)) / np.median(np.abs(z - np.median(z)))
  lo, hi = np.quantile(z, [0.005, 0.995])
  ax[1].hist(z, bins=cfg["bins"], range=(lo, hi), density=True, alpha=0.5, label="SGD noise")
  cc = np.linspace(lo, hi, 300)
  ax[1].plot(cc, stats.norm.pdf(cc, z.mean(), z.std()), label="Gaussian fit")
  ax[1].plot(cc, stats.levy_stable.pdf(cc, float(fe["alpha"][j]), 0.0, scale=float(
      fe["scale"][j] / np.median(np.abs(uv[j] - np.median(uv[j]))))), label="SαS fit")
  ax[1].set_title(f"param {int(fe['index'][j])} (lowest fitted α = {fe['alpha'][j]:.2f})")
  ax[1].legend(fontsize=8)
  ax[2].scatter(fe["sse_gauss"], fe["sse_sas"], s=8)
  mx = max(fe["sse_gauss"].max(), fe["sse_sas"].max())
  ax[2].plot([0, mx], [0, mx], "k--", lw=0.7)
  ax[2].set_xscale("log"); ax[2].set_yscale("log")
  ax[2].set_xlabel("Gaussian SSE"); ax[2].set_ylabel("SαS SSE")
  ax[2].set_title("per-parameter fit error (below diagonal: SαS better)")
  fig.tight_layout()

  med_iqr = lambda v: "{:.3f} [{:.3f}, {:.3f}]".format(*np.quantile(v, [0.5, 0.25, 0.75]))
  # degenerate fits: noise taking few distinct values (units active on a handful of examples)
  n_distinct = np.array([len(np.unique(r)) for r in uv])
  low = fe["alpha"] < 0.5
  results["fit"].update(n_distinct=n_distinct, num_alpha_below_0_5=int(low.sum()),
                        n_distinct_of_alpha_below_0_5=n_distinct[low])
  table = markdown_table(
      ["Model / data", "BS", "Gauss-SSE", "SαS-SSE", "Gauss-Chi2", "SαS-Chi2"],
      [["SmallCNN / FashionMNIST (ours)", cfg["noise_batch"], fmt_mean_std(fe["sse_gauss"], 3),
        fmt_mean_std(fe["sse_sas"], 3), fmt_mean_std(fe["chi2_gauss"], 3),
        fmt_mean_std(fe["chi2_sas"], 3)],
       ["(same, median [IQR]: the χ² means are dominated by a few parameters)",
        cfg["noise_batch"]] + [med_iqr(fe[k]) for k in ("sse_gauss", "sse_sas", "chi2_gauss",
                                                        "chi2_sas")],
       ["ResNet18 / CIFAR100 (P2 Table 1)", 400, "120.44 ± 145.52", "87.43 ± 130.91",
        "7.78 ± 5.15", "5.87 ± 4.75"],
       ["ResNet34 / CIFAR100 (P2 Table 1)", 400, "36.47 ± 41.27", "29.66 ± 35.22",
        "4.46 ± 3.21", "3.64 ± 2.77"],
       ["BERT base / CoLA (P2 Table 2)", 8, "2.15 ± 0.64", "0.71 ± 0.33", "1.41 ± 0.43",
        "0.42 ± 0.21"]])
  sas_better = frac_sse > 0.5 and frac_chi > 0.5
  gauss_better = frac_sse < 0.5 and frac_chi < 0.5
  full = get_settings(False)
  reduced = [f"{k} {cfg[k]} (full: {full[k]})" for k in full if cfg[k] != full[k]]
  run_kind = ("QUICK smoke run" if args.quick else
              "REDUCED run for this 2-core CPU: " + ", ".join(reduced) if reduced else "full run")
  q = results["alpha_all"]["cf_quantiles"]
  md = (
      "# SGD-noise distribution of a small CNN on FashionMNIST (P2 Tables 1-2, Fig. 5)\n\n"
      f"Run: {run_kind}. SmallCNN (P4's ConvSmall, "
      f"{u.shape[0]} parameters) trained with SGD (lr {cfg['learning_rate']}, batch "
      f"{cfg['train_batch']} drawn with replacement, {cfg['train_steps']} steps) on {cfg['train_size']} FashionMNIST "
      f"training images (pixels / 255): full-data loss {full_loss:.3f}, train acc "
      f"{train_acc:.3f}, test acc {test_acc:.3f} (first 5000 test images). At these weights, "
      f"u_B = ∇U(w) − ∇U_B(w) over {cfg['num_batches']} mini-batches of {cfg['noise_batch']} "
      f"(uniform without replacement; ∇U exact over the {cfg['train_size']} images), per "
      f"parameter. Fits on {n_fit} random parameters (P2: 100-120): SαS by characteristic-function "
      "regression (α, scale; location = median), Gaussian by sample mean/std; SSE = Σ(h−f)², "
      f"χ² = Σ(h−f)²/f over {cfg['bins']} bins spanning the central 99% of each parameter's noise "
      "(standardized by its MAD). Different networks, data and units from P2: compare the "
      "direction (which family fits better), not the magnitudes.\n\n" + table +
      f"\nSαS fits better in {100 * frac_sse:.0f}% of parameters by SSE and "
      f"{100 * frac_chi:.0f}% by χ². {int(low.sum())} of the {n_fit} fitted parameters have a "
      f"fitted α < 0.5 (their noise takes "
      + (", ".join(str(v) for v in n_distinct[low][:10]) if low.any() else "-")
      + f" distinct values among {cfg['num_batches']} batches).\n\n"
      f"Tail index over the {results['alpha_all']['num_valid']} of {u.shape[0]} parameters "
      "whose noise is non-zero in most batches (CF fit) 5/25/50/75/95% quantiles: "
      + ", ".join(f"{v:.2f}" for v in q) + "; Mohammadi estimator: "
      + ", ".join(f"{v:.2f}" for v in results["alpha_all"]["mohammadi_quantiles"])
      + f". Fraction with α < 1.9: {results['alpha_all']['frac_cf_below_1_9']:.2f}.\n\n"
      "## Verdict: P2 (SαS fits better) or P3 (Gaussian)?\n\n"
      + (f"- As measured here, the **SαS law fits the per-parameter noise better** (P2's claim) "
         "in the majority of parameters.\n" if sas_better else
         "- As measured here, the **SαS law does NOT fit better** than the Gaussian in the "
         "majority of parameters: our data side with P3 / Xie et al.\n" if gauss_better else
         "- As measured here, the two criteria disagree (SSE and χ² favour different laws in "
         "the majority of parameters): no verdict for either P2 or P3.\n")
      + "- α varies across parameters (Fig. 5's claim): see the histogram.\n"
      f"- P3's counter-argument is about the variance: the noise of a finite training set is a "
      f"bounded variable, so its true tail index is 2; here the variance over all "
      f"{cfg['num_batches']} batches vs the first half has median ratio "
      f"{results['variance_ratio_all_vs_first_half']['median']:.2f} (95% quantile "
      f"{results['variance_ratio_all_vs_first_half']['q95']:.2f}); a variance that does not "
      "grow with the sample count is what P3 reports. Fitted α < 2 then describes the shape of "
      "the bulk (excess kurtosis) at this sample size, not an infinite-variance law.\n")
  write_report(args.out, md, results, {"sgd_noise_fmnist.png": fig})
  print(md)


if __name__ == "__main__":
  main()
