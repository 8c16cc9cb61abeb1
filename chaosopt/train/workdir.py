"""Workdir rules shared by every experiment (execution layer, no paper equation).

A run writes only into its workdir, deletes only what it wrote, and is the only writer there.

* **Ownership.** A run marks its folder with a manifest (``.chaosopt-run.json``) naming every
  top-level entry it created: files, and folders it owns whole (``units/``, ``checkpoints/``,
  ``xla_cache/``…). Every write goes through :meth:`Workdir.file`, :meth:`Workdir.sub`,
  :meth:`Workdir.unit` or :meth:`Workdir.checkpoint_dir`, which record the entry before it is
  written. A folder that holds files and is not a chaosopt run is refused (nothing is written
  there); so are ``/`` and the home folder, and the current folder unless it holds a run.
  Runs written before manifests existed (a ``config.json`` of the form ``{"config": {...}}``) are
  recognised and migrated once: the manifest then names the entries such a run wrote.
* **One writer.** The writing process holds an exclusive OS lock (``flock``) on
  ``.chaosopt.lock`` for as long as the :class:`Workdir` is open; the OS releases it when the
  process ends, also on a crash. A second process is refused with the holder's PID.
* **Same config or nothing.** The resolved config is recorded in ``config.json`` before anything
  is computed. A re-run with the same config resumes (finished units are loaded, chunked loops
  restart from their last checkpoint, a finished run is not run again); a different config is
  refused (:class:`WorkdirError` naming the differing keys) unless ``restart=True``, which
  deletes the entries of the manifest (never other files) and starts a new run.
* **Unit identity.** Units and checkpoint folders are named by an injective encoding of their
  name (``"m b"`` and ``"m_b"`` never share a file) and carry the run's id, their name and a
  hash of what determines them (``key``); a unit of another run, name or key is never loaded
  (it is recomputed, with a warning), nor is a damaged one.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import shutil
import threading
import time
import uuid
from typing import Any, Callable, Optional

from chaosopt.train import report

try:
  import fcntl
except ImportError:  # pragma: no cover - not POSIX: no OS lock (documented)
  fcntl = None

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
MANIFEST_FILE = ".chaosopt-run.json"
LOCK_FILE = ".chaosopt.lock"
MANIFEST_SCHEMA = "chaosopt.workdir/1"
# what runs written before manifests existed created (recognised when migrating them)
LEGACY_OWNED = (CONFIG_FILE, RESULTS_FILE, "report.md", "log.txt", "checkpoints", "units",
                "figures", "xla_cache", "history.npz", "results.npz")
IDENTITY_FILE = "identity.json"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=")
logger = logging.getLogger("chaosopt")


class WorkdirError(RuntimeError):
  """The workdir cannot be used (not writable, not a run, locked, or a run of another
  config)."""


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


def safe_name(name: str) -> str:
  """An injective, file-system-safe encoding of ``name``: letters, digits and ``-_.=`` stay,
  every other byte becomes ``%XX`` (so ``"m b"`` -> ``m%20b`` and ``"m_b"`` stay apart); a
  leading dot is encoded (no hidden files, no ``..``); names longer than 150 characters keep a
  prefix and a hash of the whole name."""
  out = "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
                for c in name)
  if out.startswith("."):
    out = "%2E" + out[1:]
  if not out:
    out = "%"
  if len(out) > 150:
    out = out[:100] + "~" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:20]
  return out


def key_hash(key: Any) -> Optional[str]:
  """Hash of a JSON-able description of what determines a unit (None: no key)."""
  if key is None:
    return None
  text = json.dumps(report.jsonable(key), sort_keys=True, separators=(",", ":"))
  return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def read_manifest(path: str) -> Optional[dict]:
  """The manifest of the run in folder ``path`` (None if there is none or it is unreadable)."""
  try:
    with open(os.path.join(path, MANIFEST_FILE)) as f:
      doc = json.load(f)
  except (OSError, ValueError):
    return None
  return doc if isinstance(doc, dict) and doc.get("schema") == MANIFEST_SCHEMA else None


def _stored_config(path: str) -> Optional[dict]:
  """The config recorded in ``path/config.json`` (None if there is none); in a folder without
  a manifest it marks a run written before manifests existed."""
  try:
    with open(os.path.join(path, CONFIG_FILE)) as f:
      doc = json.load(f)
  except (OSError, ValueError):
    return None
  if isinstance(doc, dict) and set(doc) == {"config"} and isinstance(doc["config"], dict):
    return doc["config"]
  return None


def holds_run(path: str) -> bool:
  """True if folder ``path`` holds a chaosopt run (a manifest, or a pre-manifest run)."""
  return read_manifest(path) is not None or _stored_config(path) is not None


def _foreign_entries(path: str) -> list[str]:
  return sorted(n for n in os.listdir(path) if n not in (MANIFEST_FILE, LOCK_FILE))


def _refuse_special(path: str) -> None:
  """``/``, the home folder and the current folder are never made into a run (the current
  folder may be used when it already holds one)."""
  home = os.path.abspath(os.path.expanduser("~"))
  if path == os.path.abspath(os.sep) or path == home:
    which = "root" if path == os.sep else "home"
    raise WorkdirError(f"refusing to use {path} as a workdir (the {which} folder); pass a "
                       f"folder of its own, e.g. --workdir runs/NAME")
  if path == os.path.abspath(os.getcwd()) and not holds_run(path):
    raise WorkdirError(f"refusing to use the current folder {path} as a workdir; pass a folder "
                       f"of its own, e.g. --workdir runs/NAME")


# A process holds each workdir's lock once; Workdir objects of the same folder in one process
# share it (the lock is about processes, the only writers that can race).
_LOCKS: dict[str, list] = {}


def _acquire_lock(path: str) -> None:
  if path in _LOCKS:
    _LOCKS[path][1] += 1
    return
  lock_path = os.path.join(path, LOCK_FILE)
  fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
  if fcntl is not None:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      try:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
      finally:
        os.close(fd)
      raise WorkdirError(f"workdir {path} is in use by another chaosopt process ({holder}); "
                         f"wait for it to finish or use another --workdir") from None
  os.ftruncate(fd, 0)
  os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
  _LOCKS[path] = [fd, 1]


def _release_lock(path: str) -> None:
  entry = _LOCKS.get(path)
  if entry is None:
    return
  entry[1] -= 1
  if entry[1] == 0:
    del _LOCKS[path]
    os.close(entry[0])  # releases the flock


def _remove(p: str) -> None:
  if os.path.isdir(p) and not os.path.islink(p):
    shutil.rmtree(p)
  elif os.path.lexists(p):
    os.remove(p)


class Workdir:
  """A prepared workdir (see the module docstring). ``path`` is absolute.

  Use as a context manager, or call :meth:`close`, to release the lock early; otherwise it is
  held until the object is collected or the process ends.
  """

  def __init__(self, path: str, config: dict, *, restart: bool = False, writer: bool = True,
               evolve: Optional[Callable[[dict, dict], dict]] = None):
    """``writer=False``: the view of a process that must not write (processes > 0 of a
    ``jax.distributed`` run): no checks, no lock, nothing created; :meth:`unit` loads what the
    writer stored and otherwise computes without storing; :meth:`sub` creates no folders.

    ``evolve(stored, current)``: maps a stored config to the current schema (defaults of keys
    added since, renamed keys) before the two are compared."""
    self.path = os.path.abspath(path)
    self.config = _normalize(config)
    self.writer = bool(writer)
    self._locked = False
    # the manifest is updated from the scheme groups' threads (chaosopt.train.runner)
    self._manifest_lock = threading.Lock()
    if not self.writer:
      manifest = read_manifest(self.path)
      self.run_id = manifest.get("run_id") if manifest else None
      self._entries: set = set()
      return
    _refuse_special(self.path)
    if os.path.lexists(self.path) and not os.path.isdir(self.path):
      raise WorkdirError(f"workdir {self.path} exists and is not a directory")
    if os.path.isdir(self.path) and not holds_run(self.path):
      others = _foreign_entries(self.path)
      if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise WorkdirError(f"workdir {self.path} holds files that are not a chaosopt run "
                           f"({shown}); nothing was written there. Use an empty or new folder.")
    try:
      os.makedirs(self.path, exist_ok=True)
      _acquire_lock(self.path)
    except OSError as e:
      raise WorkdirError(f"workdir {self.path} is not writable: {e}") from None
    self._locked = True
    try:
      self._open(restart, evolve)
    except BaseException:
      self.close()
      raise

  # ------------------------------------------------------------------ ownership
  def _open(self, restart: bool, evolve) -> None:
    manifest = read_manifest(self.path)
    if manifest is None:
      legacy = _stored_config(self.path)
      if legacy is not None:  # a run written before manifests: migrate it once
        entries = {n for n in LEGACY_OWNED if os.path.lexists(os.path.join(self.path, n))}
        entries |= self._legacy_figures()
        manifest = self._new_manifest(entries, migrated=True)
        logger.info("workdir %s: a run written before manifests; recorded its %d entries",
                    self.path, len(entries))
      else:
        manifest = self._new_manifest(set())
    self.run_id = manifest["run_id"]
    self._entries = set(manifest["entries"]) | {MANIFEST_FILE, LOCK_FILE}
    self._manifest = manifest
    self._write_manifest()
    cfg_path = os.path.join(self.path, CONFIG_FILE)
    if restart:
      self.clear()
    elif os.path.exists(cfg_path):
      old_cfg = _stored_config(self.path)
      if old_cfg is not None and evolve is not None:
        old_cfg = _normalize(evolve(old_cfg, self.config))
      if old_cfg != self.config:
        diff = config_diff(old_cfg or {}, self.config) if old_cfg is not None else [
            "config.json is unreadable"]
        shown = "\n  ".join(diff[:20]) + ("\n  ..." if len(diff) > 20 else "")
        raise WorkdirError(
            f"workdir {self.path} holds a run of a different config:\n  {shown}\n"
            f"Use another --workdir, or --restart to delete that run and start clean.")
      if _stored_config(self.path) == self.config:
        return  # same config: resume
      # a config written by older code, equal once evolved: recorded in the current form
    report.write_json(self.file(CONFIG_FILE), {"config": self.config})
    return

  def _legacy_figures(self) -> set:
    try:
      with open(os.path.join(self.path, RESULTS_FILE)) as f:
        figs = json.load(f).get("figures", [])
    except (OSError, ValueError, AttributeError):
      return set()
    return {f for f in figs if isinstance(f, str) and os.sep not in f
            and os.path.exists(os.path.join(self.path, f))}

  def _new_manifest(self, entries: set, migrated: bool = False) -> dict:
    doc = {"schema": MANIFEST_SCHEMA, "run_id": uuid.uuid4().hex,
           "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "entries": sorted(entries)}
    if migrated:
      doc["migrated"] = True
    return doc

  def _write_manifest(self) -> None:
    self._manifest["entries"] = sorted(self._entries - {MANIFEST_FILE, LOCK_FILE})
    path = os.path.join(self.path, MANIFEST_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      json.dump(self._manifest, f, indent=1)
      f.write("\n")
    os.replace(tmp, path)

  def own(self, name: str) -> None:
    """Records the top-level entry ``name`` (a file or a folder owned whole) in the manifest
    before it is written."""
    top = name.split("/", 1)[0].split(os.sep, 1)[0]
    if not self.writer or top in self._entries:
      return
    if not top or top in (".", "..") or os.path.isabs(name):
      raise ValueError(f"not a workdir entry: {name!r}")
    with self._manifest_lock:  # one writer of the manifest at a time (threads)
      if top not in self._entries:
        self._entries.add(top)
        self._write_manifest()

  @property
  def entries(self) -> list[str]:
    """The top-level entries this run owns (the manifest's list)."""
    return sorted(self._entries - {MANIFEST_FILE, LOCK_FILE})

  def clear(self) -> None:
    """Deletes what the run wrote here (the manifest's entries), nothing else, and starts a new
    run (a new run id: units of the old run are never loaded again)."""
    for name in self.entries:
      _remove(os.path.join(self.path, name))
    self._entries = {MANIFEST_FILE, LOCK_FILE}
    self._manifest = self._new_manifest(set())
    self.run_id = self._manifest["run_id"]
    self._write_manifest()

  def close(self) -> None:
    """Releases the lock (idempotent)."""
    if self._locked:
      self._locked = False
      _release_lock(self.path)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def __del__(self):
    with contextlib.suppress(Exception):
      self.close()

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
    except (OSError, ValueError, AttributeError):
      return False

  def file(self, name: str) -> str:
    """Path of the file ``name`` (relative to the workdir), recorded in the manifest; parent
    folders are created."""
    return self.sub(*name.split("/"))

  def sub(self, *names: str) -> str:
    """Path of ``names`` inside the workdir (recorded in the manifest; parent folders
    created)."""
    p = os.path.join(self.path, *names)
    if self.writer:
      self.own(names[0])
      os.makedirs(os.path.dirname(p), exist_ok=True)
    return p

  def checkpoint_dir(self, tag: str, key: Any = None) -> str:
    """Folder for the checkpoints of one training loop, ``checkpoints/<safe_name(tag)>``. It
    carries an identity (run id, tag, ``key_hash(key)``); a folder of another run, tag or key
    is deleted (it is this run's entry) and started afresh."""
    path = self.sub("checkpoints", safe_name(tag))
    ident = {"run": self.run_id, "name": tag, "key": key_hash(key)}
    id_path = os.path.join(path, IDENTITY_FILE)
    if not self.writer:
      return path
    if os.path.isdir(path):
      try:
        with open(id_path) as f:
          same = json.load(f) == ident
      except (OSError, ValueError):
        same = False
      if not same:
        logger.warning("checkpoints %s belong to another run, scheme or config; starting "
                       "that loop afresh", path)
        shutil.rmtree(path)
    if not os.path.isdir(path):
      os.makedirs(path)
      report.write_json(id_path, ident)
    return path

  def unit(self, name: str, fn: Callable[[], Any], key: Any = None) -> Any:
    """Result of ``fn()``, computed once: stored in ``units/<safe_name(name)>.pkl``
    (atomically) with the run id, ``name`` and ``key_hash(key)``, and loaded on a re-run of the
    same run, so a killed run loses at most the unit in progress. A unit that is damaged or
    belongs to another run, name or key is recomputed (with a warning naming the file). ``fn``
    must return picklable host data (numbers, lists, dicts, numpy arrays)."""
    path = self.sub("units", safe_name(name) + ".pkl")
    ident = {"run": self.run_id, "name": name, "key": key_hash(key)}
    if os.path.exists(path) and self.run_id is not None:
      try:
        with open(path, "rb") as f:
          stored = pickle.load(f)
        if isinstance(stored, dict) and stored.get("chaosopt_unit") == ident:
          return stored["value"]
        logger.warning("unit %s belongs to another run, name or config; recomputing it", path)
      except Exception as e:  # noqa: BLE001 - any damage: recompute
        logger.warning("unit %s is damaged (%s: %s); recomputing it", path, type(e).__name__,
                       str(e)[:100])
    value = fn()
    if not self.writer:
      return value
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
      pickle.dump({"chaosopt_unit": ident, "value": value}, f)
    os.replace(tmp, path)
    return value


def as_workdir(workdir: "str | Workdir", config: Optional[dict] = None) -> Workdir:
  """``workdir`` itself, or a :class:`Workdir` prepared for ``config`` (library calls of an
  experiment's ``run(config, "path")``)."""
  if isinstance(workdir, Workdir):
    return workdir
  return Workdir(workdir, config or {})
