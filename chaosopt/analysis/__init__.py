"""Analysis layer: Hessian traces, Lyapunov exponents, Gibbs comparisons, SGD-noise statistics.

Re-exported here: Lyapunov exponents of GD maps (:mod:`~chaosopt.analysis.lyapunov`, P1 eq. 4
and the constant m of P1 Thm. 9), the Marcus SDE of MPGD (:mod:`~chaosopt.analysis.marcus`, P0
Thm 4.1) and the paired comparison of schemes over seeds (:mod:`~chaosopt.analysis.stats`).
The other modules are imported by name (``chaosopt.analysis.bifurcation`` ...).
"""
from chaosopt.analysis.lyapunov import lyapunov_exponents as lyapunov_exponents
from chaosopt.analysis.lyapunov import measure_m as measure_m
from chaosopt.analysis.marcus import mpgd_ensemble as mpgd_ensemble
from chaosopt.analysis.marcus import simulate_marcus as simulate_marcus
from chaosopt.analysis.stats import compare_paired as compare_paired

__all__ = ["lyapunov_exponents", "measure_m", "simulate_marcus", "mpgd_ensemble", "compare_paired"]
