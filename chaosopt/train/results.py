"""Writing and reading results (execution layer, no paper equation).

Every experiment's results document (schema ``chaosopt.results/2``, see
:mod:`chaosopt.train.experiment`) is stored as two files in its workdir:

* ``results.json`` — the document, readable: settings, finals, summaries, verdicts, provenance;
* ``results.npz`` — the large numeric arrays of its ``results`` block (per-step curves,
  histories, sample sets), one compressed column each.

The rule (:func:`write`): inside ``doc["results"]``, a list that is a rectangular (nested)
array of more than :data:`INLINE_MAX` numbers of one kind — floats (``None`` allowed: JSON's
non-finite), ints, or bools — is stored in ``results.npz`` and replaced in the JSON by a
reference ``{"$array": "results/schemes/gd/history/loss", "shape": [8, 400],
"dtype": "float64"}`` (the key is the path in the document). Floats are stored as float64 with
NaN for ``None``, ints as int64, bools as bool, so :func:`load` gives back exactly the data the
plain JSON held (the same Python floats, ints, bools and ``None``). Anything else — ragged
lists, lists mixing ints with floats or ``None``, strings — stays in the JSON (the rule looks
inside it for arrays). A per-seed final metric (up to 256 seeds) thus stays in the JSON.

**The scheme record.** A scheme-table experiment (P0 Table 1 and 2, the widening valley, any
config with a task and schemes) stores one :class:`SchemeRecord` per scheme under
``results["schemes"][name]``, built by :func:`scheme_record` (the one builder) and written by
:meth:`SchemeRecord.to_dict`:

* ``kind`` — the scheme's noise kind (:mod:`chaosopt.transforms.registry`; the authors'
  valley script: its option name); ``hparams`` — its hyper-parameters as it ran (traced, then
  static and run context);
* ``seeds`` — the seeds run, in order; every per-seed array below follows it;
* ``initial`` — metric -> ``[seeds]`` at the initial parameters (when measured);
  ``final`` — metric -> ``[seeds]`` at the final parameters, or at the last finite ones for a
  seed that diverged;
* ``eval_steps`` ``[E]`` and ``evals`` — metric -> ``[seeds, E]``, the evaluations between
  chunks (step 0 included);
* ``diverged_at`` — ``[seeds]`` int: the step at which a seed's loss or parameters became
  non-finite and it was frozen, ``-1`` if never (such seeds are excluded from summaries and
  listed in ``results["diverged"]``);
* ``history_steps`` ``[H]`` and ``history`` — metric -> ``[seeds, H]``, per-step values
  subsampled to ``history_points`` steps (optional; the full arrays are in ``history.npz``);
* then experiment-specific entries (``their_seeds``, ``timings``, ...).

:meth:`SchemeRecord.from_dict` reads a stored record back (older documents, with fewer keys,
included); :func:`final_table` reads the records of a document.

``load(workdir)`` resolves the references (``arrays=False``: the light document alone, the
references left in place); documents of schema ``chaosopt.results/1`` (plain JSON, no
references) load as before. ``final_table(doc)`` flattens the per-scheme, per-seed final
metrics of a scheme-table experiment into rows ready for ``pandas.DataFrame(rows)``;
``history(workdir)`` loads the full per-step arrays of a scheme table (``history.npz``).

``python -m chaosopt.train.results --convert DIR ...`` rewrites results written in the plain
``chaosopt.results/1`` form into the two files (once, for committed reports).
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
import zipfile
from typing import Any, Optional

import numpy as np

from chaosopt.core.errors import DataError
from chaosopt.train import report
from chaosopt.train.workdir import RESULTS_FILE

# /2: large arrays of "results" in results.npz, referenced from results.json; /1: all in JSON
SCHEMA = "chaosopt.results/2"
ARRAYS_FILE = "results.npz"
# lists of at most this many numbers stay in results.json (e.g. a final metric per seed)
INLINE_MAX = 256
_REF_KEYS = {"$array", "shape", "dtype"}


# ----------------------------------------------------------------------------- writing
def write(workdir: str, doc: dict) -> list[str]:
  """Writes ``doc`` (numpy/jax values allowed) as ``results.json`` + ``results.npz`` in
  ``workdir``, each atomically (a temporary file, then ``os.replace``; the arrays first, so the
  JSON never references arrays not yet written), ``doc["schema"]`` set to :data:`SCHEMA`.
  Every results file of a run is written here. Returns the paths written: the npz only when
  ``doc["results"]`` holds an array over :data:`INLINE_MAX` numbers (a stale one is removed)."""
  arrays: dict[str, np.ndarray] = {}
  doc = dict(report.jsonable(doc), schema=SCHEMA)
  if "results" in doc:
    doc["results"] = _split(doc["results"], "results", arrays)
  written = []
  npz = os.path.join(workdir, ARRAYS_FILE)
  if arrays:
    _write_npz(npz, arrays)
    written.append(npz)
  elif os.path.exists(npz):
    os.remove(npz)
  path = os.path.join(workdir, RESULTS_FILE)
  report.write_json(path, doc)
  return written + [path]


def _split(x, key: str, arrays: dict):
  """``x`` with its large arrays moved into ``arrays`` (``{key: ndarray}``) and referenced."""
  if isinstance(x, dict):
    return {k: _split(v, f"{key}/{k}", arrays) for k, v in x.items()}
  if not isinstance(x, list):
    return x
  a = _as_array(x)
  if a is None:
    return [_split(v, f"{key}/{i}", arrays) for i, v in enumerate(x)]
  name, n = key, 1
  while name in arrays:  # a dict key holding "/" could repeat a path
    name, n = f"{key}#{n}", n + 1
  arrays[name] = a
  return {"$array": name, "shape": list(a.shape), "dtype": str(a.dtype)}


def _as_array(x: list):
  """``x`` as an ndarray that gives it back exactly, if it is a rectangular array of more than
  ``INLINE_MAX`` floats (``None`` allowed), ints or bools; else None."""
  shape, node = [], x
  while isinstance(node, list):
    shape.append(len(node))
    if not node:
      break
    node = node[0]
  if int(np.prod(shape)) <= INLINE_MAX:
    return None
  flat = []

  def leaves(v, depth):
    if depth == len(shape):
      if isinstance(v, (list, dict)):
        return False
      flat.append(v)
      return True
    return isinstance(v, list) and len(v) == shape[depth] and all(leaves(w, depth + 1)
                                                                   for w in v)

  if not leaves(x, 0):
    return None  # ragged
  kinds = {type(v) for v in flat}
  if kinds <= {float, type(None)} and float in kinds:
    return np.array([np.nan if v is None else v for v in flat], np.float64).reshape(shape)
  if kinds == {int} and -2**63 <= min(flat) and max(flat) < 2**63:
    return np.array(flat, np.int64).reshape(shape)
  if kinds == {bool}:
    return np.array(flat, np.bool_).reshape(shape)
  return None


def _write_npz(path: str, arrays: dict) -> None:
  """``np.savez_compressed`` with fixed timestamps: the same arrays give the same bytes (a
  re-rendered report does not change its committed npz), written atomically."""
  tmp = path + ".tmp"
  with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    for name, a in arrays.items():
      buf = io.BytesIO()
      np.lib.format.write_array(buf, a, allow_pickle=False)
      info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
      info.compress_type = zipfile.ZIP_DEFLATED
      z.writestr(info, buf.getvalue())
  os.replace(tmp, path)


# ----------------------------------------------------------------------------- records
@dataclasses.dataclass
class SchemeRecord:
  """The results of one scheme of a scheme table (fields: the module docstring). In memory,
  ``history`` holds the full per-step arrays and ``final_params`` the final parameters (neither
  stored whole); ``name`` and ``messages`` (one line per diverged seed) are not stored either."""
  kind: str
  hparams: dict
  seeds: list
  final: dict
  initial: Optional[dict]
  eval_steps: Any
  evals: dict
  diverged_at: Any
  history: dict
  history_steps: Any = None
  extra: dict = dataclasses.field(default_factory=dict)
  name: str = ""
  messages: list = dataclasses.field(default_factory=list)
  final_params: Any = None

  @property
  def diverged(self) -> list[dict]:
    """``[{"scheme", "seed", "step"}]`` of the seeds that were frozen."""
    return [{"scheme": self.name, "seed": int(s), "step": int(d)}
            for s, d in zip(self.seeds, self.diverged_at) if d is not None and d >= 0]

  def to_dict(self, history_points: int = 0) -> dict:
    """The stored record: arrays as numpy (float64 metrics), the per-step history subsampled
    to ``history_points`` steps (``x_1 ... x_T``; 0: none) unless already subsampled."""
    d = {"kind": self.kind, "hparams": self.hparams, "seeds": [int(s) for s in self.seeds]}
    if self.initial is not None:
      d["initial"] = {k: np.asarray(v, np.float64) for k, v in self.initial.items()}
    d["final"] = {k: np.asarray(v, np.float64) for k, v in self.final.items()}
    d["eval_steps"] = np.asarray(self.eval_steps)
    d["evals"] = self.evals
    d["diverged_at"] = np.asarray(self.diverged_at)
    if self.history_steps is not None:
      d["history_steps"], d["history"] = self.history_steps, self.history
    elif history_points and self.history:
      t = np.shape(next(iter(self.history.values())))[-1]
      idx = np.unique(np.linspace(0, t - 1, min(history_points, t)).round().astype(int))
      d["history_steps"] = idx + 1
      d["history"] = {k: np.asarray(v)[:, idx] for k, v in self.history.items()}
    d.update(self.extra)
    return d

  @classmethod
  def from_dict(cls, d: dict, name: str = "") -> "SchemeRecord":
    """A stored record (any version: missing keys get their empty values)."""
    known = {"kind", "hparams", "seeds", "final", "initial", "eval_steps", "evals",
             "diverged_at", "history", "history_steps"}
    seeds = list(d.get("seeds", []))
    return cls(kind=d.get("kind", ""), hparams=dict(d.get("hparams", {})), seeds=seeds,
               final=dict(d.get("final", {})), initial=d.get("initial"),
               eval_steps=d.get("eval_steps", []), evals=dict(d.get("evals", {})),
               diverged_at=list(d.get("diverged_at", [-1] * len(seeds))),
               history=dict(d.get("history", {})), history_steps=d.get("history_steps"),
               extra={k: v for k, v in d.items() if k not in known}, name=name)


def scheme_record(name: str, kind: str, hparams: dict, seeds, *, final: Optional[dict] = None,
                  initial: Optional[dict] = None, eval_steps=None, evals: Optional[dict] = None,
                  diverged_at=None, history: Optional[dict] = None,
                  **extra) -> SchemeRecord:
  """The one builder of a :class:`SchemeRecord`: per-seed arrays follow ``seeds``;
  ``diverged_at`` defaults to "never" (``-1``); ``messages`` name every frozen seed; ``extra``
  keyword arguments are stored after the standard entries."""
  seeds = [int(s) for s in seeds]
  div = (np.full(len(seeds), -1, np.int64) if diverged_at is None
         else np.asarray(diverged_at))
  messages = [f"scheme {name!r} seed {seed}: non-finite loss or parameters at step {int(d)}; "
              f"that seed was stopped and keeps its last finite parameters (excluded from the "
              f"summary statistics)" for seed, d in zip(seeds, div) if d >= 0]
  return SchemeRecord(kind=kind, hparams=dict(hparams), seeds=seeds, final=dict(final or {}),
                      initial=initial, eval_steps=np.asarray(
                          [] if eval_steps is None else eval_steps),
                      evals=dict(evals or {}), diverged_at=div, history=dict(history or {}),
                      extra=extra, name=name, messages=messages)


# ----------------------------------------------------------------------------- reading
def load(workdir: str, arrays: bool = True) -> dict:
  """The results document of ``workdir`` (``FileNotFoundError`` naming the path if absent).

  ``arrays=False``: the light document only (``results.npz`` is not read; its references stay
  as ``{"$array", "shape", "dtype"}`` dicts) — enough for finals, summaries and verdicts."""
  path = os.path.join(workdir, RESULTS_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"no {RESULTS_FILE} in {workdir!r} (has the run finished?)")
  with open(path) as f:
    doc = json.load(f)
  if not arrays or not isinstance(doc, dict) or "results" not in doc:
    return doc
  npz = os.path.join(workdir, ARRAYS_FILE)
  store = None
  try:
    store = np.load(npz) if os.path.exists(npz) else None
    doc["results"] = _resolve(doc["results"], store, npz)
  except (OSError, ValueError, zipfile.BadZipFile) as e:
    raise DataError(f"{npz} is damaged ({e}); re-run the experiment with --restart",
                    npz) from None
  finally:
    if store is not None:
      store.close()
  return doc


def _resolve(x, store, npz: str):
  if isinstance(x, list):
    return [_resolve(v, store, npz) for v in x]
  if not isinstance(x, dict):
    return x
  if set(x) != _REF_KEYS:
    return {k: _resolve(v, store, npz) for k, v in x.items()}
  if store is None or x["$array"] not in store.files:
    raise DataError(f"{npz} lacks the array {x['$array']!r} that {RESULTS_FILE} references; "
                    f"re-run the experiment with --restart", npz)
  a = store[x["$array"]]
  if list(a.shape) != x["shape"] or str(a.dtype) != x["dtype"]:
    raise DataError(f"{npz}: array {x['$array']!r} is {a.dtype}{list(a.shape)}, "
                    f"{RESULTS_FILE} expects {x['dtype']}{x['shape']}", npz)
  if a.dtype.kind != "f":
    return a.tolist()
  out = a.astype(object)
  out[np.isnan(a)] = None
  return out.tolist()


def final_table(doc: dict) -> list[dict]:
  """One row per (scheme, seed): ``{"scheme", "seed", "diverged_at", metric: value, ...}``
  (``None`` = non-finite), from the scheme records of ``doc["results"]["schemes"]``."""
  rows = []
  schemes = doc.get("results", {}).get("schemes", {})
  for name, s in schemes.items():
    r = SchemeRecord.from_dict(s)
    for j, seed in enumerate(r.seeds):
      row = {"scheme": name, "seed": seed, "diverged_at": r.diverged_at[j]}
      row.update({m: v[j] for m, v in r.final.items()})
      rows.append(row)
  return rows


def final_arrays(doc: dict, metric: str) -> dict[str, np.ndarray]:
  """``{scheme: float64 array over seeds}`` of one final metric (NaN where non-finite)."""
  schemes = doc.get("results", {}).get("schemes", {})
  return {n: np.array([np.nan if v is None else v for v in s["final"][metric]], np.float64)
          for n, s in schemes.items()}


def history(workdir: str) -> dict[str, np.ndarray]:
  """Per-step arrays ``{"<scheme>/<metric>": [seeds, steps]}`` if the run stored them."""
  path = os.path.join(workdir, "history.npz")
  if not os.path.exists(path):
    return {}
  with np.load(path) as z:
    return {k: z[k] for k in z.files}


# ----------------------------------------------------------------------------- conversion
def convert(workdir: str) -> list[str]:
  """Rewrites a plain ``chaosopt.results/1`` results.json in ``workdir`` into the
  ``chaosopt.results/2`` pair (same data, :func:`load` returns it unchanged but for the schema
  name). Returns the paths written; nothing (``[]``) when no array is large enough to move."""
  doc = load(workdir)
  arrays: dict = {}
  _split(doc.get("results", {}), "results", arrays)
  return write(workdir, doc) if arrays else []


if __name__ == "__main__":
  if len(sys.argv) < 3 or sys.argv[1] != "--convert":
    sys.exit("usage: python -m chaosopt.train.results --convert WORKDIR [WORKDIR ...]")
  for d in sys.argv[2:]:
    print(d, " ".join(os.path.basename(p) for p in convert(d)) or "(nothing to move)")
