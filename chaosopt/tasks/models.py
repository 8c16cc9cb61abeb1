"""Flax (linen) image classifiers used by the image experiments.

* :class:`SmallCNN` - the small convolutional network of P4 (Wu et al. 2020, "On the noisy
  gradient descent that generalizes as SGD", Fig. 1a, FashionMNIST). The paper text only says
  "a small convolutional network"; the exact architecture is the authors' ``ConvSmall``
  (github.com/uuujf/MultiNoise, ``FashionMNIST/net.py``): conv 5x5 1->10 (valid) -> max-pool 2
  -> ReLU -> conv 5x5 10->10 (valid) -> max-pool 2 -> ReLU -> flatten (160) -> dense 50 -> ReLU
  -> dense 10; 11,330 parameters, every weight *and bias* initialized N(0, 0.02^2).
  (The authors feed raw 0..255 pixel values; scale inputs in the experiment, not here.)
* :class:`ResNet18` - ResNet-18 for 32x32 inputs as in the CIFAR-10 experiment of P0 (Table 2,
  following Geiping et al. 2022): 3x3 stem convolution with stride 1 and no max-pool, four stages
  of two basic blocks (widths w, 2w, 4w, 8w with w = 64; strides 1, 2, 2, 2), 1x1 projection
  shortcuts, global average pooling, linear classifier; the last BatchNorm of every residual
  branch is initialized with scale 0, so each block starts as the identity.
  ``width`` shrinks it for CPU tests; ``dtype`` (e.g. ``jnp.bfloat16``) sets the compute dtype,
  parameters and BatchNorm statistics stay float32.

Both take NHWC images (a missing channel axis is added) and return float32 logits;
``__call__(x, train=False)``. :func:`first_conv_mask` builds the ``optax.masked`` mask that
selects the first (input) convolution, the only layer P0 perturbs in Table 2;
:func:`stem_mask` selects the stem convolution kernel and stem BatchNorm scale, the two tensors
the authors' CIFAR-10 code perturbs.
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any


def _nhwc(x: jax.Array) -> jax.Array:
  return x[..., None] if x.ndim == 3 else x


class SmallCNN(nn.Module):
  """P4's FashionMNIST CNN (authors' ``ConvSmall``); 11,330 parameters for 28x28x1 inputs."""
  num_classes: int = 10
  init_std: float = 0.02

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    del train  # no dropout / BatchNorm
    init = nn.initializers.normal(self.init_std)
    x = _nhwc(jnp.asarray(x, jnp.float32))
    x = nn.Conv(10, (5, 5), padding="VALID", kernel_init=init, bias_init=init, name="conv1")(x)
    x = nn.relu(nn.max_pool(x, (2, 2), strides=(2, 2)))
    x = nn.Conv(10, (5, 5), padding="VALID", kernel_init=init, bias_init=init, name="conv2")(x)
    x = nn.relu(nn.max_pool(x, (2, 2), strides=(2, 2)))
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(50, kernel_init=init, bias_init=init, name="fc1")(x))
    return nn.Dense(self.num_classes, kernel_init=init, bias_init=init, name="fc2")(x)


class BasicBlock(nn.Module):
  """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN projection) shortcut."""
  features: int
  strides: int = 1
  dtype: Dtype = jnp.float32
  bn_momentum: float = 0.9

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    conv = lambda f, k, s, name: nn.Conv(  # noqa: E731
        f, (k, k), strides=(s, s), padding=[(k // 2, k // 2)] * 2, use_bias=False,
        dtype=self.dtype, kernel_init=nn.initializers.kaiming_normal(), name=name)
    bn = lambda name, zero=False: nn.BatchNorm(  # noqa: E731
        use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-5,
        dtype=self.dtype, scale_init=nn.initializers.zeros if zero else nn.initializers.ones,
        name=name)
    y = nn.relu(bn("bn1")(conv(self.features, 3, self.strides, "conv1")(x)))
    y = bn("bn2", zero=True)(conv(self.features, 3, 1, "conv2")(y))  # zero-init last BN
    if self.strides != 1 or x.shape[-1] != self.features:
      x = bn("shortcut_bn")(conv(self.features, 1, self.strides, "shortcut_conv")(x))
    return nn.relu(x + y)


class ResNet18(nn.Module):
  """ResNet-18 for 32x32 images (3x3 stem, no max-pool, zero-init last BN per branch)."""
  num_classes: int = 10
  width: int = 64
  stage_sizes: Sequence[int] = (2, 2, 2, 2)
  dtype: Dtype = jnp.float32
  bn_momentum: float = 0.9  # flax convention: running = m * running + (1 - m) * batch

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    x = _nhwc(jnp.asarray(x, self.dtype))
    x = nn.Conv(self.width, (3, 3), padding=[(1, 1), (1, 1)], use_bias=False, dtype=self.dtype,
                kernel_init=nn.initializers.kaiming_normal(), name="stem_conv")(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-5,
                     dtype=self.dtype, name="stem_bn")(x)
    x = nn.relu(x)
    for i, n_blocks in enumerate(self.stage_sizes):
      for j in range(n_blocks):
        strides = 2 if (i > 0 and j == 0) else 1
        x = BasicBlock(self.width * 2**i, strides=strides, dtype=self.dtype,
                       bn_momentum=self.bn_momentum, name=f"stage{i + 1}_block{j + 1}")(x, train)
    x = jnp.mean(x, axis=(1, 2))
    x = nn.Dense(self.num_classes, dtype=self.dtype, name="head")(x)
    return x.astype(jnp.float32)


FIRST_CONV = {"SmallCNN": "conv1", "ResNet18": "stem_conv"}


def first_conv_mask(params: Any, first: str | None = None) -> Any:
  """Boolean pytree like ``params``: True on the first (input) convolution's leaves only.

  ``first`` is the top-level module name (default: the first of ``stem_conv`` / ``conv1``
  present). Use with ``optax.masked(perturbation, first_conv_mask(params))``.
  """
  names = list(params.keys())
  if first is None:
    first = next((n for n in ("stem_conv", "conv1") if n in names), None)
    if first is None:
      raise ValueError(f"no first convolution ('stem_conv' or 'conv1') among {names}")
  elif first not in names:
    raise ValueError(f"first={first!r} is not a top-level module of params {names}")
  return {k: jax.tree_util.tree_map(lambda _: k == first, v) for k, v in params.items()}


def stem_mask(params: Any) -> Any:
  """Boolean pytree like ``params``: True on the :class:`ResNet18` stem convolution kernel and the
  stem BatchNorm ``scale`` only.

  These are the first two parameter tensors of the same network in PyTorch order (stem conv
  weight, no bias; stem BatchNorm weight), the only ones the MPGD authors' CIFAR-10 script
  perturbs (docs/authors_code.md, "CIFAR-10"). ``ValueError`` if ``params`` has no ``stem_conv``
  kernel or ``stem_bn`` scale.
  """
  names = list(params.keys())
  for mod, leaf in (("stem_conv", "kernel"), ("stem_bn", "scale")):
    if mod not in params or leaf not in params[mod]:
      raise ValueError(f"stem_mask needs params[{mod!r}][{leaf!r}] (a ResNet18); top-level "
                       f"modules: {names}")
  wanted = (("stem_conv", "kernel"), ("stem_bn", "scale"))

  def hit(path, _):
    keys = tuple(getattr(e, "key", None) for e in path)
    return keys in wanted

  return jax.tree_util.tree_map_with_path(hit, params)


def num_params(params: Any) -> int:
  return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


def init_variables(model: nn.Module, key: jax.Array, *example: Any, **kwargs: Any) -> Any:
  """``model.init(key, *example, **kwargs)``, jitted and compiled with XLA's backend
  optimizations off.

  Initialization runs once, but its program (one threefry hash per parameter leaf) takes XLA's
  CPU backend up to a minute to optimize for a small ResNet; unoptimized it compiles in
  seconds. Same values as ``model.init`` up to float rounding of the initializers.
  """
  fn = jax.jit(lambda k, *xs: model.init(k, *xs, **kwargs))
  compiled = fn.lower(key, *example).compile(
      compiler_options={"xla_backend_optimization_level": 0})
  return compiled(key, *example)
