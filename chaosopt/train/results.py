"""Reading results back (execution layer, no paper equation).

``load(workdir)`` returns the ``results.json`` document every experiment writes (schema
``chaosopt.results/1``, see :mod:`chaosopt.train.experiment`); ``final_table(doc)`` flattens
the per-scheme, per-seed final metrics of a scheme-table experiment into rows ready for
``pandas.DataFrame(rows)``; ``history(workdir)`` loads the per-step arrays (``history.npz``).
"""
from __future__ import annotations

import json
import os

import numpy as np

from chaosopt.train.workdir import RESULTS_FILE


def load(workdir: str) -> dict:
  """The results document of ``workdir`` (``FileNotFoundError`` naming the path if absent)."""
  path = os.path.join(workdir, RESULTS_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"no {RESULTS_FILE} in {workdir!r} (has the run finished?)")
  with open(path) as f:
    return json.load(f)


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
