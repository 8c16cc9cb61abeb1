"""Noisy Gradient Descent, NGD (P3 eq. 5; P4 Sec. 4.1 "MSGD-Cov").

NGD replaces the SGD noise by a Gaussian of the same covariance:
``g = ∇L(θ) + Σ_b(θ)^{1/2} z``, ``z ~ N(0, I_d)``, where ``Σ_b = ∇𝓛 Var[V_sgd(b)] ∇𝓛ᵀ`` is the
covariance of the batch-``b`` SGD gradient. Forming ``Σ_b^{1/2}`` (``d×d``) is never needed: with
the sampling-noise trick of P4, ``g = ∇𝓛 (1/n + V_G)`` with ``V_G ~ N(0, Var V_sgd(b))`` has
exactly this law, and costs one backward pass over the ``n`` training examples
(:func:`chaosopt.estimators.msgd.msgd_gradient` with the ``gaussian_cov`` sampling noise).
The returned gradient is fed to ``optax.sgd(η)`` (or any optimizer) like the SGD gradient.
"""
from __future__ import annotations

import jax

from chaosopt.estimators import sampling_noise as sn
from chaosopt.estimators.msgd import PerExampleLoss, msgd_gradient


def ngd_gradient(per_example_loss: PerExampleLoss, params, data, key: jax.Array, *,
                 batch_size: int, replacement: bool = True):
  """Gradient with the mean and covariance of batch-``batch_size`` SGD, Gaussian noise.

  ``replacement`` selects which SGD covariance is matched (with replacement: ``Var V = P/(bn)``;
  without: ``(n-b)/(bn(n-1)) P``). Returns ``(grads, {"loss": full-data mean loss})``.
  """
  n = sn.num_examples(data)
  noise = sn.make_sampling_noise("gaussian_cov", n, batch_size, replacement=replacement)
  return msgd_gradient(per_example_loss, params, data, key, noise)
