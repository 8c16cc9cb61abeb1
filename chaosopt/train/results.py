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

``load(workdir)`` resolves the references (``arrays=False``: the light document alone, the
references left in place); documents of schema ``chaosopt.results/1`` (plain JSON, no
references) load as before. ``final_table(doc)`` flattens the per-scheme, per-seed final
metrics of a scheme-table experiment into rows ready for ``pandas.DataFrame(rows)``;
``history(workdir)`` loads the full per-step arrays of a scheme table (``history.npz``).

``python -m chaosopt.train.results --convert DIR ...`` rewrites results written in the plain
``chaosopt.results/1`` form into the two files (once, for committed reports).
"""
from __future__ import annotations

import io
import json
import os
import sys
import zipfile

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
  (``None`` = non-finite), from ``doc["results"]["schemes"]``."""
  rows = []
  schemes = doc.get("results", {}).get("schemes", {})
  for name, s in schemes.items():
    for j, seed in enumerate(s["seeds"]):
      row = {"scheme": name, "seed": seed, "diverged_at": s["diverged_at"][j]}
      row.update({m: v[j] for m, v in s["final"].items()})
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
