"""The experiments' pure ``verdicts(config, results)`` on synthetic results (an effect, its
absence, too few seeds, a control that shows the effect too), and what a report says about the
run it renders: in the paper's setting or a custom config, a smoke test. Experiments layer; no
paper equation."""
from __future__ import annotations

import numpy as np
import pytest

from chaosopt import experiments
from chaosopt.analysis import stats
from chaosopt.experiments import _setting
from chaosopt.train import config as config_lib
from chaosopt.train import experiment as experiment_lib


@pytest.fixture
def rng():
  return np.random.default_rng(0)


# ----------------------------------------------------------------- experiments' verdicts()
def _lr_results(msgd, large, log_se=0.02):
  return {"ratio_msgd_to_small_sgd": {"geomean": msgd, "log_se": log_se},
          "ratio_large_sgd_to_small_sgd": {"geomean": large, "log_se": log_se}}


def test_msgd_linear_regression_verdict_and_its_control():
  _, config, _ = experiments.load("msgd_linear_regression")
  mod = experiments.get("msgd_linear_regression")
  v, = mod.verdicts(config, _lr_results(1.0, 0.45))
  assert v["status"] == "reproduced" and v["control"]["status"] == "not reproduced"
  v, = mod.verdicts(config, _lr_results(1.6, 0.45))
  assert v["status"] == "not reproduced"
  v, = mod.verdicts(config, _lr_results(1.0, 1.0))  # large-batch SGD is "like" too: no power
  assert v["status"] == "inconclusive" and "no power" in v["reason"]
  v, = mod.verdicts(config, _lr_results(1.0, 0.45, log_se=0.2))
  assert v["status"] == "inconclusive"


def _axis_results(p_last, p_zero, se=0.015):
  return {"per_delta": [{"delta": 0.0, "p_exit_x1": p_zero, "se": se},
                        {"delta": 0.6, "p_exit_x1": p_last, "se": se}]}


def test_escape_axis_verdict_with_the_delta_zero_control():
  _, config, _ = experiments.load("escape_axis")
  mod = experiments.get("escape_axis")
  v, = mod.verdicts(config, _axis_results(0.8, 0.5))
  assert v["status"] == "reproduced" and v["control"]["status"] == "not reproduced"
  v, = mod.verdicts(config, _axis_results(0.8, 0.8))  # the control "prefers" x1 as much
  assert v["status"] == "inconclusive" and "no power" in v["reason"]
  v, = mod.verdicts(config, _axis_results(0.5, 0.5))
  assert v["status"] == "not reproduced"


def _table_results(values: dict) -> dict:
  """A scheme-table results block from ``{scheme: per-seed final test RMSE}``."""
  kinds = {"baseline": "gd", "gaussian": "gaussian"}
  return {"schemes": {n: {"kind": kinds.get(n, "mpgd"), "hparams": {},
                          "seeds": list(range(len(v))), "final": {"test_rmse": list(v)},
                          "initial": {}, "diverged_at": [-1] * len(v)}
                      for n, v in values.items()},
          "summary": {n: {"gap": {"mean": 0.0}} for n in values}, "diverged": []}


def test_airfoil_claim_needs_seeds_and_uses_the_papers_gain(rng):
  _, config, _ = experiments.load("airfoil_table1")
  mod = experiments.get("airfoil_table1")
  base = rng.normal(0.43, 0.04, 200)
  better = base - 0.05 + rng.normal(0, 0.01, 200)
  same = base + rng.normal(0, 0.005, 200)
  gauss = base + rng.normal(0, 0.01, 200)
  v = mod.verdicts(config, _table_results({"baseline": base, "gaussian": gauss,
                                            "mpgd_0.6": better}))[0]
  assert v["status"] == "reproduced"
  # no gain, and the CI excludes the paper's gain of mpgd_0.6 (−0.05): not reproduced
  v = mod.verdicts(config, _table_results({"baseline": base, "gaussian": gauss,
                                            "mpgd_0.6": same}))[0]
  assert v["status"] == "not reproduced"
  # a custom config: the paper's numbers do not speak for its rows, only significance decides
  custom = experiments.load("airfoil_table1", [("num_steps", "500")])[1]
  v = mod.verdicts(custom, _table_results({"baseline": base, "gaussian": gauss,
                                            "mpgd_0.6": same}))[0]
  assert v["status"] == "inconclusive"
  # the same strong effect from 5 seeds decides nothing
  v = mod.verdicts(config, _table_results({"baseline": base[:5], "gaussian": gauss[:5],
                                            "mpgd_0.6": better[:5]}))[0]
  assert v["status"] == "inconclusive" and "too few seeds" in v["reason"]


def test_paired_rows_of_compare_paired_drive_the_status(rng):
  from chaosopt.experiments import _paired
  ref = rng.normal(0, 1, 100)
  rows = stats.compare_paired({"ref": ref, "a": ref + 0.5 + rng.normal(0, 0.1, 100)}, "ref",
                              lower_is_better=False, num_resamples=500)
  assert _paired.claim_status(rows)["status"] == "reproduced"
  rows = stats.compare_paired({"ref": ref, "a": ref + rng.normal(0, 1, 100)}, "ref",
                              num_resamples=500)
  assert _paired.claim_status(rows)["status"] == "inconclusive"


# ----------------------------------------------------------------- what ran
def test_in_paper_setting_compares_with_the_shipped_config():
  _, config, variant = experiments.load("airfoil_table1:seeds200")
  assert _setting.in_paper_setting(config, variant)
  config_lib.set_override(config, "chunk_size", "100")  # execution only: still the paper's
  assert _setting.in_paper_setting(config, variant)
  config_lib.set_override(config, "num_seeds", "3")
  s = _setting.of(config, variant=variant)
  assert not s.paper and any(d.startswith("num_seeds: 200 → 3") for d in s.diff)
  assert "Custom config" in _setting.header(s) and "num_seeds" in _setting.header(s)
  _, config, variant = experiments.load("msgd_fmnist:cpu")
  s = _setting.of(config, variant=variant)
  assert not s.paper and not s.diff and "reduced" in _setting.header(s)
  _, config, variant = experiments.load("airfoil_table1:quick")
  s = _setting.of(config, variant=variant)
  assert s.quick and not s.paper and _setting.header(s).startswith(experiment_lib.BANNER)


def test_a_quick_run_is_a_smoke_test(tmp_path, monkeypatch):
  """The banner opens report.md and every stored verdict is "not tested"."""
  from chaosopt import cli
  from chaosopt.train import results as results_lib
  monkeypatch.chdir(tmp_path)
  assert cli.main(["--config", "discretization_x2:quick", "--workdir", str(tmp_path / "q"),
                   "-q", "--no-plots"]) == 0
  md = (tmp_path / "q" / "report.md").read_text()
  assert md.startswith(experiment_lib.BANNER)
  doc = results_lib.load(str(tmp_path / "q"))
  assert doc["verdicts"] and {v["status"] for v in doc["verdicts"]} == {"not tested"}
  assert "**reproduced**" not in md


def test_a_users_gamma_sigma_grid_gets_no_paper_values(tmp_path, monkeypatch, capsys):
  """The red-team case: a user's γ × σ config (σ ∈ {0.01, 0.05}, few steps, 3 seeds) must not be
  reported "as in the paper", with the paper's numbers beside it, or decided from n = 3."""
  import textwrap

  from chaosopt import cli
  from chaosopt.train import results as results_lib
  cfg = tmp_path / "grid.py"
  cfg.write_text(textwrap.dedent('''
      from chaosopt.configs import airfoil_table1

      def get_config(arg=""):
        c = airfoil_table1.get_config()
        c.num_steps, c.chunk_size, c.num_seeds = 60, 30, 3
        c.schemes = [{"name": "baseline", "kind": "gd"}] + [
            {"name": f"mpgd_g{g}_s{s}", "kind": "mpgd", "gamma": g, "beta": 0.5, "mu": 0.01,
             "sigma": s} for g in (0.6, 0.7) for s in (0.01, 0.05)]
        return c
  '''))
  monkeypatch.chdir(tmp_path)
  assert cli.main(["--config", str(cfg), "--workdir", str(tmp_path / "g"), "--no-plots"]) == 0
  out = capsys.readouterr().out
  md = (tmp_path / "g" / "report.md").read_text()
  for text in (md, out):
    assert "[paper" not in text and "as in the paper" not in text.lower()
  assert "ustom config" in md
  doc = results_lib.load(str(tmp_path / "g"))
  assert all(v["status"] in ("inconclusive", "not tested") for v in doc["verdicts"]), [
      (v["claim"], v["status"]) for v in doc["verdicts"]]
