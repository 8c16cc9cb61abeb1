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

from typing import Any

import jax

from chaosopt.estimators import sampling_noise as sn
from chaosopt.estimators.msgd import PerExampleLoss, msgd_gradient


def ngd_gradient(per_example_loss: PerExampleLoss, params: Any, data: Any, key: jax.Array, *,
                 batch_size: int, replacement: bool = True) -> tuple[Any, dict[str, jax.Array]]:
  r"""Noisy GD (P3 eq. 5): the full gradient plus Gaussian noise of SGD's covariance.

  .. math::

    g = \nabla L(\theta) + \Sigma_b(\theta)^{1/2} z,\ z \sim \mathcal N(0, I_d)
    \quad\Longleftrightarrow\quad
    g = \nabla\mathcal L(\theta)\, (\mathbf 1/n + V_G),\
    V_G \sim \mathcal N\bigl(0, \operatorname{Var} V_{\text{sgd}}(b)\bigr)

  computed by the right-hand form (one backward pass over the :math:`n` examples, no
  :math:`d \times d` matrix). ``replacement`` selects which SGD covariance is matched (with
  replacement: :math:`\operatorname{Var} V = P/(bn)`; without:
  :math:`\frac{n-b}{bn(n-1)} P`, :math:`P = I - \mathbf 1\mathbf 1^\top/n`).

  Args:
    per_example_loss: ``(params, batch) -> [n]`` per-example losses.
    params: the parameters (any pytree).
    data: the full training set, a pytree of arrays with a shared leading axis ``n``.
    key: PRNG key of the Gaussian noise.
    batch_size: ``b``, the SGD batch size whose noise covariance is matched.
    replacement: match SGD with (default) or without replacement.

  Returns:
    ``(grads, {"loss": full-data mean loss})``; feed ``grads`` to ``optax.sgd(η)``.

  Examples:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from chaosopt import estimators
    >>> loss = estimators.vmap_per_example(lambda w, x, y: (x @ w - y) ** 2)
    >>> data = (jnp.ones((8, 2)), jnp.arange(8.0))  # full-batch gradient at 0: (-7, -7)
    >>> grads, aux = estimators.ngd_gradient(loss, jnp.zeros(2), data, jax.random.key(0),
    ...                                      batch_size=2)
    >>> grads.shape, float(aux["loss"])
    ((2,), 17.5)

  References:
    Li, Malladi & Arora, NeurIPS 2021, eq. 5 (P3); Wu et al., ICML 2020, Sec. 4.1 (P4);
    docs/papers.md.
  """
  n = sn.num_examples(data)
  noise = sn.make_sampling_noise("gaussian_cov", n, batch_size, replacement=replacement)
  return msgd_gradient(per_example_loss, params, data, key, noise)
