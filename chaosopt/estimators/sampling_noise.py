"""Sampling noises V of multiplicative SGD (P4, Wu et al. 2020: Prop. 1, Sections 4.1-4.4).

The mini-batch gradient is ``g = ∇𝓛(θ) W`` with ``∇𝓛 ∈ R^{d×n}`` the gradient matrix (one column
per training example) and ``W = 1/n + V`` the *sampling vector*; ``V`` is the *sampling noise*.
Every ``V`` here has ``E V = 0``; the exact ``Var V`` (an ``n×n`` matrix) is
:func:`sampling_noise_covariance`, with ``P = I - 11ᵀ/n`` the centring projector:

=============================  ==============================================  =====================
kind                           construction                                    Var V
=============================  ==============================================  =====================
``sgd``                        b indices i.i.d. uniform, ``W_i = count_i/b``   ``P/(bn)``  (Prop. 1)
``sgd_without_replacement``    b distinct indices, ``W_i = 1/b`` on them       ``(n-b)/(bn(n-1)) P``
``gaussian_cov``               ``V = P ε/√(bn)``, ε ~ N(0, I_n) (Sec. 4.2)     ``P/(bn)``
``gaussian_fisher``            ``V = ε/√(bn)`` (Sec. 4.2)                      ``I/(bn)``
``bernoulli``                  ``v_i = 1/b - 1/n`` w.p. b/n else ``-1/n``      ``(n-b)/(bn²) I``
``sparse_fisher``              ``V = √(B/b) W_sgd(B) ⊙ ε`` (Sec. 4.4)          ``I/(bn)``
=============================  ==============================================  =====================

``gaussian_cov`` with ``replacement=False`` matches the without-replacement covariance (scaled by
``(n-b)/(n-1)``). ``sparse_fisher`` draws its size-``B`` batch without replacement by default
(``Var V = I/(bn)`` exactly); with ``replacement=True`` ``Var V = (n-1+B)/(bn²) I``.

**Erratum (P4 Sec. 4.4; derived here, checked by ``tests/test_sampling_noise.py``).** The paper
prints ``V'_F = √(B/b) V_sgd(B) ⊙ ε`` with the *centred* ``V_sgd(B) = W_sgd(B) - 1/n`` and
states ``Var[V'_F] = Var[V_sgd(b)]``. Two problems: (i) ``V_sgd(B)`` is ``-1/n`` off the batch,
so that ``V'_F`` is dense, not the "sparse Gaussian noise" described (a Gaussian with the Fisher
of a random size-``B`` mini-batch as covariance, rescaled), which is ``√(B/b) W_sgd(B) ⊙ ε``
(and is what the authors' code does: unit-variance noise on ``B`` random examples); (ii) since
``ε`` is independent with independent zero-mean coordinates, ``E[V'_i V'_j] = 0`` for ``i ≠ j``:
the covariance is *diagonal* either way — ``I/(bn)`` (the Fisher noise) for the sparse form,
``(n-1)/(bn²) I`` (= diag ``Var V_sgd(b)``, with replacement) or ``(n-B)/(bn²) I`` (without)
for the printed form — never the full ``Var V_sgd(b) = P/(bn)``. Both are offered
(``centred=True`` is the printed formula); the default is the sparse one.

Mini-batch index sampling (:func:`sample_indices`, :func:`take`) also lives here: it is the same
random object as ``W_sgd``. All samplers take the PRNG key as an argument (vmap over seeds).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

import chex
import jax
import jax.numpy as jnp
import numpy as np

KINDS = ("sgd", "sgd_without_replacement", "gaussian_cov", "gaussian_fisher", "bernoulli",
         "sparse_fisher")

SamplingNoise = Callable[[jax.Array], jax.Array]  # key -> V in R^n


def _float(dtype):
  """``dtype``, or JAX's default float type (float32, float64 under ``jax_enable_x64``)."""
  return jnp.dtype(dtype) if dtype is not None else jnp.asarray(0.0).dtype


def _check_sizes(n: int, b: int, *, b_name: str = "batch_size", b_le_n: bool = True) -> None:
  if not isinstance(n, (int, np.integer)) or n < 1:
    raise ValueError(f"n (number of examples) must be an integer >= 1, got {n!r}")
  if not isinstance(b, (int, np.integer)) or b < 1:
    raise ValueError(f"{b_name} must be an integer >= 1, got {b!r}")
  if b_le_n and b > n:
    raise ValueError(f"{b_name} must be in [1, n={n}], got {b}")


# ------------------------------------------------------------------------ mini-batch sampling

def sample_indices(key: jax.Array, n: int, batch_size: int, *, replacement: bool = True):
  """``batch_size`` indices in ``range(n)``: i.i.d. uniform, or distinct if not ``replacement``."""
  _check_sizes(n, batch_size, b_le_n=not replacement)
  if replacement:
    return jax.random.randint(key, (batch_size,), 0, n)
  if batch_size == n:
    return jax.random.permutation(key, n)
  # the batch_size smallest of n uniforms form a uniformly random subset (O(n) memory)
  _, idx = jax.lax.top_k(-jax.random.uniform(key, (n,)), batch_size)
  return idx


def take(data: Any, idx: jax.Array) -> Any:
  """Rows ``idx`` of every leaf of ``data`` (a pytree of arrays with a shared leading axis)."""
  return jax.tree_util.tree_map(lambda a: jnp.take(a, idx, axis=0), data)


def num_examples(data: Any) -> int:
  """Length of the shared leading axis of ``data``; ``AssertionError`` (chex) if the leaves
  disagree."""
  leaves = jax.tree_util.tree_leaves(data)
  chex.assert_equal_shape_prefix(leaves, 1, custom_message="all leaves of the data pytree need "
                                 "the same leading axis")
  return int(np.shape(leaves[0])[0])


# ----------------------------------------------------------------------------- sampling noises

def sgd_with_replacement(key, n: int, batch_size: int, *, dtype=None) -> jax.Array:
  """``V_sgd = W - 1/n`` with ``W_i = (times i was drawn)/b``, b draws with replacement."""
  dtype = _float(dtype)
  idx = sample_indices(key, n, batch_size, replacement=True)
  w = jnp.zeros((n,), dtype).at[idx].add(jnp.asarray(1.0 / batch_size, dtype))
  return w - jnp.asarray(1.0 / n, dtype)


def sgd_without_replacement(key, n: int, batch_size: int, *, dtype=None) -> jax.Array:
  """``V_sgd = W - 1/n`` with ``W_i = 1/b`` on a uniformly random b-subset, else 0."""
  dtype = _float(dtype)
  idx = sample_indices(key, n, batch_size, replacement=False)
  w = jnp.zeros((n,), dtype).at[idx].set(jnp.asarray(1.0 / batch_size, dtype))
  return w - jnp.asarray(1.0 / n, dtype)


def gaussian_cov(key, n: int, batch_size: int, *, replacement: bool = True,
                 dtype=None) -> jax.Array:
  """``V = P ε / √(bn)`` (times ``√((n-b)/(n-1))`` without replacement): N(0, Var V_sgd)."""
  dtype = _float(dtype)
  _check_sizes(n, batch_size, b_le_n=not replacement)
  eps = jax.random.normal(key, (n,), dtype)
  scale = 1.0 / math.sqrt(batch_size * n)
  if not replacement:
    scale *= math.sqrt((n - batch_size) / (n - 1)) if n > 1 else 0.0
  return (eps - jnp.mean(eps)) * jnp.asarray(scale, dtype)


def gaussian_fisher(key, n: int, batch_size: int, *, dtype=None) -> jax.Array:
  """``V = ε / √(bn)``: the gradient noise is N(0, F/b), F = ∇𝓛∇𝓛ᵀ/n the (empirical) Fisher."""
  dtype = _float(dtype)
  _check_sizes(n, batch_size, b_le_n=False)
  scale = jnp.asarray(1.0 / math.sqrt(batch_size * n), dtype)
  return jax.random.normal(key, (n,), dtype) * scale


def bernoulli(key, n: int, batch_size: int, *, dtype=None) -> jax.Array:
  """Independent ``v_i = 1/b - 1/n`` with probability b/n, else ``-1/n`` (P4 Sec. 4.3)."""
  dtype = _float(dtype)
  _check_sizes(n, batch_size)
  keep = jax.random.bernoulli(key, batch_size / n, (n,))
  return keep.astype(dtype) / batch_size - jnp.asarray(1.0 / n, dtype)


def sparse_fisher(key, n: int, batch_size: int, big_batch: int, *, replacement: bool = False,
                  centred: bool = False, dtype=None) -> jax.Array:
  """MSGD-[Fisher-B] (P4 Sec. 4.4): ``V = √(B/b) W_sgd(B) ⊙ ε`` (see the erratum above).

  ``W_sgd(B)`` is the batch-``B`` sampling vector (``1/B`` on a random ``B``-subset when drawn
  without replacement, the default), so ``V`` has at most ``B`` nonzeros and
  ``Var V = I/(bn)``: a Gaussian with the Fisher of a random mini-batch as covariance, scaled
  to the Fisher noise. ``centred=True`` uses the formula as printed, ``V_sgd(B) = W_sgd(B) - 1/n``
  in place of ``W_sgd(B)`` (dense, since every entry has the ``-1/n`` shift).
  """
  dtype = _float(dtype)
  _check_sizes(n, batch_size, b_le_n=False)
  _check_sizes(n, big_batch, b_name="big_batch", b_le_n=not replacement)
  k_sgd, k_eps = jax.random.split(key)
  sgd = sgd_with_replacement if replacement else sgd_without_replacement
  v = sgd(k_sgd, n, big_batch, dtype=dtype)
  if not centred:
    v = v + jnp.asarray(1.0 / n, dtype)
  eps = jax.random.normal(k_eps, (n,), dtype)
  return v * eps * jnp.asarray(math.sqrt(big_batch / batch_size), dtype)


def make_sampling_noise(kind: str, n: int, batch_size: int, *, big_batch: Optional[int] = None,
                        replacement: Optional[bool] = None, centred: bool = False,
                        dtype=None) -> SamplingNoise:
  """Returns ``key -> V ∈ R^n`` for one of :data:`KINDS` (sizes are validated now).

  ``replacement`` applies to ``gaussian_cov`` (which SGD covariance to match; default True) and
  ``sparse_fisher`` (how ``W_sgd(B)`` is drawn; default False), ``centred`` to ``sparse_fisher``;
  ``sgd`` / ``sgd_without_replacement`` name it.
  """
  if kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
  if replacement is None:
    replacement = kind != "sparse_fisher"
  if kind == "sgd":
    _check_sizes(n, batch_size, b_le_n=False)
    return lambda key: sgd_with_replacement(key, n, batch_size, dtype=dtype)
  if kind == "sgd_without_replacement":
    _check_sizes(n, batch_size)
    return lambda key: sgd_without_replacement(key, n, batch_size, dtype=dtype)
  if kind == "gaussian_cov":
    _check_sizes(n, batch_size, b_le_n=not replacement)
    return lambda key: gaussian_cov(key, n, batch_size, replacement=replacement, dtype=dtype)
  if kind == "gaussian_fisher":
    _check_sizes(n, batch_size, b_le_n=False)
    return lambda key: gaussian_fisher(key, n, batch_size, dtype=dtype)
  if kind == "bernoulli":
    _check_sizes(n, batch_size)
    return lambda key: bernoulli(key, n, batch_size, dtype=dtype)
  if big_batch is None:
    raise ValueError("kind='sparse_fisher' needs big_batch (the B of MSGD-[Fisher-B])")
  _check_sizes(n, batch_size, b_le_n=False)
  _check_sizes(n, big_batch, b_name="big_batch", b_le_n=not replacement)
  return lambda key: sparse_fisher(key, n, batch_size, big_batch, replacement=replacement,
                                   centred=centred, dtype=dtype)


def sampling_noise_covariance(kind: str, n: int, batch_size: int, *,
                              big_batch: Optional[int] = None,
                              replacement: Optional[bool] = None,
                              centred: bool = False) -> np.ndarray:
  """Exact ``Var V`` (float64 ``n×n``) of :func:`make_sampling_noise` with the same arguments."""
  if kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
  if replacement is None:
    replacement = kind != "sparse_fisher"
  _check_sizes(n, batch_size, b_le_n=kind in ("sgd_without_replacement", "bernoulli")
               or (kind == "gaussian_cov" and not replacement))
  b = batch_size
  eye = np.eye(n)
  proj = eye - np.ones((n, n)) / n
  if kind == "sgd" or (kind == "gaussian_cov" and replacement):
    return proj / (b * n)
  if kind == "sgd_without_replacement" or kind == "gaussian_cov":
    return (n - b) / (b * n * (n - 1)) * proj if n > 1 else 0.0 * proj
  if kind == "gaussian_fisher":
    return eye / (b * n)
  if kind == "bernoulli":
    return (n - b) / (b * n * n) * eye
  if big_batch is None:
    raise ValueError("kind='sparse_fisher' needs big_batch")
  _check_sizes(n, big_batch, b_name="big_batch", b_le_n=not replacement)
  # (B/b) E[u_i^2] I with u = W_sgd(B) (or V_sgd(B) if centred): see the module docstring
  if centred:
    return ((n - 1) if replacement else (n - big_batch)) / (b * n * n) * eye
  return ((n - 1 + big_batch) / (b * n * n) if replacement else 1.0 / (b * n)) * eye
