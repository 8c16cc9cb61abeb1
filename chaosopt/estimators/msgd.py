"""Multiplicative SGD gradient estimators (P4, Wu et al. 2020: eq. 2, Algorithms 1 and 2).

MSGD draws a sampling vector ``W = 1/n + V`` (``V`` from :mod:`.sampling_noise`) and uses the
gradient of the *randomized loss* ``𝓛(θ)·W = Σ_i W_i ℓ_i(θ)`` (Alg. 1). The gradient operator
commutes with the (θ-independent) weights, so this costs ONE backward pass through the
per-example losses and never forms the ``d×n`` gradient matrix or any ``d×d`` covariance;
``E g = ∇L(θ)`` and ``Cov g = ∇𝓛 Var[V] ∇𝓛ᵀ`` (eq. 1). Alg. 2 (mini-batch MSGD) first draws a
mini-batch of size ``b`` and then applies Alg. 1 to it with ``W = 1/b + V``, ``V ∈ R^b``.

Estimators return ``(grads, aux)``: ``grads`` a pytree shaped like ``params`` to feed to any
optax optimizer, ``aux`` a dict with the mean loss of the examples used. They take the PRNG key
as an argument, so ``jax.vmap`` over keys runs several seeds at once.

A per-example loss is ``per_example_loss(params, batch) -> [n]`` where ``batch`` is any pytree
of arrays with a shared leading axis ``n``; :func:`vmap_per_example` builds one from a
single-example loss ``(params, x_i, y_i) -> scalar``. The shapes a user's function returns are
checked with ``chex`` assertions (``AssertionError`` naming what was expected).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import chex
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from chaosopt.estimators import sampling_noise as sn

PerExampleLoss = Callable[[Any, Any], jax.Array]


def vmap_per_example(loss_fn: Callable[[Any, Any, Any], jax.Array]) -> PerExampleLoss:
  """``(params, x_i, y_i) -> scalar``  ->  ``(params, (x, y)) -> [n]`` (vmapped over examples)."""

  def per_example_loss(params, batch):
    x, y = batch
    return jax.vmap(loss_fn, in_axes=(None, 0, 0))(params, x, y)

  return per_example_loss


def _losses(per_example_loss: PerExampleLoss, params, batch) -> jax.Array:
  losses = per_example_loss(params, batch)
  chex.assert_rank(losses, 1, custom_message="per_example_loss must return a vector [n]")
  return losses


def randomized_loss_grad(per_example_loss: PerExampleLoss, params, batch, weights: jax.Array):
  """``∇_θ [𝓛(θ)·w]`` in one backward pass (P4 Alg. 1, lines 5-6); returns ``(grads, losses)``.

  ``weights`` (shape ``[n]``) is treated as a constant (no gradient flows into it).
  """
  weights = jax.lax.stop_gradient(jnp.asarray(weights))

  def randomized(p):
    losses = _losses(per_example_loss, p, batch)
    chex.assert_equal_shape([weights, losses], custom_message="weights must have one entry per "
                            "example of the batch")
    return jnp.dot(losses, weights.astype(losses.dtype)), losses

  grads, losses = jax.grad(randomized, has_aux=True)(params)
  return grads, losses


def msgd_gradient(per_example_loss: PerExampleLoss, params: Any, batch: Any, key: jax.Array,
                  noise: sn.SamplingNoise) -> tuple[Any, dict[str, jax.Array]]:
  r"""Multiplicative SGD gradient over the whole ``batch`` (P4 Alg. 1, eq. 2).

  .. math::

    g = \nabla\mathcal L(\theta)\, W = \sum_i W_i \nabla\ell_i(\theta), \qquad
    W = \mathbf 1/n + V, \qquad V = \mathrm{noise}(\mathrm{key})

  computed as the gradient of the randomized loss :math:`\sum_i W_i \ell_i` (one backward pass;
  the :math:`d \times n` gradient matrix is never formed). :math:`E\, g = \nabla L` and
  :math:`\operatorname{Cov} g = \nabla\mathcal L\, \operatorname{Var}[V]\, \nabla\mathcal L^\top`.

  Args:
    per_example_loss: ``(params, batch) -> [n]`` per-example losses (see
      :func:`vmap_per_example`).
    params: the parameters (any pytree).
    batch: a pytree of arrays with a shared leading axis ``n``.
    key: PRNG key of the sampling noise (vmap over keys for several seeds).
    noise: ``key -> V ∈ R^n``, e.g. :func:`~chaosopt.estimators.make_sampling_noise`.

  Returns:
    ``(grads, {"loss": mean per-example loss})`` with ``grads`` shaped like ``params``.

  Examples:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from chaosopt import estimators
    >>> loss = estimators.vmap_per_example(lambda w, x, y: (x @ w - y) ** 2)
    >>> data = (jnp.ones((8, 2)), jnp.arange(8.0))  # n = 8 examples, d = 2
    >>> w = jnp.zeros(2)  # full-batch gradient at w: -2 mean(y) (1, 1) = (-7, -7)
    >>> noise = estimators.make_sampling_noise("gaussian_cov", 8, 2)  # NGD noise of batch 2
    >>> grads, aux = estimators.msgd_gradient(loss, w, data, jax.random.key(0), noise)
    >>> grads.shape, float(aux["loss"])
    ((2,), 17.5)
    >>> keys = jax.random.split(jax.random.key(1), 4000)
    >>> g = jax.vmap(lambda k: estimators.msgd_gradient(loss, w, data, k, noise)[0])(keys)
    >>> g.mean(0).round(0)  # unbiased
    Array([-7., -7.], dtype=float32)

  References:
    Wu et al., *On the Noisy Gradient Descent that Generalizes as SGD*, ICML 2020, Alg. 1 and
    eq. 2 (P4 in docs/papers.md).
  """
  n = sn.num_examples(batch)
  v = noise(key)
  chex.assert_shape(v, (n,), custom_message=f"the sampling noise must return V of shape [n], "
                    f"n = {n} examples")
  grads, losses = randomized_loss_grad(per_example_loss, params, batch, 1.0 / n + v)
  return grads, {"loss": jnp.mean(losses)}


def full_batch_gradient(per_example_loss: PerExampleLoss, params, batch):
  """GD: ``∇L = ∇𝓛 1/n`` (MSGD with ``V = 0``). Returns ``(grads, {"loss": L})``."""
  n = sn.num_examples(batch)
  grads, losses = randomized_loss_grad(per_example_loss, params, batch,
                                       jnp.full((n,), 1.0 / n))
  return grads, {"loss": jnp.mean(losses)}


def sgd_gradient(per_example_loss: PerExampleLoss, params, data, key: jax.Array, *,
                 batch_size: int, replacement: bool = True):
  """Plain mini-batch SGD gradient: mean loss gradient on ``batch_size`` sampled examples.

  Equal in distribution to MSGD with ``V = V_sgd`` but evaluates only ``batch_size`` examples.
  """
  n = sn.num_examples(data)
  idx = sn.sample_indices(key, n, batch_size, replacement=replacement)
  return full_batch_gradient(per_example_loss, params, sn.take(data, idx))


def minibatch_msgd_gradient(per_example_loss: PerExampleLoss, params: Any, data: Any,
                            key: jax.Array, *, batch_size: int, noise: sn.SamplingNoise,
                            replacement: bool = False) -> tuple[Any, dict[str, jax.Array]]:
  r"""Mini-batch MSGD (P4 Alg. 2): draw ``batch_size`` examples, then MSGD on them.

  .. math::

    B \sim \text{batch of size } b \text{ from the data}, \qquad
    g = \nabla\mathcal L_B(\theta)\, (\mathbf 1/b + V), \qquad
    V = \mathrm{noise}(\mathrm{key}') \in \mathbb R^b

  ``noise`` is built for the mini-batch (``n = batch_size``): e.g.
  ``make_sampling_noise("gaussian_cov", b, b2, replacement=False)`` gives the large-batch MSGD
  of P4 eq. 4 / Thm 1.

  Args:
    per_example_loss: ``(params, batch) -> [n]`` per-example losses.
    params: the parameters (any pytree).
    data: the training set, a pytree of arrays with a shared leading axis.
    key: PRNG key (split between the batch draw and the noise).
    batch_size: ``b``, the mini-batch size.
    noise: ``key -> V ∈ R^b``.
    replacement: draw the mini-batch with replacement.

  Returns:
    ``(grads, {"loss": mean loss of the mini-batch})``.

  Examples:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> from chaosopt import estimators
    >>> loss = estimators.vmap_per_example(lambda w, x, y: (x @ w - y) ** 2)
    >>> data = (jnp.ones((8, 2)), jnp.arange(8.0))  # n = 8 examples, d = 2
    >>> w = jnp.zeros(2)  # full-batch gradient at w: -2 mean(y) (1, 1) = (-7, -7)
    >>> noise = estimators.make_sampling_noise("gaussian_cov", 4, 2, replacement=False)
    >>> grads, aux = estimators.minibatch_msgd_gradient(loss, w, data, jax.random.key(0),
    ...                                                 batch_size=4, noise=noise)
    >>> grads.shape, aux["loss"].shape
    ((2,), ())

  References:
    Wu et al., ICML 2020, Alg. 2, eq. 4 and Thm 1 (P4 in docs/papers.md).
  """
  n = sn.num_examples(data)
  k_idx, k_noise = jax.random.split(key)
  idx = sn.sample_indices(k_idx, n, batch_size, replacement=replacement)
  return msgd_gradient(per_example_loss, params, sn.take(data, idx), k_noise, noise)


def gradient_matrix(per_example_loss: PerExampleLoss, params, batch,
                    chunk_size: Optional[int] = None) -> jax.Array:
  """``∇𝓛(θ)ᵀ`` as an ``[n, d]`` array (row i = flattened ``∇ℓ_i``): for tests and analysis.

  This materializes ``n×d`` numbers; the estimators above never call it. ``chunk_size`` bounds
  the number of examples differentiated at once (``lax.map`` over chunks) to save memory.
  """
  flat, unravel = ravel_pytree(params)

  def one(x_flat, ex):
    single = jax.tree_util.tree_map(lambda a: a[None], ex)
    return _losses(per_example_loss, unravel(x_flat), single)[0]

  g1 = jax.grad(one)
  n = sn.num_examples(batch)
  if chunk_size is None or chunk_size >= n:
    return jax.vmap(g1, in_axes=(None, 0))(flat, batch)
  if n % chunk_size:
    raise ValueError(f"chunk_size={chunk_size} must divide n={n}")
  chunks = jax.tree_util.tree_map(lambda a: a.reshape((n // chunk_size, chunk_size) + a.shape[1:]),
                                  batch)
  out = jax.lax.map(lambda c: jax.vmap(g1, in_axes=(None, 0))(flat, c), chunks)
  return out.reshape(n, -1)
