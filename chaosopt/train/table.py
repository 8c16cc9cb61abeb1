"""Scheme-table experiments: the shared ``run`` of every config with a task and schemes
(P0 Table 1, the widening valley, and any user config of that shape).

No equation of its own: it resolves the config's schemes into groups
(:func:`chaosopt.train.schemes.plan`), runs them with :func:`chaosopt.train.runner.run` in the
workdir (checkpoints, resume), logs the headline metrics between chunks, keeps the per-step
history in ``history.npz`` and returns the standard results block (:func:`block`): one
:class:`~chaosopt.train.results.SchemeRecord` per scheme, the summary and the diverged seeds.
"""
from __future__ import annotations

import logging

import numpy as np

from chaosopt.train import runner
from chaosopt.train import schemes as schemes_lib
from chaosopt.train import workdir as workdir_lib

logger = logging.getLogger("chaosopt")


def headline(config) -> tuple:
  """The metrics a table's summary shows first (``config.headline``, else all)."""
  return tuple(config.get("headline", ()) or ())


def run_table(config, workdir) -> dict:
  """Runs the scheme table of ``config`` in ``workdir``; returns the results block."""
  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  heads = headline(config)
  num_chunks = max(1, -(-config.num_steps // config.chunk_size))
  every = max(1, num_chunks // 4)

  def on_eval(name, step, metrics):
    shown = ", ".join(f"{k} {_median(v):.4g}" for k, v in metrics.items()
                      if not heads or k in heads)
    chunk = -(-step // config.chunk_size)
    level = logging.INFO if (chunk % every == 0 or step >= config.num_steps) and step > 0 \
        else logging.DEBUG
    logger.log(level, "[%s] step %d/%d: %s (median over seeds)", name, step, config.num_steps,
               shown)

  groups, settings = schemes_lib.plan(config)
  result = runner.run(groups, runner.build_task(config.task), settings, workdir=wd,
                      progress=True, on_eval=on_eval, log=logger.warning)
  if wd.writer:
    np.savez_compressed(wd.file("history.npz"), **{
        f"{name}/{k}": v for name, r in result.schemes.items() for k, v in r.history.items()})
  return block(result.schemes, int(config.get("history_points", 0) or 0),
               task=result.task_info,
               timings_s={k: round(v, 2) for k, v in result.timings.items()},
               messages=result.messages)


def run_config(config, key=None, *, task=None, **kwargs) -> runner.RunResult:
  """:func:`runner.run` of a scheme-table config, validated (``task``: default the config's;
  ``kwargs``: ``workdir``, ``progress``, ``on_eval``, ``log``)."""
  schemes_lib.validate(config)
  groups, settings = schemes_lib.plan(config)
  task = runner.build_task(config.task) if task is None else task
  return runner.run(groups, task, settings, key, **kwargs)


def block(records: dict, history_points: int = 0, **more) -> dict:
  """The results block of a scheme table: ``{"schemes": {name: stored record}, "summary",
  "diverged", **more}`` from ``{name: SchemeRecord}`` (per-step histories subsampled to
  ``history_points`` steps, 0: none)."""
  schemes = {name: r.to_dict(history_points) for name, r in records.items()}
  diverged = [d for r in records.values() for d in r.diverged]
  return {"schemes": schemes, "summary": summarize(schemes), "diverged": diverged, **more}


def summarize(schemes: dict) -> dict:
  """Per scheme and final metric: mean, std (ddof 1), median, n over non-diverged seeds."""
  out = {}
  for name, s in schemes.items():
    ok = np.asarray(s["diverged_at"]) < 0
    entry = {}
    for metric, vals in s["final"].items():
      good = np.asarray(vals, np.float64)[ok]
      good = good[np.isfinite(good)]
      entry[metric] = {
          "mean": float(np.mean(good)) if good.size else None,
          "std": float(np.std(good, ddof=1)) if good.size > 1 else None,
          "median": float(np.median(good)) if good.size else None, "n": int(good.size)}
    out[name] = entry
  return out


def values(results: dict, metric: str, *, drop_diverged: bool = True) -> dict:
  """``{scheme: array over seeds}`` of a final metric from a results block."""
  out = {}
  for name, s in results["schemes"].items():
    v = np.array([np.nan if x is None else x for x in np.asarray(s["final"][metric],
                                                                 dtype=object)], np.float64)
    if drop_diverged:
      v = np.where(np.asarray(s["diverged_at"]) < 0, v, np.nan)
    out[name] = v
  return out


def summary_title(in_paper_setting: bool) -> str:
  """The line above :func:`summary_lines`: the paper's values are shown only for a run in the
  paper's setting (``chaosopt.experiments._setting``)."""
  if in_paper_setting:
    return "headline metrics (mean ± std over seeds, median; paper's value in brackets):"
  return ("headline metrics (mean ± std over seeds, median; custom config or reduced variant: "
          "the paper's values are not shown):")


def summary_lines(results: dict, metrics, paper: dict | None = None) -> list[str]:
  """Text lines ``scheme: metric mean ± std (median m) [paper p]`` for logs and terminals;
  pass ``paper`` only for a run in the paper's setting (else no brackets)."""
  lines = []
  for name, entry in results.get("summary", {}).items():
    parts = []
    for m in metrics:
      e = entry.get(m)
      if not e or e["mean"] is None:
        continue
      std = f" ± {e['std']:.4f}" if e["std"] is not None else ""
      p = (paper or {}).get(name, {}).get(m) if isinstance((paper or {}).get(name), dict) \
          else None
      parts.append(f"{m} {e['mean']:.4f}{std} (median {e['median']:.4f})"
                   + (f" [paper {p:.4f}]" if p is not None else ""))
    n_div = sum(1 for d in results.get("diverged", []) if d["scheme"] == name)
    lines.append(f"{name}: " + "; ".join(parts) + (f" [{n_div} diverged]" if n_div else ""))
  return lines


def _median(v) -> float:
  """Median over the finite seeds (NaN when every seed diverged, without a warning)."""
  v = np.asarray(v, np.float64)
  v = v[np.isfinite(v)]
  return float(np.median(v)) if v.size else float("nan")


def hparams_markdown(results: dict) -> str:
  """A markdown table of every scheme as it ran: kind and hyper-parameters (from
  ``results["schemes"][name]["hparams"]``, so a report states the values used, not the paper's)."""
  from chaosopt.train import report as report_lib
  keys = []
  for s in results["schemes"].values():
    keys += [k for k in s.get("hparams", {}) if k not in keys]
  fmt = lambda v: ("–" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa
  rows = [[name, s["kind"]] + [fmt(s.get("hparams", {}).get(k)) for k in keys]
          for name, s in results["schemes"].items()]
  return report_lib.markdown_table(["scheme", "kind"] + keys, rows)


def scheme_dicts(results: dict) -> list[dict]:
  """``[{"name", "kind", **hparams}]`` of a results block (for colours and order)."""
  return [{"name": n, "kind": s["kind"], **{k: v for k, v in s["hparams"].items()
                                            if isinstance(v, (int, float))}}
          for n, s in results["schemes"].items()]


def figures(results: dict, metrics, *, paper: dict | None = None,
            authors: dict | None = None, curves: tuple = ()) -> dict:
  """The standard figures of a table: ``final_metrics`` (one point per seed, box per scheme,
  the paper's and the authors'-code values marked) and, for ``curves`` metrics, ``curves``
  (median over seeds with the inter-quartile band at the evaluation steps).

  ``paper`` / ``authors``: ``{scheme: {metric: value}}``.
  """
  from chaosopt.train import plots
  schemes = scheme_dicts(results)
  by_metric = lambda ref: {m: {n: v[m] for n, v in (ref or {}).items()  # noqa: E731
                               if isinstance(v, dict) and m in v} for m in metrics}
  finals = {n: {m: values(results, m)[n] for m in metrics} for n in results["schemes"]}
  figs = {"final_metrics": plots.table_figure(
      finals, list(metrics), schemes=schemes, paper=by_metric(paper),
      authors=by_metric(authors),
      title=f"one point per seed; box: inter-quartile range "
            f"({len(next(iter(results['schemes'].values()))['seeds'])} seeds)")}
  if curves:
    # a group whose seeds all diverged stops early: its evaluations end sooner (NaN after)
    steps = max((np.asarray(s["eval_steps"]) for s in results["schemes"].values()), key=len)

    def padded(v):
      v = np.asarray([[np.nan if x is None else x for x in row] for row in v], np.float64)
      return np.pad(v, ((0, 0), (0, len(steps) - v.shape[1])), constant_values=np.nan)

    per = {n: {m: padded(s["evals"][m]) for m in curves} for n, s in results["schemes"].items()}
    figs["curves"] = plots.curves_figure(steps, per, list(curves), schemes=schemes)
  return figs


def _schema():
  from chaosopt.train import config as c
  from chaosopt.train import seeds
  return c.Schema({
      "seed_strategy": c.Opt(seeds.StrategySpec()),
      "learning_rate": c.Positive(), "num_steps": c.Int(1), "num_seeds": c.Int(1),
      "first_seed": c.Seed(), "seed": c.Seed(), "chunk_size": c.Int(1),
      "checkpoint_every": c.Opt(c.Int(1)), "per_step_metrics": c.Bool(), "only": c.Str(),
      "history_points": c.Opt(c.Int(0)), "headline": c.Opt(c.Seq(c.Str(), min_len=0)),
      "task.name": c.Str(nonempty=True)})


# the keys of every scheme-table config (experiments extend it with their own keys)
SCHEMA = _schema()


def memory_estimate(config, task=None) -> tuple[float, str]:
  """:func:`runner.memory_estimate` of a scheme-table config (``(bytes, detail)``)."""
  groups, settings = schemes_lib.plan(config)
  task = runner.build_task(config.task) if task is None else task
  return runner.memory_estimate(groups, task, settings)


def validate(config, schema=None) -> None:
  """Checks a scheme-table config before anything is compiled: the keys' types and ranges
  (``schema``, default :data:`SCHEMA`), every scheme against its registered kind
  (:func:`chaosopt.train.schemes.validate`), the task's arguments (by building the task) and
  the memory the run needs (:func:`runner.memory_estimate` against the machine's available
  memory)."""
  from chaosopt.train import config as config_lib
  (schema or SCHEMA).check(config)
  schemes_lib.validate(config)
  task = runner.build_task(config.task)
  nbytes, detail = memory_estimate(config, task)
  config_lib.check_memory(nbytes, detail, "num_seeds, the model size, the schemes run (only) "
                          "or the history kept (per_step_metrics)")


def paired_comparisons(results: dict, metric: str, references, *, lower_is_better: bool = True,
                       alpha: float = 0.05) -> dict:
  """Paired-by-seed comparisons of every scheme with each reference scheme
  (:func:`chaosopt.analysis.stats.compare_paired`: paired t and Wilcoxon tests, Holm-corrected
  across the rows compared with one reference, mean ± SE of the difference, bootstrap CI,
  seeds improved). Diverged seeds count as non-finite and are excluded pairwise.
  Returns ``{reference: [row, ...]}``."""
  from chaosopt.analysis import stats
  vals = values(results, metric)
  out = {}
  for ref in references:
    if ref in vals:
      out[ref] = stats.compare_paired(vals, ref, lower_is_better=lower_is_better, alpha=alpha)
  return out


def paired_markdown(comparisons: dict, metric: str) -> str:
  """Markdown tables of :func:`paired_comparisons` (one per reference)."""
  from chaosopt.train import report as report_lib
  parts = []
  fmt = lambda x, d=4: "–" if x is None else f"{x:.{d}g}" if abs(x) < 1e-3 else f"{x:.{d}f}"  # noqa
  for ref, rows in comparisons.items():
    parts.append(f"\nPaired by seed against `{ref}` ({metric}; difference = scheme − {ref}; "
                 f"p-values Holm-corrected over the {len(rows)} rows):\n\n")
    parts.append(report_lib.markdown_table(
        ["scheme", "n", "mean diff ± SE", f"{int(100 * rows[0]['ci_level']) if rows else 95}% "
         "bootstrap CI", "seeds improved", "p (paired t, Holm)", "p (Wilcoxon, Holm)",
         "verdict"],
        [[r["scheme"], r["n"], f"{fmt(r['mean_diff'])} ± {fmt(r['se_diff'])}",
          f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]", f"{r['n_improved']}/{r['n']}",
          fmt(r["p_ttest_holm"], 3), fmt(r["p_wilcoxon_holm"], 3), r["verdict"]]
         for r in rows]))
  return "".join(parts)
