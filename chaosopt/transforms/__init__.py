"""Noise-injecting optax transformations: MPGD (P0 eq. 8/11), Gaussian and Lévy (P2 eq. 3)."""
from chaosopt.transforms.levy import levy_gd, levy_perturbation
from chaosopt.transforms.mpgd import gaussian_perturbation, mpgd, mpgd_perturbation

__all__ = ["mpgd", "mpgd_perturbation", "gaussian_perturbation", "levy_gd", "levy_perturbation"]
