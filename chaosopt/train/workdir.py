"""Workdir rules shared by every experiment (execution layer, no paper equation).

A run writes only into its workdir. The workdir records the resolved config
(``config.json``) before anything is computed; then:

* a re-run with the **same** config resumes: finished units (:meth:`Workdir.unit`) are loaded,
  chunked training loops restart from their last checkpoint (``checkpoints/``), and a finished
  run (``results.json`` with ``status == "finished"``) is not run again;
* a re-run with a **different** config refuses (:class:`WorkdirError` naming the differing
  keys) unless ``restart=True``, which deletes what an earlier run wrote there (never other
  files) and starts clean. Old results are never mixed with a new config.

The directory is checked for writability first, so a workdir that is a file or read-only fails
before anything is compiled.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
from typing import Any, Callable, Optional

from chaosopt.train import report

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
# everything a run may create in its workdir (what ``restart`` removes)
OWNED = (CONFIG_FILE, RESULTS_FILE, "report.md", "log.txt", "checkpoints", "units", "figures",
         "xla_cache")


class WorkdirError(RuntimeError):
  """The workdir cannot be used (not writable, or holds a run of another config)."""


def flatten(d: Any, prefix: str = "") -> dict:
  """``{"a.b.0.c": value}`` view of nested dicts/lists (for naming differing keys)."""
  out = {}
  if isinstance(d, dict):
    for k, v in d.items():
      out.update(flatten(v, f"{prefix}{k}."))
  elif isinstance(d, (list, tuple)):
    for i, v in enumerate(d):
      out.update(flatten(v, f"{prefix}{i}."))
    if not d:
      out[prefix[:-1]] = []
  else:
    out[prefix[:-1]] = d
  return out


def config_diff(old: dict, new: dict) -> list[str]:
  """Human-readable differences ``key: old -> new`` between two config dicts."""
  a, b = flatten(old), flatten(new)
  lines = []
  for k in sorted(set(a) | set(b)):
    va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
    if va != vb:
      lines.append(f"{k}: {va!r} -> {vb!r}")
  return lines


def _normalize(config: dict) -> dict:
  # JSON round trip: tuples become lists, so a loaded config compares equal to a fresh one
  return json.loads(json.dumps(report.jsonable(config)))


class Workdir:
  """A prepared workdir (see the module docstring). ``path`` is absolute."""

  def __init__(self, path: str, config: dict, *, restart: bool = False, writer: bool = True):
    """``writer=False``: the view of a process that must not write (processes > 0 of a
    ``jax.distributed`` run): no checks, nothing created; :meth:`unit` loads what the writer
    stored and otherwise computes without storing; :meth:`sub` creates no folders."""
    self.path = os.path.abspath(path)
    self.config = _normalize(config)
    self.writer = bool(writer)
    if not self.writer:
      return
    self._check_writable()
    cfg_path = os.path.join(self.path, CONFIG_FILE)
    if restart:
      self.clear()
    elif os.path.exists(cfg_path):
      with open(cfg_path) as f:
        try:
          old = json.load(f)
        except json.JSONDecodeError:
          old = None
      # a config stored by older code as this code reads it (new keys' defaults, renamed keys)
      from chaosopt.train.config import evolve_stored
      old_cfg = evolve_stored(old.get("config") if isinstance(old, dict) else None, self.config)
      if old_cfg != self.config:
        diff = config_diff(old_cfg or {}, self.config) if old_cfg is not None else [
            "config.json is unreadable"]
        shown = "\n  ".join(diff[:20]) + ("\n  ..." if len(diff) > 20 else "")
        raise WorkdirError(
            f"workdir {self.path} holds a run of a different config:\n  {shown}\n"
            f"Use another --workdir, or --restart to delete that run and start clean.")
    elif any(os.path.exists(os.path.join(self.path, n)) for n in (RESULTS_FILE, "units",
                                                                   "checkpoints")):
      raise WorkdirError(f"workdir {self.path} holds outputs without a config.json; use "
                         f"another --workdir or --restart")
    report.write_json(cfg_path, {"config": self.config})

  def _check_writable(self) -> None:
    if os.path.exists(self.path) and not os.path.isdir(self.path):
      raise WorkdirError(f"workdir {self.path} exists and is not a directory")
    try:
      os.makedirs(self.path, exist_ok=True)
      probe = os.path.join(self.path, ".write_test")
      with open(probe, "w") as f:
        f.write("ok")
      os.remove(probe)
    except OSError as e:
      raise WorkdirError(f"workdir {self.path} is not writable: {e}") from None

  def clear(self) -> None:
    """Deletes what a run writes here (``OWNED`` names), nothing else."""
    for name in OWNED:
      p = os.path.join(self.path, name)
      if os.path.isdir(p):
        shutil.rmtree(p)
      elif os.path.exists(p):
        os.remove(p)
    for name in os.listdir(self.path):
      if name.endswith((".png", ".pdf")):
        os.remove(os.path.join(self.path, name))

  # ----------------------------------------------------------------------- state
  @property
  def finished(self) -> bool:
    """True if ``results.json`` of a finished run of this config is present."""
    p = os.path.join(self.path, RESULTS_FILE)
    if not os.path.exists(p):
      return False
    try:
      with open(p) as f:
        return json.load(f).get("status") == "finished"
    except (OSError, json.JSONDecodeError):
      return False

  def sub(self, *names: str) -> str:
    """Path of ``names`` inside the workdir (parent folders created)."""
    p = os.path.join(self.path, *names)
    if self.writer:
      os.makedirs(os.path.dirname(p), exist_ok=True)
    return p

  def checkpoint_dir(self, tag: str) -> str:
    """Folder for the orbax checkpoints of one training loop (``tag`` made path-safe)."""
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in tag)
    return self.sub("checkpoints", safe)

  def unit(self, name: str, fn: Callable[[], Any]) -> Any:
    """Result of ``fn()``, computed once: stored in ``units/<name>.pkl`` (atomically) and loaded
    on a re-run, so a killed run loses at most the unit in progress. ``fn`` must return
    picklable host data (numbers, lists, dicts, numpy arrays)."""
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name)
    path = self.sub("units", safe + ".pkl")
    if os.path.exists(path):
      with open(path, "rb") as f:
        return pickle.load(f)
    value = fn()
    if not self.writer:
      return value
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
      pickle.dump(value, f)
    os.replace(tmp, path)
    return value


def as_workdir(workdir: "str | Workdir", config: Optional[dict] = None) -> Workdir:
  """``workdir`` itself, or a :class:`Workdir` prepared for ``config`` (library calls of an
  experiment's ``run(config, "path")``)."""
  if isinstance(workdir, Workdir):
    return workdir
  return Workdir(workdir, config or {})
