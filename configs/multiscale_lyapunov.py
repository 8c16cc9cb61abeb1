"""P1 (Kong & Tao 2020) App. D.3, Figs. 13-17: Lyapunov exponent (eq. 4) vs m + ln(eta/eps).

Figs. 13/14: (x^2-1)^2 + eps sin(x/eps) (m = -ln 2); Fig. 15: quasi-periodic micro-scale
eps(sin(x/eps) + sin(sqrt2 x/eps)) (paper m = -0.0117, exact torus average 0 -- docs/errata.md
erratum); with f0 = x^4/4 as in Fig. 4; Figs. 16/17: Matyas + eps sin(x/eps) + eps cos(y/eps)
(paper m = -0.2669), eps = 1e-5 (vs eta) and eta = 0.1 (vs eps). The paper does not give the
eta/eps grids of Figs. 13-15; we use eta in [1e-3, 0.1] at eps = 1e-6 and eps in [1e-7, 1e-4]
at eta = 0.1 (eta/eps from 1e2 to 1e6).
"""
import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "multiscale_lyapunov"
  c.x64 = True
  c.seed = 0
  c.num_orbits = 4  # random initial points per (eta, eps)
  c.num_steps = 20_000
  c.burn_in = 1000
  c.etas = (1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1)
  c.eps_fixed = 1e-6
  c.epss = (1e-7, 3e-7, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4)
  c.eta_fixed = 0.1
  c.matyas_eps_fixed = 1e-5
  c.m_samples = 2_000_000
  if arg == "quick":
    c.num_steps, c.burn_in, c.num_orbits, c.m_samples = 500, 10, 2, 20_000
  elif arg:
    raise ValueError(f"unknown config argument {arg!r}")
  return c
