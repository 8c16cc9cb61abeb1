"""P2 Figs. 3-4: escape time of SGD from a minimum vs learning rate and batch size (eq. 17, Cor. 4.6).

The recursion is plain mini-batch SGD, ``w_{k+1} = w_k - η ∇U_B(w_k)`` (P2 eq. 1). As in P2
Sec. 5, a three-layer ReLU network (``num_features``-16-16-2) is trained with SGD (lr 0.05,
batch 128) to a minimum w* of the cross-entropy on a small tabular classification set; SGD with
a smaller batch then restarts from w* (one ensemble member per seed,
:func:`chaosopt.train.ensemble.run_ensemble`) until it leaves the domain G.

**Data.** P2's UCI sets (Speech, Cardio, Ionosphere) cannot be downloaded here, and
scikit-learn (whose bundled breast-cancer table would be a real tabular set) is not installed;
it is a heavy dependency for one 569-row table that is no closer to P2's sets than a generated
one. The set is :func:`chaosopt.tasks.tabular.gaussian_blobs`: seeded, two overlapping classes
with label noise, so that the minimum has a training loss L* > 0.

**Domain G (the basin-exit criterion).** G is the connected sublevel set of the training loss
``{w : L(w) < ℓ}`` that contains w*, with ℓ the cross-entropy of the best constant predictor
(the labels' entropy, ≈ ln 2): the escape time is the first step whose full training loss is at
least ℓ, i.e. the network no longer predicts better than chance. Why this domain: P2's theory
(Sec. 4) requires of G that the noise-free flow started anywhere in G stays in G and converges
to the attractor — a sublevel set has this by construction for the gradient flow (the loss
never increases along −∇L) and for GD while η is below 2/λ along its path (the descent lemma;
the noise-free GD control checks it at every η of the sweep), so it can be left only by the
noise beating the drift, which is the exit problem that eq. 17 and Cor. 4.6 are about. The earlier criterion, a
ball ‖w − w*‖ > r, does not: its boundary cuts through the flat valleys of the minimum, where
the drift is 0, and it was left by a near-deterministic diffusion along them (std/mean 0.05).
ℓ is fixed by the data, not calibrated to put the exits into the horizon.

**Instability exits**, reported apart and excluded from the fits: (i) learning rates with
``η λ_max(w*) ≥ 2`` (λ_max: the top Hessian eigenvalue at w*, by power iteration), at which GD
itself is unstable at w*; (ii) runs whose loss is non-finite or that exit within ``burn_in``
steps (a jump straight out of the start, before the process relaxes into G). The statistics use
the residual times ``τ − burn_in`` of the other runs (:mod:`chaosopt.analysis.escape`).

* Fig. 3: the censored-exponential MLE of the mean escape time vs η (batch ``lr_batch``), with
  weighted fits of a power law ``E τ ∝ η^b`` (P2 eq. 17) and of the Kramers form
  ``log E τ = a + b/η``, each with χ²/dof and its p-value.
* Fig. 4: the survival ``P(τ > u)`` for several batch sizes and a censored KS test against the
  exponential law (Cor. 4.6).

Controls, through the same tests: noise-free GD from w* at the same learning rates, horizon and
exit rule (it must never leave G: the exits need the noise); exponential-law surrogates with the
fitted Kramers means (the power-law test must reject them, or it cannot tell the two forms
apart); Gamma(2) and exponential surrogates of the same size, mean and censoring (the KS test
must reject the first and keep the second); the largest batch's seeds split in two halves (no
difference). Variants: ``quick`` (a 200-step minimum, 2 learning rates × 8 seeds, one batch
size, at most 200 steps: a smoke run).
"""
from __future__ import annotations

import logging
import math
from typing import Optional

import numpy as np

from chaosopt.analysis import escape as esc
from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.experiments import _setting
from chaosopt.train import config as config_lib
from chaosopt.train import report as report_lib
from chaosopt.train import seeds as seeds_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.config import Int, Num, Positive, Schema, Seed, Seq

INFO = {"paper": "P2 Figs. 3-4", "title": "escape time of SGD from a minimum (tabular MLP)",
        "cost": "≈ 6 min CPU (362 s on a shared 2-core machine)", "gpu": False}
logger = logging.getLogger("chaosopt")

# the keys' types and ranges
SCHEMA = Schema({
    "seed": Seed(), "data_seed": Seed(), "num_train": Int(8), "num_features": Int(1),
    "label_noise": Num(0.0, 0.9), "hidden": Seq(Int(1)), "train_lr": Positive(),
    "train_batch": Int(1), "train_steps": Int(1), "burn_in": Int(0),
    "lrs": Seq(Positive(), order="increasing"), "lr_batch": Int(1), "lr_seeds": Int(2),
    "survival_lr": Positive(), "survival_batches": Seq(Int(1), order="increasing"),
    "survival_seeds": Int(2), "max_steps": Int(1), "min_events": Int(2),
    "chunk_size": Int(1)})
NUM_CLASSES = 2
# fixed before the run (not config): the decision rules' levels and resampling sizes
ALPHA = 0.05          # level of the χ² goodness-of-fit and KS tests
NUM_BOOT = 1000       # bootstrap resamples over runs (SE of log mean, ratio of means)
NUM_KS_DRAWS = 999    # parametric-bootstrap draws of the censored KS test
POWER_ITERATIONS = 100


def validate(config) -> None:
  SCHEMA.check(config)
  config_lib.require(config.burn_in < config.max_steps,
                     f"config.burn_in ({config.burn_in}) must be < max_steps "
                     f"({config.max_steps})")
  sizes = [config.num_features, *config.hidden, NUM_CLASSES]
  params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
  seeds = max(config.lr_seeds, config.survival_seeds)
  # per member: parameters, the step's copy, gradient and w*; the full-loss activations
  nbytes = 4.0 * seeds * (5 * params + 3 * config.num_train * max(sizes))
  config_lib.check_memory(nbytes, f"{seeds:,} seeds at once, {params:,} parameters each",
                          "lr_seeds, survival_seeds, hidden or num_train")


def _finite(carry, metrics):
  from chaosopt.train import ensemble
  return ensemble.all_finite(carry)


def run(config, workdir) -> dict:
  import jax
  import jax.flatten_util
  import jax.numpy as jnp

  from chaosopt.tasks import tabular
  from chaosopt.tasks.mlp import MLP
  from chaosopt.train import ensemble

  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  base = jax.random.key(config.seed)
  # distinct purposes: 0 = initialization, 1 = the SGD run to the minimum, 2 = escape runs
  xs, ys = tabular.gaussian_blobs(config.num_train, config.num_features,
                                  num_classes=NUM_CLASSES, label_noise=config.label_noise,
                                  seed=config.data_seed)
  level = tabular.label_entropy(ys, NUM_CLASSES)
  x, y = jnp.asarray(xs), jnp.asarray(ys)
  n = x.shape[0]
  model = MLP(features=tuple(config.hidden) + (NUM_CLASSES,), activation="relu")
  params0 = model.init(jax.random.fold_in(base, 0), x[:1])
  flat0, unravel = jax.flatten_util.ravel_pytree(params0)

  def ce(f, xb, yb):
    lg = model.apply(unravel(f), xb)
    return jnp.mean(jax.nn.logsumexp(lg, -1) - jnp.take_along_axis(lg, yb[:, None], -1)[:, 0])

  def full_loss(f):
    return ce(f, x, y)

  def sgd_step(f, key, lr, batch):
    # with replacement (batch << n)
    idx = jax.random.randint(key, (batch,), 0, n)
    return f - lr * jax.grad(ce)(f, x[idx], y[idx])

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
  acc = float(jnp.mean(jnp.argmax(model.apply(unravel(w_star), x), -1) == y))

  @jax.jit
  def top_eigenvalue(v):
    def body(v, _):
      hv = jax.jvp(jax.grad(full_loss), (w_star,), (v,))[1]
      return hv / jnp.linalg.norm(hv), None
    v, _ = jax.lax.scan(body, v / jnp.linalg.norm(v), None, length=POWER_ITERATIONS)
    return jnp.vdot(v, jax.jvp(jax.grad(full_loss), (w_star,), (v,))[1])

  lam = float(top_eigenvalue(jax.random.normal(jax.random.fold_in(base, 3), w_star.shape)))
  logger.info("minimum: train CE %.4f (accuracy %.3f), exit level %.4f (gap %.4f), "
              "lambda_max %.3g (2/lambda %.4g), %d params", l_star, acc, level,
              level - l_star, lam, 2 / lam, w_star.size)

  run_keys = jax.random.fold_in(base, 2)

  def escape_times(tag, lrs, batch, keys):
    """Escape step per member (``-1``: censored, ``-2``: non-finite loss); ``batch`` None is
    full-batch GD."""
    num = int(keys.shape[0])

    def init(key, hp):
      return {"w": w_star, "t": jnp.array(-1, jnp.int32)}

    def step(c, k, key, hp):
      w2 = c["w"] - hp["lr"] * jax.grad(full_loss)(c["w"]) if batch is None \
          else sgd_step(c["w"], key, hp["lr"], batch)
      loss2 = full_loss(w2)
      bad = ~jnp.isfinite(loss2)
      out = bad | (loss2 >= level)
      running = c["t"] == -1
      t_new = jnp.where(bad, jnp.array(-2, jnp.int32), (k + 1).astype(jnp.int32))
      return {"w": jnp.where(running & ~bad, w2, c["w"]),
              "t": jnp.where(running & out, t_new, c["t"])}, {}

    res = ensemble.run_ensemble(
        init, step, config.max_steps, keys=keys,
        hparams={"lr": jnp.asarray(np.broadcast_to(lrs, (num,)), jnp.float32)},
        chunk_size=config.chunk_size, is_finite=None, done=lambda c: c["t"] != -1,
        checkpoint_dir=wd.checkpoint_dir(tag), progress=True, desc=tag)
    t = np.asarray(res.carry["t"])
    logger.info("%s: left G %d/%d (stopped at step %d)", tag, int((t != -1).sum()), num,
                res.steps_done)
    return t

  lr_runs = {}
  for lr in config.lrs:
    tag = f"lr={lr}"
    lr_runs[lr] = wd.unit(tag, lambda lr=lr, tag=tag: escape_times(
        tag, lr, config.lr_batch, seeds_lib.member_keys(run_keys, config.lr_seeds)))
  surv = {}
  for b in config.survival_batches:
    tag = f"batch={b}"
    surv[b] = wd.unit(tag, lambda b=b, tag=tag: escape_times(
        tag, config.survival_lr, b, seeds_lib.member_keys(run_keys, config.survival_seeds)))
  gd_lrs = sorted(set(config.lrs) | {config.survival_lr})
  gd = wd.unit("gd_control", lambda: escape_times(
      "gd_control", np.asarray(gd_lrs), None,
      seeds_lib.member_keys(jax.random.fold_in(base, 4), len(gd_lrs))))
  return {"minimum": {"train_loss": l_star, "train_accuracy": acc, "exit_level": level,
                      "gap": level - l_star, "lambda_max": lam, "num_params": int(w_star.size)},
          "data": {"source": "synthetic: chaosopt.tasks.tabular.gaussian_blobs",
                   "num_train": n, "num_features": config.num_features,
                   "label_noise": config.label_noise, "seed": config.data_seed},
          "lr_sweep": [{"lr": lr, "t": t} for lr, t in lr_runs.items()],
          "survival": {str(b): t for b, t in surv.items()},
          "gd_control": {"lrs": gd_lrs, "t": gd}}


# ----------------------------------------------------------------------------- analysis
def _mle(t, config, seed=0) -> dict:
  return esc.exponential_mle(t, config.max_steps, config.burn_in, num_resamples=NUM_BOOT,
                             seed=seed)


def _fit_both(lrs, stats) -> dict:
  lrs = np.asarray(lrs, float)
  y = np.log([s["mean"] for s in stats])
  se = np.array([s["log_se"] for s in stats], float)
  return {"power_law": esc.rate_fit(np.log(lrs), y, se),
          "kramers": esc.rate_fit(1.0 / lrs, y, se)}


def _usable(s, config) -> bool:
  return s["events"] >= config.min_events and s["log_se"] is not None and s["log_se"] > 0


def polynomial_status(fits: dict) -> tuple[str, str]:
  """The decision rule of "E τ is polynomial in η" (P2 eq. 17), fixed here: reproduced if the
  power law is not rejected (χ² p ≥ ALPHA) and the Kramers form is; not reproduced if the power
  law is rejected; inconclusive if both fit (the data do not tell the forms apart)."""
  if not fits:
    return "inconclusive", "fewer than 3 stable learning rates with enough exits"
  pp, pk = fits["power_law"]["p"], fits["kramers"]["p"]
  if pp < ALPHA:
    return "not reproduced", ""
  if pk < ALPHA:
    return "reproduced", ""
  return "inconclusive", (f"both forms fit (power law p = {pp:.2g}, Kramers p = {pk:.2g}): "
                          "the data do not tell them apart")


def _sweep_stats(config, lr_rows, lam) -> tuple[list, dict]:
  rows = []
  for i, r in enumerate(lr_rows):
    s = _mle(r["t"], config, seed=i)
    s["lr"] = float(r["lr"])
    s["stable"] = bool(lam is None or r["lr"] * lam < 2.0)
    s["fitted"] = s["stable"] and _usable(s, config)
    rows.append(s)
  fit_rows = [s for s in rows if s["fitted"]]
  fits = _fit_both([s["lr"] for s in fit_rows], fit_rows) if len(fit_rows) >= 3 else {}
  return rows, fits


def _kramers_surrogate(config, rows, fits) -> dict:
  """The fitted Kramers means as exponential surrogates (same runs, burn-in and censoring),
  through the same estimator, fits and rule."""
  fit_rows = [s for s in rows if s["fitted"]]
  k = fits["kramers"]
  ts = [esc.surrogate_times("exponential", math.exp(k["a"] + k["b"] / s["lr"]), s["runs"],
                            config.max_steps, config.burn_in, seed=100 + i)
        for i, s in enumerate(fit_rows)]
  st = [_mle(t, config, seed=200 + i) for i, t in enumerate(ts)]
  ok = [i for i, s in enumerate(st) if _usable(s, config)]
  if len(ok) < 3:
    return {"fits": {}, "status": "inconclusive"}
  sfits = _fit_both([fit_rows[i]["lr"] for i in ok], [st[i] for i in ok])
  return {"fits": sfits, "status": polynomial_status(sfits)[0]}


def _survival(config, t, seed) -> dict:
  d = esc.residuals(t, config.max_steps, config.burn_in)
  s = _mle(t, config, seed=seed)
  ks = esc.censored_ks(d["r"], d["event"], d["c"], num_draws=NUM_KS_DRAWS, seed=seed)
  s.update({"ks": ks["ks"], "ks_p": ks["p"]})
  # controls of the same size, mean and censoring: Gamma(2) (must be rejected) and the
  # exponential law itself (must be kept)
  for kind in ("gamma2", "exponential"):
    if s["events"] >= 2 and math.isfinite(s["mean"]):
      ts = esc.surrogate_times(kind, s["mean"], s["runs"], config.max_steps, config.burn_in,
                               seed=seed + 1000 + len(kind))
      dd = esc.residuals(ts, config.max_steps, config.burn_in)
      s[f"{kind}_p"] = esc.censored_ks(dd["r"], dd["event"], dd["c"], num_draws=NUM_KS_DRAWS,
                                       seed=seed + 7)["p"]
    else:
      s[f"{kind}_p"] = None
  return s


def _ratio_ci(config, t_a, t_b, seed) -> dict:
  """Ratio of the censored MLE means of two sets of runs, with a percentile-bootstrap 95%
  interval (runs resampled independently in each set)."""
  da = esc.residuals(t_a, config.max_steps, config.burn_in)
  db = esc.residuals(t_b, config.max_steps, config.burn_in)
  rng = np.random.default_rng(seed)

  def mle(d, idx):
    r, ev = d["r"][idx], d["event"][idx]
    k = ev.sum(-1)
    return np.where(k > 0, r.sum(-1) / np.maximum(k, 1), np.inf)

  if da["r"].size == 0 or db["r"].size == 0:
    return {"ratio": None, "ci": [None, None]}
  est = float(mle(da, np.arange(da["r"].size)) / mle(db, np.arange(db["r"].size)))
  ia = rng.integers(0, da["r"].size, (NUM_BOOT, da["r"].size))
  ib = rng.integers(0, db["r"].size, (NUM_BOOT, db["r"].size))
  with np.errstate(invalid="ignore", divide="ignore"):
    boot = mle(da, ia) / mle(db, ib)
  boot = np.where(np.isnan(boot), np.inf, boot)
  lo, hi = np.quantile(boot, [0.025, 0.975])
  return {"ratio": est if math.isfinite(est) else None,
          "ci": [float(lo) if math.isfinite(lo) else None,
                 float(hi) if math.isfinite(hi) else None]}


def analysis(config, results) -> dict:
  """Every statistic the report and the verdicts use, from the stored escape steps (pure and
  seeded: the same results give the same numbers)."""
  lam = results["minimum"].get("lambda_max")
  rows, fits = _sweep_stats(config, results["lr_sweep"], lam)
  out = {"rows": rows, "fits": fits, "lambda_max": lam}
  out["kramers_surrogate"] = _kramers_surrogate(config, rows, fits) if fits else None
  gd = results.get("gd_control")
  if gd is not None:
    gt = dict(zip([float(v) for v in gd["lrs"]], np.asarray(gd["t"]).tolist()))
    out["gd"] = gt
  surv = {b: _survival(config, t, seed=10 * (i + 1))
          for i, (b, t) in enumerate(sorted(results["survival"].items(), key=lambda kv:
                                            int(kv[0])))}
  out["survival"] = surv
  bs = sorted(surv, key=int)
  if len(bs) > 1:
    big = np.asarray(results["survival"][bs[-1]])
    out["batch_ratio"] = _ratio_ci(config, results["survival"][bs[0]], big, seed=1)
    out["batch_ratio_control"] = _ratio_ci(config, big[0::2], big[1::2], seed=2)
  return out


# ----------------------------------------------------------------------------- verdicts
def _g(x, spec=".3g") -> str:
  return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def _gd_control(a: dict) -> Optional[dict]:
  """GD without noise, same start, learning rates, horizon and exit rule, judged on the fitted
  learning rates: not reproduced (no escape) if it never leaves G there, reproduced if it
  leaves at every one, inconclusive in between."""
  gd = a.get("gd")
  fitted = [s["lr"] for s in a["rows"] if s["fitted"]]
  if gd is None or not fitted:
    return None
  exits = [lr for lr in fitted if gd.get(float(lr), -1) != -1]
  status = ("not reproduced" if not exits else
            "reproduced" if len(exits) == len(fitted) else "inconclusive")
  return verdict_lib.control("GD without noise from w* (same η, horizon and exit rule)", status,
                             float(len(exits)), must_show="no exit from G at any fitted η")


def verdicts(config, results) -> list:
  """P2 Figs. 3-4's claims (:mod:`chaosopt.analysis.verdicts`), their rules fixed here."""
  setting = _setting.of(config, results)
  a = analysis(config, results)
  rows, fits = a["rows"], a["fits"]
  few = verdict_lib.too_few(config.lr_seeds, verdict_lib.MIN_SEEDS)
  out = []
  gd_ctl = _gd_control(a)
  excluded = [f"η {s['lr']:g} (" + ("ηλ_max ≥ 2" if not s["stable"] else
                                    f"{s['events']} exits") + ")"
              for s in rows if not s["fitted"]]
  early = sum(s["early"] for s in rows)
  sweep_detail = ("Mean residual escape steps (censored-exponential MLE): " + ", ".join(
      f"η {s['lr']:g}: {_g(s['mean'], '.0f')}" for s in rows) + f" (batch {config.lr_batch}, "
      f"{config.lr_seeds} runs each; {early} instability exits within {config.burn_in} steps "
      "excluded" + (f"; not fitted: {', '.join(excluded)}" if excluded else "") + ").")

  # 1. the mean escape time decreases with η (the power-law exponent b < 0)
  no_exit = all(s["events"] == 0 for s in rows if s["stable"])
  if fits:
    f = fits["power_law"]
    scale = math.sqrt(max(1.0, f["chi2"] / f["dof"])) if f["dof"] else 1.0
    ci = (f["b"] - 2 * scale * f["b_se"], f["b"] + 2 * scale * f["b_se"])
    status, reason = verdict_lib.interval_status(ci, 0.0, effect="below")
    est, unc = f["b"], ci
  elif no_exit:
    status, reason, est, unc = "not reproduced", "", None, "no run left G at a stable η"
  else:
    status, reason, est, unc = ("inconclusive", "fewer than 3 stable learning rates with "
                                f"≥ {config.min_events} exits", None, None)
  if few and status != "inconclusive":
    status, reason = "inconclusive", few
  out.append(verdict_lib.decide(
      "The mean escape time decreases with the learning rate.", "P2 Fig. 3, eq. 17",
      "exponent b of the weighted power-law fit E τ ∝ η^b over the stable learning rates",
      "reproduced if b's ± 2 SE interval (SE scaled by √(χ²/dof) when above 1) lies below 0, "
      f"not reproduced if at or above 0 or if no run leaves G; inconclusive below "
      f"{verdict_lib.MIN_SEEDS} runs per η",
      status=status, reason=reason, estimate=est, uncertainty=unc, control=gd_ctl,
      detail=sweep_detail))

  # 2. the dependence is polynomial (eq. 17), against the Kramers form
  if fits:
    status, reason = polynomial_status(fits)
    if few and status != "inconclusive":
      status, reason = "inconclusive", few
    sur = a["kramers_surrogate"]
    ctl = verdict_lib.control(
        "exponential surrogates with the fitted Kramers means (same runs, burn-in, censoring)",
        sur["status"], sur["fits"].get("power_law", {}).get("p"),
        must_show="the power law rejected or not preferred (a Kramers law is not polynomial)")
    fp, fk = fits["power_law"], fits["kramers"]
    out.append(verdict_lib.decide(
        "The mean escape time depends polynomially on η (Lévy noise), not exponentially in "
        "1/η (Kramers).", "P2 eq. 17, Fig. 3",
        "χ² goodness of fit of the power law (p given) and of the Kramers form, weighted by the "
        "bootstrap SE of log mean",
        f"reproduced if the power law is kept (p ≥ {ALPHA}) and the Kramers form rejected; not "
        f"reproduced if the power law is rejected; inconclusive if both are kept",
        status=status, reason=reason, estimate=fp["p"],
        uncertainty=(f"power law χ²/dof = {fp['chi2']:.3g}/{fp['dof']} (p = {fp['p']:.2g}, "
                     f"b = {fp['b']:.3g} ± {fp['b_se']:.2g}); Kramers χ²/dof = "
                     f"{fk['chi2']:.3g}/{fk['dof']} (p = {fk['p']:.2g}, b = {fk['b']:.3g} ± "
                     f"{fk['b_se']:.2g})"),
        control=ctl, detail=sweep_detail))

  # 3. exponential survival (Cor. 4.6), per batch
  for b, s in a["survival"].items():
    if s["ks_p"] is None or s["events"] < config.min_events:
      status, reason = "inconclusive", f"fewer than {config.min_events} exits after burn-in"
    else:
      status, reason = ("reproduced", "") if s["ks_p"] >= ALPHA else ("not reproduced", "")
    few_s = verdict_lib.too_few(config.survival_seeds, verdict_lib.MIN_SEEDS)
    if few_s and status != "inconclusive":
      status, reason = "inconclusive", few_s

    def ks_status(p):
      return "not tested" if p is None else "reproduced" if p >= ALPHA else "not reproduced"
    neg = verdict_lib.control("Gamma(2) surrogate of the same size, mean and censoring",
                              ks_status(s["gamma2_p"]), s["gamma2_p"],
                              must_show="the exponential law rejected (KS p < 0.05)")
    pos = verdict_lib.control("exponential (memoryless) surrogate of the same size, mean and "
                              "censoring", ks_status(s["exponential_p"]), s["exponential_p"],
                              must_show="the exponential law kept", expect="reproduced")
    status, reason = verdict_lib.apply_control(status, reason, pos)
    out.append(verdict_lib.decide(
        f"P(τ > u) decays exponentially in u (batch {b}).", "P2 Cor. 4.6, Fig. 4",
        "censored KS distance of the residual escape times from the exponential law at the MLE "
        "mean; parametric-bootstrap p-value",
        f"reproduced if p ≥ {ALPHA}, not reproduced if p < {ALPHA}; inconclusive with fewer "
        f"than {config.min_events} exits; the exponential surrogate must be kept and the "
        "Gamma(2) surrogate rejected by the same test (else no power)",
        status=status, reason=reason, estimate=s["ks_p"],
        uncertainty=f"KS D = {_g(s['ks'])}, {s['events']} exits of {s['runs']} runs "
                    f"({s['censored']} censored, {s['early']} instability exits apart)",
        control=neg,
        detail=f"η {config.survival_lr}; std/mean of the escaped residual times "
               f"{_g(s['cv_escaped'], '.2f')} (exponential: ≈ 1 when few are censored); "
               f"positive control (exponential surrogate): KS p = {_g(s['exponential_p'], '.2g')}"
               f" → {pos['status']}."))

  # 4. smaller batches escape faster
  if "batch_ratio" in a:
    bs = sorted(a["survival"], key=int)
    r, rc = a["batch_ratio"], a["batch_ratio_control"]
    status, reason = verdict_lib.interval_status(r["ci"], 1.0, effect="below")
    cst, _ = verdict_lib.interval_status(rc["ci"], 1.0, effect="below")
    few_s = verdict_lib.too_few(config.survival_seeds, verdict_lib.MIN_SEEDS)
    if few_s and status != "inconclusive":
      status, reason = "inconclusive", few_s
    out.append(verdict_lib.decide(
        "Smaller batches escape faster.", "P2 Fig. 4",
        f"ratio of the MLE mean escape times, batch {bs[0]} / batch {bs[-1]}, percentile-"
        "bootstrap 95% interval over runs",
        "reproduced if the interval lies below 1, not reproduced if it lies at or above 1",
        status=status, reason=reason, estimate=r["ratio"], uncertainty=tuple(r["ci"]),
        control=verdict_lib.control(f"batch {bs[-1]}'s runs split in halves (even / odd seeds)",
                                    cst, rc["ratio"], must_show="no difference"),
        detail="MLE mean residual escape steps " + ", ".join(
            f"batch {x}: {_g(a['survival'][x]['mean'], '.0f')}" for x in bs) + "."))
  return _setting.finish(setting, out)


# ----------------------------------------------------------------------------- report
def report(config, results):
  from matplotlib import ticker

  from chaosopt.train import plots

  a = analysis(config, results)
  rows, fits, mn = a["rows"], a["fits"], results["minimum"]
  lam = mn.get("lambda_max")

  # Fig. 3: MLE mean escape time vs learning rate
  fig3, ax = plots.subplots(figsize=(5.8, 4.1))
  for fitted, style, lab in ((True, "o", "fitted"), (False, "x", "not fitted")):
    sel = [s for s in rows if s["fitted"] == fitted and math.isfinite(s["mean"])]
    if not sel:
      continue
    m = np.array([s["mean"] for s in sel])
    se = np.array([s["log_se"] or 0.0 for s in sel])
    ax.errorbar([s["lr"] for s in sel], m, yerr=[m - m * np.exp(-2 * se), m * np.exp(2 * se) - m],
                fmt=style, color="C0" if fitted else "0.5", capsize=3,
                label=f"SGD batch {config.lr_batch}, {config.lr_seeds} runs ({lab}; ± 2 SE)")
  lrs = np.array([s["lr"] for s in rows])
  xx = np.geomspace(lrs.min(), lrs.max(), 100)
  if fits:
    f = fits["power_law"]
    ax.plot(xx, np.exp(f["a"] + f["b"] * np.log(xx)), "k--",
            label=f"power law ∝ η^{plots.fmt_num(f['b'])} (χ²/dof {f['chi2']:.3g}/{f['dof']})")
    f = fits["kramers"]
    ax.plot(xx, np.exp(f["a"] + f["b"] / xx), ":", color="C3",
            label=f"Kramers ∝ exp({plots.fmt_num(f['b'])}/η) (χ²/dof {f['chi2']:.3g}/{f['dof']})")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xticks(lrs, [plots.fmt_num(v) for v in lrs])
  ax.xaxis.set_minor_locator(ticker.NullLocator())
  plots.label_axes(ax, "learning rate η", "mean residual escape time (steps)",
                   "P2 Fig. 3: exit from {L < chance level}")
  plots.legend(ax, fontsize=7.5)

  # Fig. 4: survival of the residual times per batch size, exponential at the MLE mean
  fig4, ax = plots.subplots(figsize=(5.8, 4.1))
  bs = sorted(results["survival"], key=int)
  for i, b in enumerate(bs):
    d = esc.residuals(results["survival"][b], config.max_steps, config.burn_in)
    u = np.unique(d["r"][d["event"]])
    if not len(u):
      continue
    p = np.array([np.mean(d["r"] > v) for v in u])
    st = a["survival"][b]
    ax.step(np.concatenate([[0.0], u]), np.concatenate([[1.0], np.where(p > 0, p, np.nan)]),
            where="post", color=f"C{i}",
            label=f"batch {b} (mean {plots.fmt_num(st['mean'])}, KS p {_g(st['ks_p'], '.2g')})")
    uu = np.linspace(0, u.max(), 100)
    ax.plot(uu, np.exp(-uu / st["mean"]), "--", color=f"C{i}", lw=0.9)
  ax.set_yscale("log")
  n_min = min(len(np.asarray(t)) for t in results["survival"].values())
  ax.set_ylim(0.5 / n_min, 1.3)
  plots.log_ticks(ax, "y")
  plots.label_axes(ax, "u = τ − burn-in (steps)", "P(τ − burn-in > u)",
                   f"P2 Fig. 4: η = {plots.fmt_num(config.survival_lr)} (dashed: exponential)")
  plots.legend(ax, fontsize=7.5)

  vs = verdicts(config, results)
  setting = _setting.of(config, results)
  gd = a.get("gd", {})
  table1 = report_lib.markdown_table(
      ["η", "η·λ_max", "runs", "instability exits (≤ burn-in / non-finite)", "exits after",
       "censored", "mean residual τ (MLE) [± 2 SE]", "median", "fitted",
       "GD without noise"],
      [[plots.fmt_num(s["lr"]), _g(None if lam is None else s["lr"] * lam, ".2f"), s["num"],
        f"{s['early']} ({s['diverged']} non-finite)", s["events"], s["censored"],
        f"{_g(s['mean'], '.0f')} [{_g(s['mean'] * math.exp(-2 * s['log_se']), '.0f')}, "
        f"{_g(s['mean'] * math.exp(2 * s['log_se']), '.0f')}]" if s["log_se"] else
        _g(s["mean"], ".0f"), _g(s["median"], ".0f"), "yes" if s["fitted"] else "no",
        "stays in G" if gd.get(s["lr"], -1) == -1 else f"leaves at step {gd[s['lr']]}"]
       for s in rows])
  fit_md = ""
  if fits:
    fit_md = "\n".join(
        f"- {name}: b = {f['b']:.4g} ± {f['b_se']:.2g}, χ²/dof = {f['chi2']:.3g}/{f['dof']} "
        f"(p = {f['p']:.2g})" for name, f in (("power law log τ = a + b log η", fits["power_law"]),
                                              ("Kramers log τ = a + b/η", fits["kramers"])))
    sur = a["kramers_surrogate"]
    if sur and sur["fits"]:
      fit_md += ("\n- control, exponential surrogates with the Kramers fit's means: power law "
                 f"p = {sur['fits']['power_law']['p']:.2g}, Kramers p = "
                 f"{sur['fits']['kramers']['p']:.2g} → {sur['status']}")
    fit_md += "\n"
  table2 = report_lib.markdown_table(
      ["batch", "runs", "instability exits", "exits after", "censored", "mean residual τ (MLE)",
       "median", "std/mean of exits", "KS D (p)", "Gamma(2) surrogate p", "exponential "
       "surrogate p"],
      [[b, s["num"], s["early"], s["events"], s["censored"], _g(s["mean"], ".0f"),
        _g(s["median"], ".0f"), _g(s["cv_escaped"], ".2f"),
        f"{_g(s['ks'], '.3f')} ({_g(s['ks_p'], '.2g')})", _g(s["gamma2_p"], ".2g"),
        _g(s["exponential_p"], ".2g")] for b, s in a["survival"].items()])
  ratio_md = ""
  if "batch_ratio" in a:
    r, rc = a["batch_ratio"], a["batch_ratio_control"]
    ratio_md = (f"Ratio of mean escape times, batch {bs[0]} / {bs[-1]}: {_g(r['ratio'])} "
                f"(95% bootstrap [{_g(r['ci'][0])}, {_g(r['ci'][1])}]); control, batch "
                f"{bs[-1]} even / odd seeds: {_g(rc['ratio'])} ([{_g(rc['ci'][0])}, "
                f"{_g(rc['ci'][1])}]).\n")
  dat = results["data"]
  md = f"""# Escape time of SGD from a minimum (P2 Figs. 3–4)

Data: a seeded synthetic table (`chaosopt.tasks.tabular.gaussian_blobs`, seed
{dat['seed']}): {dat['num_train']} rows, {dat['num_features']} standardized features, two
overlapping classes (two Gaussian blobs each), {dat['label_noise']:.0%} of the labels flipped.
P2's UCI tables (Speech, Cardio, Ionosphere) cannot be downloaded here and scikit-learn (its
bundled breast-cancer table) is not installed. MLP {config.num_features}-{'-'.join(map(str, config.hidden))}-2 ReLU
({mn['num_params']} parameters), cross-entropy, trained {config.train_steps} SGD steps (η
{config.train_lr}, batch {config.train_batch}) to w* with train CE L* = {mn['train_loss']:.4f}
(accuracy {mn['train_accuracy']:.3f}); top Hessian eigenvalue λ_max(w*) = {_g(lam, '.4g')}
(GD is linearly unstable at w* for η ≥ 2/λ_max = {_g(2 / lam if lam else None, '.4g')}).

**Escape = exit from G = {{w : L(w) < ℓ}}**, ℓ = {mn['exit_level']:.4f} the cross-entropy of the
best constant predictor (the labels' entropy), Δ = ℓ − L* = {mn['gap']:.4f}: the first step at
which the full training loss reaches chance level. The gradient flow never increases the loss,
nor does GD while η is below 2/λ along its path (the last column of the table checks it: GD
without noise from w* at each η), so G is invariant under the drift, as P2's domain must be;
it is left only when the noise beats the drift. ℓ is fixed by the data, not tuned. Runs start at w*, are
stopped at their exit and censored at {config.max_steps} steps; seed i uses the same key in
every setting. **Instability exits** — a non-finite loss or an exit within the first
{config.burn_in} steps — are counted apart; the statistics use the residual times τ −
{config.burn_in} of the other runs (for an exponential law they have the same law). Learning
rates with η·λ_max ≥ 2 are not fitted. Means are censored-exponential MLEs (exposure / exits);
their SEs come from a bootstrap over runs, which does not assume the exponential law.

## Mean escape time vs learning rate (Fig. 3, batch {config.lr_batch})

{table1}
Weighted fits over the fitted learning rates (y = log mean, weights 1/SE²):

{fit_md}
![mean escape time](escape_vs_lr.png)

## Survival P(τ > u) (Fig. 4, η = {config.survival_lr})

{table2}
{ratio_md}
KS: distance between the empirical CDF of the residual times (on [0, censoring)) and the
exponential CDF at the MLE mean; p from {NUM_KS_DRAWS} exponential draws of the same size and
censoring with the mean re-estimated. The surrogates are the test's controls: an exponential law
must be kept, a Gamma(2) law (std/mean 0.71) rejected.

![survival](survival.png)

Paper: the mean escape time decreases with the learning rate (Fig. 3, polynomially per eq. 17;
P2 fits its Lévy form, Mori et al.'s and Xie et al.'s and finds all fit; no numbers printed) and
P(τ > u) decays exponentially in u (Cor. 4.6), faster for smaller batches (Fig. 4).

## Verdicts

""" + verdict_lib.markdown(vs)
  figs = {"escape_vs_lr": fig3, "survival": fig4}
  return _setting.header(setting) + md, figs, vs
