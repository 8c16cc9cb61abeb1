"""P0 Fig. 2: the widening valley ℓ(u, v) = v² ‖u‖² / 2, d = 10, from (u0, 0), u0 ~ 5·U[0,1]^d.

The recursion is P0 eq. 8 (MPGD, γ = 0.7, β = 0.5), its eq. 11 variant, the Gaussian baseline
(noise η^0.5, and unscaled η^0 as in the authors' script) and plain GD, with η = 0.01,
μ = 0.02, σ = 0.05 (:func:`chaosopt.train.table.run_table`). GD cannot move (the gradient
vanishes at v = 0); the paper's claim is that MPGD drifts towards flatter regions (smaller
Hessian trace tr ∇²ℓ = d v² + ‖u‖²). Per-step metrics are recorded (paths in the
(v, ‖u‖²) plane, the trace).

Variant ``authors``: the authors' script's process instead (scalar u on (5, 50], Gauss-Seidel
updates whose v-term multiplies u, Gaussian noise of mean 10 and 1, their chain seeds; see
:mod:`chaosopt.experiments._valley_authors`), value for value, in float64, with γ ∈ {0.6, 0.7,
0.8}, 8000 steps and the control ``mpgd_0.7_vterm_v`` (the v-update's multiplicative term on v,
as in P0). Variants ``quick`` (200 steps, 2 seeds) and ``seeds100`` combine with it.
"""
from __future__ import annotations

import logging
from typing import Optional

import ml_collections
import numpy as np
from matplotlib import ticker as mticker

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.experiments import _paired, _setting
from chaosopt.experiments import _valley_authors as va
from chaosopt.train import config as config_lib
from chaosopt.train import ensemble
from chaosopt.train import report as report_lib
from chaosopt.train import results as results_lib
from chaosopt.train import schemes as schemes_lib
from chaosopt.train import seeds as seeds_lib
from chaosopt.train import table
from chaosopt.train import workdir as workdir_lib

logger = logging.getLogger("chaosopt")

INFO = {"paper": "P0 (MPGD) Fig. 2", "title": "widening valley, d = 10",
        "cost": "≈ 30 s CPU (8 seeds × 10⁴ steps)", "gpu": False}


def _is_authors(config) -> bool:
  return config.get("process", "paper") == "authors"


# the keys' types and ranges (table.SCHEMA: the scheme-table keys; the schemes are checked
# against their registered kinds and the task's arguments by its factory, building it)
SCHEMA = table.SCHEMA.extend({
    "process": config_lib.Opt(config_lib.OneOf("paper", "authors")),
    "history_points": config_lib.Int(0)})
# the authors' process: no task, no seed strategy; their seeds are authors_seed + seed
AUTHORS_SCHEMA = config_lib.Schema({
    "learning_rate": config_lib.Positive(), "num_steps": config_lib.Int(1),
    "num_seeds": config_lib.Int(1), "first_seed": config_lib.Seed(), "seed": config_lib.Seed(),
    "chunk_size": config_lib.Int(1), "checkpoint_every": config_lib.Opt(config_lib.Int(1)),
    "authors_seed": config_lib.Seed(), "process": config_lib.OneOf("authors"),
    "per_step_metrics": config_lib.Bool(), "history_points": config_lib.Int(0),
    "only": config_lib.Str(), "headline": config_lib.Opt(config_lib.Seq(config_lib.Str(),
                                                                      min_len=0))})


def schema_for(config) -> config_lib.Schema:
  """The schema of ``config``: :data:`AUTHORS_SCHEMA` for the authors' process, else
  :data:`SCHEMA`."""
  return AUTHORS_SCHEMA if _is_authors(config) else SCHEMA


def validate(config) -> None:
  if not _is_authors(config):
    table.validate(config, SCHEMA)
    return
  AUTHORS_SCHEMA.check(config)
  chk = config_lib.require
  last = config.authors_seed + config.first_seed + config.num_seeds - 1
  chk(last <= config_lib.MAX_SEED, f"config.authors_seed + first_seed + num_seeds - 1 = {last} "
                                   f"exceeds {config_lib.MAX_SEED} (their seeds)")
  names = []
  for i, s in enumerate(config.schemes):
    chk(isinstance(s, (dict, ml_collections.ConfigDict)) and isinstance(s.get("name"), str)
        and s["name"],
        f"config.schemes[{i}] must be a dict with a non-empty string 'name', got {s!r}")
    s, where = dict(s), f"config.schemes[{i}]"
    names.append(s.get("name"))
    chk(s.get("kind") in va.OPTIONS,
        f"{where}.kind must be one of {va.OPTIONS} (their options), got {s.get('kind')!r}")
    allowed = {"name", "kind"} | ({"mu", "sigma"} if s["kind"] != "gd" else set()) | (
        {"gamma", "beta", "v_term"} if s["kind"] == "mpgd" else set())
    extra = sorted(set(s) - allowed)
    chk(not extra, f"{where}: unknown key(s) {extra} for kind {s['kind']!r}; allowed "
                   f"{sorted(allowed)}")
    for k in ("mu", "sigma"):
      if k in allowed:
        config_lib.NonNegative().check(f"{where}.{k}", s.get(k))
    if s["kind"] == "mpgd":
      config_lib.Num(0.5, 1, lo_open=True, hi_open=True).check(f"{where}.gamma", s.get("gamma"))
      config_lib.Num(-1, 1).check(f"{where}.beta", s.get("beta", 0.5))
      config_lib.OneOf("u", "v").check(f"{where}.v_term", s.get("v_term", "u"))
  chk(len(set(names)) == len(names), f"duplicate scheme names {names}")
  schemes_lib.selected(config)
  # per scheme, live: their noise table and the per-step metrics of every seed (float64)
  n = len(schemes_lib.selected(config))
  nbytes = 8.0 * config.num_seeds * config.num_steps * (2 + 8) * (1 + 0.1 * n)
  config_lib.check_memory(nbytes, f"{config.num_seeds} seeds x {config.num_steps} steps of "
                                  f"noise and per-step metrics", "num_seeds or num_steps")


def run(config, workdir) -> dict:
  if _is_authors(config):
    return _run_authors(config, workdir)
  return table.run_table(config, workdir)


def _run_scheme(config, scheme: dict, wd) -> dict:
  """One scheme of the authors' process for every seed (members vmapped; float64)."""
  import jax.numpy as jnp
  seeds = list(range(config.first_seed, config.first_seed + config.num_seeds))
  theirs = [config.authors_seed + s for s in seeds]
  eta, steps = float(config.learning_rate), int(config.num_steps)
  noise, sigma0, mu0 = va.scheme_inputs(scheme, theirs, eta, steps)
  v_on_v = scheme.get("v_term", "u") == "v"
  hp = {"noise": jnp.asarray(noise, jnp.float64),
        "u0": jnp.asarray([va.initial_u(s) for s in theirs], jnp.float64)}

  def init(key, h):
    del key
    return h["u0"], jnp.zeros((), jnp.float64)

  def step(carry, k, key, h):
    del key
    u, v = carry
    u1, v1 = va.step(u, v, h["noise"][k], sigma0, mu0, eta, xp=jnp, v_term_on_v=v_on_v)
    return (u1, v1), va.metrics(u1, v1, xp=jnp)

  res = ensemble.run_ensemble(
      init, step, steps, keys=seeds_lib.seed_keys(config.seed, len(seeds)), hparams=hp,
      chunk_size=min(config.chunk_size, steps),
      evaluate=lambda c, h: va.metrics(*c, xp=jnp),
      checkpoint_dir=wd.checkpoint_dir(scheme["name"]), progress=True, desc=scheme["name"])
  u0 = np.asarray(hp["u0"])
  initial = va.metrics(u0, np.zeros_like(u0))
  final = va.metrics(*(np.asarray(x, np.float64) for x in res.carry))
  hparams = {k: v for k, v in scheme.items() if k not in ("name", "kind")}
  hparams.update({"sigma0": sigma0, "mu0": mu0})
  record = results_lib.scheme_record(
      scheme["name"], scheme["kind"], hparams, seeds, initial=initial, final=final,
      eval_steps=res.eval_steps, evals=res.evals, diverged_at=res.diverged_at,
      history=res.history, their_seeds=theirs)
  return record.to_dict(int(config.get("history_points", 0) or steps))


def _run_authors(config, workdir) -> dict:
  from chaosopt.tasks import multiscale as ms
  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  records, messages = {}, []
  with ms.x64_scope(True):  # their NumPy recursion is float64
    for s in schemes_lib.selected(config):
      r = results_lib.SchemeRecord.from_dict(
          wd.unit(s["name"], lambda s=s: _run_scheme(config, s, wd)), s["name"])
      records[s["name"]] = r
      div = np.asarray(r.diverged_at)
      n_div = int(np.sum(div >= 0))
      logger.info("%s: median final trace %.4g, %d/%d seeds diverged", s["name"],
                  np.nanmedian(np.where(div < 0, r.final["hessian_trace"], np.nan)), n_div,
                  len(r.seeds))
      if n_div:
        messages.append(f"scheme {s['name']!r}: {n_div}/{len(r.seeds)} seeds diverged "
                        f"(non-finite u or v); their last finite values are excluded from the "
                        f"summary statistics and counted in the verdicts")
  return table.block(records, process="authors", messages=messages,
                     task={"name": "widening_valley (the authors' script)", "dim": 1,
                           "init": "u0 = 5 * uniform(low=10, high=1) of RandomState(their "
                                   "seed)"})


def _ratio(results, name):
  s = results["schemes"][name]
  fin = np.asarray(table.values(results, "hessian_trace")[name])
  init = np.asarray(s["initial"]["hessian_trace"], np.float64)
  return fin / init


def _mean_sd(x) -> str:
  return f"{np.mean(x):.2f} ± {np.std(x, ddof=1) if x.size > 1 else 0:.2f}"


def _authors_header(config, results, init_tr) -> str:
  first = next(iter(results["schemes"].values()))
  theirs = first.get("their_seeds", [])
  return f"""# P0 Fig. 2 in the authors' process — widening valley, their script

{config.num_seeds} seeds × {config.num_steps} iterations × {len(results["summary"])} schemes,
float64. This is **not** P0's recursion: it is what the authors' script
(shoelim/mpgd, `wideningvalleyloss_minimization/minimizing_widening_valley_loss.py`; see
`docs/authors_code.md`) runs, reproduced value for value: u is a **scalar**,
u0 = 5·uniform(low=10, high=1) ∈ (5, 50] from their seed (ours: seeds
{theirs[0] if theirs else "–"}…{theirs[-1] if theirs else "–"}, their figure uses 2222); v0 = 0;
the v-update uses the new u and its "multiplicative" term is −μ0 m u (u, not v); MPGD:
σ0 = σ η^γ, μ0 = μ η^γ, three chains (seeds S, S+123, S+1234; one shared by both
multiplicative terms), additive +σ; Gaussian: a ~ N(10, 1), the other three draws N(1, 1), no η
factor. η = {config.learning_rate}; σ, μ, β per scheme in the table below. Control
`mpgd_0.7_vterm_v`: their process with
the v-update's multiplicative term on v (as in P0). "tr ∇²ℓ" is the Hessian trace v² + u² of
their scalar-u loss (their plot shows 10 v² + u², recorded as `their_trace`). Mean ± std
(ddof = 1) over seeds that did not diverge; every scheme of a seed starts from the same u0.
Initial tr ∇²ℓ = u0²: {_mean_sd(init_tr)}. The schemes as run:

{table.hparams_markdown(results)}"""


def _authors_mechanism(config, results) -> str:
  """Which seeds diverge (by u0) and the stability threshold of the v-update, from the data."""
  lines = []
  eta = float(config.learning_rate)
  for name, e in results["schemes"].items():
    d = np.asarray(e["diverged_at"]) >= 0
    if not d.any():
      continue
    u0 = np.sqrt(np.asarray(e["initial"]["u_norm2"], np.float64))
    lines.append(f"| {name} | {int(d.sum())}/{d.size} | {u0[d].min():.1f}–{u0[d].max():.1f} | "
                 f"{u0[~d].min():.1f}–{u0[~d].max():.1f} |" if (~d).any() else
                 f"| {name} | {int(d.sum())}/{d.size} | {u0[d].min():.1f}–{u0[d].max():.1f} | – |")
  if not lines:
    return ""
  return (f"""
## Why seeds diverge, and why the survivors end flatter

The v-update is GD on v with curvature u² and step η = {eta:g}: it is unstable when η u² > 2,
i.e. u > {np.sqrt(2 / eta):.1f}, and their u0 lies in (5, 50]. GD never leaves v = 0, but any
perturbation of v then grows until the term −η u v² of the u-update has shrunk u below the
threshold (the trace drops) or v overflows (the seed diverges; their own script gives NaN for
these seeds too). Which seeds diverge, by u0:

| scheme | diverged | u0 of diverged seeds | u0 of the others |
|---|---|---|---|
""" + "\n".join(lines) + """

All noisy rows lower the trace of the seeds that survive: the control `mpgd_0.7_vterm_v`
(multiplicative v-term on v, as in P0) as much as `mpgd_0.7`, and the Gaussian baseline less (its
additive noise has mean 10: a drift of +10 σ per step in u). In this process the drop of the
trace comes from the instability of the v-update at large u, which any perturbation of v
triggers, rather than from a property of the chaotic perturbation. P0's Fig. 2 setting (u ∈ R^10,
u0 ~ 5·U[0,1]^10, ‖u0‖² ≈ 83 < 2/η) is stable, and there the trace grows (report
`widening_valley_seeds100`).
""")


def _g(x, spec: str) -> str:
  """``x`` formatted, or "–" where a statistic is undefined (too few finite seeds)."""
  return "–" if x is None or not np.isfinite(x) else format(x, spec)


def _trace_row(results, name, comps) -> Optional[dict]:
  rows = {r["scheme"]: r for r in comps.get("gd", [])}
  return rows.get(name)


def verdicts(config, results) -> list:
  """The verdicts of P0 Fig. 2 (:mod:`chaosopt.analysis.verdicts`): GD does not move; each
  chaotic scheme lowers the Hessian trace, paired against GD by seed, with the Gaussian
  baseline as the negative control."""
  setting = _setting.of(config, results)
  summary = results["summary"]
  authors = results.get("process") == "authors"
  out = []
  if "gd" in summary:
    r = _ratio(results, "gd")
    dev = float(np.nanmax(np.abs(r - 1))) if np.isfinite(r).any() else None
    status = ("not tested" if dev is None else
              verdict_lib.interval_status((dev, dev), 1e-5, effect="below")[0])
    # the control: a perturbed scheme from the same start must move under the same rule (else
    # the ratio cannot see motion); the Gaussian baseline, else the first other scheme
    others = [n for n in summary if n != "gd"]
    moved = "gaussian" if "gaussian" in summary else (others[0] if others else None)
    ctrl = None
    if moved is not None:
      rc = _ratio(results, moved)
      cdev = float(np.nanmax(np.abs(rc - 1))) if np.isfinite(rc).any() else None
      ctrl = verdict_lib.control(
          f"{moved} from the same start", "not tested" if cdev is None else
          verdict_lib.interval_status((cdev, cdev), 1e-5, effect="below")[0], cdev,
          must_show="motion under the same rule (a perturbed scheme leaves v = 0, so its "
                    "|ratio − 1| must exceed 1e-5)")
    out.append(verdict_lib.decide(
        "GD does not move (the gradient vanishes on v = 0).", "P0 Fig. 2",
        "max over seeds of |final/initial trace ratio − 1| of GD", "reproduced if below 1e-5 "
        "for every seed (an exact property: GD from v = 0 has zero gradient)", status=status,
        estimate=dev, uncertainty="exact (deterministic)", control=ctrl))
  comps = table.paired_comparisons(results, "hessian_trace", ("gd", "gaussian"))
  chaotic = [n for n, e in results["schemes"].items() if e["kind"] in ("mpgd", "eq11")]
  n_div = {n: sum(1 for d in results["diverged"] if d["scheme"] == n) for n in summary}
  ctrl_row = _trace_row(results, "gaussian", comps)
  for name in chaotic:
    row = _trace_row(results, name, comps)
    if row is None:
      continue
    comp = _paired.claim_status([row])
    ctrl = None
    if ctrl_row is not None:
      cs = _paired.claim_status([ctrl_row])["status"]
      ctrl = verdict_lib.control(
          "gaussian vs GD", cs, ctrl_row["mean_diff"],
          must_show="no trace reduction by Gaussian-perturbed GD under the same rule (the "
                    "paper: it does not settle in flat regions)")
    r = _ratio(results, name)
    why = ""
    if comp["status"] == "not reproduced" and not authors:
      why = (" On the valley floor u feels only the noise: the additive term σ η^γ v2 is an "
             "unrestrained heavy-tailed walk in every u-coordinate, which inflates ‖u‖², while "
             "the multiplicative term is too weak to shrink it.")
    div = (f" {n_div[name]}/{r.size} seeds diverged and are excluded pairwise (the comparison "
           f"is of the survivors only)." if n_div[name] else "")
    out.append(verdict_lib.decide(
        f"{name} drives the Hessian trace down (towards flatter regions than GD, which stays "
        f"at the start).", "P0 Fig. 2" + (" (authors' script's process)" if authors else ""),
        f"mean paired difference of the final tr ∇²ℓ, {name} − GD",
        _paired.RULE_NO_GAIN,
        status=comp["status"], reason=comp["reason"], estimate=row["mean_diff"],
        uncertainty=(row["ci_low"], row["ci_high"]), control=ctrl,
        detail=f"± {_g(row['se_diff'], '.3g')} (SE), {row['n_improved']}/{row['n']} seeds "
               f"lower, Holm p (t) = {_g(row['p_ttest_holm'], '.3g')}; trace ratio "
               f"final/initial median {_g(np.nanmedian(r), '.3f')}, lower for "
               f"{int(np.sum(r < 1))}/{r.size} seeds.{div}{why}"))
  return _setting.finish(setting, out)


def report(config, results):
  from chaosopt.train import plots
  summary = results["summary"]
  setting = _setting.of(config, results)

  def ms(name, metric):
    e = summary[name][metric]
    return "–" if e["mean"] is None else f"{e['mean']:.4g} ± {e['std'] or 0:.3g}"

  rows = []
  for name in summary:
    r = _ratio(results, name)
    n_div = sum(1 for d in results["diverged"] if d["scheme"] == name)
    rows.append([name, ms(name, "loss"), ms(name, "hessian_trace"), ms(name, "u_norm2"),
                 ms(name, "v"), f"{np.nanmedian(r):.3f}", f"{np.nanmean(r < 1):.0%}",
                 f"{n_div}/{config.num_seeds}"])
  tab = report_lib.markdown_table(
      ["scheme", "final loss", "final tr ∇²ℓ", "final ‖u‖²", "final v",
       "trace ratio final/initial (median)", "seeds with lower trace", "diverged"], rows)
  init_tr = np.asarray(next(iter(results["schemes"].values()))["initial"]["hessian_trace"],
                       np.float64)
  comps = table.paired_comparisons(results, "hessian_trace", ("gd", "gaussian"))
  vs = verdicts(config, results)
  authors = results.get("process") == "authors"
  if authors:
    md = _authors_header(config, results, init_tr)
  else:
    eta = float(config.learning_rate)
    md = f"""# P0 Fig. 2 — widening valley ℓ(u, v) = v²‖u‖²/2, d = {results['task'].get('dim', '–')}

{config.num_seeds} seeds × {config.num_steps} iterations × {len(summary)} schemes. The paper
does not state the number of iterations of Fig. 2 (η = {eta:g}: {1 / eta:g} steps per unit of
time).

Setup: start (u0, 0) with u0 ~ 5·U[0,1]^d drawn per seed (a vector, as the paper states; the
authors' script draws a scalar: variant `authors`), d = {results['task'].get('dim', '–')}.
Gaussian rows: i.i.d. N(0, 1) noise scaled by η^exponent (`exponent` 0: σ ξ per step, as in the
authors' script, whose noise mean of 10 is reproduced only by variant `authors`). Mean ± std
(ddof = 1) over seeds that did not diverge; every scheme of a seed starts from the same u0.
Initial tr ∇²ℓ = ‖u0‖²: {_mean_sd(init_tr)}. The schemes as run:

{table.hparams_markdown(results)}"""
  md += f"""
{tab}
## Paired comparisons
{table.paired_markdown(comps, "hessian_trace")}
Diverged seeds are excluded pairwise from the paired tests (see the table's last column).

## Verdicts

""" + verdict_lib.markdown(vs)
  if authors:
    md += _authors_mechanism(config, results)
  if results.get("messages"):
    md += "\n## Diverged runs\n\n" + "\n".join(f"- {m}" for m in results["messages"]) + "\n"
  schemes = table.scheme_dicts(results)
  colors = plots.scheme_colors(schemes)
  noisy = [n for n in results["schemes"] if n != "gd"]
  fig, axes = plots.subplots(1, len(noisy) + 1, figsize=(3.4 * (len(noisy) + 1), 3.4))
  axes = np.atleast_1d(axes)
  for ax, name in zip(axes, noisy):
    s = results["schemes"][name]
    v = np.asarray(s["history"]["v"], np.float64)
    u2 = np.asarray(s["history"]["u_norm2"], np.float64)
    u0 = np.asarray(s["initial"]["u_norm2"], np.float64)
    shown = min(8, v.shape[0])
    for j in range(shown):
      ax.plot(np.r_[0.0, v[j]], np.r_[u0[j], u2[j]], lw=0.7, color=colors[name], alpha=0.8,
              label=f"one path per seed ({shown} of {v.shape[0]} shown)" if j == 0 else None)
    ax.plot(np.zeros(shown), u0[:shown], "k.", ms=4, label="start (u0, 0)")
    shown_u2 = [u0[:shown], u2[:shown]]
    if np.all(plots._pool(shown_u2) > 0):  # noqa: SLF001
      # a log axis with labelled 1-2-5 ticks when under ~1.5 decades, linear under 1 decade
      if plots.auto_yscale(ax, shown_u2, decades=1.0) == "linear":
        ax.yaxis.set_major_locator(mticker.MaxNLocator(nbins=5))
    else:  # paths reaching ‖u‖² = 0 (the authors' process)
      ax.set_yscale("symlog", linthresh=1.0)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=4))
    plots.label_axes(ax, "v", "‖u‖²", title=name)
    plots.legend(ax, outside=False)
  ax = axes[-1]
  for name, s in results["schemes"].items():
    tr = np.asarray(s["history"]["hessian_trace"], np.float64)
    plots.curves(ax, np.asarray(s["history_steps"]), tr, label=name, color=colors[name],
                 band="iqr")
  plots.auto_yscale(ax, [np.asarray(s["history"]["hessian_trace"], np.float64)
                         for s in results["schemes"].values()])
  ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=4))
  plots.label_axes(ax, "step (iterations)", "Hessian trace tr ∇²ℓ",
                   title="Hessian trace (all seeds)")
  plots.legend(ax, outside=True)
  fig.suptitle("paths in the (v, ‖u‖²) plane; right: " + plots.band_note("iqr", config.num_seeds),
               fontsize=10)
  figs = {"fig2": fig}
  return _setting.header(setting) + md, figs, vs
