"""chaosopt: noise-driven and chaotic gradient descent in JAX.

Layers (each imports only from the ones above it): ``chaosopt.dynamics`` (pure math),
``chaosopt.transforms`` / ``chaosopt.estimators`` (optax transformations, gradient estimators),
``chaosopt.tasks`` (objectives, data, models), ``chaosopt.analysis``, ``chaosopt.train``.

The top level re-exports the optax transformations (MPGD, P0 eq. 8; Lévy GD, P2 eq. 3; the
Gaussian baseline), their extension points and the Thaler constants. The subpackages are
attributes loaded on first access (``chaosopt.analysis``, ``chaosopt.tasks`` ...), so
``import chaosopt`` loads JAX and optax only (no flax, matplotlib, orbax or scipy).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chaosopt._validation import check_schedule as check_schedule
from chaosopt.dynamics.thaler import ThalerConstants as ThalerConstants
from chaosopt.dynamics.thaler import thaler_constants as thaler_constants
from chaosopt.transforms import NoiseProcess as NoiseProcess
from chaosopt.transforms import PerturbationState as PerturbationState
from chaosopt.transforms import gaussian_perturbation as gaussian_perturbation
from chaosopt.transforms import levy_gd as levy_gd
from chaosopt.transforms import levy_perturbation as levy_perturbation
from chaosopt.transforms import mpgd as mpgd
from chaosopt.transforms import mpgd_perturbation as mpgd_perturbation
from chaosopt.transforms import perturbation as perturbation
from chaosopt.transforms import register_noise as register_noise

if TYPE_CHECKING:
  from chaosopt import analysis as analysis
  from chaosopt import dynamics as dynamics
  from chaosopt import estimators as estimators
  from chaosopt import tasks as tasks
  from chaosopt import transforms as transforms

__version__ = "0.1.0"

# subpackages imported on first attribute access (PEP 562): `import chaosopt` stays light
_SUBPACKAGES = ("analysis", "dynamics", "estimators", "tasks", "transforms")

__all__ = [
    "mpgd", "mpgd_perturbation", "gaussian_perturbation", "levy_gd", "levy_perturbation",
    "NoiseProcess", "PerturbationState", "perturbation", "register_noise", "ThalerConstants",
    "thaler_constants", "check_schedule",
]  # the subpackages are left out: `from chaosopt import *` stays as light as `import chaosopt`


def __getattr__(name: str) -> Any:
  if name in _SUBPACKAGES:
    return importlib.import_module(f"{__name__}.{name}")
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
  return sorted(set(globals()) | set(_SUBPACKAGES))
