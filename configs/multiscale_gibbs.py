"""The config of P1 Figs. 1, 3, 4: GD ensembles and orbits vs rescaled Gibbs (configs layer: what to
run, no computation; :mod:`chaosopt.experiments.multiscale_gibbs` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "500 orbits, 100 steps, orbit of 5000 steps (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "multiscale_gibbs"
  c.x64 = True
  c.seed = 0
  c.num_orbits = 10_000
  c.num_steps = 5000
  c.snapshots = (0, 10, 100, 1000, 5000)
  c.chunk_size = 10
  c.orbit_steps = 1_000_000
  c.orbit_burn_in = 1000
  c.orbit_x0 = 0.3
  c.bins = 60
  # the ergodicity control: GD at eta = 0.5 eps, below the micro-minima's stability threshold
  c.control_eta_over_eps = 0.5
  c.cases = [
      {"figure": "Fig. 3", "objective": "quartic_sin", "eps": 1e-6, "eta": 0.1, "init": [-1., 1.],
       "box": 1.3},
      {"figure": "Fig. 4", "objective": "quartic_quasiperiodic", "eps": 1e-6, "eta": 0.1,
       "init": [-1., 1.], "box": 1.7},
      {"figure": "Fig. 1", "objective": "tilted_double_well_quasiperiodic", "eps": 1e-2,
       "eta": 0.1, "init": [-1.5, 1.5], "box": 2.2},
  ]
  # our extension: Fig. 1's function at η = 0.1 as eps → 0 (Thm 4 fixes η), GD vs φ̂ by KS
  c.eps_sweep = {"figure": "Fig. 1", "objective": "tilted_double_well_quasiperiodic",
                 "eta": 0.1, "eps": (1e-2, 1e-3, 1e-4, 1e-5, 1e-6), "init": [-1.5, 1.5]}
  if "quick" in variants:
    c.num_orbits, c.num_steps, c.snapshots = 500, 100, (0, 100)
    c.orbit_steps, c.orbit_burn_in = 5000, 100
  return c
