"""Noise ablation: a chaotic noise beside its matched controls on any registered task, with
verdicts on "the chaos matters" (execution layer; P0 eq. 8 and its controls, no new equation).

``chaosopt ablate --task NAME --kind mpgd --config.gamma=0.6 --config.sigma=0.02`` runs, through
the same seeds and initial parameters (one scheme table, :func:`chaosopt.train.table.run_table`):

* ``gd`` — plain gradient descent;
* the *treatment*, named after its kind (``mpgd``: P0 eq. 8, ``eq11``, ``mpgd_authors``: the
  authors' process);
* ``iid_marginal`` — i.i.d. noise with the treatment's per-step marginal law (no correlation in
  time, no chaos): the two-point law of the observable v with the treatment's sign law
  (:func:`chaosopt.transforms.contrib.authors.iid_observable_perturbation`), where one is
  registered for the kind;
* ``gaussian_rms`` — Gaussian noise with the same per-step rms (``mu`` and ``sigma`` times the
  rms of the observable) and the same step-size exponent (η^γ);
* ``time_ordered`` — for the authors' process, their table read in time order (the
  ``airfoil_table1:controls`` scheme).

What each kind is ablated against is a registry (:data:`ABLATIONS`), and the tasks' defaults
(learning rate, steps, the metric and its smallest effect of interest) another
(:data:`TASKS`); any other registered task runs with :data:`DEFAULT_TASK` (a user's task,
registered in their own file: ``--task-file my_tasks.py``, docs/extending.md).

Verdicts (:mod:`chaosopt.analysis.verdicts`), one per matched control, on the claim "the
treatment reaches a better <metric> than <control>", paired by seed with Holm correction over
the controls: *reproduced* when the treatment is significantly better; *not reproduced* when
it is significantly worse or when the 95% bootstrap CI of the difference lies within ± the
smallest effect of interest (``config.margin``; 0: the treatment's own mean gain over GD);
else *inconclusive* (also below 10 paired seeds).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, NamedTuple

import ml_collections

from chaosopt.train import config as config_lib

INFO = {"paper": "P0 (extension): noise ablation", "title": "a noise beside matched controls",
        "cost": "task-dependent (airfoil, 20 seeds: ≈ 1-2 min CPU)", "gpu": False}


# ----------------------------------------------------------------------------- registries
class TaskDefaults(NamedTuple):
  """A task's ablation defaults: its keyword arguments, learning rate, steps, chunk size, the
  metric the verdicts test and its smallest effect of interest (0: the treatment's gain)."""
  task: Mapping[str, Any]
  learning_rate: float
  num_steps: int
  chunk_size: int
  metric: str
  margin: float = 0.0
  note: str = ""


TASKS: dict[str, TaskDefaults] = {
    # P0 Table 1's setting; margin: the paper's MPGD γ = 0.6 gain over GD, 0.3810 − 0.4309
    "airfoil": TaskDefaults({"hidden": 16, "init": "pytorch", "activation": "relu",
                             "split_seed": 0, "hessian_trace": False}, 0.1, 3000, 250,
                            "test_rmse", 0.0499,
                            "margin: the size of P0 Table 1's MPGD γ = 0.6 gain over GD"),
    # P0 Fig. 2: the widening valley (flatness: the Hessian trace)
    "widening_valley": TaskDefaults({"dim": 10, "init_scale": 5.0}, 0.01, 10000, 1000,
                                    "hessian_trace"),
}
DEFAULT_TASK = TaskDefaults({}, 0.1, 1000, 100, "")


def _rms_observable(gamma: float) -> float:
  """rms of the MPGD observable v under the invariant measure: v = vl with probability
  ν([0, y*]) = 2^{γ-1}, else vr (mean 0); signs do not change it."""
  from chaosopt.dynamics import observables
  vl, vr = (float(x) for x in observables.observable_values(gamma))
  p = 2.0 ** (gamma - 1)
  return math.sqrt(p * vl ** 2 + (1 - p) * vr ** 2)


def _gaussian_rms(hp: Mapping, factor: float = 1.0) -> dict:
  r = factor * _rms_observable(hp["gamma"])
  return {"name": "gaussian_rms", "kind": "gaussian", "mu": hp["mu"] * r,
          "sigma": hp["sigma"] * r, "exponent": hp["gamma"]}


def _mpgd_controls(hp: Mapping) -> tuple[list, list]:
  """The paper's eq. 8 (excursion signs: P(+) = (1+β)/2 in the stationary law; independent
  chains for the two terms) against i.i.d. draws of that marginal and matched Gaussian noise."""
  out, missing = [], []
  # iid_observable's sign law is P(+) = (3 + β')/4: β' = 2β − 1 gives (1 + β)/2 (β ≥ 0)
  if hp["beta"] >= 0:
    out.append({"name": "iid_marginal", "kind": "iid_observable", "gamma": hp["gamma"],
                "beta": 2 * hp["beta"] - 1, "mu": hp["mu"], "sigma": hp["sigma"],
                "sign": "table", "shared": False})
  else:
    missing.append("iid_marginal (no registered i.i.d. surrogate of a negative skewness)")
  return out + [_gaussian_rms(hp)], missing


def _eq11_controls(hp: Mapping) -> tuple[list, list]:
  """eq. 11 (v(y1) − v(y2), rms √2 · rms(v)) against matched Gaussian noise."""
  return [_gaussian_rms(hp, math.sqrt(2.0))], [
      "iid_marginal (no registered i.i.d. surrogate of v(y1) − v(y2))"]


def _authors_controls(hp: Mapping) -> tuple[list, list]:
  """The authors' process against the airfoil_table1:controls schemes: their table in time
  order, i.i.d. draws of its two-point law (shared draw, their form), matched Gaussian."""
  common = {k: hp[k] for k in ("gamma", "beta", "mu", "sigma")}
  return [{"name": "time_ordered", "kind": "mpgd_authors_time", **common},
          {"name": "iid_marginal", "kind": "iid_observable", **common, "sign": "table",
           "shared": True},
          _gaussian_rms(hp)], []


class Ablation(NamedTuple):
  """A kind's ablation: its hyper-parameters (config keys) with defaults, and ``controls(hp) ->
  (control schemes, [controls that cannot be built, with why])``."""
  hparams: Mapping[str, float]
  controls: Callable[[Mapping], tuple[list, list]]


ABLATIONS: dict[str, Ablation] = {
    "mpgd": Ablation({"gamma": 0.6, "beta": 0.5, "mu": 0.01, "sigma": 0.02}, _mpgd_controls),
    "eq11": Ablation({"gamma": 0.6, "mu": 0.01, "sigma": 0.01}, _eq11_controls),
    "mpgd_authors": Ablation({"gamma": 0.6, "beta": 0.5, "mu": 0.01, "sigma": 0.01},
                             _authors_controls),
}
NOISE_KEYS = ("gamma", "beta", "mu", "sigma")


# ----------------------------------------------------------------------------- the config
def _task_defaults(task: str) -> dict:
  """The task factory's keyword arguments with plain default values (int, float, str, bool):
  the ``config.task.<argument>`` keys of any registered task."""
  import inspect
  from chaosopt.tasks import registry as task_registry
  factory = task_registry.task_factory(task)
  return {k: p.default for k, p in inspect.signature(factory).parameters.items()
          if isinstance(p.default, (bool, int, float, str))}


def get_config(task: str, kind: str, task_file: str = "") -> ml_collections.ConfigDict:
  """The ablation config of ``kind`` on task ``task`` (defaults of :data:`TASKS`); override
  with ``--config.KEY=VALUE`` (``gamma``, ``sigma``, ``num_seeds``, ``task.hidden``, ...),
  then :func:`finish` builds the schemes. ``ConfigError`` naming an unknown task or kind."""
  from chaosopt.tasks import registry as task_registry
  if kind not in ABLATIONS:
    raise config_lib.ConfigError(f"--kind {kind!r}: no ablation registered for it; one of "
                                 f"{sorted(ABLATIONS)}")
  if task not in task_registry.task_names():
    raise config_lib.ConfigError(f"--task {task!r}: not a registered task; one of "
                                 f"{sorted(task_registry.task_names())} (a task of your own: "
                                 f"register it in a file and pass --task-file FILE)")
  d = TASKS.get(task, DEFAULT_TASK)
  c = ml_collections.ConfigDict()
  c.experiment = "ablate"
  c.task_file = task_file
  c.task = ml_collections.ConfigDict({"name": task, **_task_defaults(task), **d.task})
  c.kind = kind
  for k in NOISE_KEYS:  # every noise key exists (typed float); the kind's are used
    setattr(c, k, float(ABLATIONS[kind].hparams.get(k, 0.0)))
  c.learning_rate = d.learning_rate
  c.num_steps = d.num_steps
  c.num_seeds = 20
  c.first_seed = 0
  c.seed = 0
  c.chunk_size = d.chunk_size
  c.checkpoint_every = 1
  c.seed_strategy = "vmap"
  c.per_step_metrics = False
  c.only = ""
  c.metric = d.metric
  c.margin = float(d.margin)
  c.alpha = 0.05
  c.headline = (d.metric,) if d.metric else ()
  c.schemes = [{"name": "gd", "kind": "gd"}]
  return c


def finish(config) -> None:
  """Builds ``config.schemes`` from the (overridden) noise keys: gd, the treatment, its
  controls (:data:`ABLATIONS`), and records the controls that cannot be built."""
  ab = ABLATIONS[config.kind]
  unused = [k for k in NOISE_KEYS if k not in ab.hparams and config[k] != 0.0]
  if unused:
    raise config_lib.ConfigError(f"config.{unused[0]}: kind {config.kind!r} has no "
                                 f"{unused[0]} (its keys: {sorted(ab.hparams)})")
  hp = {k: float(config[k]) for k in ab.hparams}
  treatment = {"name": config.kind, "kind": config.kind, **hp}
  try:
    controls, missing = ab.controls(hp)
  except (ValueError, ZeroDivisionError) as e:
    raise config_lib.ConfigError(f"config: {e}") from None
  config.schemes = [{"name": "gd", "kind": "gd"}, treatment] + controls
  with config.unlocked():
    config.missing_controls = missing


def load(task: str, kind: str, overrides=(), task_file: str = "") -> ml_collections.ConfigDict:
  """The validated ablation config (``task_file`` imported first: it registers the task)."""
  import os
  if task_file:
    if not os.path.isfile(task_file):
      raise config_lib.ConfigError(f"--task-file {task_file!r}: no such file")
    config_lib.load_module_from_path(task_file)
  config = get_config(task, kind, os.path.abspath(task_file) if task_file else "")
  config_lib.apply_overrides(config, overrides)
  finish(config)
  validate(config)
  return config


def validate(config) -> None:
  """Keys and ranges, the schemes against their kinds, the task, the memory
  (:func:`chaosopt.train.table.validate`), the metric name and the test's settings."""
  from chaosopt.train import table
  schema = table.SCHEMA.extend({
      "kind": config_lib.OneOf(*ABLATIONS), "metric": config_lib.Str(),
      "margin": config_lib.NonNegative(), "alpha": config_lib.Num(0, 1, lo_open=True,
                                                                  hi_open=True),
      "task_file": config_lib.Str()})
  table.validate(config, schema)


def _metric(config, results) -> str:
  finals = list(next(iter(results["schemes"].values()))["final"])
  if config.metric:
    if config.metric not in finals:
      raise config_lib.ConfigError(f"config.metric={config.metric!r} is not a metric of task "
                                   f"{config.task.name!r}: {finals}")
    return config.metric
  return next((m for m in finals if m.startswith("test")), finals[0])


# ----------------------------------------------------------------------------- run, report
def run(config, workdir) -> dict:
  from chaosopt.train import table
  out = table.run_table(config, workdir)
  out["metric"] = _metric(config, out)
  return out


def comparisons(config, results) -> dict:
  """``{"metric", "lower_is_better", "vs_gd": row, "controls": [row]}``: the treatment against
  GD, and every matched control against the treatment (difference control − treatment, Holm
  over the controls; :func:`chaosopt.analysis.stats.compare_paired`)."""
  from chaosopt.analysis import stats
  from chaosopt.train import sweep, table
  metric = results.get("metric") or _metric(config, results)
  low = sweep.lower_is_better(metric)
  vals = table.values(results, metric)
  t = config.kind
  (vs_gd,) = stats.compare_paired({"gd": vals["gd"], t: vals[t]}, "gd", lower_is_better=low,
                                  alpha=config.alpha)
  ctrl = {n: v for n, v in vals.items() if n not in ("gd", t)}
  rows = stats.compare_paired({t: vals[t], **ctrl}, t, lower_is_better=low,
                              alpha=config.alpha) if ctrl else []
  return {"metric": metric, "lower_is_better": low, "vs_gd": vs_gd, "controls": rows}


CONTROL_TEXT = {
    "iid_marginal": "i.i.d. draws of its per-step marginal law (no chaos, no time correlation)",
    "gaussian_rms": "Gaussian noise with the same per-step rms and step-size exponent",
    "time_ordered": "the authors' table read in time order (the scramble fixed)",
}


def verdicts(config, results) -> list:
  """One verdict per matched control: "the treatment reaches a better metric than the
  control" (the chaos matters), and the treatment against GD for context."""
  from chaosopt.analysis import verdicts as verdict_lib
  comp = comparisons(config, results)
  metric, t = comp["metric"], config.kind
  g = comp["vs_gd"]
  gain = g["mean_diff"]
  margin = float(config.margin) or (abs(gain) if gain is not None else 0.0)
  worse = "worse" if comp["lower_is_better"] else "better"
  out = []
  fmt = lambda x: "–" if x is None else format(x, ".3g")  # noqa: E731
  for r in comp["controls"]:
    c = r["scheme"]
    # r is control − treatment: the treatment is better where the control is "worse"
    if r["n"] < verdict_lib.MIN_SEEDS:
      status, reason = "inconclusive", f"{r['n']} paired seeds (< {verdict_lib.MIN_SEEDS})"
    elif r["verdict"] == "worse":
      status, reason = "reproduced", ""
    elif r["verdict"] == "better":
      status, reason = "not reproduced", f"{c} is significantly better"
    elif not margin:
      status, reason = "inconclusive", "no effect size to test equivalence against"
    else:
      eq, reason = verdict_lib.equivalence_status((r["ci_low"], r["ci_high"]), 0.0, margin,
                                                  n=r["n"], min_n=verdict_lib.MIN_SEEDS)
      status = {"reproduced": "not reproduced"}.get(eq, eq)
    out.append(verdict_lib.decide(
        f"The chaos matters: {t} reaches a better {metric} than {c}, "
        f"{CONTROL_TEXT.get(c, 'a matched control')}.",
        f"noise ablation on {config.task.name}",
        f"mean paired difference of {metric}, {c} − {t}",
        f"reproduced if {t} is significantly better (paired t, Holm over the "
        f"{len(comp['controls'])} controls, α = {config.alpha}); not reproduced if significantly "
        f"{worse} or if the 95% bootstrap CI lies within ± {margin:.4g} ("
        + ("config.margin" if config.margin else f"|{t} − gd|, the effect to explain")
        + "); else "
        "inconclusive (also below 10 seeds)", status=status, reason=reason,
        estimate=r["mean_diff"], uncertainty=(r["ci_low"], r["ci_high"]),
        detail=f"± {fmt(r['se_diff'])} (SE), Holm p (t) = {fmt(r['p_ttest_holm'])}, "
               f"n = {r['n']}; {t} − gd = {fmt(gain)} ± {fmt(g['se_diff'])}, p = "
               f"{fmt(g['p_ttest'])}.", origin="extension",
        no_control="The matched control is this comparison itself."))
  return out


def report(config, results):
  from chaosopt.analysis import verdicts as verdict_lib
  from chaosopt.train import report as report_lib
  from chaosopt.train import table
  comp = comparisons(config, results)
  metric, t = comp["metric"], config.kind
  vs = verdicts(config, results)
  summary = results["summary"]
  rows = []
  for name, e in summary.items():
    m = e.get(metric) or {}
    rows.append([name, results["schemes"][name]["kind"],
                 "–" if m.get("mean") is None else f"{m['mean']:.4g} ± {m['std'] or 0:.2g}",
                 "–" if m.get("median") is None else f"{m['median']:.4g}", m.get("n", 0)])
  missing = list(config.get("missing_controls", []) or [])
  md = f"""# Noise ablation: {t} on {config.task.name}

{config.num_seeds} seeds × {config.num_steps} steps, η = {config.learning_rate}; every scheme of
seed i starts from the same parameters, so schemes compare **paired by seed**. The treatment
`{t}` runs beside plain GD and its matched controls:
{chr(10).join(f"- `{n}`: {txt}" for n, txt in CONTROL_TEXT.items() if n in summary)}
""" + (f"\nNot run (none registered): {'; '.join(missing)}.\n" if missing else "") + f"""
The schemes as run:

{table.hparams_markdown(results)}
{report_lib.markdown_table([ "scheme", "kind", f"{metric} (mean ± std)", "median", "n"], rows)}
## Paired comparisons
{table.paired_markdown(table.paired_comparisons(
    results, metric, ("gd", t), lower_is_better=comp["lower_is_better"]), metric)}
## Verdicts: does the chaos matter?

""" + verdict_lib.markdown(vs)
  if results.get("messages"):
    md += "\n## Diverged runs\n\n" + "\n".join(f"- {m}" for m in results["messages"]) + "\n"
  figs = table.figures(results, (metric,))
  return md, figs, vs

