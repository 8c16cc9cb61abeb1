"""The P1 multiscale experiments' float64 rule (``config.x64``, P1 objectives with eps <= 1e-4).

The quick runs themselves are in tests/test_experiments.py; here: float32 is refused before
anything is compiled, and ``run`` computes in float64 without leaving x64 switched on for the
rest of the process (the test suite runs every quick variant in one process).
"""
from __future__ import annotations

import jax
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
