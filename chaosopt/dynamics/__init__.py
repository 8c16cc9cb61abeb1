"""Pure array math: the Thaler map and its observables (P0), stable laws, tail indices (P2/P3).

No optimizer here: :mod:`~chaosopt.dynamics.thaler` (the map T_γ of P0 eq. 5 and its invariant
measure), :mod:`~chaosopt.dynamics.observables` (the observables v of P0 Section 3),
:mod:`~chaosopt.dynamics.stable` (S_α(σ, β, 0) laws, the Chambers-Mallows-Stuck sampler),
:mod:`~chaosopt.dynamics.tail_index` (tail-index estimators of P2/P3),
:mod:`~chaosopt.dynamics.gd_maps` and :mod:`~chaosopt.dynamics.random_bits` (helpers).
"""
from chaosopt.dynamics.observables import birkhoff_sums as birkhoff_sums
from chaosopt.dynamics.observables import d_alpha as d_alpha
from chaosopt.dynamics.observables import observable as observable
from chaosopt.dynamics.stable import sample_sas as sample_sas
from chaosopt.dynamics.stable import sample_stable as sample_stable
from chaosopt.dynamics.stable import (
    stable_characteristic_function as stable_characteristic_function)
from chaosopt.dynamics.tail_index import cf_fit as cf_fit
from chaosopt.dynamics.tail_index import log_moment_fit as log_moment_fit
from chaosopt.dynamics.tail_index import mohammadi_alpha as mohammadi_alpha
from chaosopt.dynamics.tail_index import mohammadi_inverse_alpha as mohammadi_inverse_alpha
from chaosopt.dynamics.thaler import ThalerConstants as ThalerConstants
from chaosopt.dynamics.thaler import fixed_point as fixed_point
from chaosopt.dynamics.thaler import invariant_density as invariant_density
from chaosopt.dynamics.thaler import sample_invariant as sample_invariant
from chaosopt.dynamics.thaler import thaler_constants as thaler_constants
from chaosopt.dynamics.thaler import thaler_map as thaler_map

__all__ = [
    "ThalerConstants", "thaler_constants", "fixed_point", "invariant_density", "sample_invariant",
    "thaler_map", "observable", "d_alpha", "birkhoff_sums", "sample_stable", "sample_sas",
    "stable_characteristic_function", "mohammadi_alpha", "mohammadi_inverse_alpha",
    "log_moment_fit", "cf_fit",
]
