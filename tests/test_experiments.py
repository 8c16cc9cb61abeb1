"""Every shipped experiment's quick variant runs through the command -- from the wheel installed
outside the checkout, in an empty folder, with no network -- and writes its outputs.

One parametrised list (``chaosopt.experiments.names()``): adding an experiment (its config in
configs/, its module in experiments/) adds it here. Each run checks the results schema
(settings, results, provenance with the git commit and package versions), report.md and PNG +
PDF figures, and that nothing is written outside the workdir. The experiments on image data
sets run offline with the data absent (an empty ``$CHAOSOPT_DATA``, no Debian copy, downloads
refused): their quick variants read the generated stand-in and say so in ``results["data"]``
and the report.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error

import pytest

from chaosopt import experiments
from chaosopt.train import results as results_lib
from chaosopt.core.errors import DataError
from chaosopt.tasks import _download, fashion_mnist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# experiments that read an image data set (the generated stand-in in their quick variants)
NEEDS = {"cifar10_table2": "cifar10", "fmnist_fullbatch": "fashion_mnist",
         "msgd_fmnist": "fashion_mnist", "sgd_noise_fmnist": "fashion_mnist",
         "linear_scaling_rule": "fashion_mnist"}
# cifar10_table2:quick is a GPU smoke run (ResNet-18 width 64, 5000 images, 20 full-batch steps,
# ten schemes: hours on a CPU). On CPU the test keeps its data path (the generated set, read as
# the official tarball), report and figures, with a tiny network, 500 images, 2 steps, 2 schemes.
def _offline_without_data(data_dir, monkeypatch):
  """Points the loaders at an empty directory, hides Debian's FashionMNIST and makes every
  download fail as it does offline."""
  monkeypatch.setenv(_download.ENV_VAR, str(data_dir))
  monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(data_dir / "no-debian"))

  def offline(url, dest, timeout=30.0):
    raise urllib.error.URLError("offline (test)")
  monkeypatch.setattr(_download, "download", offline)


def _repo_status() -> str:
  out = subprocess.run(["git", "-C", ROOT, "status", "--porcelain"], capture_output=True,
                       text=True)
  return out.stdout if out.returncode == 0 else ""


# Runs the selected quick variants from the installed wheel, offline, each from its own empty
# folder, twice (the second run must be a no-op); writes {name: {"status", "again" | "error"}}.
RUNNER = """
import json, os, sys, traceback, urllib.error
from chaosopt import cli
from chaosopt.tasks import _download, fashion_mnist
fashion_mnist.DEBIAN_DIR = os.path.join(os.environ["CHAOSOPT_DATA"], "no-debian")
def offline(url, dest, timeout=30.0):
  raise urllib.error.URLError("offline (test)")
_download.download = offline
base, done = sys.argv[1], {}
for name in sys.argv[2:]:
  cwd = os.path.join(base, name)
  os.makedirs(cwd)
  os.chdir(cwd)
  argv = ["--config", name + ":quick", "--workdir", os.path.join(cwd, "run"), "-q"]
  try:
    done[name] = {"status": cli.main(argv), "file": cli.__file__}
    done[name]["again"] = cli.main(argv)
  except BaseException:
    done[name] = {"error": traceback.format_exc()}
  with open(os.path.join(base, "done.json"), "w") as f:
    json.dump(done, f)
"""


_QUICK_RUNS: dict = {}


@pytest.fixture
def quick_runs(request, wheel_site, tmp_path_factory):
  """The quick variants of this test's group (tests/conftest.py: the quick runs are split into
  groups that parallel test workers take), run from the wheel installed outside the checkout,
  in empty folders, with no network and no data: one interpreter per group, started once."""
  from conftest import offline_env
  from conftest import quick_group
  group = quick_group(request.node.callspec.params["name"])
  if group in _QUICK_RUNS:
    return _QUICK_RUNS[group]
  _, site = wheel_site
  names = sorted({item.callspec.params["name"] for item in request.session.items
                  if item.originalname == "test_quick_variant_runs_and_writes_outputs"
                  and quick_group(item.callspec.params["name"]) == group})
  base = tmp_path_factory.mktemp("quick")
  before = _repo_status()
  env = offline_env(site, tmp_path_factory.mktemp("no-data"))
  out = subprocess.run([sys.executable, "-c", RUNNER, str(base / "runs"), *names],
                       cwd=str(tmp_path_factory.mktemp("elsewhere")), env=env,
                       capture_output=True, text=True, timeout=1800)
  done_file = base / "runs" / "done.json"
  done = json.loads(done_file.read_text()) if done_file.exists() else {}
  _QUICK_RUNS[group] = {"base": base / "runs", "done": done, "log": out.stderr[-4000:],
                        "repo_changed": _repo_status() != before, "site": str(site)}
  return _QUICK_RUNS[group]


@pytest.mark.parametrize("name", experiments.names())
def test_quick_variant_runs_and_writes_outputs(name, quick_runs):
  """Every experiment's quick variant runs from the installed wheel in an empty folder with no
  network, writes its outputs into its workdir only, and a second run is a no-op."""
  if "quick" not in getattr(experiments.get_config_module(name), "VARIANTS", {}):
    pytest.fail(f"experiment {name} has no quick variant")
  rec = quick_runs["done"].get(name)
  assert rec is not None, f"the quick runs stopped before {name}:\n{quick_runs['log']}"
  assert "error" not in rec, rec.get("error")
  assert rec["status"] == 0 and rec["again"] == 0, quick_runs["log"]
  assert rec["file"].startswith(quick_runs["site"]), "ran the checkout, not the wheel"
  cwd = quick_runs["base"] / name
  workdir = cwd / "run"
  doc = results_lib.load(str(workdir))
  assert doc["schema"] == "chaosopt.results/2"
  assert doc["experiment"] == name and doc["status"] == "finished"
  assert doc["settings"]["experiment"] == name
  prov = doc["provenance"]
  assert prov["packages"]["jax"] and prov["chaosopt"]
  if os.path.exists(os.path.join(ROOT, ".git")):
    assert prov["git"]["commit"]  # recorded in the wheel at build time
  assert (workdir / "report.md").read_text().strip()
  if name in NEEDS:
    data = doc["results"]["data"]
    assert data["source"] == "generated" and data["name"] == NEEDS[name]
    assert "**Data: generated, not " in (workdir / "report.md").read_text()
  figs = doc["figures"]
  assert figs, "every experiment writes at least one figure"
  for f in figs:
    assert (workdir / f).exists()
  assert {f.rsplit(".", 1)[1] for f in figs} == {"png", "pdf"}
  assert sorted(os.listdir(cwd)) == ["run"], "wrote outside its workdir"
  assert not quick_runs["repo_changed"], "the runs changed files in the repository"


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_full_variant_without_data_is_a_data_error_naming_the_file(name, tmp_path,
                                                                    tmp_path_factory,
                                                                    monkeypatch):
  # no generated data outside the quick variants: offline and absent, the run stops before
  # compiling anything with the DataError that says which file to put where
  data_dir = tmp_path_factory.mktemp("no-data")
  _offline_without_data(data_dir, monkeypatch)
  from chaosopt.core import loop
  monkeypatch.setattr(loop, "use_compilation_cache", lambda directory: None)  # process-wide
  mod, config, _ = experiments.load(name)
  with pytest.raises(DataError, match="download failed.*offline") as e:
    mod.run(config, str(tmp_path / "run"))
  assert e.value.path.startswith(str(data_dir)) and e.value.path in str(e.value)
