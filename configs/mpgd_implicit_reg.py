"""The config of P0 Thm. 4.3 (Sec. 4.3) and Fig. 2 setting: MPGD implicit regularization: ε²
prediction vs measurement, κ_k erratum (configs layer: what to run, no computation;
:mod:`chaosopt.experiments.mpgd_implicit_reg` runs it).
"""
from __future__ import annotations

import ml_collections

from chaosopt.train import config as config_lib

VARIANTS = {"quick": "40 steps, 300 paths, ε = 0.1 (and 0.2), 40-step valley at s = 1 (smoke run)"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variants = config_lib.parse_variants(arg, VARIANTS)
  c = ml_collections.ConfigDict()
  c.experiment = "mpgd_implicit_reg"
  c.seed = 0
  c.gamma = 0.7
  c.beta = 0.5
  c.eta = 0.01
  c.x0 = [1.5, 1.0]
  c.num_steps = 200
  c.record_every = 25
  c.eps = [0.025, 0.05, 0.1, 0.2]
  c.num_paths = 20000
  c.valley_dim = 10
  c.valley_scales = [0.5, 1.0, 2.0]
  c.valley_steps = 1000
  c.valley_paths = 4000
  c.valley_record_every = 100
  c.rho_chains = 1000
  c.rho_length = 2048
  if "quick" in variants:
    c.num_steps = 40
    c.record_every = 20
    c.eps = [0.1]
    c.num_paths = 300
    c.valley_scales = [1.0]
    c.valley_steps = 40
    c.valley_paths = 200
    c.valley_record_every = 20
    c.rho_chains = 100
    c.rho_length = 128
  return c
