"""On-device data augmentation for the CIFAR-10 experiment of P0 (Table 2, following Geiping
et al. 2022): random horizontal flip and random crop back to the input size after zero-padding
by ``pad`` pixels (4 for 32x32), drawn fresh from a PRNG key at every step.

Pure jnp: works under ``jit``/``vmap``/``lax.scan`` and on sharded batches. Two random draws per
call (one ``randint`` for all offsets, one ``bernoulli`` for all flips) keep the compiled program
small. Apply it to the raw images (uint8 or float, before normalization), as torchvision's
``RandomCrop(32, padding=4)`` does, so the padding is black.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def random_crop_flip(key: jax.Array, images: jax.Array, pad: int = 4, *, flip: bool = True
                     ) -> jax.Array:
  """Augments a batch ``[B, H, W, C]``: zero-pad by ``pad``, crop ``H x W`` at a uniformly random
  offset in ``{0..2 pad}^2``, then mirror left-right with probability 1/2 (if ``flip``)."""
  if images.ndim != 4:
    raise ValueError(f"images must be [B, H, W, C], got shape {images.shape}")
  if pad < 0:
    raise ValueError(f"pad must be >= 0, got {pad}")
  b, h, w, c = images.shape
  k_off, k_flip = jax.random.split(key)
  offsets = jax.random.randint(k_off, (b, 2), 0, 2 * pad + 1)
  flips = jax.random.bernoulli(k_flip, 0.5, (b,)) if flip else jnp.zeros((b,), bool)
  padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))

  def one(img, off, fl):
    crop = jax.lax.dynamic_slice(img, (off[0], off[1], 0), (h, w, c))
    return jnp.where(fl, crop[:, ::-1, :], crop)

  return jax.vmap(one)(padded, offsets, flips)
