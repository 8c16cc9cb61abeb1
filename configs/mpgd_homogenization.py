"""P0 Thm. 4.1 (homogenization): MPGD iterates x_{⌊t/η⌋} vs the Marcus SDE at time t.

R(x) = Σ_i a_i x_i² / 2 (diagonal quadratic, d = 2), x_0 = (1, 1), t = 1, γ = 0.7 (α = 1/γ),
μ = σ = 0.5. Case "beta1": β = 1 (totally skewed drivers: exp(-μ L_t) has finite moments, so
W1 is meaningful); case "beta05": β = 0.5 (the paper's widening-valley β; E|X_t| = ∞ for the
SDE because exp(-μ L) inherits L's left stable tail, so only the Kolmogorov–Smirnov distance is
reported). MPGD at η ∈ etas with num_paths orbits; SDE (Strang splitting, dt = sde_dt) with
2 num_paths paths (two independent halves give the Monte-Carlo floor), plus a dt = 2 sde_dt run
to bound the SDE's own discretization error. ``get_config("quick")`` is a tiny smoke run.
"""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "mpgd_homogenization"
  c.seed = 0
  c.curvatures = [1.0, 2.0]
  c.x0 = [1.0, 1.0]
  c.t_end = 1.0
  c.gamma = 0.7
  c.mu = 0.5
  c.sigma = 0.5
  c.betas = [1.0, 0.5]
  c.etas = [0.1, 0.03, 0.01, 0.003, 0.001]
  c.num_paths = 10000
  c.sde_dt = 1e-3
  c.chunk_size = 500
  if arg == "quick":
    c.etas = [0.1, 0.02]
    c.betas = [1.0]
    c.num_paths = 500
    c.sde_dt = 1e-2
    c.chunk_size = 50
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
