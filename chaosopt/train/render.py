"""An experiment's report as data, and a process that renders it while the experiment computes
(execution layer, no paper equation).

:func:`render` calls the experiment's ``report(config, results)`` (and the sweep section,
:func:`chaosopt.train.sweep.report`) and returns the markdown, the verdicts and the figures'
file contents (:func:`chaosopt.train.plots.render`); it writes nothing, the run's process writes
the files into its workdir (:func:`chaosopt.train.experiment.execute`).

Rendering needs modules a computation does not: matplotlib and its PDF backend, scipy.stats
for the paired tests, the plots module. On a 2-core CPU their imports are ≈ 1 s, which a
single process pays after the computation (the main job's ≈ 8 s included it). So
:func:`start` launches ``python -m chaosopt.train.render`` when a computation starts; at low
priority (``nice`` 10) and on the CPU backend, it imports those while the computation runs,
then waits. :meth:`Worker.render` sends it the results and receives the :class:`Rendered`
report. The worker is only an accelerator: where it is not ready when the results are (a
computation shorter than its imports), could not start, or fails in any way, ``render``
returns None and the caller renders in its own process, where an error in ``report`` is
raised as usual. Its log records and warnings are passed on to the caller's loggers.
``CHAOSOPT_RENDER_WORKER=0`` turns it off (the test suite does, and tests both paths).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Optional

ENV = "CHAOSOPT_RENDER_WORKER"
# results[RUN_KEY] = {"experiment", "variant"} while report() runs (not stored)
RUN_KEY = "_run"
NICE = 10
_READY = b"R"
CHILD_WAIT_S = 60.0  # _render_figures: the longest wait for a forked child beyond 4x its own share


@dataclasses.dataclass
class Rendered:
  """What a report is: ``markdown``; ``figures``, ``{stem: {".png": bytes, ".pdf": bytes}}``
  (empty without plots); ``verdicts``, the verdict dicts
  (:func:`chaosopt.analysis.verdicts.as_dicts`)."""
  markdown: str
  figures: dict
  verdicts: list


def render(module, config, results: Any, run: Optional[dict] = None,
           plots: bool = True, *, fork: bool = False) -> Rendered:
  """``module.report(config, results)`` with the sweep section, the figures rendered to bytes
  (or closed unrendered when ``plots`` is False). ``run`` (``{"experiment", "variant"}``) is
  given to ``report`` under :data:`RUN_KEY` of a dict ``results``. ``fork`` (the worker only,
  a process without an accelerator runtime): every other figure is rendered in a forked child
  at the same time (:func:`_render_figures`)."""
  from chaosopt.analysis import verdicts as verdict_lib
  from chaosopt.train import sweep
  out = module.report(config, dict(results, **{RUN_KEY: run}) if isinstance(results, dict)
                      else results)
  markdown, figures = out[0], dict(out[1] or {})
  # a run whose schemes include a sweep's cells gets the sweep's section and figures
  sweep_md, sweep_figs = sweep.report(config, results)
  if sweep_md:
    markdown, figures = markdown.rstrip() + "\n" + sweep_md, {**figures, **sweep_figs}
  # every verdict in the contract's form: one without a status is "not tested (old format)"
  verdicts = verdict_lib.as_dicts(out[2] if len(out) > 2 else [])
  from chaosopt.train import plots as plots_lib
  files, pending, named = {}, dict(figures), []
  try:
    for stem, fig in figures.items():
      stem = stem[:-4] if stem.endswith(plots_lib.FORMATS) else stem
      if not stem or os.path.basename(stem) != stem or stem.startswith("."):
        raise ValueError(f"figure name must be a plain file name, got {stem!r}")
      named.append((stem, fig))
    if plots:
      files = _render_figures(named, plots_lib, fork)
  finally:
    for fig in pending.values():  # rendered figures are closed already; closing twice is a no-op
      plots_lib.pyplot().close(fig)
  return Rendered(markdown=markdown, figures=files, verdicts=verdicts)


def _render_figures(named: list, plots_lib, fork: bool) -> dict:
  """``{stem: plots.render(fig)}`` in the figures' order. With ``fork``, every other figure is
  rendered by a forked copy of this process while this one renders the rest (a report's
  figures take ≈ 1 s on one core, the other core is idle by then); if the child fails or does
  not answer in time, this process renders its figures too."""
  theirs = (named[1::2] if fork and len(named) > 1 and hasattr(os, "fork")
            and not _jax_runtime_started() else [])
  child = _forked(lambda: {stem: plots_lib.render(fig) for stem, fig in theirs}) \
      if theirs else None
  mine = named if child is None else named[0::2]
  t0 = time.monotonic()
  try:
    files = {stem: plots_lib.render(fig) for stem, fig in mine}
  except BaseException:
    if child is not None:
      child(0)  # killed and reaped: no child outlives an error here
    raise
  if child is not None:
    # a child still busy long after this process's share (a fork that hung) is given up
    got = child(CHILD_WAIT_S + 4 * (time.monotonic() - t0))
    files.update(got if got is not None else
                 {stem: plots_lib.render(fig) for stem, fig in theirs})
  return {stem: files[stem] for stem, _ in named}


def _jax_runtime_started() -> bool:
  """Whether this process has started JAX's runtime (a backend and its threads), which a fork
  would cut (JAX warns of a deadlock). The worker never starts it unless a report computes
  with JAX; an unknown JAX version counts as started."""
  bridge = sys.modules.get("jax._src.xla_bridge")
  return bridge is not None and bool(getattr(bridge, "_backends", True))


def _forked(fn):
  """Runs ``fn()`` in a forked child; returns a function ``wait(timeout_s)`` for its value
  (None if the child failed, could not start or did not answer in time: then it is killed).
  The child's log records (:class:`_Records`) come back to this process's. The child keeps
  no copy of this process's standard input and output (the worker's pipes to the run, whose
  end the run waits for). Only for the worker: it has not started JAX's runtime (whose
  threads a fork would cut); its other threads are the BLAS pool, which forks cleanly."""
  import warnings
  r, w = os.pipe()
  handlers = [h for h in logging.getLogger().handlers if isinstance(h, _Records)]
  before = [len(h.records) for h in handlers]
  try:
    with warnings.catch_warnings():
      # Python >= 3.12 warns of any other thread at a fork (here the BLAS pool)
      warnings.simplefilter("ignore", DeprecationWarning)
      pid = os.fork()
  except OSError:
    os.close(r)
    os.close(w)
    return None
  if pid == 0:  # the child: answer and leave, whatever happens (never return to the caller)
    code = 1
    try:
      os.close(r)
      null = os.open(os.devnull, os.O_RDWR)
      os.dup2(null, 0)
      os.dup2(null, 1)
      value = fn()
      new = [h.records[n:] for h, n in zip(handlers, before)]
      with os.fdopen(w, "wb") as f:
        f.write(pickle.dumps((value, new), protocol=pickle.HIGHEST_PROTOCOL))
      code = 0
    finally:
      os._exit(code)
  os.close(w)

  def wait(timeout_s: float):
    import select
    deadline, chunks = time.monotonic() + timeout_s, []
    try:
      with os.fdopen(r, "rb", buffering=0) as f:
        while True:
          left = deadline - time.monotonic()
          if left <= 0 or not select.select([f], [], [], left)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
          chunk = f.read(1 << 20)
          if not chunk:
            break
          chunks.append(chunk)
      _, status = os.waitpid(pid, 0)
      if status != 0 or not chunks:
        return None
      value, new = pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001 - the caller renders these figures itself
      return None
    for h, records in zip(handlers, new):
      h.records.extend(records)
    return value
  return wait


# --------------------------------------------------------------------------- the worker

class Worker:
  """A started render process (:func:`start`); :meth:`render` once, :meth:`close` always."""

  def __init__(self, module_name: str):
    env = dict(os.environ, JAX_PLATFORMS="cpu")  # never take an accelerator from the run
    self._proc = subprocess.Popen(
        [sys.executable, "-m", "chaosopt.train.render", module_name], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        # its own session: a Ctrl-C in the terminal reaches the run, which closes the worker
        start_new_session=True)
    self._ready = threading.Event()
    threading.Thread(target=self._wait_ready, daemon=True).start()

  def _wait_ready(self) -> None:
    try:
      if self._proc.stdout.read(1) == _READY:
        self._ready.set()
    except (OSError, ValueError):
      pass

  @property
  def ready(self) -> bool:
    """Whether its imports are done (it is waiting for results)."""
    return self._ready.is_set()

  def render(self, config, results: Any, run: Optional[dict] = None,
             plots: bool = True) -> Optional[Rendered]:
    """The :class:`Rendered` report of ``results``, or None: the worker is not ready yet, has
    died or failed (the caller then renders in its own process)."""
    if not self.ready or self._proc.poll() is not None:
      return None
    try:
      request = pickle.dumps((config, results, run, plots), protocol=pickle.HIGHEST_PROTOCOL)
      self._proc.stdin.write(request)
      self._proc.stdin.close()
      status, payload, records = pickle.loads(self._proc.stdout.read())
    except Exception:  # noqa: BLE001 - any failure: the caller renders in its own process
      return None
    if status != "ok":
      return None
    for name, level, message in records:  # its log records and warnings, in order
      logging.getLogger(name).log(level, "%s", message)
    return payload

  def close(self) -> None:
    """Stops the worker if it still runs (it was not needed, or failed)."""
    if self._proc.poll() is None:
      self._proc.kill()
    self._proc.wait()
    for f in (self._proc.stdin, self._proc.stdout):
      try:
        f.close()
      except OSError:
        pass


def start(module) -> Optional[Worker]:
  """A :class:`Worker` for experiment ``module``, or None: turned off (``CHAOSOPT_RENDER_WORKER
  =0``), a module the worker cannot import by name (only chaosopt's own experiments are
  rendered there), or the process could not start."""
  name = getattr(module, "__name__", "")
  if os.environ.get(ENV, "1") == "0" or not name.startswith("chaosopt.experiments."):
    return None
  try:
    return Worker(name)
  except OSError:
    return None


class _Records(logging.Handler):
  def __init__(self):
    super().__init__(logging.DEBUG)
    self.records: list = []

  def emit(self, record):
    self.records.append((record.name, record.levelno, record.getMessage()))


def _warm_up() -> None:
  """What a first report pays once per process, paid while the run computes: the imports
  (matplotlib and its PDF backend, scipy.stats), the fonts, the renderers, the paired tests."""
  import numpy as np
  from chaosopt.analysis import stats
  from chaosopt.train import plots
  stats.compare_paired({"a": np.arange(5.0), "b": np.arange(5.0)[::-1]}, "a", num_resamples=10)
  fig, ax = plots.subplots(figsize=(2, 2))
  ax.plot([0, 1], [0, 1], label="x")
  ax.set_title("y")
  plots.legend(ax)
  plots.render(fig)


def _serve(module_name: str) -> None:
  """The worker's side: imports, signals ready, renders one request, answers, exits."""
  import importlib
  out = sys.stdout.buffer
  sys.stdout = sys.stderr  # only the reply goes to the pipe
  if hasattr(os, "nice"):
    try:
      os.nice(NICE)
    except OSError:
      pass
  module = importlib.import_module(module_name)
  _warm_up()
  out.write(_READY)
  out.flush()
  try:
    config, results, run, with_plots = pickle.load(sys.stdin.buffer)
  except EOFError:  # the run did not need it
    return
  handler = _Records()
  logging.getLogger().addHandler(handler)  # others' records from WARNING (the default level)
  logging.getLogger("chaosopt").setLevel(logging.INFO)  # chaosopt's from INFO
  logging.captureWarnings(True)
  try:
    reply = ("ok", render(module, config, results, run, with_plots, fork=True),
             handler.records)
  except BaseException as e:  # noqa: BLE001 - reported; the caller renders in its process
    reply = ("error", f"{type(e).__name__}: {e}", handler.records)
  out.write(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
  out.flush()
  out.close()  # the reply is complete (the caller reads to its end)
  # no interpreter teardown (≈ 0.5 s with jax, matplotlib and scipy loaded), which the caller
  # would wait for
  os._exit(0)


if __name__ == "__main__":
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  # through the module's own name: the reply's Rendered must unpickle as
  # chaosopt.train.render.Rendered, not __main__.Rendered
  from chaosopt.train import render as _render_module
  _render_module._serve(sys.argv[1])
