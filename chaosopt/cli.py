"""The ``chaosopt`` command: run, inspect and compare experiments (entry-point layer, no equation).

  chaosopt run --config NAME[:variant] [--workdir DIR] [--config.KEY=VALUE ...]
  chaosopt --config NAME[:variant] ...        (the same: ``run`` is the default command)
  chaosopt run --config path/to/my_config.py[:arg] --workdir DIR
  chaosopt run --config NAME --sweep schemes.2.gamma=0.55,0.6 [--sweep KEY=v1,v2 ...]
  chaosopt ablate --task NAME --kind mpgd [--task-file FILE] [--config.gamma=0.6 ...]
  chaosopt list [--kinds | --papers]
  chaosopt show NAME[:variant] [--workdir DIR] [--config.KEY=VALUE ...]
  chaosopt compare DIR_A DIR_B [--metric M ...]
  chaosopt status [reports/] [--check | --update README.md]
  chaosopt version                             (or ``chaosopt --version``)
  python -m chaosopt ...                       (the same)

``NAME`` is a shipped experiment (``chaosopt list``); the workdir defaults to
``runs/<name>[_<variant>]``. Overrides use one dialect: dotted keys with list indices
(``--config.schemes.1.mu=0.05`` or ``--config.schemes[1].mu=0.05``), typed like the field they
replace; unknown keys and bad values are rejected before anything is compiled. A re-run with
the same config resumes (or does nothing if finished); a different config in the same workdir
is refused unless ``--restart``. Log lines go to stderr and ``<workdir>/log.txt``; the progress
bar only appears on a terminal (log lines are printed above it).

Bad input of any command (an unknown command, option, experiment, key or value) is one line
``chaosopt: ...`` on stderr and exit status 2, without a traceback. :func:`main` takes the
arguments and returns the exit status, so the command can be called in-process. A ``status``
command is provided by :mod:`chaosopt.train.status` when that module exists
(``status.main(argv) -> int``).
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import functools
import importlib.util
import logging
import os
import sys
import traceback
import textwrap
import threading
from typing import Optional, Sequence

logger = logging.getLogger("chaosopt")

WIDTH = 100  # the terminal width `chaosopt list` keeps to

# The papers P0-P4 that configs, reports and `chaosopt list` name (docs/papers.md,
# docs/bibliography.md): label -> (authors, year, short topic, title).
PAPERS = {
    "P0": ("Lim, Wan & Şimşekli", 2022, "MPGD",
           "Chaotic Regularization and Heavy-Tailed Limits for Deterministic Gradient Descent"),
    "P1": ("Kong & Tao", 2020, "large-LR GD, multiscale",
           "Stochasticity of Deterministic Gradient Descent: Large Learning Rate for Multiscale "
           "Objective Function"),
    "P2": ("Battash, Wolf & Lindenbaum", 2024, "SαS noise of SGD",
           "Revisiting the Noise Model of Stochastic Gradient Descent"),
    "P3": ("Li, Malladi & Arora", 2021, "SVAG",
           "On the Validity of Modeling SGD with Stochastic Differential Equations (SDEs)"),
    "P4": ("Wu et al.", 2020, "multiplicative SGD",
           "On the Noisy Gradient Descent that Generalizes as SGD"),
}


class UsageError(Exception):
  """Bad command-line input: reported as one line ``chaosopt: ...``, exit status 2."""


class _Parser(argparse.ArgumentParser):
  """argparse whose errors are one line (:class:`UsageError`) instead of a usage dump."""

  def error(self, message):
    raise UsageError(f"{message} (see `{self.prog} --help`)")


# ----------------------------------------------------------------------------- the parser
def _output_arguments(p: argparse.ArgumentParser) -> None:
  """--wandb and -q/-v, shared by the commands that run something (run, ablate)."""
  p.add_argument("--wandb", metavar="PROJECT",
                 help="also log the run's metrics to this Weights & Biases project (needs wandb)")
  g = p.add_mutually_exclusive_group()
  g.add_argument("-q", "--quiet", action="store_true", help="warnings and the summary only")
  g.add_argument("-v", "--verbose", action="store_true", help="every metric line")


def _parser() -> argparse.ArgumentParser:
  p = _Parser(prog="chaosopt", formatter_class=argparse.RawDescriptionHelpFormatter,
              description="Run, inspect and compare the chaosopt experiments.",
              epilog="`chaosopt --config NAME ...` (no command) is `chaosopt run --config NAME "
                     "...`.\nHelp on one command: chaosopt COMMAND --help.")
  p.add_argument("-V", "--version", action="store_true",
                 help="print the version and the git commit of the code, then exit")
  sub = p.add_subparsers(dest="command", metavar="COMMAND", title="commands", parser_class=_Parser)

  r = sub.add_parser("run", help="run an experiment (resumes; a finished run is not repeated)",
                     description="Run an experiment in its workdir.",
                     epilog="Override any config field with --config.KEY=VALUE (e.g. "
                            "--config.num_seeds=5, --config.schemes.1.mu=0.05).")
  r.add_argument("--config", help="NAME[:variant] or path/to/config.py[:arg]")
  r.add_argument("--workdir", help="output directory (default runs/<name>[_<variant>])")
  r.add_argument("--restart", action="store_true",
                 help="delete an earlier run's outputs in the workdir and start clean")
  r.add_argument("--no-plots", action="store_true", help="skip the figures")
  r.add_argument("--no-compile-cache", action="store_true",
                 help="do not keep compiled programs in the persistent compilation cache "
                      "($CHAOSOPT_CACHE_DIR, default ~/.cache/chaosopt/jax; a re-run of the "
                      "same programs then compiles again)")
  r.add_argument("--report", action="store_true",
                 help="re-render report.md and the figures from the workdir's results "
                      "(no recomputation)")
  _sweep_arguments(r)
  _output_arguments(r)
  r.set_defaults(handler=_cmd_run)

  a = sub.add_parser("ablate", help="a noise vs its matched controls: does the chaos matter?",
                     description="Run a noise kind beside GD, i.i.d. noise with its per-step "
                                 "marginal and Gaussian noise with its per-step rms and step-size "
                                 "exponent, through the same seeds, with paired verdicts on 'the "
                                 "chaos matters' (chaosopt.train.ablate).",
                     epilog="Override the noise and the run with --config.KEY=VALUE (gamma, "
                            "beta, mu, sigma, num_seeds, num_steps, learning_rate, metric, "
                            "margin, task.<argument>).")
  a.add_argument("--task", required=True, help="a registered task (chaosopt list --kinds)")
  a.add_argument("--kind", required=True, help="the noise to ablate: mpgd, eq11, mpgd_authors")
  a.add_argument("--task-file", metavar="FILE",
                 help="a Python file that registers your task (register_task) before the run")
  a.add_argument("--workdir", help="output directory (default runs/ablate_<task>_<kind>)")
  a.add_argument("--restart", action="store_true",
                 help="delete an earlier run's outputs in the workdir and start clean")
  a.add_argument("--no-plots", action="store_true", help="skip the figures")
  _output_arguments(a)
  a.set_defaults(handler=_cmd_ablate)

  lp = sub.add_parser("list", help="the experiments: paper, variants, cost",
                      description="List the shipped experiments (or the noise kinds and tasks, "
                                  "or the papers).")
  g = lp.add_mutually_exclusive_group()
  g.add_argument("--kinds", action="store_true", help="noise kinds and tasks")
  g.add_argument("--papers", action="store_true", help="the papers P0-P4")
  lp.set_defaults(handler=_cmd_list)

  s = sub.add_parser("show", help="resolved config, cost, traced hyper-parameters, workdir",
                     description="Print what `chaosopt run` would run, without running it.",
                     epilog="Overrides (--config.KEY=VALUE) are applied and validated as by run.")
  s.add_argument("spec", metavar="NAME[:variant]", help="an experiment or path/to/config.py[:arg]")
  s.add_argument("--workdir", help="the workdir run would be given (default runs/<name>...)")
  _sweep_arguments(s)
  s.set_defaults(handler=_cmd_show)

  c = sub.add_parser("compare", help="paired per-seed differences of two scheme-table runs",
                     description="For the schemes and seeds two scheme-table workdirs share: per "
                                 "scheme and final metric, n, the mean difference B - A ± its "
                                 "standard error and the paired t-test's p-value (raw and "
                                 "Holm-corrected over the rows). Diverged or non-finite seeds "
                                 "are left out pairwise.")
  c.add_argument("dir_a", metavar="DIR_A", help="a finished run's workdir")
  c.add_argument("dir_b", metavar="DIR_B", help="another, compared with DIR_A (B - A)")
  c.add_argument("--metric", action="append", metavar="M",
                 help="only this final metric (repeatable; default: every shared one)")
  c.add_argument("--latex", action="store_true",
                 help="print the table as LaTeX (booktabs) instead of text")
  c.set_defaults(handler=_cmd_compare)

  v = sub.add_parser("version", help="the version and the git commit of the code (= --version)",
                     description="Print the chaosopt version and the commit of the code it runs.")
  v.set_defaults(handler=_cmd_version)

  if _status_module() is not None:
    sub.add_parser("status", help="the state of runs (chaosopt status --help)", add_help=False)
  return p


def _sweep_arguments(p) -> None:
  p.add_argument("--sweep", action="append", metavar="KEY=v1,v2,...",
                 help="run a grid: the product of the values of every --sweep (repeatable; "
                      "keys of one scheme, schemes.<index|name>.<hyper-parameter>) replaces "
                      "that scheme by cells named kind[key=value,...]; the other schemes run "
                      "once as references")
  p.add_argument("--sweep-baseline", metavar="NAME",
                 help="the unswept scheme the cells are compared with (default: the first "
                      "unswept gd scheme)")


def _load(spec: str, overrides, args):
  """:func:`chaosopt.experiments.load` with the run's ``--sweep`` applied (a
  :class:`~chaosopt.train.config.ConfigError` naming the key otherwise)."""
  from chaosopt import experiments
  from chaosopt.train import sweep
  sweeps = [sweep.parse(t) for t in (getattr(args, "sweep", None) or [])]
  baseline = getattr(args, "sweep_baseline", None)
  edit = (lambda c: sweep.apply(c, sweeps, baseline)) if sweeps or baseline else None
  loaded = experiments.load(spec, overrides, edit=edit)
  if sweeps:
    logger.info("%s", _sweep_note(loaded[1]))
  return loaded


def _sweep_note(config) -> str:
  from chaosopt.train import sweep
  n, static = sweep.programs(config)
  cells = sum(1 for s in config.schemes if sweep.parse_cell(dict(s).get("name", "")))
  return (f"sweep: {cells} cells in {n} compiled program{'s' if n != 1 else ''}"
          + (f" (static: {', '.join(static)})" if static else " (every swept key traced)"))


def _status_module() -> Optional[str]:
  """``chaosopt.train.status`` if that module exists (it provides ``chaosopt status``)."""
  name = "chaosopt.train.status"
  try:
    return name if importlib.util.find_spec(name) is not None else None
  except (ImportError, ValueError):
    return None


def _take_overrides(argv: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
  """Splits ``--config.KEY=VALUE`` / ``--config.KEY VALUE`` out of ``argv``."""
  rest, overrides, i = [], [], 0
  argv = list(argv)
  while i < len(argv):
    tok = argv[i]
    if tok.startswith("--config."):
      key, eq, value = tok[len("--config."):].partition("=")
      if not eq:
        if i + 1 >= len(argv):
          raise UsageError(f"{tok} needs a value (--config.KEY=VALUE)")
        value, i = argv[i + 1], i + 1
      overrides.append((key, value))
    else:
      rest.append(tok)
    i += 1
  return rest, overrides


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the command; returns the exit status (2 for bad input)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  if argv and argv[0] == "status" and _status_module():
    import importlib
    return int(importlib.import_module(_status_module()).main(argv[1:]) or 0)
  if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "-V", "--version"):
    argv = ["run"] + argv  # the form without a command: `chaosopt --config NAME ...`
  parser = _parser()
  try:
    argv, overrides = _take_overrides(argv)
    try:
      args, extra = parser.parse_known_args(argv)
    except SystemExit as e:  # --help
      return e.code if isinstance(e.code, int) else 0
    if extra:
      hint = " (overrides look like --config.KEY=VALUE)" \
          if args.command in ("run", "show", "ablate") \
          else ""
      raise UsageError(f"unrecognized argument {extra[0]!r}{hint} (see `chaosopt "
                       f"{args.command or ''} --help`)".replace("chaosopt  --", "chaosopt --"))
    if args.version:
      return _cmd_version(args, overrides)
    if args.command is None:
      print(parser.format_help(), file=sys.stderr, end="")
      return 2
    if overrides and args.command not in ("run", "show", "ablate"):
      raise UsageError(f"chaosopt {args.command} takes no --config.KEY overrides")
    return args.handler(args, overrides)
  except UsageError as e:
    print(f"chaosopt: {e}", file=sys.stderr)
    return 2


def _fail(message: str, status: int, verbose: bool = False) -> int:
  if verbose:
    traceback.print_exc()
  print(f"chaosopt: {message}", file=sys.stderr)
  return status


def default_workdir(name: str, variant: str) -> str:
  """``runs/<name>[_<variant>]`` (commas of combined variants become ``_``)."""
  return f"runs/{name}" + (f"_{variant.replace(',', '_')}" if variant else "")


# ----------------------------------------------------------------------------- run
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
  # orbax logs a failed background save (full disk) with its traceback before the error reaches
  # the command, which then says it in one line; -v keeps the library's messages
  logging.getLogger("absl").setLevel(logging.DEBUG if verbose else logging.CRITICAL)


@contextlib.contextmanager
def progress_safe_logging():
  """On a terminal, log lines are written through tqdm (``logging_redirect_tqdm``), so they
  appear above the progress bar instead of breaking it; elsewhere (no bar) nothing changes.
  The console handler's level is kept (``-q`` stays quiet)."""
  if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
    yield
    return
  from tqdm.contrib.logging import logging_redirect_tqdm
  before = list(logger.handlers)
  level = min((h.level for h in before if getattr(h, "_chaosopt_cli", False)),
              default=logging.NOTSET)
  with logging_redirect_tqdm(loggers=[logger]):
    for h in logger.handlers:
      if h not in before:
        h.setLevel(level)
    yield


def _on_sigint(signum, frame):
  """Ctrl-C: raise KeyboardInterrupt as Python does, and remember it, so a loop stops at its
  next chunk even when library code (an orbax save) caught the exception. Where Python would
  print the exception and drop it (the signal came while a garbage-collector callback, e.g.
  JAX's, or a ``__del__`` ran: "Exception ignored in ..." and a traceback), it is not raised
  there: the loop stops at its next chunk, or a second Ctrl-C interrupts."""
  from chaosopt.core import loop
  loop.request_interrupt()
  if not _in_dropping_frame(frame):
    raise KeyboardInterrupt


def _in_dropping_frame(frame) -> bool:
  """Whether ``frame`` runs inside a garbage-collector callback or a ``__del__`` method, where an
  exception is printed and dropped."""
  import gc
  codes = {getattr(cb, "__code__", None) for cb in gc.callbacks}
  while frame is not None:
    if frame.f_code in codes or frame.f_code.co_name == "__del__":
      return True
    frame = frame.f_back
  return False


def _cmd_run(args, overrides) -> int:
  if not args.config:
    raise UsageError("--config is required (chaosopt list shows the experiments)")
  _setup_logging(args.quiet, args.verbose)
  import signal
  from chaosopt.core import loop
  ours = (threading.current_thread() is threading.main_thread()
          and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
  if ours:
    signal.signal(signal.SIGINT, _on_sigint)
  try:
    with progress_safe_logging():
      return _run(args, overrides)
  except KeyboardInterrupt:
    print("chaosopt: interrupted; re-run the same command to resume", file=sys.stderr)
    return 130
  finally:
    if ours:
      signal.signal(signal.SIGINT, signal.default_int_handler)
    loop.clear_interrupt()


def _run(args, overrides) -> int:
  from chaosopt.core import loop
  cache = None if args.no_compile_cache or args.report else loop.default_cache_dir()
  if cache:  # before anything compiles (the one place a run writes outside its workdir)
    try:
      loop.use_compilation_cache(cache)
    except OSError as e:
      logger.warning("chaosopt: no compilation cache (%s: %s)", cache, e.strerror)
  # multi-process runs: jax.distributed must start before anything touches a device (config
  # validation builds transforms)
  from chaosopt.train import sharding
  try:
    distributed = sharding.initialize_distributed()
  except (ValueError, RuntimeError) as e:
    return _fail(f"distributed start failed: {e}", 1, args.verbose)
  if not distributed:
    return _run_started(args, overrides)
  from chaosopt.train import peers
  try:
    return _run_started(args, overrides)
  except Exception as e:  # a peer died: the supervisor says so in one line
    if not peers.is_peer_failure(e):
      raise
    if args.verbose:
      traceback.print_exc()
    print(f"{peers.MARK} {str(e).splitlines()[0] if str(e) else type(e).__name__}",
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(peers.PEER_FAILURE)  # not the shutdown barrier, which would abort in C++


def _run_started(args, overrides) -> int:

  from chaosopt import experiments
  from chaosopt.core.errors import DataError
  from chaosopt.train import config as config_lib
  from chaosopt.train import experiment as experiment_lib
  from chaosopt.train import workdir as workdir_lib
  if args.restart and args.report:
    return _fail("--report re-renders a run's stored results; --restart would delete them "
                 "first: use one or the other", 2)
  try:
    module, config, variant = _load(args.config, overrides, args)
  except config_lib.ConfigError as e:
    return _fail(f"config error: {e}", 2, args.verbose)
  name = experiment_lib.name_of(module)
  workdir = args.workdir or default_workdir(name, variant)
  try:
    cfg_module = (experiments.get_config_module(name) if name in experiments.names()
                  else module)
    doc = experiment_lib.execute(module, config, workdir, restart=args.restart,
                                 plots=not args.no_plots, variant=variant,
                                 report_only=args.report,
                                 evolve=functools.partial(config_lib.evolve_for, cfg_module,
                                                          variant), wandb_project=args.wandb)
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
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG):
      # a write() error names no file: the workdir it was writing into
      where = e.filename or os.path.abspath(workdir)
      return _fail(f"cannot write ({where}): {e.strerror}; a re-run resumes from the last "
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
    lines.append(f"outputs: {workdir}/ (report.md, results.json, metrics.csv, log.txt, "
                 f"figures)")
  print("\n".join(x for x in lines if x))


# ----------------------------------------------------------------------------- ablate
def _cmd_ablate(args, overrides) -> int:
  _setup_logging(args.quiet, args.verbose)
  from chaosopt.core.errors import DataError
  from chaosopt.train import ablate
  from chaosopt.train import config as config_lib
  from chaosopt.train import experiment as experiment_lib
  from chaosopt.train import workdir as workdir_lib
  try:
    config = ablate.load(args.task, args.kind, overrides, args.task_file or "")
  except config_lib.ConfigError as e:
    return _fail(f"config error: {e}", 2, args.verbose)
  workdir = args.workdir or f"runs/ablate_{args.task}_{args.kind}"
  try:
    with progress_safe_logging():
      doc = experiment_lib.execute(ablate, config, workdir, restart=args.restart,
                                   plots=not args.no_plots, wandb_project=args.wandb)
  except KeyboardInterrupt:
    print("chaosopt: interrupted; re-run the same command to resume", file=sys.stderr)
    return 130
  except (workdir_lib.WorkdirError, config_lib.ConfigError, DataError) as e:
    return _fail(str(e), 2, args.verbose)
  _print_summary(ablate, config, doc, workdir)
  return 0


# ----------------------------------------------------------------------------- list
def _cmd_list(args, overrides) -> int:
  print(list_experiments(args.kinds, papers=args.papers))
  return 0


def _table(rows: list[tuple], widths: list[int], sep: str = "  ") -> list[str]:
  """Rows of cells wrapped to ``widths`` (the last column takes what is left of :data:`WIDTH`),
  continuation lines indented under their column; every line at most :data:`WIDTH` long."""
  widths = list(widths)
  widths[-1] = WIDTH - sum(widths[:-1]) - len(sep) * (len(widths) - 1)
  lines = []
  for row in rows:
    cells = [textwrap.wrap(str(c), w, break_on_hyphens=False) or [""]
             for c, w in zip(row, widths)]
    for k in range(max(len(c) for c in cells)):
      parts = [(c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths)]
      lines.append(sep.join(parts).rstrip())
  return lines


def papers_legend(full: bool = False) -> str:
  """The papers P0-P4: one wrapped legend line (``full``: one paper a line, with its title)."""
  if full:
    return "\n".join(textwrap.fill(f"{k}  {a} {y}: {t} ({s})", WIDTH, subsequent_indent="    ")
                     for k, (a, y, s, t) in PAPERS.items())
  lines, line = [], "papers:"
  for k, (a, y, s, _) in PAPERS.items():  # an entry is never split across lines
    item = f" {k} {a} {y} ({s})" + (";" if k != list(PAPERS)[-1] else ".")
    if len(line) + len(item) > WIDTH:
      lines.append(line)
      line = " "
    line += item
  return "\n".join(lines + [line])


def list_experiments(kinds: bool = False, papers: bool = False) -> str:
  """The text of ``chaosopt list`` (every line at most :data:`WIDTH` characters)."""
  from chaosopt import experiments
  if papers:
    return papers_legend(full=True)
  if kinds:
    from chaosopt.tasks import registry as task_registry
    from chaosopt.transforms import registry
    lines = ["noise kinds (schemes' \"kind\"; traced: may differ inside one compiled program):"]
    for k in registry.noise_kinds():
      spec = registry.get_noise(k)
      lines += _table([(k, f"{spec.description} [traced: "
                           f"{', '.join(('learning_rate',) + spec.traced)}]")], [19, 0])
    lines.append(textwrap.fill("tasks (config.task.name): "
                               + ", ".join(task_registry.task_names()), WIDTH))
    return "\n".join(lines)
  rows = []
  for name in experiments.names():
    info = getattr(experiments.get(name), "INFO", {})
    variants = ", ".join(getattr(experiments.get_config_module(name), "VARIANTS", {})) or "-"
    cost = info.get("cost", "?") + ("; needs a GPU" if info.get("gpu") else "")
    rows.append((name, info.get("paper", ""), variants, cost))
  name_w = max(len(r[0]) for r in rows)
  lines = _table([("experiment", "paper", "variants", "cost")] + rows, [name_w, 24, 18, 0])
  lines.append("")
  lines.append(papers_legend())
  lines.append(f"{len(rows)} experiments. Run one: chaosopt run --config NAME[:variant]; "
               f"what it runs: chaosopt show NAME.")
  lines.append("Noise kinds and tasks: chaosopt list --kinds; the papers' titles: "
               "chaosopt list --papers.")
  return "\n".join(lines)


# ----------------------------------------------------------------------------- show
def _cmd_show(args, overrides) -> int:
  from chaosopt.train import config as config_lib
  try:
    module, config, variant = _load(args.spec, overrides, args)
  except config_lib.ConfigError as e:
    return _fail(f"config error: {e}", 2)
  print(show_text(module, config, variant, args.workdir))
  if args.sweep:
    print(_sweep_note(config))
  return 0


def show_text(module, config, variant: str = "", workdir: Optional[str] = None) -> str:
  """The text of ``chaosopt show``: experiment, paper, cost, workdir, the schemes' traced and
  static hyper-parameters, and the resolved config as ``KEY = VALUE`` lines (the keys
  ``--config.KEY=VALUE`` overrides)."""
  from chaosopt.train import experiment as experiment_lib
  from chaosopt.train import workdir as workdir_lib
  name = experiment_lib.name_of(module)
  info = getattr(module, "INFO", {}) or {}
  workdir = workdir or default_workdir(name, variant)
  state = ""
  if os.path.isdir(workdir):
    state = (" (holds a run; run resumes it or refuses a different config)"
             if workdir_lib.holds_run(workdir) else " (exists, not a chaosopt run)")
  lines = [f"experiment  {name}" + (f" (variant {variant})" if variant else ""),
           f"paper       {info.get('paper', '?')}" + (f": {info['title']}" if info.get("title")
                                                      else ""),
           f"cost        {info.get('cost', '?')}" + ("; needs a GPU" if info.get("gpu") else ""),
           f"workdir     {workdir}{state}"]
  lines += _scheme_lines(config)
  lines.append("config (KEY = VALUE; override with --config.KEY=VALUE):")
  for k, v in workdir_lib.flatten(config.to_dict()).items():
    lines.append(f"  {k} = {v!r}")
  return "\n".join(lines)


def _scheme_lines(config) -> list[str]:
  """Per scheme: its kind, traced hyper-parameters (vmapped: schemes differing only in these
  share one compiled program) and static ones (they select the program)."""
  if "schemes" not in config or not config.schemes:
    return ["schemes     none (this experiment has no scheme table)"]
  from chaosopt.train import config as config_lib
  from chaosopt.train import schemes as schemes_lib
  try:
    chosen = {s["name"] for s in schemes_lib.selected(config)}
  except (config_lib.ConfigError, KeyError, TypeError):
    chosen = None
  lines = ["schemes     traced hyper-parameters (may differ inside one compiled program) | "
           "static"]
  for s in config.schemes:
    s = dict(s)
    label = f"  {s.get('name', '?')} [{s.get('kind', '?')}]"
    if chosen is not None and s.get("name") not in chosen:
      label += " (not selected by config.only)"
    try:
      r = schemes_lib.scheme(s, config.learning_rate)
    except (KeyError, ValueError, TypeError):
      lines.append(f"{label}: kind not in the registry")
      continue
    fmt = lambda d: ", ".join(f"{k}={v}" for k, v in d.items()) or "-"  # noqa: E731
    lines.append(textwrap.fill(
        f"{label}: {fmt(r.traced)} | {fmt(r.static)}", WIDTH,
        subsequent_indent="      ", break_on_hyphens=False))
  return lines


# ----------------------------------------------------------------------------- compare
def _cmd_compare(args, overrides) -> int:
  from chaosopt.core.errors import DataError
  from chaosopt.train import results as results_lib
  docs = []
  for d in (args.dir_a, args.dir_b):
    try:
      docs.append(results_lib.load(d))
    except (FileNotFoundError, DataError, ValueError) as e:
      return _fail(str(e), 2)
    if not isinstance(docs[-1].get("results"), dict) or \
        not isinstance(docs[-1]["results"].get("schemes"), dict):
      return _fail(f"{d} is not a scheme-table run (its results have no schemes); compare "
                   f"reads the per-seed final metrics of scheme tables", 2)
  from chaosopt.train.compare import compare_latex, compare_rows, compare_text
  rows = compare_rows(docs[0], docs[1], args.metric)
  if not rows:
    return _fail(f"{args.dir_a} and {args.dir_b} share no scheme, seed and final metric"
                 + (f" among {args.metric}" if args.metric else ""), 2)
  print(compare_latex(args.dir_a, args.dir_b, rows) if args.latex
        else compare_text(args.dir_a, args.dir_b, docs[0], docs[1], rows))
  return 0


# ----------------------------------------------------------------------------- version
def version_text() -> str:
  """``chaosopt X.Y.Z (commit ..., git checkout | recorded at build time); jax ..., Python ...``:
  the installed version (as in every results.json's provenance) and the commit of the checkout
  this package runs from, or the one recorded when it was built
  (:func:`chaosopt.train.experiment.code_state`)."""
  import importlib.metadata
  import platform

  from chaosopt.train import experiment as experiment_lib
  version = experiment_lib._chaosopt_version() or "(not installed)"  # noqa: SLF001
  code = experiment_lib.code_state()
  if code and code.get("commit"):
    where = "git checkout" if code.get("source") == "checkout" else "recorded at build time"
    dirty = " + local changes" if code.get("dirty") else ""
    commit = f"commit {code['commit']}{dirty}, {where}"
  else:
    commit = "commit unknown"
  try:
    jax_version = importlib.metadata.version("jax")
  except importlib.metadata.PackageNotFoundError:
    jax_version = "?"
  return (f"chaosopt {version} ({commit}); jax {jax_version}, "
          f"Python {platform.python_version()}")


def _cmd_version(args, overrides) -> int:
  print(version_text())
  return 0


def entry() -> None:
  """The console script (``chaosopt``, ``python -m chaosopt``): exits with :func:`main`'s status.
  After Ctrl-C the process ends at once (the run is resumable; JAX's runtime threads may not be
  interrupted safely at interpreter shutdown)."""
  from chaosopt.train import peers
  peers.die_with_supervisor()  # a supervised child: end with its supervisor
  if peers.requested():  # a multi-process run: a dead peer is one line (chaosopt.train.peers)
    argv = sys.argv[1:]
    sys.exit(peers.supervise([sys.executable, "-m", "chaosopt", *argv],
                             verbose=any(a in ("-v", "--verbose") for a in argv)))
  try:
    status = main()
    sys.stdout.flush()
  except BrokenPipeError:  # `chaosopt list | head`: the reader left; not an error
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    status = 0
  sys.stdout.flush()
  sys.stderr.flush()
  if status in (1, 130):  # environment failure or Ctrl-C: skip background threads' shutdown
    logging.shutdown()
    os._exit(status)
  # a normal end: what an interpreter exit does that matters (other threads finish, atexit
  # handlers run: logging, jax.distributed's shutdown, wandb), then the process ends without
  # tearing down every module and freeing JAX's runtime object by object (≈ 0.7 s of a main job
  # that takes 10 s; nothing is left to write by then)
  main_thread = threading.main_thread()
  for t in threading.enumerate():
    if t is not main_thread and not t.daemon:
      t.join()
  atexit._run_exitfuncs()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status or 0)


if __name__ == "__main__":
  entry()
