"""The scheme table's owner (chaosopt.train.schemes), the seed helpers (chaosopt.train.seeds) and
the scheme record (chaosopt.train.results.SchemeRecord); no paper equation."""
import ast
import os
import warnings

import ml_collections
import numpy as np
import pytest

from chaosopt import experiments
from chaosopt.train import config as config_lib
from chaosopt.train import results as results_lib
from chaosopt.train import schemes as schemes_lib
from chaosopt.train import seeds as seeds_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_only_schemes_reads_the_noise_registry_in_train():
  train = os.path.join(ROOT, "chaosopt", "train")
  readers = []
  for f in sorted(os.listdir(train)):
    if not f.endswith(".py"):
      continue
    tree = ast.parse(open(os.path.join(train, f), encoding="utf-8").read())
    for node in ast.walk(tree):
      if isinstance(node, ast.ImportFrom) and node.module and (
          node.module.startswith("chaosopt.transforms.registry")
          or (node.module == "chaosopt.transforms"
              and any(a.name == "registry" for a in node.names))):
        readers.append(f)
  assert sorted(set(readers)) == ["schemes.py"], readers


def test_resolve_and_group_airfoil_table1():
  _, cfg, _ = experiments.load("airfoil_table1")
  resolved = schemes_lib.resolve(cfg)
  assert [s.name for s in resolved] == [dict(s)["name"] for s in cfg.schemes]
  mpgd = next(s for s in resolved if s.name == "mpgd_0.6")
  assert mpgd.kind == "mpgd" and mpgd.traced["gamma"] == 0.6
  assert mpgd.traced["learning_rate"] == cfg.learning_rate and "beta" in mpgd.static
  groups = schemes_lib.group(resolved)
  assert schemes_lib.in_table_order(groups) == [s.name for s in resolved]
  g = next(g for g in groups if g.kind == "mpgd")
  static, host_hp = g.members([3, 4], num_steps=10)
  # members are schemes x seeds, scheme-major
  np.testing.assert_array_equal(host_hp["gamma"], np.repeat(g.hparams["gamma"], 2))
  assert static == dict(g.static)
  static, host_hp = g.members([3, 4], num_steps=10, idx=[1, 2])
  np.testing.assert_array_equal(host_hp["gamma"], [g.hparams["gamma"][0], g.hparams["gamma"][1]])


def test_context_kinds_get_the_seed_range_and_member_seeds():
  from chaosopt.transforms.contrib import authors  # noqa: F401  (registers the kinds)
  s = schemes_lib.scheme({"name": "a", "kind": "mpgd_authors", "gamma": 0.6, "beta": 0.5,
                          "mu": 0.0, "sigma": 0.01, "seed_base": 0, "seed_scale": 2}, 0.1)
  (g,) = schemes_lib.group([s])
  static, host_hp = g.members([1, 2, 3], num_steps=7, idx=[2])
  assert static["seed_range"] == (1, 3) and static["num_steps"] == 7
  np.testing.assert_array_equal(host_hp["seed"], [3.0])


def test_settings_and_seed_strategy_alias():
  _, cfg, _ = experiments.load("fmnist_fullbatch")
  st = schemes_lib.settings(cfg)
  assert st.strategy == "sequential" and list(st.seeds) == [0, 1]
  assert seeds_lib.at_once("vmap", 10 ** 9) == 10 ** 9 and seeds_lib.at_once(8, 5) == 5
  assert seeds_lib.at_once("sequential", 10 ** 9) == 1
  old = ml_collections.ConfigDict({"seed_mode": "vmap", "num_seeds": 2})
  seeds_lib._warned.discard("seed_mode")
  with pytest.warns(DeprecationWarning, match="seed_mode"):
    assert seeds_lib.strategy(old) == "vmap"
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    assert seeds_lib.strategy(old) == "vmap"  # warned once
  assert seeds_lib.parse("8") == 8
  with pytest.raises(config_lib.ConfigError, match="seed_strategy"):
    seeds_lib.parse("threads")
  assert [b.tolist() for b in seeds_lib.blocks(5, 2)] == [[0, 1], [2, 3], [4]]
  # a stored config with the old key reads as having the new one
  stored = {"seed_mode": "sequential", "num_seeds": 2}
  assert config_lib.evolve(stored, {"seed_strategy": "sequential", "num_seeds": 2}, {}) == {
      "seed_strategy": "sequential", "num_seeds": 2}


def test_seed_keys_are_fold_ins():
  import jax
  k = seeds_lib.seed_keys(3, 2, first=5)
  for i, key in enumerate(k):
    assert np.array_equal(jax.random.key_data(key),
                          jax.random.key_data(jax.random.fold_in(jax.random.key(3), 5 + i)))


def test_scheme_record_round_trip_and_old_records():
  r = results_lib.scheme_record(
      "s", "mpgd", {"gamma": 0.6}, [0, 1], final={"loss": np.array([1.0, 2.0])},
      initial={"loss": np.array([3.0, 3.0])}, eval_steps=[0, 5],
      evals={"loss": np.ones((2, 2))}, diverged_at=[-1, 4],
      history={"loss": np.arange(20.0).reshape(2, 10)}, their_seeds=[7, 8])
  assert r.diverged == [{"scheme": "s", "seed": 1, "step": 4}] and len(r.messages) == 1
  d = r.to_dict(history_points=3)
  assert list(d)[:3] == ["kind", "hparams", "seeds"] and d["their_seeds"] == [7, 8]
  np.testing.assert_array_equal(d["history_steps"], [1, 5, 10])
  back = results_lib.SchemeRecord.from_dict(d, "s")
  assert back.extra == {"their_seeds": [7, 8]} and back.to_dict()["history_steps"] is not None
  # a record written before the typed record (no initial, no history, no diverged_at)
  old = {"kind": "gd", "hparams": {}, "seeds": [0, 1], "final": {"acc": [0.5, None]}}
  rows = results_lib.final_table({"results": {"schemes": {"gd": old}}})
  assert rows == [{"scheme": "gd", "seed": 0, "diverged_at": -1, "acc": 0.5},
                  {"scheme": "gd", "seed": 1, "diverged_at": -1, "acc": None}]
