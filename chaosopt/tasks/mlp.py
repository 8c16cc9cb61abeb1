"""Fully connected networks for the small regression tasks (P0 Sec. 5.2, airfoil: MLP 5-16-1 ReLU):
``h_{l+1} = act(h_l W_l + b_l)``, linear output layer.

``init_scheme="pytorch"`` reproduces ``torch.nn.Linear``'s default initialization, which the MPGD
authors used: weight and bias both ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (kaiming_uniform with
``a = sqrt(5)`` for the weight). ``init_scheme="lecun"`` is flax's default (LeCun-normal weights, zero
biases).
"""
from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from chaosopt.core import draws

INITS = ("pytorch", "lecun")
ACTIVATIONS: dict[str, Callable] = {"relu": nn.relu, "leaky_relu": nn.leaky_relu,
                                     "tanh": jnp.tanh, "gelu": nn.gelu}


def _torch_uniform(fan_in: int):
  bound = 1.0 / float(fan_in) ** 0.5

  def init(key, shape, dtype=jnp.float32):
    return draws.flat(jax.random.uniform, key, shape, dtype, -bound, bound)

  return init


class Linear(nn.Module):
  """``y = x W + b`` with a choice of initialization (see module docstring)."""
  features: int
  init_scheme: str = "pytorch"
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    fan_in = x.shape[-1]
    if self.init_scheme == "pytorch":
      k_init = b_init = _torch_uniform(fan_in)
    elif self.init_scheme == "lecun":
      k_init, b_init = nn.initializers.lecun_normal(), nn.initializers.zeros
    else:
      raise ValueError(f"init must be one of {INITS}, got {self.init_scheme!r}")
    kernel = self.param("kernel", k_init, (fan_in, self.features), self.dtype)
    bias = self.param("bias", b_init, (self.features,), self.dtype)
    return x @ kernel + bias


class MLP(nn.Module):
  """Hidden ``Linear`` layers with ``activation`` between them; linear output layer."""
  features: Sequence[int]
  activation: str = "relu"
  init_scheme: str = "pytorch"
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    if self.activation not in ACTIVATIONS:
      raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {self.activation!r}")
    act = ACTIVATIONS[self.activation]
    for i, f in enumerate(self.features):
      x = Linear(f, init_scheme=self.init_scheme, dtype=self.dtype, name=f"Linear_{i}")(x)
      if i < len(self.features) - 1:
        x = act(x)
    return x


def apply_feature_major(params, x_t, activation: str = "relu"):
  """:class:`MLP` ``params`` applied to examples stored *feature-major*: ``x_t`` is
  ``(features, examples)``, the result ``(outputs, examples)``, each layer
  ``h_{l+1} = act(W_l^T h_l + b_l)`` (the same network as ``MLP.apply`` on ``x_t.T``).

  Why: vmapped over members (batched parameters, shared data, the ensemble driver's case) the
  hidden activations are laid out ``(members, hidden, examples)``, examples on the minor axis;
  ``MLP.apply`` gives ``(examples, members x hidden)`` and a batched matrix-vector product per
  output. XLA:CPU runs a full-batch gradient of the airfoil MLP ≈ 1.8x faster this way at 20
  members (BENCHMARKS.md, "Speed where users wait"). Sums run in another order than in
  ``MLP.apply``, so the two agree to float rounding, not bit for bit.
  """
  if activation not in ACTIVATIONS:
    raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
  act = ACTIVATIONS[activation]
  layers = params["params"]
  n = len(layers)
  h = x_t
  for i in range(n):
    p = layers[f"Linear_{i}"]
    h = p["kernel"].T @ h + p["bias"][:, None]
    if i < n - 1:
      h = act(h)
  return h
