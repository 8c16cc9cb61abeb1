"""Widening valley (P0 Sec. 5.1, Fig. 2): loss, gradient and Hessian trace formulas; a short
end-to-end CLI run writing every output."""
import csv
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt import cli
from chaosopt.train import results as results_lib
from chaosopt.tasks import widening_valley as wv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_formulas_match_autodiff():
  task = wv.widening_valley_task(dim=10)
  p = task.init(jax.random.key(3))
  assert p["u"].shape == (10,) and p["v"].shape == (1,)
  assert np.all(p["v"] == 0) and np.all((p["u"] >= 0) & (p["u"] <= 5))
  p = {"u": p["u"], "v": jnp.array([0.3])}
  u, v = p["u"], p["v"][0]
  g = jax.grad(task.loss)(p)  # grad l = (v^2 u, ||u||^2 v)
  np.testing.assert_allclose(g["u"], v**2 * u, rtol=1e-6)
  np.testing.assert_allclose(g["v"][0], jnp.sum(u**2) * v, rtol=1e-6)
  flat, unravel = jax.flatten_util.ravel_pytree(p)
  hess = jax.jit(jax.hessian(lambda x: task.loss(unravel(x))))(flat)
  np.testing.assert_allclose(jnp.trace(hess), wv.hessian_trace(p), rtol=1e-5)
  np.testing.assert_allclose(task.metrics(p)["hessian_trace"], 10 * v**2 + jnp.sum(u**2),
                             rtol=1e-6)
  # GD does not move from v = 0: the gradient vanishes on the valley floor
  p0 = task.init(jax.random.key(0))
  assert all(np.all(x == 0) for x in jax.tree_util.tree_leaves(jax.grad(task.loss)(p0)))


def test_bad_arguments():
  with pytest.raises(ValueError, match="dim"):
    wv.widening_valley_task(dim=0)
  with pytest.raises(ValueError, match="init_scale"):
    wv.widening_valley_task(init_scale=-1.0)


def test_cli_end_to_end(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  workdir = tmp_path / "valley"
  status = cli.main(["--config", "widening_valley:quick", "--workdir", str(workdir),
                     "--config.only=gd,gaussian,mpgd", "--config.num_steps=40",
                     "--config.chunk_size", "20", "--config.num_seeds=2"])
  assert status == 0
  doc = results_lib.load(str(workdir))
  assert doc["settings"]["num_steps"] == 40 and doc["results"]["task"]["dim"] == 10
  schemes = doc["results"]["schemes"]
  assert list(schemes) == ["gd", "gaussian", "mpgd"]
  for s in schemes.values():
    assert s["seeds"] == [0, 1] and s["diverged_at"] == [-1, -1]
    assert set(s["final"]) == {"loss", "v", "u_norm2", "hessian_trace"}
    assert s["eval_steps"] == [0, 20, 40]
  assert doc["results"]["summary"]["gd"]["loss"]["mean"] == 0.0  # GD never leaves the floor
  hist = results_lib.history(str(workdir))
  assert hist["mpgd/hessian_trace"].shape == (2, 40)
  assert "hessian_trace" in capsys.readouterr().out
