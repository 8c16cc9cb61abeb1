"""P1 (Kong & Tao 2020) Fig. 5: x^2/2 + eps cos(1 + cos(sqrt3 x/5)/eps), eps = 1e-4, eta = 0.1 --
a micro-scale that violates Cond. 1 and 2; the paper still observes ergodicity and mixing."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "multiscale_fig5"
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
  c.box = 12.0
  c.bins = 60
  if arg == "quick":
    c.num_orbits, c.num_steps, c.snapshots, c.orbit_steps = 500, 1000, (0, 1000), 5000
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}")
  return c
