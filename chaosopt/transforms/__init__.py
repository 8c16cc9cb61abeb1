"""Noise-injecting optax transformations (P0 eq. 8/11 MPGD, Gaussian and Lévy baselines)."""
from chaosopt.transforms.mpgd import gaussian_perturbation, mpgd, mpgd_perturbation

__all__ = ["mpgd", "mpgd_perturbation", "gaussian_perturbation"]
