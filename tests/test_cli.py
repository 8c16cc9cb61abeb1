"""The ``chaosopt`` command's sub-commands (run, list, show, compare, version, the status slot),
its one-line error contract, the terminal width of ``list``, logging above the progress bar,
and ``metrics.csv`` (:mod:`chaosopt.train.export`). Entry-point layer; no paper equation."""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import scipy.stats

import chaosopt
from chaosopt import cli
from chaosopt.train import compare, export
from chaosopt.train import results as results_lib
from chaosopt.train import workdir as workdir_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = ("run", "list", "show", "compare", "version")


def test_help_lists_every_command_on_one_line(capsys):
  assert cli.main(["--help"]) == 0
  out = capsys.readouterr().out
  lines = out.splitlines()
  for c in COMMANDS:
    (line,) = [x for x in lines if x.strip().startswith(c + " ")]
    assert len(line.split(None, 1)[1]) > 10  # a description on the same line
  assert "chaosopt --config NAME" in out  # the form without a command is named
  for c in COMMANDS:
    assert cli.main([c, "--help"]) == 0
  capsys.readouterr()


@pytest.mark.parametrize("args, message", [
    (["bogus"], "invalid choice: 'bogus'"),
    (["list", "--nope"], "unrecognized argument '--nope'"),
    (["list", "--config.num_seeds=3"], "takes no --config.KEY overrides"),
    (["run"], "--config is required"),
    (["run", "--config", "widening_valley", "stray"], "unrecognized argument 'stray'"),
    (["show"], "the following arguments are required"),
    (["show", "widening_valley", "--config.num_sedes=3"], "unknown config key 'num_sedes'"),
    (["show", "nope"], "unknown experiment 'nope'"),
    (["compare", "only_one"], "the following arguments are required"),
    (["--config", "widening_valley", "--config.num_seeds"], "needs a value"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
  assert cli.main(args) == 2
  err = capsys.readouterr().err
  assert message in err and "Traceback" not in err
  assert len(err.strip().splitlines()) == 1 and err.startswith("chaosopt: ")


def test_no_command_prints_the_help(capsys):
  assert cli.main([]) == 2
  assert "commands:" in capsys.readouterr().err


def test_version(capsys):
  assert cli.main(["--version"]) == 0
  out = capsys.readouterr().out
  assert out.startswith(f"chaosopt {chaosopt.__version__} (")
  assert cli.main(["version"]) == 0
  assert capsys.readouterr().out == out
  head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                        text=True).stdout.strip()
  if head:  # run from the checkout: its commit
    assert f"commit {head}" in out and "git checkout" in out


def test_version_of_an_install_uses_the_commit_recorded_at_build_time(monkeypatch):
  from chaosopt import _build_info
  from chaosopt.train import experiment
  monkeypatch.setattr(experiment, "git_state", lambda root, exclude=None: None)
  monkeypatch.setattr(_build_info, "COMMIT", "a" * 40)
  monkeypatch.setattr(_build_info, "DIRTY", False)
  assert experiment.code_state() == {"commit": "a" * 40, "dirty": False, "dirty_paths": [],
                                     "source": "build"}
  assert f"commit {'a' * 40}, recorded at build time" in cli.version_text()
  monkeypatch.setattr(_build_info, "COMMIT", None)
  assert experiment.code_state() is None
  assert "commit unknown" in cli.version_text()


def test_list_fits_100_columns_and_names_the_papers(capsys):
  for args in (["list"], ["list", "--kinds"], ["list", "--papers"]):
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert max(len(x) for x in out.splitlines()) <= 100, args
  assert cli.main(["list"]) == 0
  out = capsys.readouterr().out
  assert "P0 Lim, Wan & Şimşekli 2022" in out and "P4 Wu et al. 2020" in out
  assert "seeds200" in out  # the wrapped variants are all shown
  assert cli.main(["list", "--papers"]) == 0
  assert "Revisiting the Noise Model" in capsys.readouterr().out


def test_show_prints_the_resolved_config_and_creates_nothing(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  assert cli.main(["show", "airfoil_table1:quick", "--config.num_seeds=3",
                   "--config.schemes.3.mu=0.05"]) == 0
  out = capsys.readouterr().out
  assert "experiment  airfoil_table1 (variant quick)" in out
  assert "workdir     runs/airfoil_table1_quick" in out
  assert "cost        ≈" in out and "P0 (MPGD) Table 1" in out
  assert "  num_seeds = 3" in out and "  schemes.3.mu = 0.05" in out
  (line,) = [x for x in out.splitlines() if x.startswith("  mpgd_0.6 [mpgd]")]
  traced, static = line.split("|")
  assert "gamma=0.6" in traced and "mu=0.05" in traced and "learning_rate=" in traced
  assert "beta=0.5" in static
  assert not os.listdir(tmp_path)  # nothing was created
  assert cli.main(["show", "msgd_linear_regression", "--workdir", "elsewhere"]) == 0
  out = capsys.readouterr().out
  assert "no scheme table" in out and "workdir     elsewhere" in out


def test_run_and_the_form_without_a_command_are_the_same(tmp_path, capsys):
  args = ["--config", "widening_valley:quick", "--config.num_steps=20",
          "--config.chunk_size=10", "--config.only=gd,mpgd", "--config.num_seeds=2", "-q",
          "--no-plots"]
  assert cli.main(["run"] + args + ["--workdir", str(tmp_path / "a")]) == 0
  assert cli.main(args + ["--workdir", str(tmp_path / "b")]) == 0
  a, b = (results_lib.load(str(tmp_path / d)) for d in "ab")
  assert a["results"]["schemes"]["mpgd"]["final"] == b["results"]["schemes"]["mpgd"]["final"]
  assert "metrics.csv" in capsys.readouterr().out


def test_status_dispatches_to_its_module_when_present(monkeypatch, capsys):
  seen = []
  mod = types.ModuleType("_fake_status")
  mod.main = lambda argv: seen.append(argv) or 7
  monkeypatch.setitem(sys.modules, "_fake_status", mod)
  monkeypatch.setattr(cli, "_status_module", lambda: "_fake_status")
  assert cli.main(["status", "runs/x", "--all"]) == 7 and seen == [["runs/x", "--all"]]
  assert cli.main(["--help"]) == 0
  assert "status" in capsys.readouterr().out
  monkeypatch.setattr(cli, "_status_module", lambda: None)
  assert cli.main(["status"]) == 2


def test_log_lines_go_through_tqdm_on_a_terminal(monkeypatch):
  class Tty(io.StringIO):
    def isatty(self):
      return True

  tty = Tty()
  monkeypatch.setattr(sys, "stderr", tty)
  cli._setup_logging(quiet=True, verbose=False)  # noqa: SLF001
  logger = logging.getLogger("chaosopt")
  before = list(logger.handlers)
  with cli.progress_safe_logging():
    assert logger.handlers != before  # the console handler is tqdm's while the bar may show
    logger.info("hidden by -q")
    logger.warning("shown")
  assert logger.handlers == before
  assert "shown" in tty.getvalue() and "hidden" not in tty.getvalue()


# ----------------------------------------------------------------------------- compare
def _scheme_doc(finals: dict, seeds, *, settings=None, diverged=None) -> dict:
  schemes = {}
  for name, metrics in finals.items():
    schemes[name] = {"kind": "gd", "hparams": {"learning_rate": 0.1}, "seeds": list(seeds),
                     "final": {m: list(v) for m, v in metrics.items()},
                     "diverged_at": list((diverged or {}).get(name, [-1] * len(seeds)))}
  return {"experiment": "toy", "variant": "", "settings": settings or {"learning_rate": 0.1},
          "results": {"schemes": schemes}, "status": "finished"}


def _write_run(path, doc):
  os.makedirs(path)
  results_lib.write(str(path), doc)
  return str(path)


def test_compare_pairs_by_seed(tmp_path, capsys):
  rng = np.random.default_rng(0)
  a_gd, b_gd = rng.normal(size=6), rng.normal(size=6)
  a_m, b_m = rng.normal(size=6), rng.normal(size=6) + 1.0
  doc_a = _scheme_doc({"gd": {"loss": a_gd[:5]}, "mpgd": {"loss": a_m[:5], "acc": a_m[:5]},
                       "only_a": {"loss": a_m[:5]}}, range(5))
  # B ran seeds 1..5: seeds 1-4 are shared; in B, seed 2 of mpgd diverged, seed 3 is None
  b_loss = list(b_m[1:6])
  b_loss[2] = None
  doc_b = _scheme_doc({"gd": {"loss": b_gd[1:6]}, "mpgd": {"loss": b_loss, "acc": b_m[1:6]}},
                      range(1, 6), settings={"learning_rate": 0.2},
                      diverged={"mpgd": [-1, 7, -1, -1, -1]})
  rows = {(r["scheme"], r["metric"]): r for r in compare.compare_rows(doc_a, doc_b)}
  assert set(rows) == {("gd", "loss"), ("mpgd", "loss"), ("mpgd", "acc")}
  r = rows[("gd", "loss")]
  d = b_gd[1:5] - a_gd[1:5]
  assert r["n"] == 4 and r["mean_diff"] == pytest.approx(d.mean())
  assert r["se_diff"] == pytest.approx(d.std(ddof=1) / 2)
  assert r["p"] == pytest.approx(scipy.stats.ttest_rel(b_gd[1:5], a_gd[1:5]).pvalue)
  r = rows[("mpgd", "loss")]  # seed 2 diverged in B, seed 3 non-finite in B: 2 pairs left
  assert r["n"] == 2 and r["n_seeds"] == 4
  assert r["mean_diff"] == pytest.approx(np.mean([b_m[1] - a_m[1], b_m[4] - a_m[4]]))
  assert rows[("mpgd", "acc")]["n"] == 3  # the diverged seed is left out of every metric
  assert all(r["p_holm"] >= r["p"] for r in rows.values())
  da = _write_run(tmp_path / "a", doc_a)
  db = _write_run(tmp_path / "b", doc_b)
  assert cli.main(["compare", da, db]) == 0
  out = capsys.readouterr().out
  assert "learning_rate: 0.1 -> 0.2" in out and "mean diff ± SE" in out
  assert any(x.split()[:3] == ["mpgd", "loss", "2/4"] for x in out.splitlines())
  assert cli.main(["compare", da, db, "--metric", "acc"]) == 0
  assert "loss" not in capsys.readouterr().out.split("p (Holm)")[1]


def test_compare_refuses_what_it_cannot_pair(tmp_path, capsys):
  da = _write_run(tmp_path / "a", _scheme_doc({"gd": {"loss": [1.0, 2.0]}}, [0, 1]))
  db = _write_run(tmp_path / "b", _scheme_doc({"gd": {"loss": [1.0, 2.0]}}, [5, 6]))
  other = _write_run(tmp_path / "c", {"experiment": "x", "results": {"value": 3.0}})
  for args, message in (([da, db], "share no scheme"), ([da, other], "not a scheme-table run"),
                        ([da, str(tmp_path / "missing")], "no results.json")):
    assert cli.main(["compare"] + args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# ----------------------------------------------------------------------------- metrics.csv
def test_csv_of_a_scheme_table_reads_back(tmp_path):
  doc = _scheme_doc({"gd": {"loss": [0.5, None]},
                     "mpgd_0.7": {"loss": [0.25, 0.125]}}, [3, 4],
                    diverged={"mpgd_0.7": [-1, 20]})
  sch = doc["results"]["schemes"]
  sch["mpgd_0.7"]["hparams"] = {"learning_rate": 0.1, "gamma": 0.7, "sign_rule": "excursion"}
  for s in sch.values():
    s["initial"] = {"loss": [1.0, 1.0]}
    s["eval_steps"] = [10, 20]
    s["evals"] = {"loss": [[0.75, 0.5], [0.75, None]]}
  doc["results"]["summary"] = {"gd": {"loss": {"mean": 0.5}}}  # derived: not exported
  doc["results"]["timings_s"] = {"total": 1.5}
  doc["variant"] = "quick,seeds200"
  with workdir_lib.Workdir(str(tmp_path / "run"), {"x": 1}) as wd:
    path = export.write_csv(wd, doc)
    assert "metrics.csv" in wd.entries
  with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
  assert list(rows[0]) == ["experiment", "variant", "scheme", "learning_rate", "gamma",
                           "sign_rule", "seed", "diverged_at", "step", "metric", "value"]
  # 2 schemes x 2 seeds x (initial + 2 evaluations + final) + 1 scalar
  assert len(rows) == 2 * 2 * 4 + 1
  by = {(r["scheme"], r["seed"], r["step"]): r for r in rows if r["scheme"]}
  assert by[("gd", "4", "")]["value"] == "nan" and math.isnan(float(by[("gd", "4", "")]["value"]))
  assert by[("mpgd_0.7", "4", "")]["diverged_at"] == "20"
  assert by[("mpgd_0.7", "3", "")]["diverged_at"] == ""
  assert float(by[("mpgd_0.7", "4", "")]["value"]) == 0.125
  assert by[("gd", "3", "0")]["value"] == "1.0" and by[("gd", "3", "20")]["value"] == "0.5"
  assert by[("mpgd_0.7", "3", "10")]["gamma"] == "0.7" and by[("gd", "3", "10")]["gamma"] == ""
  assert by[("mpgd_0.7", "3", "10")]["sign_rule"] == "excursion"
  assert {r["variant"] for r in rows} == {"quick,seeds200"}
  (scalar,) = [r for r in rows if not r["scheme"]]
  assert scalar["metric"] == "timings_s.total" and scalar["value"] == "1.5"


def test_csv_of_other_results_holds_their_scalar_leaves():
  doc = {"experiment": "e", "variant": "", "results": {
      "fit": {"slope": 2.0, "n": 7, "curve": [1.0, 2.0]}, "name": "text", "ok": True,
      "big": {"$array": "results/big", "shape": [300], "dtype": "float64"}}}
  header, rows = export.rows(doc)
  assert header == ["experiment", "variant", "scheme", "seed", "diverged_at", "step", "metric",
                    "value"]
  assert [(r[6], r[7]) for r in rows] == [("fit.slope", "2.0"), ("fit.n", "7"), ("ok", "1")]
  assert export.rows({"experiment": "e", "results": {"curve": [1.0]}})[1] == []


def test_csv_is_written_by_every_run_and_by_report(tmp_path):
  args = ["--config", "widening_valley:quick", "--config.num_steps=20", "--config.chunk_size=10",
          "--config.only=gd", "--config.num_seeds=1", "-q", "--no-plots"]
  wd = tmp_path / "run"
  assert cli.main(args + ["--workdir", str(wd)]) == 0
  first = (wd / "metrics.csv").read_text()
  assert first.startswith("experiment,variant,scheme,learning_rate,seed,")
  (wd / "metrics.csv").unlink()
  assert cli.main(args + ["--workdir", str(wd), "--report"]) == 0  # older runs get one too
  assert (wd / "metrics.csv").read_text() == first
  manifest = json.loads((wd / workdir_lib.MANIFEST_FILE).read_text())
  assert "metrics.csv" in manifest["entries"]


ENTRY = """
import atexit, sys, threading, time
from chaosopt.cli import entry
base = sys.argv[1]
def later():
  time.sleep(0.2)
  open(base + ".thread", "w").write("done")
threading.Thread(target=later).start()
atexit.register(lambda: open(base + ".atexit", "w").write("ran"))
sys.argv = ["chaosopt"] + sys.argv[2:]
entry()
"""


@pytest.mark.parametrize("args, status", [(["list"], 0), (["bogus"], 2)])
def test_the_console_script_ends_like_an_interpreter_exit(tmp_path, args, status):
  """``entry`` ends the process without tearing the interpreter down (os._exit), but first
  lets other threads finish and runs the atexit handlers; the exit status is main's."""
  base = str(tmp_path / "mark")
  out = subprocess.run([sys.executable, "-c", ENTRY, base, *args], capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
  assert out.returncode == status, out.stderr
  assert open(base + ".thread").read() == "done"
  assert open(base + ".atexit").read() == "ran"
  if status == 0:
    assert "airfoil_table1" in out.stdout  # stdout was flushed
