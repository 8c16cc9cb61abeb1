"""Stochastic Variance Amplified Gradient, SVAG (P3, Li, Malladi & Arora 2021, eq. 3, Thm 4.1).

``x_{k+1} = x_k - (η/l) ∇[c1 L_{γ1} + c2 L_{γ2}](x_k)``,  ``c_{1,2} = (1 ± √(2l-1))/2``,
with two independently sampled mini-batches ``γ1, γ2`` of size ``b``. Since ``c1 + c2 = 1`` and
``c1² + c2² = l``, the combined gradient keeps the mean ``∇L`` and has ``l`` times the SGD noise
covariance ``Σ_b``; with step ``η/l`` the per-unit-time drift is unchanged and the diffusion is
``(η/l)² · l Σ_b · (l/η) = η Σ_b``: the same Itô SDE for every ``l`` (l = 1 is SGD). SVAG takes
``l`` steps per step of SGD, so runs are compared at equal *effective steps* ``= steps / l``;
Thm 4.1: test-function expectations converge to the SDE's at rate O(1/l).

:func:`svag_gradient` computes both batch losses in ONE backward pass (the randomized-loss trick
of P4 Alg. 1 with weights ``c1/b`` on the first batch and ``c2/b`` on the second). The step size
``η/l`` and the ``l``-fold step count are the optimizer's and loop's job:
:func:`svag_learning_rate` and :func:`svag_num_steps`.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Union

import jax
import jax.numpy as jnp

from chaosopt.estimators import sampling_noise as sn
from chaosopt.estimators.msgd import PerExampleLoss, randomized_loss_grad


def _check_l(l) -> int:
  if isinstance(l, bool) or not isinstance(l, int) or l < 1:
    raise ValueError(f"l (SVAG amplification) must be an integer >= 1, got {l!r}")
  return l


def svag_coefficients(l: int) -> tuple[float, float]:
  """``(c1, c2) = ((1 + √(2l-1))/2, (1 - √(2l-1))/2)``: ``c1 + c2 = 1``, ``c1² + c2² = l``."""
  _check_l(l)
  s = math.sqrt(2 * l - 1)
  return (1.0 + s) / 2.0, (1.0 - s) / 2.0


def svag_gradient(per_example_loss: PerExampleLoss, params: Any, data: Any, key: jax.Array, *,
                  batch_size: int, l: int, replacement: bool = True
                  ) -> tuple[Any, dict[str, jax.Array]]:
  r"""The SVAG gradient of P3 eq. 3: two independent mini-batches, combined.

  .. math::

    g = \nabla\bigl[c_1 L_{\gamma_1} + c_2 L_{\gamma_2}\bigr](\theta), \qquad
    c_{1,2} = \frac{1 \pm \sqrt{2l-1}}{2}, \qquad
    x_{k+1} = x_k - \frac{\eta}{l}\, g

  (:math:`c_1 + c_2 = 1`, :math:`c_1^2 + c_2^2 = l`), so :math:`E\, g = \nabla L` and
  :math:`\operatorname{Cov} g = l\, \Sigma_b`. Both batch losses share ONE backward pass (weights
  ``c1/b`` and ``c2/b``). Use :func:`svag_learning_rate` for ``η/l`` and :func:`svag_num_steps`
  for the ``l``-fold step count.

  Args:
    per_example_loss: ``(params, batch) -> [n]`` per-example losses.
    params: the parameters (any pytree).
    data: the training set, a pytree of arrays with a shared leading axis.
    key: PRNG key of the two batch draws.
    batch_size: ``b``, the size of each of the two mini-batches.
    l: the amplification ``l >= 1`` (``l = 1`` is SGD).
    replacement: draw each batch with replacement (the two batches are independent).

  Returns:
    ``(grads, {"loss": mean loss over both batches})``.

  Examples:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from chaosopt import estimators
    >>> loss = estimators.vmap_per_example(lambda w, x, y: (x @ w - y) ** 2)
    >>> data = (jnp.ones((8, 2)), jnp.arange(8.0))  # full-batch gradient at 0: (-7, -7)
    >>> keys = jax.random.split(jax.random.key(0), 4000)
    >>> grad = lambda k: estimators.svag_gradient(loss, jnp.zeros(2), data, k, batch_size=2,
    ...                                           l=4)[0]
    >>> jax.vmap(grad)(keys).mean(0).round(0)  # unbiased, variance l times SGD's
    Array([-7., -7.], dtype=float32)
    >>> estimators.svag_learning_rate(0.1, 4), estimators.svag_num_steps(100, 4)
    (0.025, 400)

  References:
    Li, Malladi & Arora, *On the Validity of Modeling SGD with Stochastic Differential Equations
    (SDEs)*, NeurIPS 2021, eq. 3 and Thm 4.1 (P3 in docs/papers.md).
  """
  c1, c2 = svag_coefficients(l)
  n = sn.num_examples(data)
  k1, k2 = jax.random.split(key)
  idx = jnp.concatenate([sn.sample_indices(k1, n, batch_size, replacement=replacement),
                         sn.sample_indices(k2, n, batch_size, replacement=replacement)])
  w = jnp.concatenate([jnp.full((batch_size,), c1 / batch_size),
                       jnp.full((batch_size,), c2 / batch_size)])
  grads, losses = randomized_loss_grad(per_example_loss, params, sn.take(data, idx), w)
  return grads, {"loss": jnp.mean(losses)}


def svag_learning_rate(learning_rate: Union[float, Callable], l: int):
  """``η/l``; a schedule ``s(t)`` of SGD steps becomes ``k -> s(k // l) / l`` (effective time)."""
  _check_l(l)
  if callable(learning_rate):
    return lambda count: learning_rate(count // l) / l
  return learning_rate / l


def svag_num_steps(num_sgd_steps: int, l: int) -> int:
  """SVAG steps covering the same continuous time as ``num_sgd_steps`` SGD steps."""
  return int(num_sgd_steps) * _check_l(l)


def effective_steps(step, l: int):
  """``steps / l``: the x axis on which SVAG runs with different ``l`` are compared."""
  return step / _check_l(l)
