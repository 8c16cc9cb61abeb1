"""Sharpness against the GD stability bound η λ_max < 2 and the detrended loss spread
(:mod:`chaosopt.analysis.sharpness`). Analysis layer."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from chaosopt.analysis import sharpness as sl
from chaosopt.tasks import multiscale as ms


def test_hessian_spectrum_of_a_quadratic_is_exact():
  rng = np.random.default_rng(0)
  m = rng.normal(size=(7, 7))
  a = m @ m.T - 2.0 * np.eye(7)  # symmetric, with negative eigenvalues too
  with ms.x64_scope(True):
    x = jnp.asarray(rng.normal(size=7))
    f = lambda v: 0.5 * v @ jnp.asarray(a) @ v + jnp.sum(v)  # noqa: E731
    ev = np.asarray(sl.hessian_eigenvalues(f, x))
    # float64 eigenvalues of a 7 x 7 matrix: agreement to rounding (1e-10 relative)
    np.testing.assert_allclose(ev, np.linalg.eigvalsh(a), rtol=1e-10, atol=1e-10)
    # the largest eigenvalue, not the largest modulus
    assert float(sl.sharpness(f, x)) == ev[-1]


def test_detrended_spread_ignores_a_smooth_trend_and_measures_an_oscillation():
  k = np.arange(4000, dtype=float)
  smooth = 1.0 + 0.5 * np.exp(-k / 2000.0)  # a converging loss
  # a cubic trend leaves only the exponential's higher-order terms over 101 steps
  assert sl.detrended_spread(smooth) < 1e-9
  assert sl.detrended_spread(1.0 + 1e-3 * k) < 1e-12  # a line is removed exactly
  # a period-2 oscillation of relative amplitude 1e-3 around the same trend: spread ≈ 1e-3
  # (the cubic over 101 steps passes ~1% of an alternating sequence)
  osc = smooth * (1.0 + 1e-3 * (-1.0) ** k)
  assert abs(sl.detrended_spread(osc) / 1e-3 - 1) < 0.05
  assert np.isnan(sl.detrended_spread(smooth[:50]))  # shorter than the trend window
  assert np.isnan(sl.detrended_spread(np.r_[smooth, np.nan]))
