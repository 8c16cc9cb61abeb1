"""chaosopt: noise-driven and chaotic gradient descent in JAX.

Layers (each imports only from the ones above it): ``chaosopt.dynamics`` (pure math),
``chaosopt.transforms`` / ``chaosopt.estimators`` (optax transformations, gradient estimators),
``chaosopt.tasks`` (objectives, data, models), ``chaosopt.analysis``, ``chaosopt.train``.
"""
from chaosopt.transforms import (gaussian_perturbation, levy_gd, levy_perturbation, mpgd,
                                 mpgd_perturbation)

__version__ = "0.1.0"
__all__ = ["mpgd", "mpgd_perturbation", "gaussian_perturbation", "levy_gd", "levy_perturbation"]
