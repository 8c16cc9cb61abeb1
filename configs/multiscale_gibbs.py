"""P1 (Kong & Tao 2020) Figs. 1, 3, 4: GD ensembles and single orbits vs rescaled Gibbs (eq. 2).

Fig. 3: x^4/4 + eps sin(x/eps), eta = 0.1, eps = 1e-6. Fig. 4: x^4/4 + eps(sin(x/eps) +
sin(sqrt2 x/eps)), eta = 0.1, eps = 1e-6. Fig. 1's function (x^2-1)^2/4 + x/8 + eps(sin + sin
sqrt2), eps = 0.01 (the paper only draws it; we run it at eta = 0.1 as a nonconvex check).
``config.x64`` must be True for eps <= 1e-4 (the run refuses otherwise).
"""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "multiscale_gibbs"
  c.x64 = True
  c.seed = 0
  c.num_orbits = 10_000
  c.num_steps = 5000
  c.snapshots = (0, 10, 100, 1000, 5000)
  c.chunk_size = 10
  c.orbit_steps = 1_000_000
  c.orbit_burn_in = 1000
  c.bins = 60
  c.cases = [
      {"figure": "Fig. 3", "objective": "quartic_sin", "eps": 1e-6, "eta": 0.1, "init": [-1., 1.],
       "box": 1.3},
      {"figure": "Fig. 4", "objective": "quartic_quasiperiodic", "eps": 1e-6, "eta": 0.1,
       "init": [-1., 1.], "box": 1.7},
      {"figure": "Fig. 1", "objective": "tilted_double_well_quasiperiodic", "eps": 1e-2,
       "eta": 0.1, "init": [-1.5, 1.5], "box": 2.2},
  ]
  if arg == "quick":
    c.num_orbits, c.num_steps, c.snapshots = 500, 100, (0, 100)
    c.orbit_steps, c.orbit_burn_in = 5000, 100
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
