"""The config of P1 Fig. 9: bifurcation diagram of GD on x^4/4 − eps cos(x/eps) (configs layer: what
to run, no computation; :mod:`chaosopt.experiments.multiscale_bifurcation` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "41 values of η/eps, 2000 transient steps (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "multiscale_bifurcation"
  c.x64 = True
  c.seed = 0  # unused: the experiment draws no random numbers
  c.eps = 1e-3
  c.eta_over_eps = (1.0, 5.0, 801)  # linspace(lo, hi, n)
  c.x0 = 1e-4  # inside the micro-well [-eps pi, eps pi] around 0
  c.num_transient = 50_000
  c.num_keep = 512
  c.max_period = 128
  c.rtol = 1e-7
  c.lyapunov_steps = 20_000
  # positive control of the chaos detector: the logistic map on linspace(lo, hi, n) of r, the
  # same step as the η/eps grid (its onset r_inf = 3.5699 is known)
  c.control_logistic_r = (3.0, 4.0, 201)
  if "quick" in variants:
    c.eta_over_eps, c.num_transient, c.lyapunov_steps = (1.0, 5.0, 41), 2000, 1000
    c.control_logistic_r = (3.0, 4.0, 11)
  return c
