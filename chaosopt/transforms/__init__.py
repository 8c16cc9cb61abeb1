"""Noise-injecting optax transformations: MPGD (P0 eq. 8/11), Gaussian and Lévy (P2 eq. 3).

Extension points: :class:`NoiseProcess` (a source of noise fields) and :func:`perturbation`
(turns one into an optax ``GradientTransformation`` of the P0 eq. 8 form);
:func:`register_noise` makes a perturbation factory runnable from experiment configs.

Importing this package registers the noise kinds: each noise module registers its kinds when
imported, this package imports the built-in ones (the order below is the order of ``chaosopt
list --kinds``) and :mod:`chaosopt.transforms.contrib` every module in its folder.
"""
from chaosopt.transforms._base import NoiseProcess as NoiseProcess
from chaosopt.transforms._base import PerturbationState as PerturbationState
from chaosopt.transforms._base import perturbation as perturbation
from chaosopt.transforms.mpgd import gaussian_perturbation as gaussian_perturbation
from chaosopt.transforms.mpgd import mpgd as mpgd
from chaosopt.transforms.mpgd import mpgd_perturbation as mpgd_perturbation
from chaosopt.transforms.levy import levy_gd as levy_gd  # after mpgd: the kinds' order
from chaosopt.transforms.levy import levy_perturbation as levy_perturbation
from chaosopt.transforms.registry import NoiseSpec as NoiseSpec
from chaosopt.transforms.registry import get_noise as get_noise
from chaosopt.transforms.registry import noise_kinds as noise_kinds
from chaosopt.transforms.registry import register_noise as register_noise
# last: a contributed module may use any name above (every module in contrib/ registers kinds)
from chaosopt.transforms import contrib as contrib

__all__ = ["mpgd", "mpgd_perturbation", "gaussian_perturbation", "levy_gd", "levy_perturbation",
           "NoiseProcess", "PerturbationState", "perturbation", "NoiseSpec", "register_noise",
           "get_noise", "noise_kinds"]
