"""Helpers for experiment outputs: plain JSON, statistics and markdown tables for reports.

No paper equation. Every experiment writes, into its workdir, ``results.json`` (+
``results.npz``: :func:`chaosopt.train.results.write`), ``report.md`` (the paper's numbers
beside ours, with a verdict per claim) and figures; these helpers make all reports look and
parse the same.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from typing import Any, Iterable, Sequence

import numpy as np


def jsonable(x: Any) -> Any:
  """Plain JSON data from nested dicts/lists/tuples/NumPy/JAX values; NaN and ±Inf become
  ``None`` (JSON has none; diverged runs are listed separately in every results file)."""
  if isinstance(x, dict):
    return {str(k): jsonable(v) for k, v in x.items()}
  if hasattr(x, "_asdict"):  # NamedTuples
    return jsonable(x._asdict())
  if hasattr(x, "to_dict") and callable(x.to_dict):  # ConfigDict
    return jsonable(x.to_dict())
  if isinstance(x, (list, tuple)):
    return [jsonable(v) for v in x]
  if hasattr(x, "tolist"):  # numpy / jax arrays and scalars
    return jsonable(np.asarray(x).tolist())
  if isinstance(x, float) and not math.isfinite(x):
    return None
  if isinstance(x, (np.generic,)):
    return jsonable(x.item())
  return x


def write_json(path: str, obj: Any) -> None:
  """Writes ``obj`` (numpy/jax arrays allowed) as indented JSON, atomically."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(jsonable(obj), f, indent=2, sort_keys=False)
    f.write("\n")
  os.replace(tmp, path)


def mean_std(x, axis=0, ddof=1) -> tuple[float, float]:
  """Mean and sample standard deviation (ddof=1; 0.0 for a single value)."""
  x = np.asarray(x, dtype=np.float64)
  n = x.shape[axis] if x.ndim else 1
  return float(np.mean(x, axis=axis)), float(np.std(x, axis=axis, ddof=ddof)) if n > 1 else 0.0


def fmt_mean_std(x, digits: int = 4) -> str:
  m, s = mean_std(x)
  return f"{m:.{digits}f} ± {s:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
  """A GitHub-flavoured markdown table."""
  lines = ["| " + " | ".join(map(str, headers)) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
  for r in rows:
    lines.append("| " + " | ".join(str(c) for c in r) + " |")
  return "\n".join(lines) + "\n"


def environment() -> dict:
  """Machine, software versions and date (the benchmarks record it with their numbers)."""
  import jax
  return {
      "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
      "platform": platform.platform(),
      "python": platform.python_version(),
      "jax": jax.__version__,
      "backend": jax.default_backend(),
      "devices": [str(d) for d in jax.devices()],
      "cpu_count": os.cpu_count(),
      "x64": bool(jax.config.jax_enable_x64),
  }
