"""Tests for chaosopt.analysis.bifurcation (P1 App. D.1, Fig. 9)."""
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.analysis import bifurcation as bf
from chaosopt.tasks import multiscale as ms


def _logistic_tails(rs):
  return bf.attractor_tails(lambda x, r: r * x * (1 - x), jnp.full((len(rs), 1), 0.2),
                            jnp.asarray(rs), num_transient=5000, num_keep=256)


def test_period_detection_logistic():
  # known attractors: r = 2.8 fixed point, 3.2 period 2, 3.5 period 4, 3.83 period 3, 4 chaos
  rs = [2.8, 3.2, 3.5, 3.83, 4.0]
  tails = _logistic_tails(rs)
  assert [bf.detect_period(t, rtol=1e-4) for t in tails] == [1, 2, 4, 3, 0]


def test_explicit_period_two_orbit():
  tail = np.tile([0.1, 0.7], 64)
  assert bf.detect_period(tail) == 2
  assert bf.detect_period(np.full(128, 3.0)) == 1
  with pytest.raises(ValueError, match="too short"):
    bf.detect_period(tail[:10], max_period=64)


def test_fig9_period_two_at_2p5_eps():
  # P1 Fig. 9: x^4/4 - eps cos(x/eps), eps = 1e-3: stable fixed point for eta < 2 eps (phi'
  # = 1 - eta/eps at the micro-minimum), period 2 at eta = 2.5 eps.
  obj = ms.quartic_negcos(1e-3)
  etas = jnp.array([1.5e-3, 2.5e-3])
  tails = bf.attractor_tails(lambda x, e: obj.gd_map(x, e), jnp.full((2, 1), 1e-4), etas,
                             num_transient=5000, num_keep=256)
  assert [bf.detect_period(t, rtol=1e-4) for t in tails] == [1, 2]


def test_chaos_threshold():
  etas = np.array([1, 2, 3, 4, 5, 6])
  periods = np.array([1, 2, 4, 0, 3, 0])
  assert bf.chaos_threshold(etas, periods) == 4
  assert bf.chaos_threshold(etas, periods, np.array([-1, -1, -1, -0.1, -1, 0.2])) == 6
  assert bf.chaos_threshold(etas, np.ones(6)) is None
  assert bf.first_eta_with_period(etas, periods, 2) == 2
