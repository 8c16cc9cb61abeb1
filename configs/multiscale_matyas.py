"""The config of P1 Figs. 10-12: Matyas multiscale: GD vs φ̂ vs rescaled Gibbs (2-D) (configs layer:
what to run, no computation; :mod:`chaosopt.experiments.multiscale_matyas` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "500 orbits, 1000 steps, orbit of 5000 steps (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "multiscale_matyas"
  c.x64 = True
  c.seed = 0
  c.eps = 1e-7
  c.eta = 0.01
  c.num_orbits = 10_000
  c.init = (-1.0, 1.0)
  c.num_steps = 20_000  # slow axis: eta * 0.04 = 4e-4 per step, relaxation ~2500 steps
  c.snapshots = (0, 1000, 5000, 20_000)
  c.chunk_size = 1000
  c.orbit_steps = 2_000_000
  c.orbit_x0 = (0.3, -0.2)
  c.box = 0.8
  c.bins = 24
  # the ergodicity control: GD at eta = 0.5 eps, below the micro-minima's stability threshold
  c.control_eta_over_eps = 0.5
  c.marginal_grid = 3001  # points per axis of the grid on [-1.5, 1.5]² for the Gibbs marginals
  if "quick" in variants:
    c.num_orbits, c.num_steps, c.snapshots, c.orbit_steps = 500, 1000, (0, 1000), 5000
    c.marginal_grid = 601
  return c
