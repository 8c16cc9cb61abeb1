"""The optional wandb hook (:mod:`chaosopt.train.wandb_log`), with a stand-in ``wandb`` module
(no network): the run's config, per-step medians in step order, final medians in the summary,
wandb's files inside the workdir's manifest; without wandb one log line. Execution layer."""
from __future__ import annotations

import logging
import sys
import types

from chaosopt.train import wandb_log, workdir as workdir_lib
from test_tensorboard import _doc


class _Run:
  def __init__(self, **kw):
    self.init, self.logged, self.summary, self.finished, self.id = kw, [], {}, False, "r1"

  def log(self, data, step):
    self.logged.append((step, dict(data)))

  def finish(self):
    self.finished = True


def test_log_run_sends_the_medians_in_step_order(tmp_path, monkeypatch):
  runs = []
  fake = types.SimpleNamespace(init=lambda **kw: runs.append(_Run(**kw)) or runs[-1])
  monkeypatch.setitem(sys.modules, "wandb", fake)
  doc = dict(_doc(), settings={"learning_rate": 0.1}, variant="quick")
  with workdir_lib.Workdir(str(tmp_path / "w"), {"a": 1}) as wd:
    assert wandb_log.log_run(wd, doc, "proj") == "r1"
    assert "wandb" in wd.entries
  (run,) = runs
  assert run.init["project"] == "proj" and run.init["name"] == "x:quick"
  assert run.init["config"] == {"learning_rate": 0.1}
  assert [s for s, _ in run.logged] == [0, 5] and run.finished
  assert run.logged[1][1]["gd/loss/median"] == 1.5
  assert run.summary == {"gd/final/loss/median": 1.5}


def test_without_wandb_one_line(tmp_path, monkeypatch, caplog):
  monkeypatch.setattr(wandb_log, "_wandb", lambda: None)
  with workdir_lib.Workdir(str(tmp_path / "w"), {"a": 1}) as wd:
    with caplog.at_level(logging.INFO, logger="chaosopt"):
      assert wandb_log.log_run(wd, _doc(), "proj") is None
    assert "wandb" not in wd.entries
  assert sum("wandb" in r.getMessage() for r in caplog.records) == 1
