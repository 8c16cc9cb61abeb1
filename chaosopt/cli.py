"""The ``chaosopt`` command: run any experiment, list them (entry-point layer, no equation).

  chaosopt --config NAME[:variant] [--workdir DIR] [--config.KEY=VALUE ...]
  chaosopt --config path/to/my_config.py[:arg] --workdir DIR
  chaosopt list [--kinds]
  chaosopt status [reports/] [--check|--update README.md]
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
import errno
import functools
import logging
import os
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
      h.stream = sys.stderr  # the current stderr (an in-process caller may have replaced it)
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
  if argv and argv[0] == "status":  # the reproduction table (chaosopt.train.status)
    from chaosopt.train import status
    return status.main(argv[1:])
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

  try:
    return _run(args, overrides)
  except KeyboardInterrupt:
    print("chaosopt: interrupted; re-run the same command to resume", file=sys.stderr)
    return 130


def _fail(message: str, status: int, verbose: bool) -> int:
  if verbose:
    import traceback
    traceback.print_exc()
  print(f"chaosopt: {message}", file=sys.stderr)
  return status


def _run(args, overrides) -> int:
  # multi-process runs: jax.distributed must start before anything touches a device (config
  # validation builds transforms)
  from chaosopt.train import sharding
  try:
    sharding.initialize_distributed()
  except (ValueError, RuntimeError) as e:
    return _fail(f"distributed start failed: {e}", 1, args.verbose)

  from chaosopt import experiments
  from chaosopt.core.errors import DataError
  from chaosopt.train import config as config_lib
  from chaosopt.train import experiment as experiment_lib
  from chaosopt.train import workdir as workdir_lib
  if args.restart and args.report:
    return _fail("--report re-renders a run's stored results; --restart would delete them "
                 "first: use one or the other", 2, False)
  try:
    module, config, variant = experiments.load(args.config, overrides)
  except config_lib.ConfigError as e:
    return _fail(f"config error: {e}", 2, args.verbose)
  name = experiment_lib.name_of(module)
  workdir = args.workdir or f"runs/{name}" + (f"_{variant.replace(',', '_')}" if variant else "")
  try:
    cfg_module = (experiments.get_config_module(name) if name in experiments.names()
                  else module)
    doc = experiment_lib.execute(module, config, workdir, restart=args.restart,
                                 plots=not args.no_plots, variant=variant,
                                 report_only=args.report,
                                 evolve=functools.partial(config_lib.evolve_for, cfg_module,
                                                          variant))
  except workdir_lib.WorkdirError as e:
    return _fail(str(e), 2, args.verbose)
  except config_lib.ConfigError as e:
    return _fail(f"config error: {e}", 2, args.verbose)
  except DataError as e:
    return _fail(f"data error: {e}", 2, args.verbose)
  except MemoryError:
    return _fail("out of memory; reduce num_seeds, the model size or the history kept "
                 "(a re-run resumes from the last checkpoint)", 1, args.verbose)
  except OSError as e:
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
      where = f" ({e.filename})" if e.filename else ""
      return _fail(f"cannot write{where}: {e.strerror}; a re-run resumes from the last "
                   f"checkpoint", 1, args.verbose)
    raise
  _print_summary(module, config, doc, workdir)
  return 0


def _print_summary(module, config, doc: dict, workdir: str) -> None:
  from chaosopt.train import table
  results = doc.get("results", {})
  lines = []
  from chaosopt.analysis import verdicts as verdict_lib
  from chaosopt.experiments import _setting
  heads = table.headline(config)
  setting = _setting.of(config, variant=doc.get("variant") or "")
  if isinstance(results, dict) and "summary" in results and heads:
    lines.append(table.summary_title(setting.paper))
    lines += ["  " + x for x in table.summary_lines(
        results, heads, getattr(module, "PAPER", None) if setting.paper else None)]
  for v in doc.get("verdicts", []):
    lines.append(f"verdict: {verdict_lib.short(v)}: {v.get('claim', '')}")
  wall = (doc.get("provenance") or {}).get("wall_s")
  if wall is not None:
    lines.append(f"wall time {wall:.1f} s")
  if doc.get("status") == "computed" and not results:  # a process > 0 of a distributed run
    lines.append(f"computed; process 0 writes the outputs to {workdir}/")
  else:
    lines.append(f"outputs: {workdir}/ (report.md, results.json, log.txt, figures)")
  print("\n".join(x for x in lines if x))


def entry() -> None:
  """The console script (``chaosopt``, ``python -m chaosopt``): exits with :func:`main`'s status.
  After Ctrl-C the process ends at once (the run is resumable; JAX's runtime threads may not be
  interrupted safely at interpreter shutdown)."""
  status = main()
  if status == 130:
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)
  sys.exit(status)


if __name__ == "__main__":
  entry()
