"""The experiment framework end to end: one command for any experiment, workdir rules
(resume, refuse a different config, restart), kill -9 then resume with bit-identical results,
registries (a toy noise process registered here runs from a config; levy from a config),
``chaosopt list``. Execution layer; no paper equation."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt import _validation, cli, experiments
from chaosopt.train import schemes as schemes_lib
from chaosopt.train import results as results_lib
from chaosopt.transforms import NoiseProcess, perturbation, registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALLEY = ["--config", "widening_valley:quick", "--config.num_steps=60", "--config.chunk_size=20",
          "--config.only=gd,mpgd", "-q", "--no-plots"]


def _final(workdir):
  doc = results_lib.load(str(workdir))
  return {n: s["final"] for n, s in doc["results"]["schemes"].items()}


def test_list_shows_every_experiment(capsys):
  assert cli.main(["list"]) == 0
  out = capsys.readouterr().out
  for name in experiments.names():
    assert name in out
  assert len(experiments.names()) >= 21
  assert cli.main(["list", "--kinds"]) == 0
  out = capsys.readouterr().out
  assert "levy" in out and "mpgd_authors" in out and "airfoil" in out


@pytest.mark.parametrize("args, message", [
    (["--config", "nope"], "unknown experiment 'nope'"),
    (["--config", "widening_valley:fast"], "unknown variant(s) ['fast']"),
    (["--config", "widening_valley", "--config.num_sedes=3"], "unknown config key 'num_sedes'"),
    (["--config", "widening_valley", "--config.schemes[3].gamma=1.5"], "gamma must be in"),
    (["--config", "widening_valley", "--config.schemes.3.gamma=x"], "expected float"),
    (["--config", "widening_valley", "--config.task.dim=0"], "dim must be a positive int"),
    (["--config", "missing/file.py"], "config file not found"),
    (["--config", "airfoil_table1", "--config.task.activation=sigmoidx"], "activation must be"),
    (["--config", "airfoil_table1", "--config.seed=18446744073709551616"], "config.seed must be"),
    (["--config", "airfoil_table1", "--config.first_seed=4294967295"], "exceeds"),
    (["--config", "airfoil_table1", "--config.checkpoint_every=0"], "checkpoint_every must be"),
    (["--config", "airfoil_table1", "--config.checkpoint_every=-1"], "checkpoint_every must be"),
    (["--config", "airfoil_table1", "--config.schemes[2.mu=1"], "not a config key"),
    (["--config", "airfoil_table1", "--restart", "--report"], "use one or the other"),
])
def test_bad_input_exits_2_naming_the_key(tmp_path, capsys, args, message):
  workdir = tmp_path / "w"
  assert cli.main(args + ["--workdir", str(workdir)]) == 2
  err = capsys.readouterr().err
  assert message in err and "Traceback" not in err
  assert not workdir.exists()  # rejected before anything was created or compiled


def test_same_config_is_a_noop_different_config_refuses_restart_starts_clean(tmp_path, capsys):
  wd = tmp_path / "run"
  assert cli.main(VALLEY + ["--workdir", str(wd)]) == 0
  first = _final(wd)
  mtime = os.path.getmtime(wd / "results.json")
  assert cli.main(VALLEY + ["--workdir", str(wd)]) == 0  # finished: nothing to do
  assert os.path.getmtime(wd / "results.json") == mtime
  capsys.readouterr()
  assert cli.main(VALLEY + ["--workdir", str(wd), "--config.learning_rate=0.02"]) == 2
  err = capsys.readouterr().err
  assert "different config" in err and "learning_rate: 0.01 -> 0.02" in err
  assert _final(wd) == first  # nothing was touched
  assert cli.main(VALLEY + ["--workdir", str(wd), "--config.learning_rate=0.02",
                            "--restart"]) == 0
  doc = results_lib.load(str(wd))
  assert doc["settings"]["learning_rate"] == 0.02


def test_unwritable_workdir_fails_before_running(tmp_path, capsys):
  f = tmp_path / "a_file"
  f.write_text("x")
  assert cli.main(VALLEY + ["--workdir", str(f)]) == 2
  assert "not a directory" in capsys.readouterr().err
  if os.geteuid() != 0:  # root can write anywhere
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    assert cli.main(VALLEY + ["--workdir", str(ro / "x")]) == 2


def test_kill_9_then_rerun_gives_bit_identical_results(tmp_path):
  """A real kill -9 of the command mid-run (after the first chunk checkpoint), then the same
  command again: the final metrics equal an uninterrupted run's exactly (CPU)."""
  args = ["--config", "widening_valley:quick", "--config.num_steps=4000",
          "--config.chunk_size=200", "--config.only=mpgd,gaussian", "--config.num_seeds=2",
          "-q", "--no-plots"]
  ref = tmp_path / "ref"
  assert cli.main(args + ["--workdir", str(ref)]) == 0
  wd = tmp_path / "killed"
  # CHAOSOPT_CHECKPOINT_SECONDS=0: a checkpoint after every chunk (the first one is the signal)
  env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
             CHAOSOPT_CHECKPOINT_SECONDS="0")
  proc = subprocess.Popen([sys.executable, "-m", "chaosopt", *args, "--workdir", str(wd)],
                          cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + 300
  ck_root = wd / "checkpoints"
  while time.time() < deadline and proc.poll() is None:
    try:
      steps = [p for p in ck_root.rglob("*") if p.is_dir() and p.name.isdigit()] \
          if ck_root.exists() else []
    except FileNotFoundError:  # orbax renamed its temporary folder while rglob walked it
      steps = []
    if steps:
      break
    time.sleep(0.05)
  killed = proc.poll() is None
  if killed:
    os.kill(proc.pid, signal.SIGKILL)
  proc.wait()
  if not killed:
    pytest.skip("the run finished before it could be killed (machine too fast for this size)")
  assert not (wd / "results.json").exists() or \
      json.loads((wd / "results.json").read_text())["status"] != "finished"
  assert cli.main(args + ["--workdir", str(wd)]) == 0
  a, b = _final(ref), _final(wd)
  assert a == b  # bit-identical (JSON floats are exact float64 repr)


def _toy_noise() -> NoiseProcess:
  """A toy process: xi = +-1 fair coin flips per coordinate (from the step's key)."""
  def sample(state, key, count, params):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    k = jax.random.fold_in(key, count)
    xs = [jnp.where(jax.random.bernoulli(jax.random.fold_in(k, i), 0.5, jnp.shape(p)), 1.0,
                    -1.0) for i, p in enumerate(leaves)]
    zeros = [jnp.zeros(jnp.shape(p)) for p in leaves]
    return (jax.tree_util.tree_unflatten(treedef, zeros),
            jax.tree_util.tree_unflatten(treedef, xs), state)
  return NoiseProcess(lambda key, params: (), sample)


def coin_perturbation(learning_rate, *, sigma, key, exponent=0.5):
  _validation.check_nonnegative("sigma", sigma)  # concrete values only (traced: skipped)
  return perturbation(learning_rate, mu=0.0, sigma=sigma, key=key, exponent=exponent,
                      noise=_toy_noise())


@pytest.fixture
def coin_kind():
  registry.register_noise("coin", coin_perturbation, traced=("sigma",),
                          description="toy +-1 noise (test)")
  yield
  registry.unregister_noise("coin")


def test_a_noise_process_registered_here_runs_from_a_config(tmp_path, coin_kind, capsys):
  cfg = tmp_path / "my_config.py"
  cfg.write_text(textwrap.dedent('''
      from chaosopt.configs import widening_valley

      def get_config(arg=""):
        c = widening_valley.get_config("quick")
        c.schemes = [{"name": "gd", "kind": "gd"},
                     {"name": "coin_small", "kind": "coin", "sigma": 0.01},
                     {"name": "coin_big", "kind": "coin", "sigma": 0.1},
                     {"name": "levy", "kind": "levy", "alpha": 1.7, "sigma": 0.05}]
        return c
  '''))
  wd = tmp_path / "run"
  assert cli.main(["--config", str(cfg), "--workdir", str(wd), "-q", "--no-plots",
                   "--config.num_steps=50", "--config.chunk_size=25"]) == 0
  doc = results_lib.load(str(wd))
  assert doc["experiment"] == "widening_valley"
  schemes = doc["results"]["schemes"]
  assert schemes["coin_big"]["kind"] == "coin" and schemes["levy"]["kind"] == "levy"
  # the noise moved v off the valley floor, more for the larger sigma; GD did not move
  v = {n: np.abs(np.asarray(s["final"]["v"])).mean() for n, s in schemes.items()}
  assert v["gd"] == 0 and v["coin_big"] > v["coin_small"] > 0 and v["levy"] > 0
  # the two coin schemes shared one compiled program (sigma is traced)
  assert any(k.startswith("coin[coin_small,coin_big]") for k in doc["results"]["timings_s"])
  # a bad value is rejected by the factory's own check, before running
  assert cli.main(["--config", str(cfg), "--workdir", str(tmp_path / "bad"),
                   "--config.schemes.1.sigma=-1"]) == 2
  assert "sigma must be finite and >= 0" in capsys.readouterr().err


# a noise module as docs/extending.md ("4. Make sure the module is imported") says to write one
_CONTRIB_MODULE = '''
"""A toy contributed process: xi = +-1 coin flips per coordinate (tests/test_framework.py)."""
import jax
import jax.numpy as jnp

from chaosopt import _validation
from chaosopt.transforms import NoiseProcess, perturbation
from chaosopt.transforms.registry import register_noise


def _sample(state, key, count, params):
  leaves, treedef = jax.tree_util.tree_flatten(params)
  k = jax.random.fold_in(key, count)
  xs = [jnp.where(jax.random.bernoulli(jax.random.fold_in(k, i), 0.5, jnp.shape(p)), 1.0, -1.0)
        for i, p in enumerate(leaves)]
  return treedef.unflatten([0 * x for x in xs]), treedef.unflatten(xs), state


def dropped_perturbation(learning_rate, *, sigma, key, exponent=0.5):
  _validation.check_nonnegative("sigma", sigma)
  return perturbation(learning_rate, mu=0.0, sigma=sigma, key=key, exponent=exponent,
                      noise=NoiseProcess(lambda key, params: (), _sample))


register_noise("dropped", dropped_perturbation, traced=("sigma",), description="toy (test)")
'''


def test_a_noise_module_dropped_into_contrib_runs_from_a_config(tmp_path):
  """docs/extending.md: a module in chaosopt/transforms/contrib/ needs no other edit. A copy of
  the package with one more file there runs a config naming its kind, through the command (a
  fresh interpreter: the kinds are registered when the package is imported)."""
  src = tmp_path / "src"
  shutil.copytree(os.path.join(ROOT, "chaosopt"), src / "chaosopt",
                  ignore=shutil.ignore_patterns("__pycache__"))
  (src / "chaosopt" / "transforms" / "contrib" / "dropped.py").write_text(_CONTRIB_MODULE)
  cfg = tmp_path / "cfg.py"
  cfg.write_text(textwrap.dedent('''
      from chaosopt.configs import widening_valley

      def get_config(arg=""):
        c = widening_valley.get_config("quick")
        c.schemes = [{"name": "gd", "kind": "gd"},
                     {"name": "drop", "kind": "dropped", "sigma": 0.1}]
        return c
  '''))
  env = dict(os.environ, PYTHONPATH=str(src), JAX_PLATFORMS="cpu")
  wd = tmp_path / "run"
  proc = subprocess.run([sys.executable, "-m", "chaosopt", "--config", str(cfg), "--workdir",
                         str(wd), "-q", "--no-plots", "--config.num_steps=20",
                         "--config.chunk_size=20"], cwd=tmp_path, env=env, capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  schemes = results_lib.load(str(wd))["results"]["schemes"]
  assert schemes["drop"]["kind"] == "dropped"
  v = {n: np.abs(np.asarray(s["final"]["v"])).mean() for n, s in schemes.items()}
  assert v["gd"] == 0 and v["drop"] > 0
  assert "dropped" not in registry.noise_kinds()  # this process imported the checkout, not the copy


def test_registered_runner_data_is_checked_against_the_factory(coin_kind):
  """The registry stores traced / prepare / context as given; the runner's reading of a kind
  (chaosopt.train.schemes) rejects names its factory does not take, naming the kind."""
  for kind in registry.noise_kinds():
    schemes_lib.check_spec(registry.get_noise(kind))
  bad = [dict(traced=("nope",)), dict(context=("epoch",)), dict(prepare={"exponent": float})]
  for i, kw in enumerate(bad):
    spec = registry.register_noise(f"coin_bad{i}", coin_perturbation, **kw)
    try:
      with pytest.raises(ValueError, match=f"coin_bad{i}"):
        schemes_lib.check(spec, 0.1, {"sigma": 0.1})
    finally:
      registry.unregister_noise(f"coin_bad{i}")


def test_report_rerenders_without_recomputing(tmp_path):
  wd = tmp_path / "run"
  assert cli.main(VALLEY + ["--workdir", str(wd)]) == 0
  before = results_lib.load(str(wd))
  (wd / "report.md").write_text("stale")
  assert cli.main(VALLEY[:-1] + ["--workdir", str(wd), "--report"]) == 0
  after = results_lib.load(str(wd))
  assert after["results"] == before["results"]
  assert after["provenance"] == before["provenance"] and after["rendered"]["date"]
  assert "re-rendered" in (wd / "report.md").read_text()
  assert (wd / "fig2.png").exists() and (wd / "fig2.pdf").exists()


def test_git_state_names_the_dirty_files_except_the_workdir(tmp_path):
  """Provenance records which tracked files differ from the commit (the run's own workdir
  excluded), so a report's "+ local changes" can be judged."""
  import subprocess
  from chaosopt.train import experiment
  repo = tmp_path / "repo"
  (repo / "pkg").mkdir(parents=True)
  (repo / "reports" / "r").mkdir(parents=True)
  for f in ("pkg/a.py", "pkg/b.py", "reports/r/report.md"):
    (repo / f).write_text("x\n")
  run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True,  # noqa: E731
                                  capture_output=True)
  run("init", "-q")
  run("add", ".")
  run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
  assert experiment.git_state(str(repo))["dirty"] is False
  (repo / "reports" / "r" / "report.md").write_text("new\n")
  state = experiment.git_state(str(repo), exclude=str(repo / "reports" / "r"))
  assert state["dirty"] is False and state["dirty_paths"] == []
  (repo / "pkg" / "b.py").write_text("changed\n")
  state = experiment.git_state(str(repo), exclude=str(repo / "reports" / "r"))
  assert state["dirty"] is True and state["dirty_paths"] == ["pkg/b.py"]
  assert experiment.git_state(str(tmp_path / "nowhere")) is None
