"""Gradient estimators that need the loss and the data (P3 SVAG/NGD, P4 multiplicative SGD).

They are functions of a per-example loss ``per_example_loss(params, batch) -> [n]`` returning
``(grads, aux)``; feed ``grads`` to any optax optimizer. Keys are arguments (vmap over seeds).
"""
from chaosopt.estimators.msgd import (full_batch_gradient, gradient_matrix,
                                      minibatch_msgd_gradient, msgd_gradient,
                                      randomized_loss_grad, sgd_gradient, vmap_per_example)
from chaosopt.estimators.ngd import ngd_gradient
from chaosopt.estimators.sampling_noise import (KINDS, bernoulli, gaussian_cov, gaussian_fisher,
                                                make_sampling_noise, sample_indices,
                                                sampling_noise_covariance, sgd_with_replacement,
                                                sgd_without_replacement, sparse_fisher, take)
from chaosopt.estimators.svag import (effective_steps, svag_coefficients, svag_gradient,
                                      svag_learning_rate, svag_num_steps)

__all__ = [
    "KINDS", "bernoulli", "effective_steps", "full_batch_gradient", "gaussian_cov",
    "gaussian_fisher", "gradient_matrix", "make_sampling_noise", "minibatch_msgd_gradient",
    "msgd_gradient", "ngd_gradient", "randomized_loss_grad", "sample_indices",
    "sampling_noise_covariance", "sgd_gradient", "sgd_with_replacement",
    "sgd_without_replacement", "sparse_fisher", "svag_coefficients", "svag_gradient",
    "svag_learning_rate", "svag_num_steps", "take", "vmap_per_example",
]
