"""The config of P1 Figs. 18-19: heavy ball and NAG-SC on a multiscale quadratic (configs layer:
what to run, no computation; :mod:`chaosopt.experiments.multiscale_momentum` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "500 orbits, 500 steps, orbit of 2000 steps (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "multiscale_momentum"
  c.x64 = True
  c.seed = 0
  c.eps = 1e-4
  c.eta = 0.01
  c.gamma = 0.9
  c.mu = 1.0
  c.num_orbits = 10_000
  c.init = (-1.0, 1.0)
  c.num_steps = 5000
  c.chunk_size = 1000
  c.orbit_steps = 1_000_000
  c.orbit_x0 = 0.3
  c.bins = 60
  # the ergodicity control: the methods at eta = 0.5 eps, below the micro-minima's stability
  # threshold
  c.control_eta_over_eps = 0.5
  if "quick" in variants:
    c.num_orbits, c.num_steps, c.chunk_size, c.orbit_steps = 500, 500, 500, 2000
  return c
