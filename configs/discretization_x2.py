"""P3 (Li, Malladi & Arora 2021) Fig. 3: GD on f(x) = x² with η ∈ {1e-3, 0.01, 0.9} vs gradient
flow x(t) = x0 e^{-2t}, compared at equal continuous time t = kη up to ``horizon``."""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "discretization_x2"
  c.etas = (1e-3, 0.01, 0.9)
  c.x0 = 1.0
  c.horizon = 5.0  # continuous time T; GD runs ceil(T / eta) steps
  c.chunk_size = 1000
  if arg == "quick":
    c.horizon = 1.0
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
