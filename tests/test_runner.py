"""Runner and config tests: validation before compile, scheme grouping, seed/scheme vmapping
equivalence, NaN/Inf handling (P0 experiment framework; no paper equation)."""
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from chaosopt import cli, experiments
from chaosopt.tasks.base import Task
from chaosopt.train import config as config_lib
from chaosopt.train import runner, table
from chaosopt.train import schemes as schemes_lib

VALLEY = "widening_valley"


def load(spec, overrides=()):
  """A shipped experiment's config by name, overridden and validated."""
  return experiments.load(spec, overrides)[1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _chdir(monkeypatch):
  monkeypatch.chdir(ROOT)


def valley_config(**overrides):
  cfg = load(VALLEY + ":quick")
  with cfg.unlocked():
    for k, v in overrides.items():
      setattr(cfg, k, v)
  schemes_lib.validate(cfg)
  return cfg


# ----------------------------------------------------------------------------- config errors

@pytest.mark.parametrize("override, message", [
    (("num_seedz", "3"), "unknown config key 'num_seedz'"),
    (("task.dimm", "3"), "unknown config key 'task.dimm'"),
    (("num_seeds", "0"), "num_seeds must be"),
    (("num_seeds", "two"), "expected int"),
    (("learning_rate", "-0.1"), "learning_rate must be > 0"),
    (("schemes.3.gamma", "0.4"), "gamma must be in (0.5, 1.0)"),
    (("schemes.3.beta", "1.5"), "beta must be in [-1.0, 1.0]"),
    (("schemes.1.sigma", "-1.0"), "sigma must be finite and >= 0"),
    (("schemes.1.exponent", "-0.5"), "exponent must be finite and >= 0"),
    (("schemes.9.mu", "0.1"), "no list element '9'"),
    (("schemes.1.nu", "0.1"), "unknown config key 'schemes.1.nu'"),
    (("only", "mpgd,nope"), "unknown scheme(s) ['nope']"),
    (("per_step_metrics", "maybe"), "expected a boolean"),
])
def test_config_errors_name_the_key(override, message):
  with pytest.raises(config_lib.ConfigError) as e:
    load(VALLEY, [override])
  assert message in str(e.value)


def test_scheme_errors():
  cfg = load(VALLEY)
  bad = [
      ({"name": "x", "kind": "sgdm"}, "kind must be one of"),
      ({"name": "x", "kind": "mpgd", "mu": 0.1}, "needs ['gamma']"),
      ({"name": "x", "kind": "gaussian", "gamma": 0.6}, "unknown hyper-parameter(s) ['gamma']"),
      ({"name": "gd", "kind": "gd"}, "duplicate scheme names ['gd']"),
      ({"name": "x", "kind": "mpgd", "gamma": 0.6, "sign_rul": "x"}, "unknown hyper-parameter(s)"),
  ]
  for scheme, message in bad:
    c = ml_collections.ConfigDict(cfg)
    with c.unlocked():
      c.schemes = list(cfg.schemes) + [scheme]
    with pytest.raises(config_lib.ConfigError) as e:
      schemes_lib.validate(c)
    assert message in str(e.value), (scheme, str(e.value))


def test_overrides_are_typed():
  cfg = load(VALLEY, [("num_seeds", "3"), ("schemes.3.mu", "0.05"),
                                        ("per_step_metrics", "false"), ("task.init_scale", "2")])
  assert cfg.num_seeds == 3 and cfg.schemes[3]["mu"] == 0.05
  assert cfg.per_step_metrics is False and cfg.task.init_scale == 2.0


def test_cli_config_error_exits_before_running(tmp_path, capsys):
  workdir = tmp_path / "out"
  status = cli.main(["--config", VALLEY, "--config.schemes.3.gamma=1.2",
                     "--workdir", str(workdir)])
  assert status == 2
  assert "gamma must be in (0.5, 1.0)" in capsys.readouterr().err
  assert not workdir.exists()
  status = cli.main(["--config", VALLEY, "--config.task.dim=0", "--workdir", str(workdir)])
  assert status == 2 and "dim must be a positive int" in capsys.readouterr().err


# ----------------------------------------------------------------------------- grouping

def test_grouping_by_structure():
  cfg = load("airfoil_table1")
  groups = schemes_lib.group(schemes_lib.resolve(cfg))
  labels = {g.kind: g.names for g in groups}
  # the Gaussian exponent is traced (one program for both rows); the 4 gammas of each MPGD
  # variant are one program each
  assert labels == {"gd": ("baseline",), "gaussian": ("gaussian", "gaussian_eta1"),
                    "mpgd": ("mpgd_0.55", "mpgd_0.6", "mpgd_0.65", "mpgd_0.7"),
                    "eq11": ("eq11_0.55", "eq11_0.6", "eq11_0.65", "eq11_0.7")}
  mpgd = next(g for g in groups if g.kind == "mpgd")
  np.testing.assert_array_equal(mpgd.hparams["gamma"], [0.55, 0.6, 0.65, 0.7])
  assert dict(mpgd.static) == {"beta": 0.5, "init": "invariant", "sign_rule": "excursion"}


def _final_params(result, name):
  return np.concatenate([np.ravel(x) for x in
                         jax.tree_util.tree_leaves(result.schemes[name].final_params)])


def test_vmapped_seeds_and_schemes_equal_separate_runs():
  # MPGD at two gammas (one vmapped program) and a Gaussian scheme, 3 seeds, vs gamma = 0.7 and
  # the Gaussian scheme run alone for seed 2 only. Bit-equality is not guaranteed across batch
  # shapes (XLA's batched and unbatched float32 kernels may differ by an ulp), and the Thaler
  # map is chaotic: a 1-ulp difference in a chain grows like exp(lambda k) and after ~20 steps
  # takes the other branch (measured: identical for 18+ steps on this problem). So the runs are
  # compared over 10 steps at a float32 tolerance.
  schemes = [
      {"name": "a", "kind": "mpgd", "gamma": 0.6, "beta": 0.5, "mu": 0.02, "sigma": 0.05},
      {"name": "b", "kind": "mpgd", "gamma": 0.7, "beta": 0.5, "mu": 0.02, "sigma": 0.05},
      {"name": "g", "kind": "gaussian", "mu": 0.02, "sigma": 0.05}]
  quiet = lambda m: None
  together = table.run_config(valley_config(num_steps=10, chunk_size=10, num_seeds=3,
                                      schemes=schemes), log=quiet)
  alone = table.run_config(valley_config(num_steps=10, chunk_size=10, num_seeds=1, first_seed=2,
                                   schemes=schemes[1:]), log=quiet)
  for name in ("b", "g"):
    x, y = together.schemes[name], alone.schemes[name]
    assert y.seeds == [2]
    for leaf in ("u", "v"):
      np.testing.assert_allclose(x.final_params[leaf][2], y.final_params[leaf][0],
                                 rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(x.history["hessian_trace"][2], y.history["hessian_trace"][0],
                               rtol=1e-5)
  # the noise moves the iterates off the start, and the two gammas differ
  va, vb = (together.schemes[n].final_params["v"] for n in "ab")
  assert np.all(va != 0) and not np.allclose(va, vb)


# ----------------------------------------------------------------------------- NaN handling

def _quartic_task():
  """x^4/4 from x0 ~ 3 U[0, 1]: GD with lr 1 blows up iff x0^2 > 2 (cubic growth -> inf)."""
  def init(key):
    return {"x": 3.0 * jax.random.uniform(key, (1,))}
  loss = lambda p: jnp.sum(p["x"] ** 4) / 4
  return Task(name="quartic", init=init, loss=loss,
              metrics=lambda p: {"loss": loss(p), "x": p["x"][0]})


def test_nonfinite_seed_is_frozen_and_reported():
  task = _quartic_task()
  schemes = [{"name": "gd", "kind": "gd"}]
  cfg = valley_config(num_steps=60, chunk_size=20, num_seeds=6, schemes=schemes,
                      learning_rate=1.0, per_step_metrics=False)
  x0 = np.array([float(task.init(jax.random.fold_in(k, 0))["x"][0])
                 for k in runner.seed_keys(schemes_lib.settings(cfg))])
  blow = x0 ** 2 > 2.0
  assert blow.any() and (~blow).any(), x0  # fixed seeds: both cases present
  logged = []
  res = table.run_config(cfg, task=task, log=logged.append)
  r = res.schemes["gd"]
  np.testing.assert_array_equal(r.diverged_at >= 0, blow)
  assert len(logged) == blow.sum()
  for seed in np.flatnonzero(blow):
    assert any(f"scheme 'gd' seed {seed}: non-finite" in m and
               f"step {r.diverged_at[seed]}" in m for m in logged)
  # every seed keeps finite parameters; diverged ones are frozen at their last finite value
  assert np.all(np.isfinite(r.final_params["x"]))
  assert np.all(np.isnan(r.history["train_loss"][blow, -1]))
  # the other seeds ran to the end and converge towards 0 (GD on x^4/4)
  assert np.all(np.abs(r.final_params["x"][~blow]) < np.abs(x0[~blow]))
  assert np.all(np.isfinite(r.history["train_loss"][~blow]))
  out = table.block(res.schemes)  # the results block: diverged seeds out of the summary
  assert [d["seed"] for d in out["diverged"]] == np.flatnonzero(blow).tolist()
  summary = out["summary"]["gd"]
  assert summary["loss"]["n"] == (~blow).sum()
  np.testing.assert_allclose(summary["loss"]["mean"], np.mean(r.final["loss"][~blow]), rtol=1e-6)


def test_gd_is_plain_gd_and_gaussian_with_zero_noise_equals_it():
  # GD is x <- x - lr x^3 on x^4/4 (compared with the same recursion run eagerly, float32
  # tolerance); the Gaussian recursion with mu = sigma = 0 adds an exact zero, so it is
  # bit-identical to GD.
  task = _quartic_task()
  schemes = [{"name": "gd", "kind": "gd"},
             {"name": "g0", "kind": "gaussian", "mu": 0.0, "sigma": 0.0},
             {"name": "g", "kind": "gaussian", "mu": 0.02, "sigma": 0.05}]
  cfg = valley_config(num_steps=30, chunk_size=30, num_seeds=3, schemes=schemes,
                      learning_rate=0.1, per_step_metrics=False)
  res = table.run_config(cfg, task=task, log=lambda m: None)
  x = jnp.stack([task.init(jax.random.fold_in(k, 0))["x"] for k in runner.seed_keys(schemes_lib.settings(cfg))])
  for _ in range(30):
    x = x - 0.1 * x ** 3
  np.testing.assert_allclose(res.schemes["gd"].final_params["x"], x, rtol=1e-6)
  np.testing.assert_array_equal(res.schemes["g0"].final_params["x"],
                                res.schemes["gd"].final_params["x"])
  assert not np.allclose(res.schemes["g"].final_params["x"], x)
  assert res.schemes["gd"].hparams == {"learning_rate": 0.1}


# ----------------------------------------------------------------------------- overlapping groups

def test_overlapping_groups_change_no_number(monkeypatch):
  """Groups run two at a time (threads) give the bit-identical results of groups run in order:
  each group is its own program on its own inputs."""
  schemes = [{"name": "gd", "kind": "gd"},
             {"name": "g", "kind": "gaussian", "mu": 0.02, "sigma": 0.05},
             {"name": "m", "kind": "mpgd", "gamma": 0.6, "beta": 0.5, "mu": 0.02, "sigma": 0.05},
             {"name": "m2", "kind": "mpgd", "gamma": 0.7, "beta": 0.5, "mu": 0.02,
              "sigma": 0.05}]
  cfg = valley_config(num_steps=30, chunk_size=10, num_seeds=2, schemes=schemes)
  quiet = lambda m: None  # noqa: E731
  results, started = {}, {}
  each = runner._each_group
  for at_once in (1, 2):
    monkeypatch.setattr(runner, "GROUPS_AT_ONCE", at_once)
    monkeypatch.setattr(runner, "_each_group", lambda fn, groups, n, k=at_once: started.update(
        {k: [g.label for g in groups]}) or each(fn, groups, n))
    results[at_once] = table.run_config(cfg, log=quiet)
  for name in ("gd", "g", "m", "m2"):
    np.testing.assert_array_equal(_final_params(results[1], name), _final_params(results[2], name))
    for k, v in results[1].schemes[name].evals.items():
      np.testing.assert_array_equal(v, results[2].schemes[name].evals[k])
  assert list(results[2].timings)[:3] == list(results[1].timings)[:3]  # in table order
  # overlapping, the largest group (two MPGD schemes) starts first; in order, table order
  assert started[1] == list(results[1].timings)[:3] and started[1][0].startswith("gd")
  assert started[2][0].startswith("mpgd") and sorted(started[2]) == sorted(started[1])


def test_overlapping_groups_run_two_at_a_time_and_stop_on_an_error():
  import threading
  import time as time_lib
  from chaosopt.core import loop
  live, peak, lock = [0], [0], threading.Lock()

  def fn(g):
    with lock:
      live[0] += 1
      peak[0] = max(peak[0], live[0])
    time_lib.sleep(0.05)
    with lock:
      live[0] -= 1
    return g * 10

  assert runner._each_group(fn, list(range(5)), 2) == [0, 10, 20, 30, 40]
  assert peak[0] == 2
  started = []

  def failing(g):
    started.append(g)
    if g == 0:
      raise ValueError("group 0 failed")
    while not loop.interrupted():  # a running group stops at its next chunk
      time_lib.sleep(0.01)
    raise KeyboardInterrupt

  with pytest.raises(ValueError, match="group 0 failed"):
    runner._each_group(failing, list(range(6)), 2)
  assert len(started) < 6 and not loop.interrupted()  # later groups dropped; flag cleared


def test_overlapping_groups_keep_the_callers_float64_context(monkeypatch):
  """``jax.enable_x64`` is thread-local: a table run inside it must run in float64 in the
  group threads too (the same numbers as groups in order)."""
  schemes = [{"name": "gd", "kind": "gd"},
             {"name": "m", "kind": "mpgd", "gamma": 0.6, "beta": 0.5, "mu": 0.02, "sigma": 0.05}]
  cfg = valley_config(num_steps=20, chunk_size=10, num_seeds=2, schemes=schemes)
  quiet = lambda m: None  # noqa: E731
  results = {}
  from chaosopt.tasks import airfoil
  with jax.enable_x64(True):
    task = airfoil.airfoil_task(dtype=np.float64, hessian_trace=False)  # needs x64 to exist
    for at_once in (1, 2):
      monkeypatch.setattr(runner, "GROUPS_AT_ONCE", at_once)
      results[at_once] = table.run_config(cfg, task=task, log=quiet)
  for name in ("gd", "m"):
    a, b = _final_params(results[1], name), _final_params(results[2], name)
    assert a.dtype == b.dtype == np.float64
    np.testing.assert_array_equal(a, b)


def test_host_unravel_equals_the_traced_one():
  """``_FlatTask.unravel_host`` (numpy, for the final parameters) gives the leaves, shapes and
  dtypes of ``jax.flatten_util``'s unravel, exactly, for a batch of vectors."""
  from chaosopt.tasks import airfoil
  flat = runner._FlatTask(airfoil.airfoil_task(hessian_trace=False))
  keys = jax.random.split(jax.random.key(3), 4)
  batch = np.asarray(flat.v_init0(keys))
  assert batch.shape == (4, flat.num_params)
  want = jax.vmap(flat.unravel)(batch)
  got = flat.unravel_host(batch)
  assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
  for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, np.asarray(b))


def test_final_metrics_compiled_ahead_in_a_thread_equal_the_jitted_ones():
  """``compile_final`` (run by ``run`` in a thread while the groups compute) gives the program
  ``v_final`` would compile: the same numbers for blocks and a padded last block; the thread
  keeps the caller's float64 context."""
  from chaosopt.tasks import airfoil
  flat = runner._FlatTask(airfoil.airfoil_task(hessian_trace=True))
  batch = np.asarray(flat.v_init0(jax.random.split(jax.random.key(5), 7)))
  want = flat.v_final(batch, block=4)  # jitted on first use
  runner._in_thread(lambda: flat.compile_final(7, block=4))()
  assert list(flat._compiled) == [(4, flat.num_params)]
  got = flat.v_final(batch, block=4)
  for k in want:
    np.testing.assert_array_equal(got[k], want[k])
  from chaosopt.core import precision
  with precision.x64_scope(True):
    wait = runner._in_thread(lambda: jax.numpy.zeros(2).dtype)
    assert wait() == np.float64
  err = runner._in_thread(lambda: 1 / 0)
  with pytest.raises(ZeroDivisionError):
    err()
