"""The config of P1 Figs. 13-17: Lyapunov exponent of GD vs m + ln(η/eps) (configs layer: what to
run, no computation; :mod:`chaosopt.experiments.multiscale_lyapunov` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "3 of the 6 panels, 3 grid values, 2 orbits each, 500 steps, 2e4 Monte "
                     "Carlo samples (smoke run)"}

# (figure, objective, grid axis)
CASES = (("Fig. 13", "double_well", "eta"), ("Fig. 14", "double_well", "eps"),
         ("Fig. 15 (vs η)", "quasiperiodic", "eta"), ("Fig. 15 (vs eps)", "quasiperiodic", "eps"),
         ("Fig. 16", "matyas", "eta"), ("Fig. 17", "matyas", "eps"))


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "multiscale_lyapunov"
  c.x64 = True
  c.seed = 0
  c.num_orbits = 4  # random initial points per (eta, eps)
  c.num_steps = 20_000
  c.burn_in = 1000
  c.etas = (1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1)
  c.eps_fixed = 1e-6
  c.epss = (1e-7, 3e-7, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4)
  c.eta_fixed = 0.1
  c.matyas_eps_fixed = 1e-5
  c.m_samples = 2_000_000
  c.figures = tuple(fig for fig, _, _ in CASES)  # which panels of CASES to run
  c.torus_grid = (1_000_000, 4000)  # midpoint-rule points per axis, 1-D and 2-D integrands
  # the negative control: the same orbits at eta = 0.5 eps (below the micro-minima's
  # stability threshold, where Thm 9 does not apply)
  c.control_eta_over_eps = 0.5
  if "quick" in variants:
    c.num_steps, c.burn_in, c.num_orbits, c.m_samples = 500, 10, 2, 20_000
    c.etas, c.epss = (1e-3, 1e-2, 0.1), (1e-7, 1e-6, 1e-5)
    c.figures = ("Fig. 13", "Fig. 15 (vs eps)", "Fig. 16")
    c.torus_grid = (10_000, 400)
  return c
