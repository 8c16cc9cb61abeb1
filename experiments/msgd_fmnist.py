"""P4 (Wu et al. 2020) Fig. 1a: does the class of the gradient noise matter? FashionMNIST, 1000
training images, small CNN: GD vs SGD vs MSGD-Cov / Fisher / Bernoulli / [Fisher-B].

Every MSGD variant is P4 Alg. 1 / eq. 2 (:func:`chaosopt.estimators.msgd_gradient`: one
backward pass of the randomized loss 𝓛(θ)·(1/n + V)) with the sampling noise V of
:mod:`chaosopt.estimators.sampling_noise`, scaled to batch-b SGD; SGD is a plain mini-batch
gradient (:func:`chaosopt.estimators.sgd_gradient`, drawn without replacement as the authors'
code does), GD is V = 0. Steps are plain gradient steps (optax.sgd, no momentum, no weight
decay), learning rate 0.01, SGD batch b = 50, raw 0..255 pixel inputs (as the authors' code),
the authors' ConvSmall (:class:`chaosopt.tasks.models.SmallCNN`). One unit per method; the
seeds are ensemble members (:func:`chaosopt.train.ensemble.run_ensemble`), seed i starts every
method from the same initialization. The 1000 images come from the official TRAINING split (the
authors' script takes them from the test split by mistake; see docs/errata.md); test accuracy is
on a fixed random subset of the test split (``num_test``).

Variants: ``quick`` (GD, SGD and MSGD-Cov only, 200 images, 4 steps, 2 seeds: a smoke run); ``cpu`` (200 steps, test on
1000 images, seeds run one after another: the size that fits a shared 2-core CPU). The paper
trains 10⁴ iterations on a GPU.
"""
from __future__ import annotations

import logging

import numpy as np

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.configs.msgd_fmnist import METHODS
from chaosopt.experiments import _setting
from chaosopt.tasks import datasets
from chaosopt.train import seeds as seeds_lib
from chaosopt.train import config as config_lib
from chaosopt.train import report as report_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.config import Bool, Int, Opt, Positive, Schema, Seed, Seq

INFO = {"paper": "P4 Fig. 1a", "title": "FashionMNIST 1000 images, SmallCNN: GD / SGD / MSGD "
        "noise classes", "cost": "cpu variant (200 steps) ≈ 1600 s CPU; 1000 steps: GPU",
        "gpu": True}
LABELS = {"gd": "GD", "sgd": "SGD", "msgd_cov": "MSGD-Cov", "msgd_fisher": "MSGD-Fisher",
          "msgd_bernoulli": "MSGD-Bernoulli", "msgd_fisher_b": "MSGD-[Fisher-B]"}
COLOR_FAMILY = {"gd": "gd", "sgd": "gaussian", "msgd_cov": "mpgd", "msgd_fisher": "eq11",
                "msgd_bernoulli": "levy", "msgd_fisher_b": "fisher_b"}
logger = logging.getLogger("chaosopt")


# the keys' types and ranges (FashionMNIST: 60000 training and 10000 test images)
SCHEMA = Schema({
    "seed": Seed(), "num_train": Int(1, 60000), "num_test": Int(1, 10000),
    "pixel_scale": Positive(), "batch_size": Int(1), "fisher_b": Int(1),
    "learning_rate": Positive(), "num_steps": Int(1), "eval_every": Int(1), "num_seeds": Int(1),
    "methods": Seq(subset=METHODS, order="unique"), "seed_strategy": seeds_lib.StrategySpec(),
    "data.allow_synthetic": Opt(Bool())})
ACTIVATION_BYTES = 4 * (24 * 24 * 10 * 3 + 8 * 8 * 10 * 3 + 50 * 3)  # SmallCNN, one image


def validate(config) -> None:
  SCHEMA.check(config)
  req = config_lib.require
  for key in ("batch_size", "fisher_b"):
    req(config[key] <= config.num_train,
        f"config.{key} must be in [1, num_train = {config.num_train}], got {config[key]}")
  req(config.eval_every <= config.num_steps,
      f"config.eval_every must be <= num_steps ({config.num_steps}), got {config.eval_every}")
  at_once = seeds_lib.at_once(seeds_lib.strategy(config), config.num_seeds)
  # full-batch gradients over every training image (GD, MSGD) for the seeds run at once, the
  # per-step loss history, the images
  nbytes = (at_once * config.num_train * ACTIVATION_BYTES
            + 4.0 * config.num_seeds * (4 * 11_330 + config.num_steps)
            + 4.0 * 784 * (config.num_train + config.num_test))
  config_lib.check_memory(nbytes, f"{at_once} seed(s) at once x {config.num_train:,} images",
                          "num_train or num_seeds (seed_strategy='sequential' runs one seed "
                          "at a time)")


def _finite(carry, metrics):
  # the ensemble calls is_finite(new_carry, metrics); its default all_finite takes one argument
  from chaosopt.train import ensemble
  return ensemble.all_finite(carry)


def run(config, workdir) -> dict:
  import jax
  import jax.numpy as jnp
  import optax

  from chaosopt.core.loop import host_steps_default
  from chaosopt.estimators import (
    full_batch_gradient,
    make_sampling_noise,
    msgd_gradient,
    sgd_gradient,
  )
  from chaosopt.tasks.models import SmallCNN, num_params
  from chaosopt.train import ensemble

  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  base = jax.random.key(config.seed)
  # distinct purposes: 0 = training images, 1 = test images; members: seed_keys(seed, n)
  xtr, ytr = datasets.load("fashion_mnist", "train", config)
  xte, yte = datasets.load("fashion_mnist", "test", config)
  itr = np.asarray(jax.random.choice(jax.random.fold_in(base, 0), len(ytr), (config.num_train,),
                                     replace=False))
  ite = np.asarray(jax.random.choice(jax.random.fold_in(base, 1), len(yte), (config.num_test,),
                                     replace=False))
  train = (jnp.asarray(xtr[itr], jnp.float32) * config.pixel_scale, jnp.asarray(ytr[itr]))
  test = (jnp.asarray(xte[ite], jnp.float32) * config.pixel_scale, jnp.asarray(yte[ite]))
  n, b = config.num_train, config.batch_size
  model = SmallCNN()

  def per_example(params, batch):
    x, y = batch
    return optax.softmax_cross_entropy_with_integer_labels(model.apply(params, x), y)

  def evaluate(carry, hp):
    logits = model.apply(carry["params"], test[0])
    return {"test_acc": jnp.mean(jnp.argmax(logits, -1) == test[1]),
            "test_loss": jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits,
                                                                                  test[1]))}

  noises = {
      "msgd_cov": lambda: make_sampling_noise("gaussian_cov", n, b),
      "msgd_fisher": lambda: make_sampling_noise("gaussian_fisher", n, b),
      "msgd_bernoulli": lambda: make_sampling_noise("bernoulli", n, b),
      "msgd_fisher_b": lambda: make_sampling_noise("sparse_fisher", n, b,
                                                   big_batch=config.fisher_b),
  }
  tx = optax.sgd(config.learning_rate)
  keys = seeds_lib.seed_keys(config.seed, config.num_seeds)

  def one_method(method):
    noise = noises[method]() if method in noises else None

    def gradient(params, key):
      if method == "gd":
        return full_batch_gradient(per_example, params, train)
      if method == "sgd":
        return sgd_gradient(per_example, params, train, key, batch_size=b, replacement=False)
      return msgd_gradient(per_example, params, train, key, noise)

    def init(key, hp):
      p = model.init(jax.random.fold_in(key, 0), train[0][:1])  # the same for every method
      return {"params": p, "opt": tx.init(p)}

    def step(c, k, key, hp):
      g, aux = gradient(c["params"], key)
      u, opt = tx.update(g, c["opt"], c["params"])
      return {"params": optax.apply_updates(c["params"], u), "opt": opt}, {"loss": aux["loss"]}

    res = ensemble.run_ensemble(init, step, config.num_steps, keys=keys,
                                chunk_size=config.eval_every, strategy=seeds_lib.strategy(config),
                                evaluate=evaluate, is_finite=_finite,
                                checkpoint_dir=wd.checkpoint_dir(method), progress=True,
                                desc=method, host_steps=host_steps_default())
    loss = res.history["loss"]  # [seeds, steps]
    e = config.eval_every
    windows = loss[:, : loss.shape[1] // e * e].reshape(loss.shape[0], -1, e).mean(-1)
    logger.info("%s: final test accuracy %s", method, np.round(res.evals["test_acc"][:, -1], 4))
    return {"eval_steps": res.eval_steps, "test_acc": res.evals["test_acc"],
            "test_loss": res.evals["test_loss"], "train_loss_window": windows,
            "diverged": int((res.diverged_at >= 0).sum()),
            "num_params": num_params(jax.tree_util.tree_map(lambda a: a[0],
                                                            res.carry["params"]))}

  out = {m: wd.unit(m, lambda m=m: one_method(m)) for m in config.methods}
  first = out[config.methods[0]]
  return {
      "num_params": first["num_params"], "eval_steps": first["eval_steps"],
      "methods": {m: {"test_acc": r["test_acc"], "test_loss": r["test_loss"],
                      "train_loss_window": r["train_loss_window"],
                      "final_test_acc": r["test_acc"][:, -1],
                      "best_test_acc": np.nanmax(r["test_acc"][:, 1:], axis=1),
                      "final_train_loss_window": r["train_loss_window"][:, -1]}
                  for m, r in out.items()},
      "diverged": [{"method": m, "count": r["diverged"]} for m, r in out.items() if r["diverged"]],
      "data": datasets.source("fashion_mnist", config),
  }


def _summary(config, results) -> dict:
  acc = {m: 100 * np.asarray(r["final_test_acc"], float) for m, r in results["methods"].items()}
  noisy = [m for m in acc if m != "gd"]
  spread = (max(acc[m].mean() for m in noisy) - min(acc[m].mean() for m in noisy)
            if noisy else float("nan"))
  seed_sd = (float(np.mean([acc[m].std(ddof=1) for m in noisy]))
             if config.num_seeds > 1 and noisy else 0.0)
  gd_gap = (float(np.mean([acc[m].mean() for m in noisy]) - acc["gd"].mean())
            if "gd" in acc and noisy else float("nan"))
  return {"acc": acc, "spread": spread, "seed_sd": seed_sd, "gd_gap": gd_gap}


# P4 Fig. 1a trains 10⁴ iterations; shorter runs decide nothing about it
PAPER_STEPS = 10_000
# "about the SGD accuracy": within this many points (paired mean difference ± 2 SE)
MARGIN = 1.0


def _paired(acc, a: str, b: str) -> tuple[float, float, int]:
  """Mean and SE of the paired (same seed, same initialization) difference a − b, in points."""
  d = acc[a] - acc[b]
  d = d[np.isfinite(d)]
  se = float(np.std(d, ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
  return float(np.mean(d)) if d.size else float("nan"), se, int(d.size)


def verdicts(config, results) -> list:
  """P4 Fig. 1a's claims (:mod:`chaosopt.analysis.verdicts`): ``"not tested"`` below the
  paper's 10⁴ iterations (the estimates are kept); at full length, each MSGD noise against
  SGD (equivalence within :data:`MARGIN` points, GD as the negative control) and against GD."""
  setting = _setting.of(config, results)
  s = _summary(config, results)
  acc = s["acc"]
  short = config.num_steps < PAPER_STEPS
  msgd = [m for m in acc if m.startswith("msgd")]
  out = []
  if "sgd" in acc and msgd:
    per, worst = {}, None
    for m in msgd:
      mean, se, n = _paired(acc, m, "sgd")
      st, _ = verdict_lib.equivalence_status((mean - 2 * se, mean + 2 * se), 0.0, MARGIN, n=n,
                                             min_n=verdict_lib.MIN_SEEDS)
      per[m] = (st, mean, se)
      if worst is None or abs(mean) > abs(per[worst][1]):
        worst = m
    sts = {v[0] for v in per.values()}
    status = ("reproduced" if sts == {"reproduced"} else "not reproduced"
              if "not reproduced" in sts else "inconclusive")
    reason = "" if status != "inconclusive" else (
        verdict_lib.too_few(config.num_seeds, verdict_lib.MIN_SEEDS) or "some intervals "
        "straddle the margin")
    ctrl = None
    if "gd" in acc:
      mean, se, n = _paired(acc, "gd", "sgd")
      cs, _ = verdict_lib.equivalence_status((mean - 2 * se, mean + 2 * se), 0.0, MARGIN, n=n,
                                             min_n=verdict_lib.MIN_SEEDS)
      ctrl = verdict_lib.control("GD vs SGD, same rule", cs, mean,
                                 must_show="GD does not reach the SGD accuracy (else the test "
                                           "cannot tell noise classes apart)")
    wm, wse = per[worst][1], per[worst][2]
    out.append((
        "MSGD-Cov, -Fisher, -Bernoulli and -[Fisher-B] all reach about the test accuracy of SGD.",
        "P4 Fig. 1a", f"paired difference of the final test accuracy (points), MSGD − SGD "
        f"(largest: {LABELS[worst]})",
        f"reproduced if every MSGD noise's mean paired difference ± 2 SE lies within ± {MARGIN} "
        "points of SGD, not reproduced if one lies outside, else inconclusive; inconclusive "
        f"below {verdict_lib.MIN_SEEDS} seeds; not tested below the paper's {PAPER_STEPS} "
        "iterations", status, reason, wm, (wm - 2 * wse, wm + 2 * wse), ctrl,
        "per noise: " + ", ".join(f"{LABELS[m]} {v[1]:+.2f} ± {v[2]:.2f}" for m, v in per.items())
        + f"; spread across the noisy methods {s['spread']:.2f} points, mean seed-to-seed std "
          f"{s['seed_sd']:.2f}."))
  if "gd" in acc and msgd:
    per = {m: _paired(acc, m, "gd") for m in [x for x in acc if x != "gd"]}
    sts = {m: verdict_lib.interval_status((v[0] - 2 * v[1], v[0] + 2 * v[1]), 0.0, n=v[2],
                                          min_n=verdict_lib.MIN_SEEDS) for m, v in per.items()}
    vals = {v[0] for v in sts.values()}
    status = ("reproduced" if vals == {"reproduced"} else "not reproduced"
              if "not reproduced" in vals else "inconclusive")
    reason = next((v[1] for v in sts.values() if v[0] == "inconclusive"), "") \
        if status == "inconclusive" else ""
    # negative control: GD's seeds split in halves (even vs odd, paired in order) through the
    # same ± 2 SE rule — two halves of one method must not "beat" each other
    g = acc["gd"]
    m2 = g.size // 2
    ctrl = None
    if m2 >= 1:
      half = {"a": g[0:2 * m2:2], "b": g[1:2 * m2:2]}
      hm, hse, hn = _paired(half, "a", "b")
      ctrl = verdict_lib.control(
          "GD's seeds split in halves (even vs odd, paired in order), same rule",
          verdict_lib.interval_status((hm - 2 * hse, hm + 2 * hse), 0.0, n=hn,
                                      min_n=verdict_lib.MIN_SEEDS)[0], hm,
          must_show=f"no gain of one half of GD over the other ({hm:+.2f}"
                    + (f" ± {hse:.2f}" if np.isfinite(hse) else "") + f" points, n = {hn} "
                    "pairs)")
    out.append((
        "The noisy methods (SGD and every MSGD noise) reach a higher test accuracy than GD.",
        "P4 Fig. 1a", "paired difference of the final test accuracy (points), noisy − GD, "
        "mean over the noisy methods",
        "reproduced if every noisy method's paired difference ± 2 SE is above 0, not reproduced "
        "if one is at or below 0, else inconclusive; inconclusive below "
        f"{verdict_lib.MIN_SEEDS} seeds; not tested below the paper's {PAPER_STEPS} iterations",
        status, reason, s["gd_gap"], None, ctrl,
        "per method: " + ", ".join(f"{LABELS[m]} {v[0]:+.2f} ± {v[1]:.2f}"
                                   for m, v in per.items()) + "."))
  vs = []
  for claim, where, stat, rule, status, reason, est, unc, ctrl, detail in out:
    if short:
      status = "not tested"
      reason = f"{config.num_steps} of the paper's {PAPER_STEPS} iterations"
      if ctrl:
        ctrl = dict(ctrl, status="not tested")
    vs.append(verdict_lib.decide(claim, where, stat, rule, status=status, reason=reason,
                                 estimate=est, uncertainty=unc, control=ctrl,
                                 detail=detail + f" {config.num_steps} iterations, "
                                                 f"{config.num_seeds} seeds."))
  return _setting.finish(setting, vs)


def report(config, results):
  from chaosopt.train import plots

  ms = results["methods"]
  steps = np.asarray(results["eval_steps"], float)
  e = config.eval_every
  win_steps = np.arange(1, len(next(iter(ms.values()))["train_loss_window"][0]) + 1) * e
  per = {LABELS[m]: {"test_acc": 100 * np.asarray(r["test_acc"], float),
                     "train_loss": np.asarray(r["train_loss_window"], float)}
         for m, r in ms.items()}
  # "kind" only picks the colour family (plots.scheme_colors): one distinct family per method
  schemes = [{"name": LABELS[m], "kind": COLOR_FAMILY[m]} for m in ms]
  fig = plots.curves_figure(
      {"test_acc": steps, "train_loss": win_steps}, per, ["test_acc", "train_loss"],
      schemes=schemes, xlabel="iteration",
      labels={"test_acc": f"test accuracy (%) on {config.num_test} test images",
              "train_loss": "training loss (cross-entropy)"},
      title=f"P4 Fig. 1a: FashionMNIST {config.num_train} images, SmallCNN, "
            f"{config.num_steps} iterations; training loss averaged over windows of {e}")

  s = _summary(config, results)
  rows = [[LABELS[m], report_lib.fmt_mean_std(100 * np.asarray(r["final_test_acc"]), 2),
           report_lib.fmt_mean_std(100 * np.asarray(r["best_test_acc"]), 2),
           report_lib.fmt_mean_std(np.asarray(r["final_train_loss_window"]), 4)]
          for m, r in ms.items()]
  vs = verdicts(config, results)
  setting = _setting.of(config, results)
  md = f"""# P4 Fig. 1a: FashionMNIST ({config.num_train} training images), small CNN

{config.num_train} images drawn from the official training split, test accuracy on
{config.num_test} random test-split images, SmallCNN ({results['num_params']} parameters,
N(0, 0.02²) init), raw 0..255 inputs × {config.pixel_scale}, optax.sgd(η =
{config.learning_rate}), SGD batch b = {config.batch_size} (without replacement), every MSGD
noise scaled to batch-b SGD, [Fisher-B] with B = {config.fisher_b}; **{config.num_steps}
iterations** (the paper: 10⁴, GPU), {config.num_seeds} seeds (seed i: the same initialization
for every method), seeds run `{config.seed_strategy}`, float32.
{datasets.report_line(results)}
{report_lib.markdown_table(["method", "final test acc (%)", "best test acc (%)",
                            f"train loss (last {e} iterations)"], rows)}
Spread of the final test accuracy across the noisy methods: {s['spread']:.2f} points; mean
seed-to-seed std: {s['seed_sd']:.2f} points; noisy methods minus GD: {s['gd_gap']:+.2f} points.

Paper (Fig. 1a, read off the plot, no table, so no number to put beside ours): MSGD-Cov,
MSGD-Fisher, MSGD-Bernoulli and MSGD-[Fisher-B] all reach about the SGD test accuracy and beat
GD; MSGD-Cov/Fisher converge faster than SGD.

![test accuracy](test_accuracy.png)

## Verdicts

""" + verdict_lib.markdown(vs)
  figs = {"test_accuracy": fig}
  return _setting.header(setting) + md, figs, vs
