"""The config of P1 Fig. 5: GD on a micro-scale violating Cond. 1-2 (configs layer: what to run, no
computation; :mod:`chaosopt.experiments.multiscale_fig5` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "500 orbits, 1000 steps, orbits of 5000 steps (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "multiscale_fig5"
  c.x64 = True
  c.seed = 0
  c.eps = 1e-4
  c.eta = 0.1
  c.num_orbits = 10_000
  c.init = (-10.0, 10.0)
  c.num_steps = 20_000
  c.snapshots = (0, 100, 1000, 5000, 20_000)
  c.chunk_size = 100
  c.orbit_steps = 1_000_000
  c.orbit_x0s = (0.3, 4.0)
  c.box = 12.0
  c.bins = 60
  # the positive control: the same runs on x²/2 + eps sin(x/eps), whose micro-scale satisfies
  # Cond. 1-2 (a non-degenerate, ergodic limit)
  c.control_objective = "quadratic_sin"
  if "quick" in variants:
    c.num_orbits, c.num_steps, c.snapshots, c.orbit_steps = 500, 1000, (0, 1000), 5000
  return c
