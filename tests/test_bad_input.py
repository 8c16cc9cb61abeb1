"""Bad input is refused before anything runs (execution layer; no paper equation).

Two parts, validation only (no experiment runs, the whole file takes seconds):

* every experiment declares its keys' types and ranges in one ``SCHEMA``
  (:class:`chaosopt.train.config.Schema`); for every numeric top-level key of every variant's
  config, the values its spec must reject (``Spec.bad()``: below the minimum, above the maximum,
  NaN, the wrong type) are rejected by the experiment's validation with a ``ConfigError`` that
  names the key;
* the red-team battery: each case calls ``chaosopt.cli.main`` in-process and must exit with status
  2, name the key or file, print no traceback, create no workdir (or leave the given folder as
  it was) and compile nothing (no XLA backend compilation; the cases whose validation builds the
  task and estimates the memory only need to return within seconds).
"""
from __future__ import annotations

import math
import time

import ml_collections
import pytest
from jax import monitoring

from chaosopt import cli, experiments
from chaosopt.train import config as config_lib

NAMES = experiments.names()


def _variants(name: str) -> list[str]:
  return [""] + list(getattr(experiments.get_config_module(name), "VARIANTS", {}))


def _spec(name: str, variant: str) -> str:
  return f"{name}:{variant}" if variant else name


def _is_number(v) -> bool:
  return isinstance(v, (int, float)) and not isinstance(v, bool)


def _schema(module, config) -> config_lib.Schema:
  """The experiment's schema for ``config`` (``schema_for(config)`` where the keys depend on
  the variant, else ``SCHEMA``)."""
  return module.schema_for(config) if hasattr(module, "schema_for") else module.SCHEMA


def _numeric_keys(config) -> list[str]:
  """Top-level keys holding a number or a non-empty list of numbers."""
  return [k for k, v in config.items()
          if _is_number(v) or (isinstance(v, (list, tuple)) and v and all(map(_is_number, v)))]


def _replaced(config, key: str, value):
  """A copy of ``config`` with ``config[key] = value`` (the type check of the field bypassed);
  None when the ConfigDict stores another value (it casts, e.g. True -> 1.0 for a float)."""
  c = ml_collections.ConfigDict(config.to_dict())
  with c.ignore_type():
    c[key] = value
  stored = c[key]
  same = (stored is value or type(stored) is type(value) and stored == value
          or isinstance(value, float) and math.isnan(value) and isinstance(stored, float)
          and math.isnan(stored)
          or isinstance(value, (list, tuple)) and isinstance(stored, (list, tuple))
          and list(stored) == list(value))
  return c if same or _has_nan(value) else None


def _has_nan(v) -> bool:
  return isinstance(v, (list, tuple)) and any(isinstance(x, float) and math.isnan(x) for x in v)


@pytest.mark.parametrize("name", NAMES)
def test_every_numeric_key_has_a_range_that_rejects_bad_values(name):
  module = experiments.get(name)
  assert isinstance(getattr(module, "SCHEMA", None), config_lib.Schema), \
      f"{name} declares no SCHEMA"
  for variant in _variants(name):
    _, config, _ = experiments.load(_spec(name, variant))  # every shipped variant is valid
    specs = _schema(module, config).specs_for(config)
    for key in _numeric_keys(config):
      assert key in specs, f"{name}:{variant}: config.{key} has no type and range in SCHEMA"
      rejected = 0
      for bad in specs[key].bad():
        c = _replaced(config, key, bad)
        if c is None:
          continue
        with pytest.raises(config_lib.ConfigError) as e:
          experiments.validate(module, c)
        assert key in str(e.value), (name, variant, key, bad, str(e.value))
        rejected += 1
      assert rejected >= 1, f"{name}:{variant}: no bad value of config.{key} was tried"


# ----------------------------------------------------------------------------- the battery

def _text(v) -> str:
  """An override's text for ``v`` (what a user would type)."""
  if isinstance(v, float):
    return repr(v) if math.isfinite(v) else str(v)
  if isinstance(v, (list, tuple)):
    return "[" + ", ".join(_text(x) for x in v) + "]"
  return str(v)


def _schema_cases() -> list:
  """``(args, key)``: every out-of-range number (below the minimum, above the maximum, NaN,
  inf, a fraction for an int) of every numeric top-level key of every experiment's default
  config, as a user would type it."""
  cases = []
  for name in NAMES:
    _, config, _ = experiments.load(name)
    specs = _schema(experiments.get(name), config).specs_for(config)
    for key in _numeric_keys(config):
      for bad in specs[key].bad():
        if _is_number(bad) or (isinstance(bad, list) and bad and all(map(_is_number, bad))):
          cases.append(pytest.param(["--config", name, f"--config.{key}={_text(bad)}"], key,
                                    True, id=f"{name}.{key}={_text(bad)}"))
  return cases


def _file(tmp_path, text: str) -> str:
  p = tmp_path / "user_config.py"
  p.write_text(text)
  return str(p)


# (args, message, schema-only: nothing may be compiled; else only fast)
FIXED = [
    (["--config", "nope"], "unknown experiment 'nope'", True),
    (["--config", "widening_valley:fast"], "unknown variant(s) ['fast']", True),
    (["--config", "widening_valley", "--config.num_sedes=3"], "unknown config key 'num_sedes'",
     True),
    (["--config", "widening_valley", "--config.task.dimm=3"], "unknown config key 'task.dimm'",
     True),
    (["--config", "widening_valley", "--config.num_seeds=two"], "num_seeds: expected int", True),
    (["--config", "widening_valley", "--config.learning_rate=abc"],
     "learning_rate: expected float", True),
    (["--config", "widening_valley", "--config.per_step_metrics=maybe"], "per_step_metrics",
     True),
    (["--config", "discretization_x2", "--config.etas=oops"], "etas", True),
    (["--config", "discretization_x2", "--config.etas=['a']"], "config.etas[0]", True),
    (["--config", "msgd_fmnist", "--config.methods=['gd', 'adam']"], "config.methods[1]", True),
    (["--config", "escape_axis:quick", "--config.alpha2=3"], "config.alpha2 must be in (0, 2]",
     True),
    (["--config", "escape_axis:quick", "--config.deltas=[0.0, 2.5]"], "deltas", True),
    (["--config", "discretization_x2", "--config.etas=[0.0]"], "config.etas[0]", True),
    (["--config", "msgd_linear_regression", "--config.large_batch=0"], "large_batch", True),
    (["--config", "msgd_linear_regression", "--config.small_batch=64"], "large_batch", True),
    (["--config", "airfoil_table1", "--config.seed=18446744073709551616"], "config.seed must be",
     True),
    (["--config", "airfoil_table1", "--config.first_seed=4294967295"], "exceeds", True),
    (["--config", "airfoil_table1", "--config.checkpoint_every=0"], "checkpoint_every must be",
     True),
    (["--config", "airfoil_table1", "--config.checkpoint_every=-1"], "checkpoint_every must be",
     True),
    (["--config", "airfoil_table1", "--config.task.activation=sigmoidx"], "activation must be",
     False),
    (["--config", "airfoil_table1", "--config.schemes[2.mu=1"], "not a config key", True),
    (["--config", "airfoil_table1", "--config.schemes.3.gamma=1.5"], "gamma must be in", True),
    (["--config", "airfoil_table1", "--restart", "--report"], "use one or the other", True),
    (["--config", "airfoil_table1:quick", "--config.num_seeds=1000000000"], "num_seeds", False),
    (["--config", "airfoil_table1:quick", "--config.task.hidden=1000000000"],
     "7,000,000,001 parameters", False),
    (["--config", "widening_valley:quick", "--config.num_seeds=1000000000"], "num_seeds", False),
    (["--config", "cifar10_table2:quick", "--config.model.width=1000000000"], "model.width",
     False),
    (["--config", "escape_axis:quick", "--config.num_seeds=1000000000"], "num_seeds", True),
    (["--config", "msgd_linear_regression", "--config.num_seeds=1000000000"], "num_seeds", True),
    (["--config", "linear_scaling_rule", "--config.hidden=1000000"], "hidden", True),
    (["--config", "multiscale_lyapunov", "--config.torus_grid=[1000, 1000000]"], "torus_grid",
     True),
    (["--config", "missing/file.py"], "config file not found", True),
]


class _Compiles:
  """Counts XLA backend compilations (jax.monitoring events) while active."""
  active = False
  count = 0

  @classmethod
  def listener(cls, name, secs, **kwargs):
    del secs, kwargs
    if cls.active and "backend_compile" in name:
      cls.count += 1


monitoring.register_event_duration_secs_listener(_Compiles.listener)


def _refused(args, capsys, *, schema_only: bool, workdir: str):
  _Compiles.count, _Compiles.active = 0, True
  t0 = time.perf_counter()
  try:
    status = cli.main(list(args) + ["--workdir", workdir])
  finally:
    _Compiles.active = False
  elapsed = time.perf_counter() - t0
  err = capsys.readouterr().err
  assert status == 2, err
  assert "Traceback" not in err, err
  assert elapsed < 30, f"took {elapsed:.1f} s"
  if schema_only:
    assert _Compiles.count == 0, f"{_Compiles.count} compilation(s) before the refusal"
  return err


@pytest.mark.parametrize("args, message, schema_only", FIXED + _schema_cases())
def test_bad_input_is_refused_cleanly(tmp_path, capsys, args, message, schema_only):
  workdir = tmp_path / "w"
  err = _refused(args, capsys, schema_only=schema_only, workdir=str(workdir))
  assert message in err, err
  assert not workdir.exists()  # rejected before anything was created


@pytest.mark.parametrize("text, message", [
    ("import ml_collections\n\ndef get_config(:\n  pass\n", "(line 3)"),
    ("import ml_collections\nx = 1\nraise RuntimeError('boom')\n", "(line 3): RuntimeError: boom"),
    ("import ml_collections\n\ndef get_config():\n  return 1 / 0\n", "(line 4): ZeroDivisionError"),
    ("import ml_collections\nCONFIG = 1\n", "has no get_config()"),
    ("import ml_collections\n\ndef get_config():\n  return ml_collections.ConfigDict()\n",
     "must name the experiment"),
])
def test_a_bad_config_file_names_the_file(tmp_path, capsys, text, message):
  path = _file(tmp_path, text)
  err = _refused(["--config", path], capsys, schema_only=True, workdir=str(tmp_path / "w"))
  assert "user_config.py" in err and message in err, err
  assert len(err.strip().splitlines()) == 1, err  # one line
  assert not (tmp_path / "w").exists()


def test_a_workdir_that_is_a_file_is_refused(tmp_path, capsys):
  f = tmp_path / "a_file"
  f.write_text("x")
  err = _refused(["--config", "widening_valley:quick"], capsys, schema_only=False,
                 workdir=str(f))
  assert "not a directory" in err and f.read_text() == "x"


@pytest.mark.parametrize("flags", [[], ["--restart"], ["--report"]])
def test_a_folder_of_user_files_is_refused_and_untouched(tmp_path, capsys, flags):
  folder = tmp_path / "scratch"
  (folder / "sub").mkdir(parents=True)
  (folder / "notes.txt").write_text("mine")
  (folder / "sub" / "data.csv").write_text("1,2")
  before = sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))
  err = _refused(["--config", "widening_valley:quick", *flags], capsys, schema_only=False,
                 workdir=str(folder))
  assert "not a chaosopt run" in err or "no results.json" in err, err
  after = sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))
  assert after == before


def test_memory_refusals_state_the_estimate_and_the_limit(tmp_path, capsys):
  for key in ("num_seeds", "task.hidden"):
    err = _refused(["--config", "airfoil_table1", f"--config.{key}=1000000000"], capsys,
                   schema_only=False, workdir=str(tmp_path / "w"))
    assert "needs about" in err and "the limit is" in err and "available" in err, err
  assert not (tmp_path / "w").exists()


def test_the_memory_estimate_counts_seeds_and_history():
  """The estimate of a scheme table grows with the seeds and with per-step metrics (counted
  from ``jax.eval_shape``; nothing allocated)."""
  from chaosopt.train import table
  load = lambda *o: experiments.load("widening_valley:quick", list(o))[1]  # noqa: E731
  small, seeds = load(), load(("num_seeds", "20"))
  assert table.memory_estimate(seeds)[0] > 5 * table.memory_estimate(small)[0]
  flat = load(("per_step_metrics", "false"), ("num_steps", "20000"))
  full = load(("per_step_metrics", "true"), ("num_steps", "20000"))
  assert table.memory_estimate(full)[0] > 2 * table.memory_estimate(flat)[0]
