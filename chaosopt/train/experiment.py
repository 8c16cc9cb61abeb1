"""The experiment contract and its executor (execution layer, no paper equation).

An experiment is a config module ``configs/<name>.py`` (:mod:`chaosopt.configs`) with

* ``get_config(arg: str = "") -> ml_collections.ConfigDict`` — ``arg`` names variants
  (``"quick"``, ``"authors"``, ``"quick,authors"``), parsed with
  :func:`chaosopt.train.config.parse_variants` against its ``VARIANTS`` (``{name: help}``); the
  config's ``experiment`` field names the module that runs it;

and a module ``experiments/<name>.py`` (:mod:`chaosopt.experiments`) with

* ``run(config, workdir) -> dict`` — computes; returns plain JSON-able data. ``workdir`` is a
  :class:`chaosopt.train.workdir.Workdir` (or a path: ``as_workdir``); long computations store
  their units or checkpoints there, so a killed run resumes;
* ``report(config, results) -> (markdown, figures)`` or ``(markdown, figures, verdicts)`` —
  renders; ``figures`` maps a file stem to a matplotlib figure (saved as PNG and PDF),
  ``verdicts`` is a list of verdict dicts (:mod:`chaosopt.analysis.verdicts`: claim, where,
  statistic, rule, estimate, uncertainty, computed status, control, detail); ``results``
  carries, under :data:`RUN_KEY`, the experiment name and the variant that ran (so a report
  can say whether the run is in the paper's setting);
* optional ``INFO`` (``{"paper", "title", "cost", "gpu"}``), ``PAPER`` (the paper's numbers)
  and ``validate(config)``.

:func:`execute` runs one: prepares the workdir (refusing a different config, resuming the same
one, a no-op if finished), logs to ``<workdir>/log.txt``, and writes ``results.json`` in the
one results schema (:data:`SCHEMA`): ``settings`` (the resolved config), ``results`` (what
``run`` returned), ``verdicts``, ``diverged``, ``provenance`` (chaosopt version, git commit and
dirty flag, package versions, backend and devices, x64, command line, wall time) and
``status``; then ``metrics.csv`` (the numbers in long format,
:func:`chaosopt.train.export.write_csv`), TensorBoard event files (``tensorboard/``,
:func:`chaosopt.train.tensorboard.write_events`, when tensorboardX is installed),
``report.md`` and the figures. Large arrays of
``results`` go to ``results.npz`` beside it (:func:`chaosopt.train.results.write`, the one
writer of both files; ``chaosopt.train.results.load`` reads them back as one document).
"""
from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import subprocess
import sys
import time
from typing import Optional

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.train import export
from chaosopt.train import render as render_lib
from chaosopt.train import report as report_lib
from chaosopt.train import results as results_lib
from chaosopt.train import tensorboard
from chaosopt.train import workdir as workdir_lib

SCHEMA = results_lib.SCHEMA  # "chaosopt.results/2"
logger = logging.getLogger("chaosopt")
# results[RUN_KEY] = {"experiment", "variant"} while report() runs (not stored)
RUN_KEY = render_lib.RUN_KEY
# the first line of every smoke-test report
BANNER = ("> **Smoke test — not evidence.** A `quick` variant only checks that the code runs; "
          "its numbers decide no claim (every verdict: not tested).")


def is_quick(variant: Optional[str]) -> bool:
  """Whether a variant string (``"quick"``, ``"quick,authors"``) names the smoke test."""
  return "quick" in {a.strip() for a in (variant or "").replace("+", ",").split(",")}

_PACKAGES = ("jax", "jaxlib", "optax", "flax", "orbax-checkpoint", "numpy", "scipy",
             "ml_collections", "matplotlib")


def _git(root: str, *args: str) -> Optional[str]:
  try:
    out = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=10)
  except (OSError, subprocess.SubprocessError):
    return None
  return out.stdout.strip() if out.returncode == 0 else None


def _chaosopt_version() -> Optional[str]:
  try:
    return importlib.metadata.version("chaosopt")
  except importlib.metadata.PackageNotFoundError:
    return None


def _command() -> Optional[str]:
  if not sys.argv:
    return None
  prog = os.path.basename(sys.argv[0])
  if prog in ("__main__.py", "cli.py", "chaosopt"):
    prog = "chaosopt"
  return " ".join([prog] + sys.argv[1:])


def git_state(root: str, exclude: Optional[str] = None) -> Optional[dict]:
  """``{"commit", "dirty", "dirty_paths"}`` of the git checkout at ``root`` (None if it is not
  one): tracked files that differ from the commit, except under ``exclude`` (the run's own
  workdir, e.g. a committed report being regenerated, does not make the code dirty)."""
  if not os.path.exists(os.path.join(root, ".git")):
    return None
  commit = _git(root, "rev-parse", "HEAD")
  spec = ["--", "."]
  if exclude and os.path.abspath(exclude).startswith(root + os.sep):
    spec.append(f":(exclude){os.path.relpath(os.path.abspath(exclude), root)}")
  status = _git(root, "status", "--porcelain", "--untracked-files=no", *spec)
  # porcelain lines are "XY path" (X or Y may be blank; _git strips the first line's blank)
  paths = [line.strip().split(" ", 1)[-1].strip() for line in (status or "").splitlines()
           if line.strip()]
  return {"commit": commit, "dirty": bool(status) if status is not None else None,
          # which files differ from the commit (first 20), so a reader can judge them
          "dirty_paths": paths[:20] + ([f"... {len(paths) - 20} more"] if len(paths) > 20
                                       else [])}


def code_state(exclude: Optional[str] = None) -> Optional[dict]:
  """The code this process runs: ``{"commit", "dirty", "dirty_paths", "source"}``.

  From a git checkout (``source: "checkout"``, :func:`git_state` of the checkout holding this
  package); otherwise, for a non-editable install, the commit recorded in the package when it
  was built (``source: "build"``, :mod:`chaosopt._build_info`, written by ``setup.py``; its
  ``dirty`` says whether tracked files differed from that commit at build time). None if
  neither is known (e.g. a wheel built without git)."""
  # the checkout root when run from one: chaosopt/train/experiment.py -> ../../..
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  git = git_state(root, exclude=exclude)
  if git is not None:
    return dict(git, source="checkout")
  from chaosopt import _build_info
  if not _build_info.COMMIT:
    return None
  return {"commit": _build_info.COMMIT, "dirty": _build_info.DIRTY, "dirty_paths": [],
          "source": "build"}


def provenance(wall_s: Optional[float] = None, exclude: Optional[str] = None) -> dict:
  """Where a result comes from: code (version, git commit and dirty flag: of the checkout when
  run from one, else as recorded at build time, :func:`code_state`), packages, machine, JAX
  backend/devices/x64, command line, date."""
  import jax

  git = code_state(exclude=exclude)
  versions = {}
  for name in _PACKAGES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = None
  return {
      "chaosopt": _chaosopt_version(),
      "git": git,
      "packages": versions,
      "python": platform.python_version(),
      "platform": platform.platform(),
      "cpu_count": os.cpu_count(),
      "backend": jax.default_backend(),
      "devices": [str(d) for d in jax.devices()],
      "process_count": jax.process_count(),
      "x64": bool(jax.config.jax_enable_x64),
      "command": _command(),
      "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
      "wall_s": None if wall_s is None else round(wall_s, 2),
  }


def _dirty_note(git: dict) -> str:
  if not git.get("dirty"):
    return ""
  paths = git.get("dirty_paths") or []
  if not paths:
    return " + local changes" + (" at build time" if git.get("source") == "build" else "")
  shown = ", ".join(f"`{p}`" for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
  return f" + local changes in {shown}"


def name_of(module) -> str:
  return module.__name__.rsplit(".", 1)[-1]


class _LogFile:
  """Adds a ``<workdir>/log.txt`` handler to the ``chaosopt`` logger while active."""

  def __init__(self, path: str):
    self.handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    self.handler.setLevel(logging.DEBUG)

  def __enter__(self):
    logger.addHandler(self.handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
      self._old = logger.level
      logger.setLevel(logging.INFO)
    else:
      self._old = None
    return self

  def __exit__(self, *exc):
    logger.removeHandler(self.handler)
    self.handler.close()
    if self._old is not None:
      logger.setLevel(self._old)


def execute(module, config, workdir: str, *, restart: bool = False, plots: bool = True,
            variant: str = "", report_only: bool = False, evolve=None,
            wandb_project: Optional[str] = None) -> dict:
  """Runs experiment ``module`` with ``config`` in ``workdir``; returns the results document.

  A finished run of the same config is not repeated (its results are returned); a different
  config in the same workdir, a folder that is not a run, or a workdir another process is
  writing raise :class:`chaosopt.train.workdir.WorkdirError`. ``report_only`` with
  ``restart`` is refused (it would delete the results it is asked to render). ``evolve(stored,
  current)`` maps a config stored by older code to the current form before the comparison
  (:func:`chaosopt.train.config.evolve_for` with the experiment's config module).
  ``wandb_project``: a computed run's metrics are also logged there
  (:func:`chaosopt.train.wandb_log.log_run`).
  """
  name = name_of(module)
  if report_only and restart:
    raise workdir_lib.WorkdirError("--report re-renders a run's stored results; --restart would "
                                   "delete them first: use one or the other")
  from chaosopt.train import sharding
  if not sharding.is_writer():
    # multi-process run (jax.distributed): every process computes, process 0 writes
    module.run(config, workdir_lib.Workdir(workdir, config.to_dict(), writer=False))
    return {"status": "computed", "results": {}, "verdicts": []}
  if report_only:
    path = os.path.abspath(workdir)
    if not os.path.exists(os.path.join(path, workdir_lib.RESULTS_FILE)):
      raise workdir_lib.WorkdirError(f"--report: {path} holds no results.json to render (run "
                                     f"the experiment there first)")
  with workdir_lib.Workdir(workdir, config.to_dict(), restart=restart, evolve=evolve) as wd:
    if report_only:
      return _render_again(module, config, wd, plots)
    if wd.finished:
      logger.info("%s: %s already holds a finished run of this config (nothing to do; "
                  "--restart to run again)", name, wd.path)
      return results_lib.load(wd.path)
    with _LogFile(wd.file("log.txt")):
      logger.info("%s%s: running in %s", name, f":{variant}" if variant else "", wd.path)
      # code provenance is taken before computing: the commit (and dirty flag) of the code this
      # process runs, not of a checkout that may change while a long run computes
      prov = provenance(exclude=wd.path)
      # the report's imports happen in another process while this one computes
      worker = render_lib.start(module)
      try:
        t0 = time.perf_counter()
        out = module.run(config, wd)
        wall = time.perf_counter() - t0
        out = report_lib.jsonable(out if out is not None else {})
        doc = {"schema": SCHEMA, "experiment": name, "variant": variant, "status": "computed",
               "settings": report_lib.jsonable(config.to_dict()), "results": out,
               "verdicts": [], "diverged": out.get("diverged", []) if isinstance(out, dict)
               else [], "paper": report_lib.jsonable(getattr(module, "PAPER", None)),
               "provenance": dict(prov, wall_s=round(wall, 2))}
        _write_results(wd, doc)
        export.write_csv(wd, doc)
        tensorboard.write_events(wd, doc)
        logger.info("%s: computed in %.1f s", name, wall)
        _render(module, config, wd, doc, plots, worker)
      finally:
        if worker is not None:
          worker.close()
      logger.info("%s: wrote %s (report.md, results.json, metrics.csv, %d figure files)", name,
                  wd.path, len(doc["figures"]))
      if wandb_project:
        from chaosopt.train import wandb_log
        wandb_log.log_run(wd, doc, wandb_project)
  return doc


def _write_results(wd, doc: dict) -> None:
  """results.json (+ results.npz), recorded in the workdir's manifest first."""
  wd.own(results_lib.RESULTS_FILE)
  wd.own(results_lib.ARRAYS_FILE)
  results_lib.write(wd.path, doc)


def _render(module, config, wd, doc: dict, plots: bool,
            worker: Optional[render_lib.Worker] = None) -> None:
  """report(config, results) -> report.md, figures (PNG + PDF), verdicts; status finished.
  ``worker``: a render process started with the computation (:mod:`chaosopt.train.render`);
  where it cannot render, this process does."""
  out = doc["results"]
  run = {"experiment": doc.get("experiment"), "variant": doc.get("variant") or ""}
  rendered = None if worker is None else worker.render(config, out, run, plots)
  if rendered is None:
    rendered = render_lib.render(module, config, out, run, plots)
  markdown, verdicts = rendered.markdown, rendered.verdicts
  if is_quick(run["variant"]):
    verdicts = verdict_lib.not_tested(verdicts, "smoke test (quick variant)")
    if not markdown.lstrip().startswith(BANNER):
      markdown = BANNER + "\n\n" + markdown
  doc["verdicts"] = report_lib.jsonable(verdicts)
  written = []
  for stem, files in rendered.figures.items():
    for ext, data in files.items():
      with open(wd.file(stem + ext), "wb") as f:
        f.write(data)
      written.append(stem + ext)
  doc["figures"] = written
  prov = doc["provenance"]
  git = prov.get("git") or {}
  wall = prov.get("wall_s") or 0.0
  rendered_note = ""
  if doc.get("rendered"):
    rendered_note = (f" Report re-rendered from these results by chaosopt "
                     f"{doc['rendered']['chaosopt']} on {doc['rendered']['date']}.")
  footer = (f"\n\n---\nGenerated by `{prov['command']}` (chaosopt {prov['chaosopt']}"
            + (f", commit {str(git.get('commit'))[:10]}"
               f"{_dirty_note(git)}" if git else "")
            + f", jax {prov['packages'].get('jax')}, {prov['backend']} backend, "
            f"{prov['cpu_count']} CPU cores, {prov['date']}; wall time {wall:.0f} s)."
            f"{rendered_note} Machine-readable results: `results.json`.\n")
  with open(wd.file("report.md"), "w") as f:
    f.write(markdown.rstrip() + footer)
  doc["status"] = "finished"
  _write_results(wd, doc)


def _render_again(module, config, wd, plots: bool) -> dict:
  """``--report``: re-renders report.md and the figures from the stored results (no
  recomputation); the results' provenance is kept and the re-rendering is recorded."""
  doc = results_lib.load(wd.path)
  if doc.get("status") not in ("computed", "finished"):
    raise workdir_lib.WorkdirError(f"{wd.path} has no computed results to render")
  for f in doc.get("figures", []):
    p = os.path.join(wd.path, f)
    if f in wd.entries and os.path.exists(p):  # only figures this run wrote
      os.remove(p)
  doc["rendered"] = {"chaosopt": _chaosopt_version(), "date": time.strftime(
      "%Y-%m-%d %H:%M:%S %Z"), "command": _command()}
  export.write_csv(wd, doc)  # also for runs written before metrics.csv existed
  tensorboard.write_events(wd, doc)
  with _LogFile(wd.file("log.txt")):
    _render(module, config, wd, doc, plots)
    logger.info("%s: re-rendered the report in %s", name_of(module), wd.path)
  return doc
