"""TensorBoard event files (:mod:`chaosopt.train.tensorboard`): written by every run into its
workdir (listed in the manifest), read back equal to the results' medians; without tensorboardX a
run logs one line and writes none. Execution layer; no paper equation."""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

from chaosopt import cli
from chaosopt.train import tensorboard, workdir as workdir_lib

pytest.importorskip("tensorboardX")

ARGS = ["--config", "airfoil_table1:quick", "--config.num_steps=10", "--config.chunk_size=5",
        "--config.task.hessian_trace=false", "--config.only=baseline,mpgd_0.6", "-q",
        "--no-plots"]


def _doc():
  return {"experiment": "x", "variant": "", "results": {
      "schemes": {"gd": {"kind": "gd", "hparams": {"learning_rate": 0.1}, "seeds": [0, 1, 2],
                         "eval_steps": [0, 5], "evals": {"loss": [[3.0, 1.0], [4.0, 2.0],
                                                                  [5.0, 9.0]]},
                         "final": {"loss": [1.0, 2.0, 9.0]}, "diverged_at": [-1, -1, 4]}},
      "summary": {}, "timings_s": {"gd": 1.5}}}


def test_events_read_back_as_median_and_quartiles_over_seeds(tmp_path):
  with workdir_lib.Workdir(str(tmp_path / "w"), {"a": 1}) as wd:
    root = tensorboard.write_events(wd, _doc())
    assert "tensorboard" in wd.entries
  got = {(t, s): v for t, s, v in tensorboard.read_scalars(os.path.join(root, "gd"))}
  # seed 2 diverged: left out
  assert got[("loss/median", 0)] == 3.5 and got[("loss/median", 5)] == 1.5
  assert got[("loss/q25", 5)] == pytest.approx(np.percentile([1.0, 2.0], 25))
  assert got[("final/loss/median", 5)] == 1.5
  assert tensorboard.read_scalars(os.path.join(root, "results")) == [("timings_s.gd", 0, 1.5)]
  hp = tensorboard.read_scalars(os.path.join(root, "gd", "hparams"))
  assert ("final/loss/median", 0, 1.5) in hp


def test_every_run_writes_events_listed_in_its_manifest(tmp_path, capsys):
  wd = str(tmp_path / "w")
  assert cli.main(ARGS + ["--workdir", wd]) == 0
  capsys.readouterr()
  manifest = json.load(open(os.path.join(wd, workdir_lib.MANIFEST_FILE)))
  assert "tensorboard" in manifest["entries"]
  doc = json.load(open(os.path.join(wd, "results.json")))
  for scheme in ("baseline", "mpgd_0.6"):
    got = {(t, s): v for t, s, v in tensorboard.read_scalars(
        os.path.join(wd, "tensorboard", scheme))}
    final = doc["results"]["summary"][scheme]["test_rmse"]["median"]
    assert got[("final/test_rmse/median", 10)] == pytest.approx(final, rel=1e-6)
    assert ("test_rmse/median", 5) in got
  # a re-render replaces the events (no duplicates)
  assert cli.main(ARGS + ["--workdir", wd, "--report"]) == 0
  files = [f for f in os.listdir(os.path.join(wd, "tensorboard", "baseline"))
           if f.startswith("events")]
  assert len(files) == 1


def test_without_tensorboardx_one_line_and_no_events(tmp_path, monkeypatch, caplog):
  monkeypatch.setattr(tensorboard, "_writer_class", lambda: None)
  with workdir_lib.Workdir(str(tmp_path / "w"), {"a": 1}) as wd:
    with caplog.at_level(logging.INFO, logger="chaosopt"):
      assert tensorboard.write_events(wd, _doc()) is None
    assert "tensorboard" not in wd.entries
  lines = [r.getMessage() for r in caplog.records if "tensorboard" in r.getMessage()]
  assert len(lines) == 1 and "pip install 'chaosopt[tensorboard]'" in lines[0]
