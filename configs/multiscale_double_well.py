"""The config of P1 Figs. 20-22: double well: crossing below k_critical, not above (configs layer:
what to run, no computation; :mod:`chaosopt.experiments.multiscale_double_well` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "500 orbits, 1000 steps, single orbits of 5000 steps (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "multiscale_double_well"
  c.x64 = True
  c.seed = 0
  c.eps = 1e-4
  c.eta = 0.05
  c.ks = (0.02, 5.0)
  c.num_orbits = 10_000
  c.init = (0.9, 1.1)  # in the right well; U(0.5, 1.5) overshoots at k = 5 (eta f0'(1.5) = 1.9)
  c.num_steps = 20_000
  c.snapshots = (0, 1000, 5000, 20_000)
  c.chunk_size = 1000
  c.orbit_steps = 1_000_000
  c.num_long_orbits = 4
  c.fig22_etas = (0.05, 0.02, 0.01)
  c.bins = 60
  if "quick" in variants:
    c.num_orbits, c.num_steps, c.snapshots, c.orbit_steps = 500, 1000, (0, 1000), 5000
  return c
