"""P1 (Kong & Tao 2020) App. D.4, Figs. 18-19: heavy ball (gamma = 0.9) and NAG-SC
(c = (1 - sqrt(mu eta))/(1 + sqrt(mu eta)), mu = 1) on x^2/2 + eps sin(x/eps), eta = 0.01,
eps = 1e-4, vs their stochastic counterparts (grad f1 replaced by -zeta)."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "multiscale_momentum"
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
  c.bins = 60
  if arg == "quick":
    c.num_orbits, c.num_steps, c.orbit_steps = 500, 1000, 5000
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}")
  return c
