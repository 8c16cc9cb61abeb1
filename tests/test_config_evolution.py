"""Config evolution: a workdir whose config.json was written before a key existed (or under a
key's old name) still resumes and re-renders; a value that differs is still refused. Every
committed report re-renders with ``--report``. Execution layer; no paper equation."""
from __future__ import annotations

import glob
import functools
import json
import os
import shlex
import shutil

import pytest

from chaosopt import cli, experiments
from chaosopt.train import config as config_lib
from chaosopt.train import results as results_lib
from chaosopt.train import workdir as workdir_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORTS = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(ROOT, "reports", "*",
                                                                    "config.json")))


def test_evolve_fills_new_keys_with_defaults_and_follows_renames():
  defaults = {"a": 1, "task": {"name": "t", "dim": 3, "new": 0.5}, "added": "x"}
  current = json.loads(json.dumps(defaults))
  stored = {"a": 1, "task": {"name": "t", "dim": 3}}  # written before "new" and "added"
  assert config_lib.evolve(stored, current, defaults) == current
  assert stored == {"a": 1, "task": {"name": "t", "dim": 3}}  # not modified
  # a non-default value of a new key, or a changed old value, still differs
  assert config_lib.evolve(stored, dict(current, added="y"), defaults)["added"] == "x"
  assert config_lib.evolve({"a": 2, "task": {}}, current, defaults)["a"] == 2
  # a key the current config lacks is not added
  assert "added" not in config_lib.evolve(stored, {"a": 1, "task": {}}, defaults)
  renamed = {"a": 1, "task": {"name": "t", "size": 3}, "added": "x"}
  assert config_lib.evolve(renamed, current, defaults, {"task.size": "task.dim"}) == current


def _stored(tmp_path, drop=(), rename=None):
  """A workdir holding widening_valley's default config written before ``drop`` existed (or
  with ``rename = (new, old)`` under its old name)."""
  _, config, _ = experiments.load("widening_valley")
  old = json.loads(json.dumps(config.to_dict()))
  for key in drop:
    del old[key]
  if rename:
    old[rename[1]] = old.pop(rename[0])
  (tmp_path / "config.json").write_text(json.dumps({"config": old}))
  (tmp_path / "results.json").write_text(json.dumps({"status": "computed"}))
  return config


# how ``execute`` evolves a stored config of widening_valley (no variant)
EVOLVE = functools.partial(config_lib.evolve_for,
                           experiments.get_config_module("widening_valley"), "")


def test_workdir_accepts_a_config_stored_before_a_key_existed(tmp_path):
  config = _stored(tmp_path, drop=("history_points", "headline"))
  wd = workdir_lib.Workdir(str(tmp_path), config.to_dict(), evolve=EVOLVE)  # accepted
  assert os.path.exists(tmp_path / "results.json")
  assert json.loads((tmp_path / "config.json").read_text())["config"] == wd.config


def test_workdir_refuses_a_non_default_value_of_a_new_key(tmp_path):
  config = _stored(tmp_path, drop=("history_points",))
  config_lib.set_override(config, "history_points", "100")
  with pytest.raises(workdir_lib.WorkdirError, match=r"history_points: 400 -> 100"):
    workdir_lib.Workdir(str(tmp_path), config.to_dict(), evolve=EVOLVE)


def test_workdir_accepts_a_renamed_key(tmp_path, monkeypatch):
  config = _stored(tmp_path, rename=("history_points", "curve_points"))
  with pytest.raises(workdir_lib.WorkdirError, match="curve_points"):
    workdir_lib.Workdir(str(tmp_path), config.to_dict(), evolve=EVOLVE)  # no alias: refused
  monkeypatch.setitem(config_lib.ALIASES, "curve_points", "history_points")
  workdir_lib.Workdir(str(tmp_path), config.to_dict(), evolve=EVOLVE)


@pytest.mark.parametrize("report_dir", REPORTS, ids=os.path.basename)
def test_every_committed_report_rerenders_from_a_config_missing_keys(report_dir, tmp_path):
  """``chaosopt --report --no-plots`` of a copy of a committed report (figures not copied) with
  the config spec and overrides of the command that computed it, after removing from the copy's
  config.json every key at its default (as if written before those keys existed): no refusal.
  (~30 s for the 26 reports on a shared 2-core machine.)"""
  name = os.path.basename(report_dir)
  wd = tmp_path / name
  shutil.copytree(report_dir, wd, ignore=shutil.ignore_patterns("*.png", "*.pdf"))
  doc = results_lib.load(str(wd), arrays=False)
  argv = shlex.split(doc["provenance"]["command"])[1:]
  args = ["--config", argv[argv.index("--config") + 1]] + [
      a for a in argv if a.startswith("--config.")]
  _, base, _ = experiments.load(doc["experiment"])
  base = json.loads(json.dumps(base.to_dict()))
  stored = json.loads((wd / "config.json").read_text())["config"]
  kept = {k: v for k, v in stored.items() if v != base.get(k)}
  assert len(kept) < len(stored)
  (wd / "config.json").write_text(json.dumps({"config": kept}))
  assert cli.main(args + ["--workdir", str(wd), "--report", "--no-plots", "-q"]) == 0, name
  # written back whole, renamed keys (config.ALIASES, e.g. seed_mode) under their new names
  renamed = config_lib.evolve(stored, {}, {})
  assert json.loads((wd / "config.json").read_text())["config"] == renamed
  assert (wd / "report.md").read_text().strip()
