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
  # metrics.csv: the final metrics and the evaluations, read back with the csv module
  with open(workdir / "metrics.csv", newline="") as f:
    rows = list(csv.DictReader(f))
  table = [r for r in rows if r["scheme"]]  # the other rows: scalars such as timings_s.*
  finals = {(r["scheme"], int(r["seed"]), r["metric"]): float(r["value"]) for r in table
            if r["step"] == ""}
  assert finals[("mpgd", 1, "hessian_trace")] == schemes["mpgd"]["final"]["hessian_trace"][1]
  assert len(finals) == 3 * 2 * 4
  assert {r["step"] for r in table} == {"", "0", "20", "40"}
  assert rows[0]["experiment"] == "widening_valley" and rows[0]["variant"] == "quick"
  assert {r["gamma"] for r in rows if r["scheme"] == "mpgd"} == {"0.7"}
  assert "metrics.csv" in json.loads((workdir / ".chaosopt-run.json").read_text())["entries"]


@pytest.mark.parametrize("report", ["widening_valley", "widening_valley_seeds100",
                                    "widening_valley_authors_seeds100"])
def test_report_figure_has_readable_ticks(report):
  """Fig. 2 of the committed reports, re-rendered: at least two labelled ticks on every axis,
  no two texts (titles, labels, tick labels) overlapping."""
  import ml_collections
  from test_plots import _texts, assert_no_overlapping_text

  from chaosopt.experiments import widening_valley
  from chaosopt.train import plots
  doc = results_lib.load(os.path.join(ROOT, "reports", report))
  fig = widening_valley.report(ml_collections.ConfigDict(doc["settings"]), doc["results"])[1][
      "fig2"]
  assert_no_overlapping_text(fig)
  names = [n for n, _ in _texts(fig)]
  for i in range(len(fig.axes)):
    for axis in ("x", "y"):
      assert sum(n.startswith(f"ax{i} {axis}tick") for n in names) >= 2, (i, axis, names)
  plots.pyplot().close(fig)


def _their_recursion(option, seed, num_steps, *, gamma=0.0, beta=0.5, eta=0.01, sigma=0.05,
                     mu=0.02, v_on_v=False):
  """Their widening-valley script transcribed in NumPy float64 (docs/authors_code.md): the
  global legacy stream, scalar u, Gauss-Seidel v-update with the u-term. Returns (u, v) per
  step."""
  from chaosopt.transforms.contrib import authors
  np.random.seed(seed)
  u, v = np.random.uniform(10) * 5, 0.0
  if option == 2:
    s0, m0 = sigma * eta ** gamma, mu * eta ** gamma
    ch = authors.authors_chains([seed, seed + 123, seed + 1234],
                                [12 + seed, 12 + seed + 123, 12 + seed + 1234], gamma, beta,
                                num_steps)
  out = []
  for i in range(num_steps):
    if option == 1:
      u = u - eta * (u * v**2) + sigma * np.random.normal(10) - mu * np.random.normal(1) * u
      v = v - eta * (v * np.linalg.norm(u)**2) + sigma * np.random.normal(1) \
          - mu * np.random.normal(1) * u
    else:
      u = u - eta * (u * v**2) + s0 * ch[0][i] - m0 * ch[2][i] * u
      v = v - eta * (v * np.linalg.norm(u)**2) + s0 * ch[1][i] \
          - m0 * ch[2][i] * (v if v_on_v else u)
    out.append((u, v))
  return np.array(out)


def test_authors_process_matches_their_recursion(tmp_path):
  """``widening_valley:authors`` (jax, float64, vmapped over seeds) against the NumPy
  transcription of their script above, seed by seed: same u0 (their legacy draw), same noise,
  same order of operations. Tolerance: relative 1e-9 on u² and absolute 1e-9 on v after 200
  steps (float64; XLA may contract a multiply-add into an FMA, a last-bit difference that the
  valley's mildly unstable v-dynamics amplify by far less than 1e3 in 200 steps)."""
  wd = tmp_path / "authors"
  assert cli.main(["--config", "widening_valley:authors,quick", "--workdir", str(wd), "-q",
                   "--no-plots"]) == 0
  doc = results_lib.load(str(wd))
  res = doc["results"]
  assert res["process"] == "authors"
  cfg = doc["settings"]
  steps = cfg["num_steps"]
  options = {"gd": 0, "gaussian": 1, "mpgd": 2}
  for name, e in res["schemes"].items():
    assert e["their_seeds"] == [2222, 2223]
    for j, seed in enumerate(e["their_seeds"]):
      if e["kind"] == "gd":  # nothing moves
        assert e["final"]["u_norm2"][j] == e["initial"]["u_norm2"][j]
        assert e["final"]["v"][j] == 0
        continue
      ref = _their_recursion(options[e["kind"]], seed, steps,
                             gamma=e["hparams"].get("gamma", 0.0),
                             v_on_v=e["hparams"].get("v_term") == "v")
      np.testing.assert_allclose(e["final"]["u_norm2"][j], ref[-1, 0] ** 2, rtol=1e-9)
      np.testing.assert_allclose(e["final"]["v"][j], ref[-1, 1], atol=1e-9)
  assert "authors' process" in (wd / "report.md").read_text()


def test_authors_process_bad_config_names_the_key():
  from chaosopt import experiments
  from chaosopt.train import config as config_lib
  with pytest.raises(config_lib.ConfigError, match=r"schemes\[2\]\.gamma"):
    experiments.load("widening_valley:authors", [("schemes.2.gamma", "0.4")])
  with pytest.raises(config_lib.ConfigError, match="kind"):
    experiments.load("widening_valley:authors", [("schemes.1.kind", "levy")])
