"""P1 (Kong & Tao 2020) App. D.1, Fig. 9: bifurcation diagram of GD on x^4/4 - eps cos(x/eps),
eps = 1e-3, eta from 1 eps to 5 eps (paper: period 2 at eta = 2.5 eps, chaos near 3.5 eps)."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "multiscale_bifurcation"
  c.x64 = True
  c.eps = 1e-3
  c.eta_over_eps = (1.0, 5.0, 801)  # linspace(lo, hi, n)
  c.x0 = 1e-4  # inside the micro-well [-eps pi, eps pi] around 0
  c.num_transient = 50_000
  c.num_keep = 512
  c.max_period = 128
  c.rtol = 1e-7
  c.lyapunov_steps = 20_000
  if arg == "quick":
    c.eta_over_eps, c.num_transient, c.lyapunov_steps = (1.0, 5.0, 41), 2000, 1000
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}")
  return c
