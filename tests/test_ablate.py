"""``chaosopt ablate`` (:mod:`chaosopt.train.ablate`): a noise beside its matched controls on a
task defined in this file, resume, the verdicts' statuses, and bad input refused with exit 2.
Execution layer; the controls' scaling (same per-step rms) is checked against the observable."""
from __future__ import annotations

import json
import math
import os
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt import cli
from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.dynamics import observables
from chaosopt.tasks import registry as task_registry
from chaosopt.tasks.base import Task
from chaosopt.train import ablate, runner

FAST = ["--config.num_steps=20", "--config.chunk_size=10", "--config.num_seeds=3", "-q"]


def toy_regression_task(*, dim: int = 4, n: int = 32) -> Task:
  """A least-squares regression with a held-out set: the kind of task a user registers."""
  kx, ky = jax.random.split(jax.random.key(1))
  x = jax.random.normal(kx, (2 * n, dim))
  y = x @ jnp.arange(1.0, dim + 1) + 0.1 * jax.random.normal(ky, (2 * n,))

  def mse(w, a, b):
    return jnp.mean((a @ w["w"] - b) ** 2)

  return Task(name="toy_regression", init=lambda k: {"w": jax.random.normal(k, (dim,))},
              loss=lambda w: mse(w, x[:n], y[:n]),
              metrics=lambda w: {"train_mse": mse(w, x[:n], y[:n]),
                                 "test_mse": mse(w, x[n:], y[n:])})


@pytest.fixture
def toy_task():
  task_registry.register_task("toy_regression", toy_regression_task, overwrite=True)
  yield "toy_regression"
  task_registry.unregister_task("toy_regression")


def test_the_controls_match_the_per_step_rms_and_exponent():
  config = ablate.load("airfoil", "mpgd", [("gamma", "0.7"), ("sigma", "0.05")])
  s = {x["name"]: dict(x) for x in config.schemes}
  assert list(s) == ["gd", "mpgd", "iid_marginal", "gaussian_rms"]
  # rms of the observable, from a long stationary chain's two-point law
  vl, vr = observables.observable_values(0.7)
  p = 2 ** (0.7 - 1)
  assert p * vl + (1 - p) * vr == pytest.approx(0, abs=1e-9)  # mean 0
  rms = math.sqrt(p * vl ** 2 + (1 - p) * vr ** 2)
  g = s["gaussian_rms"]
  assert g["sigma"] == pytest.approx(0.05 * rms) and g["mu"] == pytest.approx(0.01 * rms)
  assert g["exponent"] == 0.7
  # the i.i.d. surrogate's sign law (3 + β')/4 equals the excursion rule's (1 + β)/2
  assert (3 + s["iid_marginal"]["beta"]) / 4 == pytest.approx((1 + 0.5) / 2)
  assert s["iid_marginal"]["shared"] is False
  authors = ablate.load("airfoil", "mpgd_authors")
  assert [x["name"] for x in authors.schemes] == ["gd", "mpgd_authors", "time_ordered",
                                                  "iid_marginal", "gaussian_rms"]


def test_ablate_runs_on_a_task_defined_in_this_file_and_resumes(toy_task, tmp_path, capsys,
                                                                monkeypatch):
  wd = str(tmp_path / "a")
  args = ["ablate", "--task", toy_task, "--kind", "mpgd", "--workdir", wd,
          "--config.gamma=0.6", "--config.sigma=0.05"] + FAST
  assert cli.main(args) == 0, capsys.readouterr().err
  out = capsys.readouterr().out
  doc = json.load(open(os.path.join(wd, "results.json")))
  assert doc["experiment"] == "ablate"
  assert set(doc["results"]["schemes"]) == {"gd", "mpgd", "iid_marginal", "gaussian_rms"}
  assert doc["results"]["metric"] == "test_mse"  # the first test metric of the task
  vs = doc["verdicts"]
  assert len(vs) == 2 and all(v["status"] in verdict_lib.STATUSES for v in vs)
  # 3 seeds: below the verdicts' minimum, nothing is decided
  assert all(v["status"] == "inconclusive" for v in vs)
  assert "The chaos matters: mpgd reaches a better test_mse than iid_marginal" in vs[0]["claim"]
  report = open(os.path.join(wd, "report.md")).read()
  assert "# Noise ablation: mpgd on toy_regression" in report
  assert os.path.exists(os.path.join(wd, "final_metrics.png"))
  assert "verdict: inconclusive" in out
  monkeypatch.setattr(runner, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
  assert cli.main(args) == 0  # the same command: nothing recomputed


def test_ablate_reads_a_users_task_file(tmp_path, capsys):
  f = tmp_path / "my_tasks.py"
  f.write_text(textwrap.dedent(f"""
      import sys
      sys.path.insert(0, {os.path.dirname(__file__)!r})
      from test_ablate import toy_regression_task
      from chaosopt.tasks.registry import register_task
      register_task("my_toy", toy_regression_task, overwrite=True)
      """))
  wd = str(tmp_path / "a")
  try:
    assert cli.main(["ablate", "--task", "my_toy", "--task-file", str(f), "--kind", "eq11",
                     "--workdir", wd, "--config.task.dim=3"] + FAST) == 0, \
        capsys.readouterr().err
  finally:
    task_registry.unregister_task("my_toy")
  doc = json.load(open(os.path.join(wd, "results.json")))
  assert set(doc["results"]["schemes"]) == {"gd", "eq11", "gaussian_rms"}
  assert doc["settings"]["task"] == {"name": "my_toy", "dim": 3, "n": 32}  # its arguments
  assert "iid_marginal" in open(os.path.join(wd, "report.md")).read()  # named as not run


def test_verdict_statuses_follow_the_paired_test():
  rng = np.random.default_rng(0)
  base = rng.normal(1.0, 0.1, 30)
  config = ablate.load("airfoil", "mpgd")

  def results(treat, ctrl):
    vals = {"gd": base, "mpgd": treat, "iid_marginal": ctrl, "gaussian_rms": ctrl + rng.normal(0, 0.001, 30)}
    return {"metric": "test_rmse", "schemes": {n: {"final": {"test_rmse": v},
                                                   "diverged_at": [-1] * 30}
                                               for n, v in vals.items()}}
  noise = rng.normal(0, 0.001, 30)
  treat = base - 0.1 + rng.normal(0, 0.001, 30)
  better = ablate.verdicts(config, results(treat, base + noise))
  assert [v.status for v in better] == ["reproduced"] * 2
  same = ablate.verdicts(config, results(treat, treat + noise))
  assert [v.status for v in same] == ["not reproduced"] * 2  # within ± the margin


@pytest.mark.parametrize("args, message", [
    (["--task", "nope", "--kind", "mpgd"], "--task 'nope': not a registered task"),
    (["--task", "airfoil", "--kind", "levy"], "--kind 'levy': no ablation registered"),
    (["--task", "airfoil", "--kind", "mpgd", "--config.gamma=2"], "gamma"),
    (["--task", "airfoil", "--kind", "eq11", "--config.beta=0.5"], "config.beta: kind 'eq11'"),
    (["--task", "airfoil", "--kind", "mpgd", "--config.nope=1"], "unknown config key 'nope'"),
    (["--task", "x", "--kind", "mpgd", "--task-file", "/no/such.py"], "no such file"),
])
def test_bad_ablate_input_is_one_line_exit_2(tmp_path, capsys, args, message):
  wd = tmp_path / "w"
  assert cli.main(["ablate"] + args + ["--workdir", str(wd)]) == 2
  err = capsys.readouterr().err
  assert message in err and "Traceback" not in err, err
  assert len(err.strip().splitlines()) == 1
  assert not wd.exists()
