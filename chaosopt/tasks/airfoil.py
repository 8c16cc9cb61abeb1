"""Airfoil self-noise regression (P0 Sec. 5.2, Table 1; data: UCI, Brooks, Pope & Marcolini 1989).

1503 rows, 5 features (frequency, angle of attack, chord length, free-stream velocity, suction
side displacement thickness) -> scaled sound pressure level in dB. The split is the MPGD
authors' one, ``sklearn.model_selection.train_test_split(test_size=0.2, random_state=0)``, i.e.
``numpy.random.RandomState(0).permutation(1503)``: the first 301 rows are the test set, the next
1202 the training set. Features and target are standardized with training statistics
(population std, as ``sklearn.preprocessing.StandardScaler``). Model: MLP 5-16-1 ReLU
(:mod:`chaosopt.tasks.mlp`), full-batch MSE loss, evaluated feature-major
(:func:`chaosopt.tasks.mlp.apply_feature_major`: ≈ 1.8x faster vmapped over an ensemble's
members on CPU). RMSEs are on the standardized target.
``dtype`` (float32 by default, float64 inside a ``jax.enable_x64`` scope) is the dtype of both
the data and the parameters, so a float64 run is float64 throughout.

P0's "RMSE gap" is defined as test RMSE - train RMSE, but the authors' code computes
test RMSE - train *MSE* (see docs/errata.md); both are reported (``gap`` and ``coded_gap``).
"""
from __future__ import annotations

import hashlib
import importlib.resources
import io
from typing import NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from chaosopt import _validation
from chaosopt.tasks.base import Task
from chaosopt.tasks.mlp import ACTIVATIONS, INITS, MLP, apply_feature_major

AIRFOIL_MD5 = "5aedb863dced956ce1a9a099e93ee363"
NUM_ROWS = 1503
NUM_TEST = 301  # ceil(0.2 * 1503), as sklearn's train_test_split(test_size=0.2)
HVP_CHUNK = 16  # Hessian-vector products per step of the exact trace (final_metrics)


def load_raw() -> np.ndarray:
  """The vendored CSV as a float64 array ``(1503, 6)``; raises if its md5 does not match."""
  blob = (importlib.resources.files("chaosopt.tasks") / "data" / "airfoil_self_noise.csv"
          ).read_bytes()
  digest = hashlib.md5(blob).hexdigest()
  if digest != AIRFOIL_MD5:
    raise RuntimeError(f"chaosopt/tasks/data/airfoil_self_noise.csv is corrupted: md5 {digest}, "
                       f"expected {AIRFOIL_MD5}")
  data = np.loadtxt(io.BytesIO(blob), delimiter=",", skiprows=1, dtype=np.float64)
  if data.shape != (NUM_ROWS, 6):
    raise RuntimeError(f"airfoil data has shape {data.shape}, expected ({NUM_ROWS}, 6)")
  return data


class AirfoilData(NamedTuple):
  """Standardized split; ``*_mean``/``*_std`` are the training statistics used."""
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  x_mean: np.ndarray
  x_std: np.ndarray
  y_mean: float
  y_std: float


def _float_dtype(dtype) -> np.dtype:
  """``dtype`` as a numpy float dtype; float64 only where jax creates float64 arrays (else jax
  would silently make the data or the parameters float32)."""
  dt = np.dtype(dtype)
  if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
    raise ValueError(f"dtype must be float32 or float64, got {dt}")
  if jax.dtypes.canonicalize_dtype(dt) != dt:
    raise ValueError(f"dtype {dt} needs float64 enabled in jax (jax.enable_x64)")
  return dt


def load_split(split_seed: int = 0, dtype=np.float32) -> AirfoilData:
  """The authors' 1202/301 split (``RandomState(split_seed).permutation``), standardized, the
  features and targets as ``dtype`` (statistics computed in float64)."""
  data = load_raw()
  perm = np.random.RandomState(split_seed).permutation(NUM_ROWS)
  test, train = data[perm[:NUM_TEST]], data[perm[NUM_TEST:]]
  x_mean, x_std = train[:, :5].mean(0), train[:, :5].std(0)
  y_mean, y_std = train[:, 5].mean(), train[:, 5].std()
  f = lambda a: np.asarray(a, np.dtype(dtype))
  return AirfoilData(
      x_train=f((train[:, :5] - x_mean) / x_std), y_train=f((train[:, 5] - y_mean) / y_std),
      x_test=f((test[:, :5] - x_mean) / x_std), y_test=f((test[:, 5] - y_mean) / y_std),
      x_mean=x_mean, x_std=x_std, y_mean=float(y_mean), y_std=float(y_std))


def airfoil_task(*, hidden: int = 16, init: str = "pytorch", activation: str = "relu",
                 split_seed: int = 0, hessian_trace: bool = True, dtype=np.float32) -> Task:
  """Task for P0 Table 1: MLP 5-``hidden``-1, full-batch MSE on the training split.

  ``dtype`` (float32 or float64; float64 needs ``jax.enable_x64``) is that of the data and of
  the parameters ``init`` returns.

  ``metrics``: train/test MSE and RMSE, ``gap`` = test RMSE - train RMSE, ``coded_gap`` = test
  RMSE - train MSE (the authors' code). If ``hessian_trace``, ``final_metrics`` adds the exact
  trace of the Hessian of the training loss w.r.t. all parameters.
  """
  if not isinstance(hidden, int) or hidden < 1:
    raise ValueError(f"hidden must be a positive int, got {hidden!r}")
  if init not in INITS:
    raise ValueError(f"init must be one of {INITS}, got {init!r}")
  if activation not in ACTIVATIONS:
    raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
  _validation.check_nonnegative("split_seed", split_seed)
  dt = _float_dtype(dtype)
  d = load_split(split_seed, dt)
  model = MLP(features=(hidden, 1), activation=activation, init_scheme=init, dtype=dt)
  xtr, ytr = jnp.asarray(d.x_train.T.copy()), jnp.asarray(d.y_train)  # feature-major
  xte, yte = jnp.asarray(d.x_test.T.copy()), jnp.asarray(d.y_test)

  def init_fn(key):
    return model.init(key, xtr[:, :1].T)

  def mse(params, x_t, y):  # x_t: (features, examples), see apply_feature_major
    return jnp.mean((apply_feature_major(params, x_t, activation)[0] - y) ** 2)

  def loss(params):
    return mse(params, xtr, ytr)

  def metrics(params):
    tr, te = mse(params, xtr, ytr), mse(params, xte, yte)
    rtr, rte = jnp.sqrt(tr), jnp.sqrt(te)
    return {"train_mse": tr, "test_mse": te, "train_rmse": rtr, "test_rmse": rte,
            "gap": rte - rtr, "coded_gap": rte - tr}

  def final_metrics(params):
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    f = lambda p: loss(unravel(p))
    g = jax.grad(f)
    n = flat.size
    # diag of the Hessian, one forward-over-reverse product per coordinate, HVP_CHUNK basis
    # vectors at a time (all n at once, the tangents are (n, hidden, examples) arrays that
    # leave the cache: ≈ 2.5x slower, the same numbers)
    eye = jnp.eye(n + (-n % HVP_CHUNK), n, dtype=flat.dtype).reshape(-1, HVP_CHUNK, n)
    hvp_diag = jax.vmap(lambda e: jnp.vdot(e, jax.jvp(g, (flat,), (e,))[1]))
    diag = jax.lax.map(hvp_diag, eye).reshape(-1)[:n]
    return {"hessian_trace": jnp.sum(diag)}

  info = {"name": "airfoil", "hidden": hidden, "init": init, "activation": activation,
          "split_seed": split_seed, "num_train": int(d.x_train.shape[0]),
          "num_test": int(d.x_test.shape[0]), "y_mean_db": d.y_mean, "y_std_db": d.y_std,
          "dtype": str(dt)}
  return Task(name="airfoil", init=init_fn, loss=loss, metrics=metrics,
              final_metrics=final_metrics if hessian_trace else None, info=info)
