"""Analysis layer: Hessian traces, Lyapunov exponents, Gibbs comparisons, SGD-noise statistics.

Re-exported here: Lyapunov exponents of GD maps (:mod:`~chaosopt.analysis.lyapunov`, P1 eq. 4
and the constant m of P1 Thm. 9), the Marcus SDE of MPGD (:mod:`~chaosopt.analysis.marcus`, P0
Thm 4.1) and the paired comparison of schemes over seeds (:mod:`~chaosopt.analysis.stats`).
The other modules are imported by name (``chaosopt.analysis.bifurcation`` ...).

The re-exports load on first access (PEP 562): importing one module of the package, e.g.
``chaosopt.analysis.verdicts`` for a report, does not import SciPy's statistics (≈ 0.5 s).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
  from chaosopt.analysis.lyapunov import lyapunov_exponents as lyapunov_exponents
  from chaosopt.analysis.lyapunov import measure_m as measure_m
  from chaosopt.analysis.marcus import mpgd_ensemble as mpgd_ensemble
  from chaosopt.analysis.marcus import simulate_marcus as simulate_marcus
  from chaosopt.analysis.stats import compare_paired as compare_paired

_EXPORTS = {"lyapunov_exponents": "lyapunov", "measure_m": "lyapunov",
            "mpgd_ensemble": "marcus", "simulate_marcus": "marcus", "compare_paired": "stats"}

__all__ = ["lyapunov_exponents", "measure_m", "simulate_marcus", "mpgd_ensemble", "compare_paired"]


def __getattr__(name: str) -> Any:
  if name in _EXPORTS:
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
  return sorted(set(globals()) | set(_EXPORTS))
