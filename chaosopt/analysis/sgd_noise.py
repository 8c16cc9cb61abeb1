"""Per-parameter SGD-noise measurement and SaS-vs-Gaussian fits (P2 Sec. 5, Tables 1-2, Fig. 5).

At fixed weights w, P2 (eq. 1) defines the SGD noise of a mini-batch B as
``u_B = grad U(w) - grad U_B(w)`` (full-data gradient minus mini-batch gradient). Following P2
and Xie et al. (the methodology P3 App. F.2 endorses) the noise is collected *per parameter across
many mini-batches* (never pooled across parameters). :func:`sgd_noise` returns ``u`` as a
``[num_params, num_batches]`` array (samples last, the layout the estimators of
:mod:`chaosopt.dynamics.tail_index` reduce fastest).

:func:`fit_errors` fits, per parameter, a SaS law (alpha and scale by the characteristic-function
regression :func:`~chaosopt.dynamics.tail_index.cf_fit`, location = median) and a Gaussian
(sample mean and std, the maximum-likelihood fit), and measures each fit against the histogram:
``SSE = sum_b (h_b - f(c_b))^2`` and ``chi2 = sum_b (h_b - f(c_b))^2 / f(c_b)`` where h_b is the
density-normalized histogram over the central ``quantile_range`` of the parameter's samples, c_b
the bin centres and f the fitted density (the ``fitter``-package convention; P2 does not define
them further). Each parameter's noise is first divided by its median absolute deviation (an affine
change that leaves the SaS/Gaussian comparison of that parameter unchanged) so that errors are
comparable across parameters of very different scales.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from scipy import stats

from chaosopt.dynamics import tail_index


def sgd_noise(loss_fn: Callable[[Any, Any], jax.Array], params: Any, data: Any, *,
              batch_size: int, num_batches: int, key: jax.Array, full_batch_chunk: int = 1000,
              batches_per_step: int = 16, return_indices: bool = False):
  """SGD noise ``u_B = grad U(w) - grad U_B(w)`` per parameter over ``num_batches`` mini-batches.

  Args:
    loss_fn: ``loss_fn(params, batch) -> scalar`` mean loss over the examples of ``batch``
      (a pytree of arrays with a leading example axis, like ``data``).
    params: the fixed weights w (any pytree, e.g. flax variables' ``params``).
    data: the whole data set (pytree of arrays, leading axis = examples).
    batch_size: |B|; each mini-batch is drawn uniformly without replacement.
    num_batches: how many mini-batches (samples per parameter).
    key: PRNG key for the mini-batch draws.
    full_batch_chunk: examples per chunk when computing the exact full gradient.
    batches_per_step: mini-batch gradients computed in parallel (vmap) per ``lax.map`` step.
  Returns:
    ``u`` float32 ``[num_params, num_batches]`` (ravel order of ``jax.flatten_util``), and the
    ``[num_batches, batch_size]`` example indices if ``return_indices``.
  """
  n = int(jax.tree_util.tree_leaves(data)[0].shape[0])
  if not 1 <= batch_size <= n:
    raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
  if num_batches < 2:
    raise ValueError(f"num_batches must be >= 2, got {num_batches}")
  flat, unravel = jax.flatten_util.ravel_pytree(params)
  grad_flat = jax.jit(lambda f, b: jax.flatten_util.ravel_pytree(
      jax.grad(loss_fn)(unravel(f), b))[0])
  take = lambda idx: jax.tree_util.tree_map(lambda a: jnp.asarray(a)[idx], data)

  # exact full gradient: example-weighted mean of chunk gradients
  full = jnp.zeros_like(flat)
  for start in range(0, n, full_batch_chunk):
    idx = np.arange(start, min(n, start + full_batch_chunk))
    full = full + grad_flat(flat, take(idx)) * (len(idx) / n)

  keys = jax.random.split(key, num_batches)
  idx = jax.vmap(lambda k: jax.random.choice(k, n, (batch_size,), replace=False))(keys)
  pad = (-num_batches) % batches_per_step
  idx_p = jnp.concatenate([idx, idx[:pad]]) if pad else idx
  groups = idx_p.reshape(-1, batches_per_step, batch_size)

  @jax.jit
  def all_grads(f, groups):
    per_group = lambda g: jax.vmap(lambda i: grad_flat(f, take(i)))(g)
    return jax.lax.map(per_group, groups).reshape(-1, f.shape[0])

  g = all_grads(flat, groups)[:num_batches]
  u = (full[None, :] - g).T.astype(jnp.float32)
  return (u, np.asarray(idx)) if return_indices else u


def alpha_per_parameter(u, clip: bool = True) -> dict:
  """Tail index per parameter (samples last): Mohammadi (P3 Thm F.2) and CF-regression fits.

  Parameters whose noise has fewer than half of its samples non-zero (e.g. dead units, where
  log|u| is undefined) get NaN.
  """
  a_cf, s_cf = tail_index.cf_fit(u)
  valid = np.asarray(jnp.mean(jnp.asarray(u) != 0, axis=-1) > 0.5)
  nan = lambda a: np.where(valid, np.asarray(a), np.nan)
  return {"mohammadi": nan(tail_index.mohammadi_alpha(u, clip=clip)), "cf": nan(a_cf),
          "cf_scale": nan(s_cf), "valid": valid}


def fit_errors(u, *, bins: int = 50, quantile_range=(0.005, 0.995),
               max_params: Optional[int] = None, seed: int = 0) -> dict:
  """Per-parameter SSE and chi^2 of the SaS and Gaussian fits (see module docstring).

  ``u``: ``[num_params, num_samples]``. Parameters whose noise is zero in half of the
  samples or more (MAD = 0) are skipped.
  ``max_params`` samples that many parameters at random (P2 uses 100-120). Returns numpy
  arrays keyed ``index, alpha, scale, sse_sas, sse_gauss, chi2_sas, chi2_gauss``.
  """
  u = np.asarray(u, np.float64)
  mad = np.median(np.abs(u - np.median(u, axis=1, keepdims=True)), axis=1)
  # skip degenerate parameters (noise zero in most batches, e.g. dead units): as alpha_per_parameter
  ok = np.flatnonzero((mad > 0) & (np.mean(u != 0, axis=1) > 0.5))
  if max_params is not None and len(ok) > max_params:
    ok = np.sort(np.random.default_rng(seed).choice(ok, max_params, replace=False))
  z = (u[ok] - np.median(u[ok], axis=1, keepdims=True)) / mad[ok, None]
  a, s = map(np.asarray, tail_index.cf_fit(jnp.asarray(z, jnp.float32)))
  out = {k: np.zeros(len(ok)) for k in ("sse_sas", "sse_gauss", "chi2_sas", "chi2_gauss")}
  for j in range(len(ok)):
    x = z[j]
    lo, hi = np.quantile(x, quantile_range)
    hist, edges = np.histogram(x, bins=bins, range=(lo, hi))
    width = edges[1] - edges[0]
    h = hist / (len(x) * width)  # density w.r.t. all samples
    c = 0.5 * (edges[1:] + edges[:-1])
    f_g = stats.norm.pdf(c, x.mean(), x.std())
    f_s = stats.levy_stable.pdf(c, float(a[j]), 0.0, loc=0.0, scale=float(s[j]))
    for name, f in (("gauss", f_g), ("sas", f_s)):
      f = np.maximum(f, 1e-300)
      out["sse_" + name][j] = np.sum((h - f) ** 2)
      out["chi2_" + name][j] = np.sum((h - f) ** 2 / f)
  out.update(index=ok, alpha=a, scale=s * mad[ok])
  return out
