"""P0 Thm. 4.3 (implicit regularization) in the weak-perturbation regime μ = μ0 ε, σ = σ0 ε.

Problem "quartic": R(x) = x1⁴/4 + x1² x2²/2 + x2²/2 (non-quadratic, so the λ_k term is
active), x_0 = (1.5, 1.0), η = 0.01, K steps, μ0 = σ0 = 1, ε ∈ eps (each ε also paired with 2ε
on the same chains to cancel the O(ε) Monte-Carlo term exactly). Problem "valley": the widening
valley of P0 Sec. 5.1 (d = 10) from (u0, 0), u0 ~ 5 U[0,1]^d (one draw), η = 0.01,
(μ, σ) = s (0.02, 0.05) (s = 1 is the paper's Fig. 2 setting), s ∈ valley_scales. Both: γ = 0.7,
β = 0.5, ``chaosopt.mpgd`` in float64 (x64), num_paths orbits in one vmapped program.
The autocorrelation ρ(τ) of the observable comes from rho_chains chains of rho_length steps.
"""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "mpgd_implicit_reg"
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
  c.chunk_size = 500
  if arg == "quick":
    c.num_steps = 40
    c.record_every = 20
    c.eps = [0.1, 0.2]
    c.num_paths = 500
    c.valley_scales = [0.5, 1.0]
    c.valley_steps = 40
    c.valley_paths = 200
    c.valley_record_every = 20
    c.rho_chains = 100
    c.rho_length = 128
    c.chunk_size = 20
  elif arg:
    raise ValueError(f"unknown config argument {arg!r} (expected '' or 'quick')")
  return c
