"""Every shipped experiment's quick variant runs through the command and writes its outputs.

One parametrised list (``chaosopt.experiments.names()``): adding an experiment (its config in
configs/, its module in experiments/) adds it here. Each run checks the results schema
(settings, results, provenance with the git commit and package versions), report.md and PNG +
PDF figures, and that nothing is written outside the workdir.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from chaosopt import cli, experiments
from chaosopt.train import results as results_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# experiments whose quick variant needs data this machine may lack
NEEDS = {"cifar10_table2": "cifar10", "fmnist_fullbatch": "fashion_mnist",
         "msgd_fmnist": "fashion_mnist", "sgd_noise_fmnist": "fashion_mnist",
         "linear_scaling_rule": "fashion_mnist"}


def _has_fashion_mnist() -> bool:
  try:
    from chaosopt.tasks import fashion_mnist
    fashion_mnist.load_fashion_mnist("test")
    return True
  except Exception:  # noqa: BLE001 - any loader failure means "not available here"
    return False


def _repo_status() -> str:
  out = subprocess.run(["git", "-C", ROOT, "status", "--porcelain"], capture_output=True,
                       text=True)
  return out.stdout if out.returncode == 0 else ""


@pytest.mark.parametrize("name", experiments.names())
def test_quick_variant_runs_and_writes_outputs(name, tmp_path, monkeypatch):
  if NEEDS.get(name) == "fashion_mnist" and not _has_fashion_mnist():
    pytest.skip("FashionMNIST not installed (apt-get install dataset-fashion-mnist)")
  if NEEDS.get(name) == "cifar10":
    pytest.skip("needs the CIFAR-10 tarball; the same code runs end to end on an "
                "official-format fixture in tests/test_cifar10.py")
  if "quick" not in getattr(experiments.get_config_module(name), "VARIANTS", {}):
    pytest.fail(f"experiment {name} has no quick variant")
  before = _repo_status()
  monkeypatch.chdir(tmp_path)
  workdir = tmp_path / "run"
  status = cli.main(["--config", f"{name}:quick", "--workdir", str(workdir), "-q"])
  assert status == 0
  doc = results_lib.load(str(workdir))
  assert doc["schema"] == "chaosopt.results/2"
  assert doc["experiment"] == name and doc["status"] == "finished"
  assert doc["settings"]["experiment"] == name
  prov = doc["provenance"]
  assert prov["packages"]["jax"] and prov["chaosopt"]
  if os.path.exists(os.path.join(ROOT, ".git")):
    assert prov["git"]["commit"]
  assert (workdir / "report.md").read_text().strip()
  figs = doc["figures"]
  assert figs, "every experiment writes at least one figure"
  for f in figs:
    assert (workdir / f).exists()
  assert {f.rsplit(".", 1)[1] for f in figs} == {"png", "pdf"}
  assert sorted(os.listdir(tmp_path)) == ["run"], "wrote outside its workdir"
  assert _repo_status() == before, "the run changed files in the repository"
  # a second run of the same config is a no-op
  assert cli.main(["--config", f"{name}:quick", "--workdir", str(workdir), "-q"]) == 0
