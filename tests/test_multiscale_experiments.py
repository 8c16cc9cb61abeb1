"""The P1 multiscale experiments' float64 rule (``config.x64``, P1 objectives with eps <= 1e-4).

The quick runs themselves are in tests/test_experiments.py; here: float32 is refused before
anything is compiled, and ``run`` computes in float64 without leaving x64 switched on for the
rest of the process (the test suite runs every quick variant in one process); the airfoil
experiment (P1 Figs. 6-7) runs float64 throughout when x64 is on.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt import experiments
from chaosopt.train import config as config_lib

# eps <= 1e-4 somewhere in the config (multiscale_bifurcation runs in float64 too, but its
# eps = 1e-3 is resolvable in float32, so like the old script it does not refuse)
REFUSE_F32 = ["multiscale_double_well", "multiscale_fig5", "multiscale_gibbs",
              "multiscale_lyapunov", "multiscale_matyas", "multiscale_momentum"]


@pytest.mark.parametrize("name", REFUSE_F32)
def test_float32_is_refused(name):
  _, config, _ = experiments.load(f"{name}:quick")
  assert config.x64 is True
  with pytest.raises(config_lib.ConfigError, match="float64"):
    experiments.load(f"{name}:quick", [("x64", "False")])


def test_run_uses_float64_and_restores_x64(tmp_path):
  mod, config, _ = experiments.load("multiscale_bifurcation:quick")
  before = bool(jax.config.jax_enable_x64)
  out = mod.run(config, str(tmp_path / "run"))
  assert out["float64"] is True
  assert bool(jax.config.jax_enable_x64) == before
  # the period-2 window of P1 Fig. 9 (deterministic map; no tolerance needed)
  assert out["first_eta_over_eps_with_period"]["2"] is not None


def test_airfoil_task_takes_the_runs_dtype():
  """The root of the old ``--config.x64=True`` crash: the airfoil data and parameters were
  float32 whatever the precision, so an x64 run's scan carry went in float32 and came out
  float64 (the learning rate was float64)."""
  from chaosopt.tasks import airfoil
  from chaosopt.tasks import multiscale as ms
  with ms.x64_scope(False):
    with pytest.raises(ValueError, match="enable_x64"):
      airfoil.airfoil_task(dtype=jnp.float64)  # would silently be float32
  with ms.x64_scope(True):
    task = airfoil.airfoil_task(activation="leaky_relu", hessian_trace=False,
                                dtype=jnp.float64)
    params = task.init(jax.random.key(0))
    assert {x.dtype for x in jax.tree_util.tree_leaves(params)} == {jnp.dtype("float64")}
    assert task.loss(params).dtype == jnp.float64 and task.info["dtype"] == "float64"
  task = airfoil.airfoil_task()  # the default (P0 Table 1) stays float32
  assert task.loss(task.init(jax.random.key(0))).dtype == jnp.float32


def test_airfoil_x64_run_is_float64_throughout(tmp_path):
  """``multiscale_airfoil`` with x64 (the default) runs in float64 and restores the flag."""
  mod, config, _ = experiments.load("multiscale_airfoil:quick", [
      ("num_steps", "400"), ("window", "300"), ("chunk_size", "100")])
  assert config.x64 is True
  before = bool(jax.config.jax_enable_x64)
  out = mod.run(config, str(tmp_path / "run"))
  assert bool(jax.config.jax_enable_x64) == before
  assert out["float64"] is True and out["task"]["dtype"] == "float64"
  for r in out["per_lr"].values():
    assert r["loss_curve"].dtype == np.float64
    # 4 sharpness samples (steps 100 ... 400) in the 300-step window, all finite and positive
    assert r["sharpness_tail"].shape == (config.num_seeds, 4)
    assert np.all(np.isfinite(r["sharpness_tail"])) and np.all(r["sharpness_tail"] > 0)
