"""An installed (non-editable) chaosopt runs an experiment by name from a directory outside
the checkout: the wheel ships every experiment, config and data file it needs (the top-level
configs/ and experiments/ as chaosopt.configs and chaosopt.experiments) and the git commit it
was built from (chaosopt/_build_info.py, written by setup.py), which its results record."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_wheel_runs_an_experiment_outside_the_checkout(tmp_path, wheel_site):
  wheel, site = wheel_site
  names = zipfile.ZipFile(wheel).namelist()
  assert "chaosopt/py.typed" in names and "chaosopt/tasks/data/airfoil_self_noise.csv" in names
  assert any(n.endswith("licenses/LICENSE") for n in names)
  # every module of the checkout, the top-level configs/ and experiments/ inside chaosopt/
  for pkg, top in (("chaosopt", "chaosopt"), ("chaosopt/configs", "configs"),
                   ("chaosopt/experiments", "experiments")):
    for root, _, files in os.walk(os.path.join(ROOT, top)):
      for f in files:
        if f.endswith(".py"):
          rel = os.path.relpath(os.path.join(root, f), os.path.join(ROOT, top))
          assert f"{pkg}/{rel}".replace(os.sep, "/") in names, (top, rel)
  assert "chaosopt/experiments/widening_valley.py" in names
  assert "chaosopt/configs/widening_valley.py" in names
  assert not any(n.startswith(("tests/", "experiments/", "configs/")) for n in names)
  # the commit the wheel was built from is recorded in it (setup.py), the source left as it was
  head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                        text=True).stdout.strip() or None
  info = zipfile.ZipFile(wheel).read("chaosopt/_build_info.py").decode()
  if head:
    assert f"COMMIT = {head!r}" in info
  with open(os.path.join(ROOT, "chaosopt", "_build_info.py")) as f:
    assert "COMMIT = None" in f.read()
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  # the installed copy, not the checkout: PYTHONPATH first, cwd outside the repository
  env = dict(os.environ, PYTHONPATH=str(site))
  probe = subprocess.run([sys.executable, "-c", "import chaosopt; print(chaosopt.__file__)"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
  assert probe.stdout.strip().startswith(str(site))
  out = subprocess.run([sys.executable, "-m", "chaosopt", "--config", "widening_valley:quick",
                        "--config.num_steps=20", "--config.chunk_size=10", "-q"],
                       cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr
  doc = json.loads((elsewhere / "runs" / "widening_valley_quick" / "results.json").read_text())
  assert doc["status"] == "finished" and doc["provenance"]["chaosopt"]
  if head:  # no checkout around the installed copy: the commit recorded at build time
    assert doc["provenance"]["git"]["commit"] == head
    assert doc["provenance"]["git"]["source"] == "build"
    version = subprocess.run([sys.executable, "-m", "chaosopt", "--version"], cwd=elsewhere,
                             env=env, capture_output=True, text=True, check=True).stdout
    assert head[:12] in version and "0." in version
  # a user's config file has the form of a shipped one and builds on chaosopt.configs
  (elsewhere / "my_config.py").write_text(textwrap.dedent('''
      from chaosopt.configs import widening_valley

      def get_config(arg=""):
        c = widening_valley.get_config("quick")
        c.experiment = "widening_valley"
        c.num_steps, c.chunk_size, c.only = 20, 10, "gd,mpgd"
        return c
  '''))
  out = subprocess.run([sys.executable, "-m", "chaosopt", "--config", "my_config.py", "-q",
                        "--no-plots", "--workdir", "mine"], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr
  doc = json.loads((elsewhere / "mine" / "results.json").read_text())
  assert doc["experiment"] == "widening_valley" and sorted(doc["results"]["schemes"]) == [
      "gd", "mpgd"]
  listed = subprocess.run([sys.executable, "-m", "chaosopt", "list"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, check=True).stdout
  assert "airfoil_table1" in listed
  # every shipped experiment's quick config resolves and validates from the wheel (the smoke
  # test, tests/test_experiments.py, runs each of them through the command)
  code = ("from chaosopt import experiments\n"
          "names = experiments.names()\n"
          "for n in names:\n"
          "  experiments.load(n + ':quick')\n"
          "print(len(names))")
  n = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True,
                     text=True, timeout=600)
  assert n.returncode == 0, n.stderr
  assert int(n.stdout.strip()) >= 21
