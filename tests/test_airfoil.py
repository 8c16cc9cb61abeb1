"""Airfoil self-noise (P0 Sec. 5.2, Table 1): vendored data integrity, the authors' split,
standardization, the PyTorch-default initialization, and a short end-to-end CLI run."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt import cli
from chaosopt.train import results as results_lib
from chaosopt.tasks import airfoil
from chaosopt.tasks.mlp import MLP, apply_feature_major

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_data_and_split():
  raw = airfoil.load_raw()
  assert raw.shape == (1503, 6)
  d = airfoil.load_split()
  assert d.x_train.shape == (1202, 5) and d.x_test.shape == (301, 5)
  perm = np.random.RandomState(0).permutation(1503)  # sklearn train_test_split(0.2, rs=0)
  x = (raw[:, :5] - d.x_mean) / d.x_std
  np.testing.assert_allclose(d.x_test, x[perm[:301]], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(d.x_train, x[perm[301:]], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(d.y_train * d.y_std + d.y_mean, raw[perm[301:], 5], rtol=1e-6)
  # standardized with the training statistics (population std, as StandardScaler)
  np.testing.assert_allclose(d.x_train.mean(0), 0, atol=1e-5)
  np.testing.assert_allclose(d.x_train.std(0), 1, atol=1e-5)
  assert abs(d.y_train.mean()) < 1e-5 and abs(d.y_train.std() - 1) < 1e-5
  assert abs(d.y_test.mean()) > 1e-3  # test set is not re-standardized


def test_checksum_is_enforced(monkeypatch):
  monkeypatch.setattr(airfoil, "AIRFOIL_MD5", "0" * 32)
  with pytest.raises(RuntimeError, match="corrupted"):
    airfoil.load_raw()


def test_pytorch_init_bounds():
  # torch.nn.Linear: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  model = MLP(features=(16, 1), init_scheme="pytorch")
  p = model.init(jax.random.key(0), jnp.zeros((1, 5)))["params"]
  for name, fan_in in (("Linear_0", 5), ("Linear_1", 16)):
    for leaf in ("kernel", "bias"):
      assert np.abs(np.asarray(p[name][leaf])).max() <= fan_in ** -0.5
  # 80 + 16 draws spread over the interval (not a narrower init): max |w| > half the bound
  for leaf in ("kernel", "bias"):
    assert np.abs(np.asarray(p["Linear_0"][leaf])).max() > 0.5 * 5 ** -0.5
  lecun = MLP(features=(16, 1), init_scheme="lecun").init(jax.random.key(0), jnp.zeros((1, 5)))
  assert np.all(lecun["params"]["Linear_0"]["bias"] == 0)
  with pytest.raises(ValueError, match="init"):
    airfoil.airfoil_task(init="xavier")


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh"])
def test_feature_major_forward_is_the_mlp(activation):
  """The task's feature-major forward (``(features, examples)`` in, examples on the minor
  axis) is the flax MLP on the transposed data, to float32 rounding (its sums run in another
  order), and its loss is the MSE of that MLP, vmapped over members as the ensemble runs it."""
  d = airfoil.load_split()
  model = MLP(features=(16, 1), activation=activation)
  params = jax.vmap(lambda k: model.init(k, jnp.zeros((1, 5))))(
      jax.random.split(jax.random.key(3), 4))
  x = jnp.asarray(d.x_train)
  want = jax.vmap(lambda p: model.apply(p, x))(params)[..., 0]
  got = jax.vmap(lambda p: apply_feature_major(p, x.T, activation))(params)[:, 0]
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  task = airfoil.airfoil_task(activation=activation, hessian_trace=False)
  mse = jax.vmap(lambda p: jnp.mean((model.apply(p, x)[:, 0] - jnp.asarray(d.y_train)) ** 2))
  np.testing.assert_allclose(jax.vmap(task.loss)(params), mse(params), rtol=1e-5)
  with pytest.raises(ValueError, match="activation"):
    apply_feature_major(params, x.T, "swish")


def test_metrics_definitions():
  task = airfoil.airfoil_task()
  p = task.init(jax.random.key(0))
  m = jax.jit(task.all_final_metrics)(p)
  np.testing.assert_allclose(m["train_rmse"], np.sqrt(task.loss(p)), rtol=1e-6)
  np.testing.assert_allclose(m["gap"], m["test_rmse"] - m["train_rmse"], rtol=1e-6)
  np.testing.assert_allclose(m["coded_gap"], m["test_rmse"] - m["train_mse"], rtol=1e-6)
  flat, unravel = jax.flatten_util.ravel_pytree(p)
  hess = jax.jit(jax.hessian(lambda x: task.loss(unravel(x))))(flat)
  np.testing.assert_allclose(m["hessian_trace"], jnp.trace(hess), rtol=1e-4)


def test_cli_end_to_end(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  workdir = tmp_path / "airfoil"
  status = cli.main(["--config", "airfoil_table1:quick", "--workdir", str(workdir),
                     "--config.only=baseline,gaussian,mpgd_0.6", "--config.num_steps=20",
                     "--config.chunk_size=10", "--config.task.hessian_trace=false"])
  assert status == 0
  assert {"config.json", "results.json", "report.md", "log.txt", "history.npz",
          "final_metrics.png", "final_metrics.pdf"} <= set(os.listdir(workdir))
  doc = results_lib.load(str(workdir))
  schemes = doc["results"]["schemes"]
  assert list(schemes) == ["baseline", "gaussian", "mpgd_0.6"]
  assert schemes["mpgd_0.6"]["hparams"] == {"learning_rate": 0.1, "mu": 0.01, "sigma": 0.02,
                                            "gamma": 0.6, "beta": 0.5, "init": "invariant",
                                            "sign_rule": "excursion"}
  summary = doc["results"]["summary"]
  for s in summary.values():
    assert {"test_rmse", "train_rmse", "gap", "coded_gap"} <= set(s)
    # 20 full-batch GD steps at lr 0.1 reduce the training loss from its initial value
    assert s["train_mse"]["mean"] < 1.0
  rows = results_lib.final_table(doc)
  assert len(rows) == 3 * 2 and {"scheme", "seed", "test_rmse"} <= set(rows[0])
  out = capsys.readouterr().out
  # a smoke test with overrides: no paper values beside it, every verdict "not tested"
  assert "test_rmse" in out and "[paper" not in out and "the paper's values are not shown" in out
  assert {v["status"] for v in doc["verdicts"]} == {"not tested"}
  md = (workdir / "report.md").read_text()
  assert md.startswith("> **Smoke test — not evidence.**") and "Custom config" in md
  assert "as in the paper" not in md and "paper test RMSE" not in md
