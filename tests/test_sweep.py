"""Hyper-parameter sweeps (:mod:`chaosopt.train.sweep`, ``chaosopt run --sweep``): cells named
after their values, one compiled program for traced keys, swept columns in metrics.csv, the
report's heatmap and Holm-corrected paired differences, resume, and bad input refused with
exit 2. Execution layer; no paper equation."""
from __future__ import annotations

import csv
import os

import pytest

from chaosopt import cli, experiments
from chaosopt.train import runner, sweep
from chaosopt.train import schemes as schemes_lib

QUICK = ["--config", "airfoil_table1:quick", "--config.num_steps=10", "--config.chunk_size=5",
         "--config.task.hessian_trace=false", "--config.only=baseline,mpgd_0.55"]
GRID = ["--sweep", "schemes.2.gamma=0.55,0.7", "--sweep", "schemes.2.sigma=0.01,0.05"]
CELLS = ["mpgd[gamma=0.55,sigma=0.01]", "mpgd[gamma=0.55,sigma=0.05]",
         "mpgd[gamma=0.7,sigma=0.01]", "mpgd[gamma=0.7,sigma=0.05]"]


def test_grid_names_cells_after_their_values():
  cells = sweep.grid({"name": "x", "kind": "mpgd", "mu": 0.01}, gamma=(0.55, 0.7),
                     sigma=(0.01, 0.05))
  assert [c["name"] for c in cells] == CELLS
  assert cells[1] == {"kind": "mpgd", "mu": 0.01, "gamma": 0.55, "sigma": 0.05,
                      "name": "mpgd[gamma=0.55,sigma=0.05]"}
  assert sweep.parse_cell(CELLS[2]) == ("mpgd", {"gamma": "0.7", "sigma": "0.01"})
  assert sweep.parse_cell("mpgd_0.6") is None
  with pytest.raises(ValueError, match="repeated"):
    sweep.grid({"kind": "mpgd"}, gamma=(0.6, 0.6))


def test_sweep_expands_the_scheme_and_keeps_the_others_as_references():
  _, config, _ = experiments.load("airfoil_table1", edit=lambda c: sweep.apply(
      c, [sweep.parse("schemes.mpgd_0.55.gamma=0.55,0.6"),
          sweep.parse("schemes[2].sigma=0.01,0.02,0.05")]))
  names = [s["name"] for s in config.schemes]
  assert names[:2] == ["baseline", "gaussian"] and "mpgd_0.55" not in names
  cells = [n for n in names if sweep.parse_cell(n)]
  assert len(cells) == 6 and "mpgd[gamma=0.6,sigma=0.02]" in cells
  assert "mpgd_0.6" in names and "eq11_0.7" in names  # the unswept schemes run once
  # traced keys: the cells and the other MPGD schemes share one compiled program
  groups = schemes_lib.group(schemes_lib.resolve(config))
  (mpgd,) = [g for g in groups if g.kind == "mpgd"]
  assert set(cells) <= set(mpgd.names)
  assert sweep.programs(config) == (1, [])


def test_a_static_key_splits_the_program():
  _, config, _ = experiments.load("airfoil_table1", edit=lambda c: sweep.apply(
      c, [sweep.parse("schemes.2.beta=0.3,0.5")]))
  assert sweep.programs(config) == (2, ["beta"])


def test_sweep_runs_writes_heatmap_and_swept_columns_and_resumes(tmp_path, capsys, monkeypatch):
  wd = str(tmp_path / "w")
  assert cli.main(QUICK + GRID + ["--workdir", wd]) == 0
  capsys.readouterr()
  for f in ("sweep_test_rmse.png", "sweep_test_rmse.pdf", "metrics.csv", "report.md"):
    assert os.path.exists(os.path.join(wd, f)), f
  with open(os.path.join(wd, "metrics.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
  cell_rows = [r for r in rows if r["scheme"] in CELLS and r["metric"] == "test_rmse"
               and r["step"] == ""]
  assert len(cell_rows) == 4 * 2  # cells x seeds
  assert {(r["gamma"], r["sigma"]) for r in cell_rows} == {
      ("0.55", "0.01"), ("0.55", "0.05"), ("0.7", "0.01"), ("0.7", "0.05")}
  report = open(os.path.join(wd, "report.md")).read()
  assert "## Sweep: mpgd over gamma × sigma (4 cells)" in report
  assert "Holm-corrected over the 4 cells" in report and "**Best cell.**" in report
  assert "the grid names no winner" in report  # 2 seeds: no corrected test can be significant

  # the same command resumes: nothing is recomputed
  def boom(*a, **k):
    raise AssertionError("recomputed")
  monkeypatch.setattr(runner, "run", boom)
  assert cli.main(QUICK + GRID + ["--workdir", wd]) == 0
  assert "sweep_test_rmse.png" in open(os.path.join(wd, ".chaosopt-run.json")).read()


@pytest.mark.parametrize("args, message", [
    (["--sweep", "schemes.2.gama=0.55"], "kind 'mpgd' has no hyper-parameter 'gama'"),
    (["--sweep", "schemes.2.gamma=0.55,x"], "'x' is not a float"),
    (["--sweep", "schemes.2.gamma=5"], "--sweep schemes.2.gamma=5.0: config.schemes[2]"),
    (["--sweep", "schemes.2.gamma"], "write KEY=v1,v2"),
    (["--sweep", "schemes.2.gamma=0.6,0.6"], "a value is repeated"),
    (["--sweep", "learning_rate=0.1,0.2"], "schemes.<index|name>.<key>"),
    (["--sweep", "schemes.99.gamma=0.6"], "no scheme 99"),
    (["--sweep", "schemes.2.gamma=0.6", "--sweep", "schemes.0.learning_rate=0.1"],
     "must name the same scheme"),
    (["--sweep", "schemes.2.gamma=0.6", "--sweep-baseline", "nope"],
     "--sweep-baseline 'nope'"),
])
def test_bad_sweep_is_one_line_exit_2_nothing_written(tmp_path, capsys, args, message):
  wd = tmp_path / "w"
  assert cli.main(QUICK + args + ["--workdir", str(wd)]) == 2
  err = capsys.readouterr().err
  assert message in err and "Traceback" not in err, err
  assert len(err.strip().splitlines()) == 1
  assert not wd.exists()


def test_show_lists_the_cells_and_the_programs(tmp_path, capsys, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert cli.main(["show", "airfoil_table1:quick", "--sweep", "schemes.2.gamma=0.55,0.7",
                   "--sweep", "schemes.2.beta=0.3,0.5"]) == 0
  out = capsys.readouterr().out
  assert "mpgd[gamma=0.7,beta=0.3] [mpgd]" in out
  assert out.strip().endswith("sweep: 4 cells in 2 compiled programs (static: beta)")
  assert not os.listdir(tmp_path)


def _results(cells: dict, base) -> dict:
  n = len(base)
  schemes = {"gd": {"kind": "gd", "hparams": {}, "final": {"loss": list(base)},
                    "diverged_at": [-1] * n}}
  for name, vals in cells.items():
    hp = {k: float(v) for k, v in sweep.parse_cell(name)[1].items()}
    schemes[name] = {"kind": "mpgd", "hparams": hp, "final": {"loss": list(vals)},
                     "diverged_at": [-1] * n}
  return {"schemes": schemes}


def test_one_key_gives_a_line_plot_and_a_winner_only_with_a_corrected_test():
  import numpy as np
  rng = np.random.default_rng(0)
  base = rng.normal(1.0, 0.1, 20)
  cells = {f"mpgd[gamma={g}]": base + d + rng.normal(0, 0.01, 20)
           for g, d in ((0.55, 0.0), (0.6, -0.2), (0.7, 0.01))}
  md, figs = sweep.report(None, _results(cells, base))
  assert list(figs) == ["sweep_loss"]
  ax = figs["sweep_loss"].axes[0]
  assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mpgd", "gd (median)"]
  assert "the lowest median is `mpgd[gamma=0.6]`" in md
  assert "significantly better than `gd` (α = 0.05, Holm over the grid)" in md
  # the same grid without an effect: the best median names no winner
  cells = {n: base + rng.normal(0, 0.05, 20) for n in cells}
  md, _ = sweep.report(None, _results(cells, base))
  assert "not significantly better" in md and "the grid names no winner" in md
