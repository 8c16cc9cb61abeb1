"""P1 (Kong & Tao 2020) App. D.5, Figs. 20-22: GD on k(x^2-1)^2 + eps sin(x/eps), eta = 0.05,
eps = 1e-4: k = 0.02 < k_critical = 3 sqrt3/8 crosses between wells, k = 5 > k_critical does
not; Fig. 22: for k = 5 the in-well law approaches exp(-16k(x-1)^2/eta) as eta -> 0."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "multiscale_double_well"
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
  if arg == "quick":
    c.num_orbits, c.num_steps, c.snapshots, c.orbit_steps = 500, 1000, (0, 1000), 5000
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}")
  return c
