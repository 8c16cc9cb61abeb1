"""TensorBoard event files of a run's scalar metrics (execution layer, no paper equation).

Every run writes them beside ``metrics.csv`` (:func:`write_events`, called by
:func:`chaosopt.train.experiment.execute`), into ``<workdir>/tensorboard/`` (one entry of the
workdir's manifest), from the same long rows (:func:`chaosopt.train.export.rows`):

* one TensorBoard *run* per scheme, ``tensorboard/<scheme>/`` (names encoded by
  :func:`chaosopt.train.workdir.safe_name`), so TensorBoard overlays the schemes: per metric
  the median and quartiles over seeds at every evaluation step (``<metric>/median``,
  ``<metric>/q25``, ``<metric>/q75``; diverged seeds and non-finite values left out) and the
  final values' (``final/<metric>/median``, ... at the last step); its hyper-parameters with
  the final medians in the HParams dashboard (``tensorboard/<scheme>/hparams``), so a sweep's
  cells can be sorted there;
* the other scalars of the results (experiments without a scheme table), one tag each, at
  step 0, in ``tensorboard/results/``.

The writer is tensorboardX (``pip install chaosopt[tensorboard]``); without it a run logs one
line and writes no events. ``tensorboard --logdir <workdir>/tensorboard`` shows them;
:func:`read_scalars` reads them back (tests, scripts).
"""
from __future__ import annotations

import glob
import logging
import math
import os
import shutil
import struct
from typing import Optional

import numpy as np

from chaosopt.train import export
from chaosopt.train import workdir as workdir_lib

EVENTS_DIR = "tensorboard"
logger = logging.getLogger("chaosopt")


def _writer_class():
  try:
    from tensorboardX import SummaryWriter
  except ImportError:
    return None
  return SummaryWriter


def available() -> bool:
  """Whether an event-file writer (tensorboardX) is installed."""
  return _writer_class() is not None


def _float(text: str) -> float:
  try:
    return float(text)
  except ValueError:
    return math.nan


def scalars(doc: dict) -> dict:
  """``{run: {"points": [(tag, step, value)], "hparams": {...}, "final": {tag: value}}}`` of
  the results document ``doc`` (see the module docstring)."""
  header, rows = export.rows(doc)
  col = {c: i for i, c in enumerate(header)}
  hp_cols = header[len(export.HEAD):len(header) - len(export.TAIL)]
  groups: dict = {}
  hparams: dict = {}
  for r in rows:
    scheme = r[col["scheme"]]
    run = scheme or "results"
    if r[col["diverged_at"]]:
      continue
    step = r[col["step"]]
    key = (run, r[col["metric"]], int(step) if step else None)
    groups.setdefault(key, []).append(_float(r[col["value"]]))
    if scheme and run not in hparams:
      hparams[run] = {c: r[col[c]] for c in hp_cols if r[col[c]] != ""}
  last = max([k[2] for k in groups if k[2] is not None] + [0])
  out: dict = {}
  for (run, metric, step), vals in groups.items():
    entry = out.setdefault(run, {"points": [], "hparams": hparams.get(run, {}), "final": {}})
    v = np.asarray(vals, np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
      continue
    if run == "results":
      entry["points"].append((metric, 0, float(v[0])))
      continue
    q25, med, q75 = (float(x) for x in np.percentile(v, [25, 50, 75]))
    prefix = metric if step is not None else f"final/{metric}"
    at = step if step is not None else last
    entry["points"] += [(f"{prefix}/median", at, med), (f"{prefix}/q25", at, q25),
                        (f"{prefix}/q75", at, q75)]
    if step is None:
      entry["final"][f"final/{metric}/median"] = med
  return out


def _hp_value(text: str):
  try:
    return float(text)
  except ValueError:
    return text


def write_events(wd, doc: dict) -> Optional[str]:
  """Writes the event files of ``doc`` into ``<workdir>/tensorboard/`` (recorded in the
  manifest; an earlier run's events there are replaced) and returns that folder; None (one log
  line) when tensorboardX is not installed."""
  writer_cls = _writer_class()
  if writer_cls is None:
    logger.info("tensorboard: tensorboardX is not installed (pip install "
                "'chaosopt[tensorboard]'); no event files written")
    return None
  root = wd.sub(EVENTS_DIR)
  if os.path.isdir(root):
    shutil.rmtree(root)  # this run's entry: rewritten from the results, like metrics.csv
  os.makedirs(root, exist_ok=True)
  for run, entry in scalars(doc).items():
    path = os.path.join(root, workdir_lib.safe_name(run))
    w = writer_cls(logdir=path, flush_secs=3600)
    try:
      for tag, step, value in entry["points"]:
        w.add_scalar(tag, value, step, walltime=0.0)
      if entry["hparams"] and entry["final"]:
        w.add_hparams({k: _hp_value(v) for k, v in entry["hparams"].items()}, entry["final"],
                      name="hparams")
    finally:
      w.close()
  return root


# ----------------------------------------------------------------------------- reading
def _records(path: str):
  """The records of a TFRecord file (length, masked CRC, data, masked CRC; CRCs not checked)."""
  with open(path, "rb") as f:
    while True:
      head = f.read(12)
      if len(head) < 12:
        return
      (n,) = struct.unpack("<Q", head[:8])
      data = f.read(n)
      f.read(4)
      if len(data) < n:
        return
      yield data


def read_scalars(folder: str) -> list[tuple[str, int, float]]:
  """``[(tag, step, value)]`` of every scalar in the event files directly in ``folder``
  (tensorboardX's protobuf definitions parse them)."""
  from tensorboardX.proto import event_pb2
  out = []
  for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
    for data in _records(path):
      ev = event_pb2.Event()
      ev.ParseFromString(data)
      if ev.HasField("summary"):
        for v in ev.summary.value:
          if v.HasField("simple_value"):
            out.append((v.tag, int(ev.step), float(v.simple_value)))
  return out
