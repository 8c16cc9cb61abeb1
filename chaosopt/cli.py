"""The ``chaosopt`` command: run any experiment, list them (entry-point layer, no equation).

  chaosopt --config NAME[:variant] [--workdir DIR] [--config.KEY=VALUE ...]
  chaosopt --config path/to/my_config.py[:arg] --workdir DIR
  chaosopt list [--kinds]
  python -m chaosopt ...           (the same)

``NAME`` is a shipped experiment (``chaosopt list``); the workdir defaults to
``runs/<name>[_<variant>]``. Overrides use one dialect: dotted keys with list indices
(``--config.schemes.1.mu=0.05`` or ``--config.schemes[1].mu=0.05``), typed like the field they
replace; unknown keys and bad values are rejected before anything is compiled (exit status 2,
no traceback). A re-run with the same config resumes (or does nothing if finished); a
different config in the same workdir is refused unless ``--restart``.
Log lines go to stderr and ``<workdir>/log.txt``; the progress bar only appears on a terminal.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

logger = logging.getLogger("chaosopt")


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog="chaosopt", description="Run a chaosopt experiment (`chaosopt list` shows them).",
      epilog="Override any config field with --config.KEY=VALUE (e.g. --config.num_seeds=5, "
             "--config.schemes.1.mu=0.05).")
  p.add_argument("--config", help="NAME[:variant] or path/to/config.py[:arg]")
  p.add_argument("--workdir", help="output directory (default runs/<name>[_<variant>])")
  p.add_argument("--restart", action="store_true",
                 help="delete an earlier run's outputs in the workdir and start clean")
  p.add_argument("--no-plots", action="store_true", help="skip the figures")
  p.add_argument("--report", action="store_true",
                 help="re-render report.md and the figures from the workdir's results "
                      "(no recomputation)")
  g = p.add_mutually_exclusive_group()
  g.add_argument("-q", "--quiet", action="store_true", help="warnings and the summary only")
  g.add_argument("-v", "--verbose", action="store_true", help="every metric line")
  return p


def _split_overrides(parser, rest: Sequence[str]) -> list[tuple[str, str]]:
  overrides, i = [], 0
  rest = list(rest)
  while i < len(rest):
    tok = rest[i]
    if not tok.startswith("--config."):
      parser.error(f"unrecognized argument {tok!r} (overrides look like --config.KEY=VALUE)")
    key, eq, value = tok[len("--config."):].partition("=")
    if not eq:
      if i + 1 >= len(rest):
        parser.error(f"{tok} needs a value")
      value, i = rest[i + 1], i + 1
    overrides.append((key, value))
    i += 1
  return overrides


def _setup_logging(quiet: bool, verbose: bool) -> None:
  level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
  logger.setLevel(level)
  if not any(getattr(h, "_chaosopt_cli", False) for h in logger.handlers):
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(logging.Formatter("%(message)s"))
    h._chaosopt_cli = True  # noqa: SLF001
    logger.addHandler(h)
  for h in logger.handlers:
    if getattr(h, "_chaosopt_cli", False):
      h.setLevel(level)
  logger.propagate = False


def list_experiments(kinds: bool = False) -> str:
  """The text of ``chaosopt list``."""
  from chaosopt import experiments
  lines = []
  if kinds:
    from chaosopt.tasks import registry as task_registry
    from chaosopt.transforms import registry
    lines.append("noise kinds (schemes' \"kind\"):")
    for k in registry.noise_kinds():
      spec = registry.get_noise(k)
      lines.append(f"  {k:<18} {spec.description}  [traced: "
                   f"{', '.join(('learning_rate',) + spec.traced)}]")
    lines.append("tasks (config.task.name): " + ", ".join(task_registry.task_names()))
    return "\n".join(lines)
  rows = []
  for name in experiments.names():
    info = getattr(experiments.get(name), "INFO", {})
    variants = ",".join(getattr(experiments.get_config_module(name), "VARIANTS", {})) or "-"
    cost = info.get("cost", "?") + ("; needs a GPU" if info.get("gpu") else "")
    rows.append((name, info.get("paper", ""), variants, cost))
  w = [max(len(r[i]) for r in rows + [("experiment", "paper", "variants", "cost")])
       for i in range(4)]
  fmt = "  ".join(f"{{:<{x}}}" for x in w)
  lines.append(fmt.format("experiment", "paper", "variants", "cost"))
  lines += [fmt.format(*r) for r in rows]
  lines.append(f"\n{len(rows)} experiments. Run one: chaosopt --config NAME[:variant] "
               f"--workdir DIR; noise kinds and tasks: chaosopt list --kinds")
  return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the command; returns the exit status (2 for bad input)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  if argv and argv[0] == "list":
    lp = argparse.ArgumentParser(prog="chaosopt list")
    lp.add_argument("--kinds", action="store_true", help="noise kinds and tasks")
    a = lp.parse_args(argv[1:])
    print(list_experiments(a.kinds))
    return 0
  parser = _parser()
  args, rest = parser.parse_known_args(argv)
  if not args.config:
    parser.error("--config is required (chaosopt list shows the experiments)")
  overrides = _split_overrides(parser, rest)
  _setup_logging(args.quiet, args.verbose)

  from chaosopt import experiments
  from chaosopt.train import config as config_lib
  from chaosopt.train import experiment as experiment_lib
  from chaosopt.train import workdir as workdir_lib
  try:
    module, config, variant = experiments.load(args.config, overrides)
  except config_lib.ConfigError as e:
    print(f"chaosopt: config error: {e}", file=sys.stderr)
    return 2
  name = experiment_lib.name_of(module)
  workdir = args.workdir or f"runs/{name}" + (f"_{variant.replace(',', '_')}" if variant else "")
  from chaosopt.train import sharding
  sharding_init = getattr(sharding, "initialize_distributed", None)
  if sharding_init is not None:
    sharding_init()
  try:
    doc = experiment_lib.execute(module, config, workdir, restart=args.restart,
                                 plots=not args.no_plots, variant=variant,
                                 report_only=args.report)
  except workdir_lib.WorkdirError as e:
    print(f"chaosopt: {e}", file=sys.stderr)
    return 2
  except config_lib.ConfigError as e:
    print(f"chaosopt: config error: {e}", file=sys.stderr)
    return 2
  _print_summary(module, config, doc, workdir)
  return 0


def _print_summary(module, config, doc: dict, workdir: str) -> None:
  from chaosopt.train import table
  results = doc.get("results", {})
  lines = []
  heads = table.headline(config)
  if isinstance(results, dict) and "summary" in results and heads:
    lines.append("headline metrics (mean ± std over seeds, median; paper's value in brackets):")
    lines += ["  " + x for x in table.summary_lines(results, heads,
                                                    getattr(module, "PAPER", None))]
  for v in doc.get("verdicts", []):
    lines.append(f"verdict: {v.get('claim', '')} {v.get('verdict', '')}")
  wall = (doc.get("provenance") or {}).get("wall_s")
  if wall is not None:
    lines.append(f"wall time {wall:.1f} s")
  if doc.get("status") == "computed" and not results:  # a process > 0 of a distributed run
    lines.append(f"computed; process 0 writes the outputs to {workdir}/")
  else:
    lines.append(f"outputs: {workdir}/ (report.md, results.json, log.txt, figures)")
  print("\n".join(x for x in lines if x))


if __name__ == "__main__":
  sys.exit(main())
