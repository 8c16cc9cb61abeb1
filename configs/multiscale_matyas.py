"""P1 (Kong & Tao 2020) App. D.2, Figs. 10-12: Matyas 0.26(x^2+y^2) + 0.48xy + eps sin(x/eps) +
eps cos(y/eps), eps = 1e-7, eta = 0.01: GD (phi) vs the stochastic map (phi_hat) vs rescaled
Gibbs (sigma^2 = 1/2 per axis), ensemble and single orbit."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "multiscale_matyas"
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
  c.box = 0.8
  c.bins = 24
  if arg == "quick":
    c.num_orbits, c.num_steps, c.snapshots, c.orbit_steps = 500, 1000, (0, 1000), 5000
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}")
  return c
