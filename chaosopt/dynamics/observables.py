r"""The MPGD observable v and its skewness signs (P0 Section 3, after Gottwald & Melbourne 2021).

With :math:`\alpha = 1/\gamma`,

.. math::

  d_\alpha = \frac{\alpha^\alpha (1-\gamma)\, \Gamma(1-\alpha) \cos(\alpha\pi/2)}{2^{1-\gamma} - 1},
  \qquad
  v(y) = d_\alpha^{-\gamma} (1 - 2^{\gamma-1})^{-\gamma}\, \tilde v(y), \quad
  \tilde v = \begin{cases} 1 & \text{on } [0, y^*], \\
                           (1 - 2^{1-\gamma})^{-1} & \text{on } (y^*, 1], \end{cases}

(erratum: the paper prints the denominator of :math:`d_\alpha` garbled; docs/errata.md), so
:math:`\int v\, d\nu = 0`, and :math:`k^{-\gamma} \sum_{j<k} v^{(j)} \to X_{\alpha,\beta}` with
:math:`E\, e^{itX} =
\exp\bigl(-|t|^\alpha (1 - i\beta\, \mathrm{sign}(t) \tan\frac{\alpha\pi}{2})\bigr)`.

Without signs (:math:`v^{(j)} = v(T^j y)`) the laminar excursions near 0 are all positive and
the limit is totally skewed (:math:`\beta = 1`). Skewness :math:`\beta \in [-1, 1]` comes from
random signs, ``sign_rule``:

- ``"excursion"`` (default): at each visit to :math:`(y^*, 1]` a fresh sign :math:`\delta`,
  :math:`P(\delta = \pm 1) = (1 \pm \beta)/2`, is drawn and held until the next visit, so every
  excursion carries an independent sign. This reproduces :math:`X_{\alpha,\beta}`
  (tests/test_observables.py measures :math:`\operatorname{Im} E\, e^{itS}`).
- ``"literal"``: the paper's formula :math:`v^{(k)} = \chi_{k-1} \cdots \chi_0\, v(T^k y)`,
  :math:`\chi_j = \delta_j` on visits to :math:`(y^*, 1]` and 1 otherwise: the cumulative
  product forgets its sign after a few visits, so the limit is symmetric for every
  :math:`|\beta| < 1` (docs/errata.md). Offered to reproduce the paper's code.
- ``"none"``: :math:`\chi \equiv 1`, the totally skewed observable; the eq. 11 variant uses
  :math:`v(y^1) - v(y^2)` of two such chains, which is symmetric.

Chain state: one float per chain, :math:`|\text{state}|` is the Thaler position and the sign bit
is the held sign (positions are never 0). Each step consumes 32 random bits per chain, split into
the sign draw and the rounding dither of :func:`chaosopt.dynamics.thaler.map_dithered` (the
dither is the sign draw's uniform re-scaled within its half, hence independent of
:math:`\delta`).
"""
from __future__ import annotations

from typing import Literal

import jax
import jax.core  # jax.core.Tracer (the attribute is not visible to type checkers otherwise)
import jax.numpy as jnp
import numpy as np
from jax import lax

from chaosopt.core import draws
from chaosopt.dynamics import random_bits, thaler

SignRule = Literal["excursion", "literal", "none"]
SIGN_RULES = ("excursion", "literal", "none")


def d_alpha(gamma):
  """The normalization d_α (with the erratum's denominator 2^{1-γ} - 1); float64."""
  from scipy import special  # deferred: scipy adds ~0.2 s to `import chaosopt`

  g = np.asarray(thaler.thaler_constants(gamma).gamma)
  a = 1.0 / g
  return a**a * (1 - g) * special.gamma(1 - a) * np.cos(a * np.pi / 2) / (2 ** (1 - g) - 1)


def observable_values(gamma):
  """(v on [0, y*], v on (y*, 1]) shaped like γ: float64 numpy for concrete γ, jnp for traced
  :class:`~chaosopt.dynamics.thaler.ThalerConstants` (γ vmapped by the runner)."""
  if isinstance(gamma, thaler.ThalerConstants) and isinstance(gamma.gamma, jax.core.Tracer):
    g = gamma.gamma
    a = 1 / g
    # Γ(1-α) = Γ(2-α)/(1-α) with 2-α ∈ (0, 1), so gammaln is enough.
    gam = jnp.exp(jax.scipy.special.gammaln(2 - a)) / (1 - a)
    d = a**a * (1 - g) * gam * jnp.cos(a * jnp.pi / 2) / (2 ** (1 - g) - 1)
  else:
    g = np.asarray(thaler.thaler_constants(gamma).gamma)
    d = d_alpha(g)
  scale = d ** (-g) * (1 - 2 ** (g - 1)) ** (-g)
  return scale, scale / (1 - 2 ** (1 - g))


def observable(y, gamma):
  """v(y) (no sign), any shape; y in the dtype of the result."""
  y = jnp.asarray(y)
  vl, vr = (jnp.asarray(x, y.dtype) for x in observable_values(gamma))
  return jnp.where(y > jnp.asarray(thaler.fixed_point(gamma), y.dtype), vr, vl)


def check_sign_rule(sign_rule: str) -> None:
  if sign_rule not in SIGN_RULES:
    raise ValueError(f"sign_rule must be one of {SIGN_RULES}, got {sign_rule!r}")


def init_chains(key, shape, gamma, beta=0.0, sign_rule: SignRule = "excursion",
                init: str = "invariant", dtype=None):
  """Signed chain states: positions from the invariant measure (``init="invariant"``, exact) or
  the paper's ``T^{10^4}(U)`` warm-up (``init="warmup"``), signs per ``sign_rule``."""
  check_sign_rule(sign_rule)
  dtype = dtype or thaler.default_dtype()
  k_pos, k_sign = jax.random.split(key)
  if init == "invariant":
    pos = thaler.sample_invariant(k_pos, shape, gamma, dtype)
  elif init == "warmup":
    pos = thaler.sample_warmup(k_pos, shape, gamma, dtype=dtype)
  else:
    raise ValueError(f"init must be 'invariant' or 'warmup', got {init!r}")
  if sign_rule == "excursion":
    p_plus = (1 + jnp.asarray(beta, dtype)) / 2
    plus = draws.flat(jax.random.uniform, k_sign, shape, dtype) < p_plus
    pos = jnp.where(plus, pos, -pos)
  return pos


def step(state, bits, gamma, beta=0.0, sign_rule: SignRule = "excursion"):
  """Advances signed chains one step: returns (v^{(k)}, new state).

  ``v^{(k)} = s_k v(y_k)``; then y_{k+1} = T(y_k) (dithered) and, if y_k was in (y*, 1], the
  held sign is redrawn (``excursion``) or multiplied by a fresh δ (``literal``).
  """
  dtype = state.dtype
  pos = jnp.abs(state)
  sign = jnp.where(state < 0, jnp.asarray(-1, dtype), jnp.asarray(1, dtype))
  u = thaler.uniform_from_bits(bits, dtype)
  half = jnp.asarray(0.5, dtype)
  if sign_rule == "none":
    dither = u - half
  else:
    p = (1 + jnp.asarray(beta, dtype)) / 2
    plus = u < p
    # re-uniformize u within the half it fell in: independent of δ given δ.
    dither = jnp.where(plus, u / jnp.maximum(p, 1e-30), (u - p) / jnp.maximum(1 - p, 1e-30)) - half
    dither = jnp.clip(dither, -half, half - jnp.finfo(dtype).epsneg)
    delta = jnp.where(plus, jnp.asarray(1, dtype), jnp.asarray(-1, dtype))
  new_pos, right = thaler.map_dithered(pos, dither, gamma)
  vl, vr = (jnp.asarray(x, dtype) for x in observable_values(gamma))
  v = sign * jnp.where(right, vr, vl)
  if sign_rule == "excursion":
    sign = jnp.where(right, delta, sign)
  elif sign_rule == "literal":
    sign = jnp.where(right, sign * delta, sign)
  return v, jnp.where(sign < 0, -new_pos, new_pos)


def birkhoff_sums(key, gamma, num_chains: int, num_steps, beta=0.0,
                  sign_rule: SignRule = "excursion", init: str = "invariant", dtype=None):
  """k^{-γ} Σ_{j<k} v^{(j)} for k in ``num_steps`` (an int or an increasing list of ints).

  Returns an array [len(num_steps), num_chains] (or [num_chains] for an int). One jitted scan.
  """
  ks = [int(num_steps)] if np.ndim(num_steps) == 0 else [int(k) for k in num_steps]
  g = float(thaler.thaler_constants(gamma).gamma)
  k_init, k_run = jax.random.split(key)
  state = init_chains(k_init, (num_chains,), g, beta, sign_rule, init, dtype)
  out_dtype = state.dtype

  @jax.jit
  def run(state, key):
    def body(carry, k):
      state, total = carry
      v, state = step(state, random_bits.bits(k, state.shape), g, beta, sign_rule)
      return (state, total + v), None

    results, prev = [], 0
    total = jnp.zeros(state.shape, out_dtype)
    for k in ks:
      key, sub = jax.random.split(key)
      (state, total), _ = lax.scan(body, (state, total), jax.random.split(sub, k - prev))
      results.append(total / jnp.asarray(k, out_dtype) ** g)
      prev = k
    return jnp.stack(results)

  out = run(state, k_run)
  return out[0] if np.ndim(num_steps) == 0 else out


__all__ = ["d_alpha", "observable_values", "observable", "init_chains", "step", "birkhoff_sums",
           "SIGN_RULES", "check_sign_rule"]
