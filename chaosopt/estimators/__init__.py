"""Gradient estimators that need the loss and the data (P3 SVAG/NGD, P4 multiplicative SGD).

They are functions of a per-example loss ``per_example_loss(params, batch) -> [n]`` returning
``(grads, aux)``; feed ``grads`` to any optax optimizer. Keys are arguments (vmap over seeds).
"""
from chaosopt.estimators.msgd import full_batch_gradient as full_batch_gradient
from chaosopt.estimators.msgd import gradient_matrix as gradient_matrix
from chaosopt.estimators.msgd import minibatch_msgd_gradient as minibatch_msgd_gradient
from chaosopt.estimators.msgd import msgd_gradient as msgd_gradient
from chaosopt.estimators.msgd import randomized_loss_grad as randomized_loss_grad
from chaosopt.estimators.msgd import sgd_gradient as sgd_gradient
from chaosopt.estimators.msgd import vmap_per_example as vmap_per_example
from chaosopt.estimators.ngd import ngd_gradient as ngd_gradient
from chaosopt.estimators.sampling_noise import KINDS as KINDS
from chaosopt.estimators.sampling_noise import bernoulli as bernoulli
from chaosopt.estimators.sampling_noise import gaussian_cov as gaussian_cov
from chaosopt.estimators.sampling_noise import gaussian_fisher as gaussian_fisher
from chaosopt.estimators.sampling_noise import make_sampling_noise as make_sampling_noise
from chaosopt.estimators.sampling_noise import sample_indices as sample_indices
from chaosopt.estimators.sampling_noise import (
    sampling_noise_covariance as sampling_noise_covariance)
from chaosopt.estimators.sampling_noise import sgd_with_replacement as sgd_with_replacement
from chaosopt.estimators.sampling_noise import sgd_without_replacement as sgd_without_replacement
from chaosopt.estimators.sampling_noise import sparse_fisher as sparse_fisher
from chaosopt.estimators.sampling_noise import take as take
from chaosopt.estimators.svag import effective_steps as effective_steps
from chaosopt.estimators.svag import svag_coefficients as svag_coefficients
from chaosopt.estimators.svag import svag_gradient as svag_gradient
from chaosopt.estimators.svag import svag_learning_rate as svag_learning_rate
from chaosopt.estimators.svag import svag_num_steps as svag_num_steps

__all__ = [
    "KINDS", "bernoulli", "effective_steps", "full_batch_gradient", "gaussian_cov",
    "gaussian_fisher", "gradient_matrix", "make_sampling_noise", "minibatch_msgd_gradient",
    "msgd_gradient", "ngd_gradient", "randomized_loss_grad", "sample_indices",
    "sampling_noise_covariance", "sgd_gradient", "sgd_with_replacement",
    "sgd_without_replacement", "sparse_fisher", "svag_coefficients", "svag_gradient",
    "svag_learning_rate", "svag_num_steps", "take", "vmap_per_example",
]
