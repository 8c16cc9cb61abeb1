"""The MPGD authors' airfoil (and CIFAR-10) perturbation process (P0 eq. 8 and eq. 11 *as their
public code runs them*) and its controls.

P0 eq. 8 reads ``x_{k+1} = x_k - η∇R(x_k) - μ η^γ v1(y1_k) ⊙ x_k + σ η^γ v2(y2_k)`` with one
Thaler chain per coordinate. The authors' airfoil script (repository shoelim/mpgd; file, line and
commit references in docs/authors_code.md) runs a different process, reproduced here exactly:

* **Chains.** Coordinate i of a tensor (its row-major index in PyTorch layout) uses the chain whose
  NumPy legacy seed is ``S + i``, ``S = seed_base + seed_scale·s`` the table seed of run seed s
  (airfoil script: ``S = 123456 + s``, the defaults; CIFAR-10 script: ``S = 2s``, i.e.
  ``seed_base=0, seed_scale=2``): coordinate i of *every* tensor shares a chain, and seed s+1
  reuses seed s's chains shifted by ``seed_scale`` coordinates. The start is
  ``T^{10000}(U)``, U the first legacy uniform after seeding, iterated with the plain float64
  formula ``(y^{1-γ} + (1+y)^{1-γ} - 1)^{1/(1-γ)} mod 1`` (C-library ``pow``, as Python floats
  evaluate it; NumPy's vectorized ``power`` rounds differently and would give other chains).
  The branch point y* is SciPy ``fsolve``'s root from 0.01, as in their code.
* **Signs.** Their sign generator is re-seeded (with the chain's seed) before every draw, so the
  sign δ = ±1, P(δ = +1) = (1+β)/2, is one constant per chain; χ^{(k)} = χ_0 ⋯ χ_k includes the
  current point, so v^{(k)} = v(T^k y) on chains with δ = +1 and flips sign at every visit to
  (y*, 1] on chains with δ = -1.
* **Table.** v^{(k)} for k = 0..T (T = ``num_steps``, their number of epochs) is stored in float32
  (no k^{-γ}); eq. 11 stores float32(v(y1) - v(y2)) (difference in float64) with y2 seeded
  ``i + 100·S`` and the *same* sign seed as y1.
* **Read order ("the scramble").** Their (d × (T+1)) table (row = coordinate's chain, column =
  time) is re-read row-major as ((T+1) × shape) instead of transposed, and step k reads slice k, so
  coordinate j of a d-entry tensor receives at step k the entry
  ``raw[⌊(k d + j)/(T+1)⌋, (k d + j) mod (T+1)]``: a stride-d walk across chains. ``order="time"``
  reads ``raw[j, k]`` (the scramble fixed; each coordinate sees its own chain in time).
* **Update.** One table value ξ feeds both terms, and the additive term enters with -σ:
  ``u ← u - μ η^γ ξ ⊙ x - σ η^γ ξ``.

Controls: :func:`iid_observable_perturbation` draws ξ i.i.d. from the marginal law of the table
entries each step (the white-noise surrogate of the scrambled process); and
:func:`gaussian_authors_perturbation` is their Gaussian baseline (η^1 by default, the additive
draw of a weight matrix shared by all its output units).

Seeds and speed (design). The table is a fixed array computed once on the host in float64 Python
arithmetic (bit-exact chains need the C ``pow``; ~0.5 µs per map step). The run seed s is an
explicit hyper-parameter ``seed`` that may be *traced* (an integer array, vmappable like μ and σ):
the host builds one table for the static range ``seed_range = (lo, hi)`` and a step gathers the
rows of the traced seed from it, so a whole table of seeds is one compiled program. The shift
structure of the seed rule makes this cheap for eq. 8: seeds lo..hi with tensors of at most d
entries need only ``seed_scale·(hi - lo) + d`` chains (279 chains × 3001 steps for 200 airfoil
seeds: 2.2 s of host time, 0.85 MB). eq. 11 needs an independent second chain per (seed,
coordinate): ``(hi - lo + 1)·d`` chains (16 000 for 200 airfoil seeds: 150 s once per process,
48 MB; CIFAR-10, 5 seeds × the 1728-entry stem conv: 3.4 s for eq. 8, 19.7 s for eq. 11 per γ).
Measured on the shared 2-core CPU machine, perturbation alone, 200 airfoil seeds × 3000 steps in
one vmapped program: eq. 8 compiles in 3 s and runs in 0.3 s; eq. 11 in 7 s and 1.3 s.
Tables are stored as uint8 codes into the few float32 values they take (exact) and cached per
process. The jax key passed to these factories is not used by the table processes (their
randomness is the integer seed); it seeds the i.i.d. and Gaussian controls.
"""
from __future__ import annotations

import functools
from typing import Literal, Optional, Sequence, Union

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from chaosopt import _validation
from chaosopt.core import draws
from chaosopt.dynamics import observables, thaler
from chaosopt.transforms import _base, registry

SEED_BASE = 123456       # their chain seed is SEED_BASE + run seed + coordinate index
EQ11_SEED_FACTOR = 100   # their second eq.-11 chain is seeded i + 100 (SEED_BASE + s)
WARMUP_STEPS = 10_000

Variant = Literal["mpgd", "eq11"]
Order = Literal["scrambled", "time"]
Layout = Literal["flax", "torch"]


# --------------------------------------------------------------------------- host-side chains

def authors_branch_point(gamma: float) -> float:
  """y* as their code computes it: SciPy ``fsolve`` on y^{1-γ} + (1+y)^{1-γ} - 2 from 0.01."""
  from scipy import optimize  # deferred: scipy adds ~0.2 s to `import chaosopt`

  g = float(gamma)
  return float(optimize.fsolve(lambda y: y ** (1 - g) + (1 + y) ** (1 - g) - 2, 0.01)[0])


def authors_observable_values(gamma: float) -> tuple[float, float]:
  """(v on [0, y*], v on (y*, 1]) in float64 (P0 Section 3 normalization, erratum denominator)."""
  vl, vr = observables.observable_values(float(gamma))
  return float(vl), float(vr)


def _map_list(xs: list, s: float, r: float) -> list:
  # Python-float arithmetic on purpose: x ** y is the C library pow (see module docstring).
  return [((x ** s + (1 + x) ** s - 1) ** r) % 1 for x in xs]


def authors_chains(init_seeds: Sequence[int], sign_seeds: Sequence[int], gamma: float, beta: float,
                   num_steps: int, warmup: int = WARMUP_STEPS) -> np.ndarray:
  """Signed observables v^{(k)}, k = 0..num_steps, of chains started as in the authors' code.

  Chain c starts at ``T^{warmup}(U)``, U the first uniform of ``RandomState(init_seeds[c])``; its
  sign δ_c = 2·Bernoulli((1+β)/2) - 1 is the first binomial draw of
  ``RandomState(sign_seeds[c])``. Returns float64 [len(init_seeds), num_steps + 1].
  """
  g = float(gamma)
  s, r = 1 - g, 1 / (1 - g)
  p = 0.5 * (1 + float(beta))
  ystar = authors_branch_point(g)
  vl, vr = authors_observable_values(g)
  xs = [np.random.RandomState(int(c)).uniform() for c in init_seeds]
  deltas = np.array([2 * np.random.RandomState(int(c)).binomial(1, p, 1)[0] - 1
                     for c in sign_seeds], np.float64)
  for _ in range(warmup):
    xs = _map_list(xs, s, r)
  n = len(xs)
  out = np.empty((n, int(num_steps) + 1), np.float64)
  chi = np.ones(n, np.float64)
  for k in range(int(num_steps) + 1):
    if k:
      xs = _map_list(xs, s, r)
    y = np.array(xs, np.float64)
    right = y > ystar
    chi = np.where(right, chi * deltas, chi)
    out[:, k] = chi * np.where(right, vr, vl)
  return out


def authors_raw_table(gamma: float, beta: float, num_steps: int, seed: int, dim: int,
                      variant: Variant = "mpgd", seed_base: int = SEED_BASE,
                      seed_scale: int = 1) -> np.ndarray:
  """Their per-tensor table for run seed ``seed`` and a tensor of ``dim`` entries: float32
  [dim, num_steps + 1], row i = coordinate i's chain, column = time (before the re-read).
  Table seed ``S = seed_base + seed_scale·seed``: chain i is seeded ``S + i`` (eq. 11 second
  chain ``i + 100·S``)."""
  base = int(seed_base) + int(seed_scale) * int(seed)
  first = [base + i for i in range(dim)]
  v1 = authors_chains(first, first, gamma, beta, num_steps)
  if variant == "mpgd":
    return v1.astype(np.float32)
  second = [i + EQ11_SEED_FACTOR * base for i in range(dim)]
  v2 = authors_chains(second, first, gamma, beta, num_steps)
  return (v1 - v2).astype(np.float32)


def scramble_index(k, j, dim: int, num_steps: int):
  """(row, column) of the raw table read by coordinate j at step k under their re-read:
  ``divmod(k·dim + j, num_steps + 1)``."""
  return divmod(k * dim + j, num_steps + 1)


def _encode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """float32 array -> (uint8 codes, float32 lookup) with lookup[codes] == values exactly."""
  lookup, codes = np.unique(values, return_inverse=True)
  if lookup.size > 256:
    raise RuntimeError(f"table takes {lookup.size} distinct values (> 256)")
  return codes.reshape(values.shape).astype(np.uint8), lookup.astype(np.float32)


@functools.lru_cache(maxsize=16)
def authors_table(gamma: float, beta: float, num_steps: int, seed_lo: int, seed_hi: int,
                  num_coords: int, variant: Variant = "mpgd", seed_base: int = SEED_BASE,
                  seed_scale: int = 1) -> tuple[np.ndarray, np.ndarray]:
  """The encoded tables of seeds ``seed_lo..seed_hi`` (inclusive) for tensors of at most
  ``num_coords`` entries; cached per process. Seed s has table seed
  ``S = seed_base + seed_scale·s`` (chain of coordinate i: ``S + i``). Returns (codes, lookup):

  * ``variant="mpgd"``: codes [seed_scale·(seed_hi - seed_lo) + num_coords, num_steps + 1]; seed
    s, coordinate i reads row ``seed_scale·(s - seed_lo) + i`` (the shift structure of the seed
    rule).
  * ``variant="eq11"``: codes [seed_hi - seed_lo + 1, num_coords, num_steps + 1].
  """
  if seed_lo < 0 or seed_hi < seed_lo:
    raise ValueError(f"seed range must satisfy 0 <= lo <= hi, got ({seed_lo}, {seed_hi})")
  n_seeds = seed_hi - seed_lo + 1
  rows = seed_scale * (n_seeds - 1) + num_coords
  first = [seed_base + seed_scale * seed_lo + c for c in range(rows)]
  v1 = authors_chains(first, first, gamma, beta, num_steps)
  if variant == "mpgd":
    return _encode(v1.astype(np.float32))
  init2, sign2 = [], []
  for s in range(seed_lo, seed_hi + 1):
    table_seed = seed_base + seed_scale * s
    for i in range(num_coords):
      init2.append(i + EQ11_SEED_FACTOR * table_seed)
      sign2.append(table_seed + i)
  v2 = authors_chains(init2, sign2, gamma, beta, num_steps).reshape(n_seeds, num_coords, -1)
  idx = seed_scale * np.arange(n_seeds)[:, None] + np.arange(num_coords)[None, :]
  return _encode((v1[idx] - v2).astype(np.float32))


# --------------------------------------------------------------------------- layouts

def _torch_perm(ndim: int) -> tuple:
  """Axes permutation taking a flax kernel (..., in, out) to PyTorch's (out, in, ...)."""
  if ndim < 2:
    return tuple(range(ndim))
  return (ndim - 1, ndim - 2) + tuple(range(ndim - 2))


def _to_leaf(torch_order_values, shape, layout: str):
  """Values given in PyTorch row-major order of the tensor -> an array shaped like the leaf."""
  shape = tuple(shape)
  if layout == "torch" or len(shape) < 2:
    return torch_order_values.reshape(shape)
  perm = _torch_perm(len(shape))
  tshape = tuple(shape[a] for a in perm)
  return jnp.transpose(torch_order_values.reshape(tshape), tuple(int(a) for a in np.argsort(perm)))


# --------------------------------------------------------------------------- the table process

def _seed_offset(seed, seed_lo: int):
  return jnp.round(jnp.asarray(seed, jnp.float32)).astype(jnp.int32) - seed_lo


def _table_noise(gamma: float, beta: float, num_steps: int, seed, seed_range: tuple,
                 variant: str, order: str, layout: str, seed_base: int = SEED_BASE,
                 seed_scale: int = 1) -> _base.NoiseProcess:
  lo, hi = seed_range
  t1 = num_steps + 1

  def sizes(params):
    return [int(np.prod(jnp.shape(p), dtype=np.int64)) for p in jax.tree_util.tree_leaves(params)]

  def tables(params):
    codes, lookup = authors_table(float(gamma), float(beta), int(num_steps), lo, hi,
                                  max(sizes(params)), variant, seed_base, seed_scale)
    return jnp.asarray(codes), jnp.asarray(lookup)

  def init_fn(key, params):
    del key
    tables(params)  # build (and cache) on the host at init
    return ()

  def sample_fn(state, key, count, params):
    del key
    codes, lookup = tables(params)
    off = jnp.clip(_seed_offset(seed, lo), 0, hi - lo)
    k = jnp.minimum(jnp.asarray(count, jnp.int32), num_steps)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    out = []
    for leaf in leaves:
      d = int(np.prod(jnp.shape(leaf), dtype=np.int64))
      j = jnp.arange(d, dtype=jnp.int32)
      if order == "scrambled":
        flat = k * d + j
        row, col = flat // t1, flat % t1
      else:
        row, col = j, jnp.broadcast_to(k, j.shape)
      if variant == "mpgd":
        c = codes[seed_scale * off + row, col]
      else:
        c = codes[off, row, col]
      out.append(_to_leaf(lookup[c], jnp.shape(leaf), layout))
    xi = jax.tree_util.tree_unflatten(treedef, out)
    neg = jax.tree_util.tree_map(lambda a: -a, xi)
    return xi, neg, state

  return _base.NoiseProcess(init_fn, sample_fn)


def _check_common(learning_rate, mu, sigma) -> None:
  _validation.check_positive("learning_rate", learning_rate)
  _validation.check_nonnegative("mu", mu)
  _validation.check_nonnegative("sigma", sigma)


def _check_choice(name, value, allowed) -> None:
  if value not in allowed:
    raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _resolve_seed_range(seed, seed_range) -> tuple[int, int]:
  conc = _validation._concrete(seed)
  if seed_range is None:
    if conc is None:
      raise ValueError("seed is traced: pass a static seed_range=(lo, hi) covering its values")
    if float(conc) != int(conc):
      raise ValueError(f"seed must be an integer, got {seed!r}")
    return int(conc), int(conc)
  lo, hi = (int(v) for v in seed_range)
  if lo < 0 or hi < lo:
    raise ValueError(f"seed_range must be (lo, hi) with 0 <= lo <= hi, got {seed_range!r}")
  if conc is not None and not lo <= float(conc) <= hi:
    raise ValueError(f"seed {seed!r} is outside seed_range {seed_range!r}")
  return lo, hi


def mpgd_authors_perturbation(learning_rate: _base.ScalarOrSchedule, *, gamma: float,
                              beta: float = 0.5, mu: chex.Numeric = 0.01,
                              sigma: chex.Numeric = 0.01,
                              key: Union[chex.PRNGKey, int, None] = None,
                              seed: chex.Numeric = 1, num_steps: int = 3000,
                              seed_range: Optional[Sequence[int]] = None,
                              variant: Variant = "mpgd", order: Order = "scrambled",
                              layout: Layout = "flax", seed_base: int = SEED_BASE,
                              seed_scale: int = 1) -> optax.GradientTransformation:
  """The authors' table process: ``u ← u - μ η^γ ξ_k ⊙ x - σ η^γ ξ_k`` (module docstring).

  Args:
    learning_rate: η (float or schedule); only η^γ enters here.
    gamma: γ ∈ (1/2, 1), static (the table is built for it on the host).
    beta: skewness β ∈ [-1, 1] of the signs, static (their Table 1 setting: 0.5).
    mu, sigma: strengths (traced; their β = 0.5 script uses μ = σ = 0.01).
    key: unused (the randomness is the integer ``seed``); accepted for the factory protocol.
    seed: their run seed s (table seed S = seed_base + seed_scale·s, chains S + i); an int, or a
      traced integer array within ``seed_range`` (one program for many seeds).
    num_steps: their T (number of epochs): the table has T + 1 time steps; steps past T reuse
      step T's slice. Static.
    seed_range: static (lo, hi), the seeds the host table covers; default (seed, seed).
    variant: ``"mpgd"`` (eq. 8 table) or ``"eq11"`` (float32 difference of two chains).
    order: ``"scrambled"`` (their read order) or ``"time"`` (each coordinate its own chain).
    layout: ``"flax"``: leaves of ndim ≥ 2 are kernels (..., in, out) and coordinate i is the
      row-major index of the transposed PyTorch tensor (out, in, ...); ``"torch"``: leaves are
      already in PyTorch layout.
    seed_base, seed_scale: static integers of the table-seed rule S = seed_base + seed_scale·s:
      coordinate i uses the chain seeded S + i (start and sign), the eq. 11 second chain is
      seeded i + 100·S. Airfoil script: (123456, 1), the defaults; CIFAR-10 script: (0, 2)
      (table seed 2s).
  """
  del key
  thaler.check_gamma(gamma)
  _validation.check_in_range("beta", beta, -1.0, 1.0)
  _check_common(learning_rate, mu, sigma)
  _check_choice("variant", variant, ("mpgd", "eq11"))
  _check_choice("order", order, ("scrambled", "time"))
  _check_choice("layout", layout, ("flax", "torch"))
  if int(num_steps) != num_steps or num_steps < 1:
    raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
  for name, value, low in (("seed_base", seed_base, 0), ("seed_scale", seed_scale, 1)):
    if isinstance(value, bool) or int(value) != value or value < low:
      raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
  rng = _resolve_seed_range(seed, seed_range)
  noise = _table_noise(float(gamma), float(beta), int(num_steps), seed, rng, variant, order,
                       layout, int(seed_base), int(seed_scale))
  return _base.perturbation(learning_rate, mu=mu, sigma=sigma, key=0, exponent=float(gamma),
                            noise=noise)


# --------------------------------------------------------------------------- i.i.d. control

def table_marginal(gamma, beta):
  """The marginal law of the authors' table entries: ξ = ε v(Y), Y ~ ν (invariant measure),
  ε = ±1 independent of Y with P(ε = +1) = (3 + β)/4.

  v(Y) is the observable's two-point law: vl with probability ν([0, y*]) = 2^{γ-1}, vr otherwise
  (mean 0). ε: chains with δ = +1 (probability (1+β)/2) always have sign +1; chains with δ = -1
  flip at every right-branch visit, so their sign is ±1 with probability 1/2 each in the long
  run. Returns (vl, vr, P(left), P(ε = +1)); jnp for traced γ/β.
  """
  vl, vr = observables.observable_values(gamma)
  g = gamma.gamma if isinstance(gamma, thaler.ThalerConstants) else gamma
  p_left = 2.0 ** (g - 1)
  return vl, vr, p_left, (3 + beta) / 4


def _iid_noise(gamma, beta, sign: str, shared: bool) -> _base.NoiseProcess:
  def sample_fn(state, key, count, params):
    vl, vr, p_left, p_plus = table_marginal(gamma, beta)
    if sign == "none":
      p_plus = 1.0
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(_base.step_key(key, count), 2 * len(leaves))

    def draw(k, leaf):
      dt = jnp.result_type(leaf) if jnp.issubdtype(jnp.result_type(leaf), jnp.floating) \
          else thaler.default_dtype()
      u1, u2 = draws.flat(jax.random.uniform, k, (2,) + jnp.shape(leaf), jnp.float32)
      v = jnp.where(u1 < p_left, jnp.asarray(vl, jnp.float32), jnp.asarray(vr, jnp.float32))
      return jnp.where(u2 < p_plus, v, -v).astype(dt)

    xi1 = [draw(k, leaf) for k, leaf in zip(keys[:len(leaves)], leaves)]
    if shared:
      xi2 = [-x for x in xi1]
    else:
      xi2 = [draw(k, leaf) for k, leaf in zip(keys[len(leaves):], leaves)]
    unflat = lambda xs: jax.tree_util.tree_unflatten(treedef, xs)
    return unflat(xi1), unflat(xi2), state

  return _base.NoiseProcess(lambda key, params: (), sample_fn)


def iid_observable_perturbation(learning_rate: _base.ScalarOrSchedule, *, gamma: chex.Numeric,
                                beta: chex.Numeric = 0.5, mu: chex.Numeric = 0.01,
                                sigma: chex.Numeric = 0.01, key: Union[chex.PRNGKey, int],
                                sign: str = "table",
                                shared: bool = True) -> optax.GradientTransformation:
  """White-noise surrogate: ``u ← u - μ η^γ ξ_k ⊙ x + σ η^γ ξ'_k`` with ξ_k i.i.d. over steps and
  coordinates from the marginal law of the authors' table (:func:`table_marginal`).

  ``sign="table"`` uses that law (signs ±1, P(+1) = (3+β)/4); ``sign="none"`` the unsigned
  two-point law of v (χ ≡ 1). ``shared=True`` (their form) feeds one draw to both terms with the
  additive sign flipped (ξ' = -ξ); ``shared=False`` draws the two fields independently.
  γ may be :class:`~chaosopt.dynamics.thaler.ThalerConstants` (traced), β may be traced.
  """
  thaler.check_gamma(gamma)
  _validation.check_in_range("beta", beta, -1.0, 1.0)
  _check_common(learning_rate, mu, sigma)
  _check_choice("sign", sign, ("table", "none"))
  consts = thaler.thaler_constants(gamma)
  return _base.perturbation(learning_rate, mu=mu, sigma=sigma, key=key, exponent=consts.gamma,
                            noise=_iid_noise(consts, beta, sign, bool(shared)))


# --------------------------------------------------------------------------- Gaussian control

def _gaussian_authors_noise(layout: str) -> _base.NoiseProcess:
  def sample_fn(state, key, count, params):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(_base.step_key(key, count), 2 * len(leaves))
    mult, add = [], []
    for k1, k2, leaf in zip(keys[:len(leaves)], keys[len(leaves):], leaves):
      shape = tuple(jnp.shape(leaf))
      dt = jnp.result_type(leaf) if jnp.issubdtype(jnp.result_type(leaf), jnp.floating) \
          else thaler.default_dtype()
      mult.append(draws.flat(jax.random.normal, k1, shape, dt))
      if len(shape) <= 1:
        add.append(-jax.random.normal(k2, shape, dt))
      elif len(shape) == 2:
        # gradient of sum(Z W^T) w.r.t. W (torch (out, in)): column sums of Z, shared by the rows
        out_axis = 1 if layout == "flax" else 0
        n_out = shape[out_axis]
        z = jax.random.normal(k2, (shape[1 - out_axis],), dt) * jnp.sqrt(jnp.asarray(n_out, dt))
        z = jnp.expand_dims(z, out_axis)
        add.append(-jnp.broadcast_to(z, shape))
      else:
        raise ValueError(f"gaussian_authors: their baseline is defined for 1-D and 2-D tensors "
                         f"only, got a leaf of shape {shape}")
    unflat = lambda xs: jax.tree_util.tree_unflatten(treedef, xs)
    return unflat(mult), unflat(add), state

  return _base.NoiseProcess(lambda key, params: (), sample_fn)


def gaussian_authors_perturbation(learning_rate: _base.ScalarOrSchedule, *,
                                  mu: chex.Numeric = 0.01, sigma: chex.Numeric = 0.02,
                                  key: Union[chex.PRNGKey, int],
                                  exponent: Union[chex.Numeric, chex.ArrayTree] = 1.0,
                                  layout: Layout = "flax") -> optax.GradientTransformation:
  """The authors' airfoil Gaussian baseline: ``u ← u - μ η^p Z1 ⊙ x - σ η^p G``.

  Z1 is i.i.d. N(0, 1). G is the gradient of their loss term sum(Z W^T), Z i.i.d. N(0, 1): for a
  weight matrix W (PyTorch (out, in)) ``G[o, i] = Σ_a Z[a, i]`` — one N(0, n_out) draw per input
  feature shared by all output units; for 1-D tensors G = Z. Their script has p = 1 (the term is
  added to the loss without an η factor); ``exponent`` sets p ("the Gaussian baseline with any
  exponent"). Their values: μ = 0.01, σ = 0.02. ``layout`` as in
  :func:`mpgd_authors_perturbation` (flax kernels are (in, out)).
  """
  _check_common(learning_rate, mu, sigma)
  _validation.check_nonnegative("exponent", exponent)
  _check_choice("layout", layout, ("flax", "torch"))
  return _base.perturbation(learning_rate, mu=mu, sigma=sigma, key=key, exponent=exponent,
                            noise=_gaussian_authors_noise(layout))


# --------------------------------------------------------------------------- registration

def _as_int(values):
  return np.asarray(np.round(values), np.int32)


def _register() -> None:
  """Registers the kinds (traced / prepare / context: read by chaosopt.train.schemes)."""
  table_doc = ("authors' airfoil table process (shoelim/mpgd): shared and shifted chain seeds, "
               "constant signs, float32 table")
  reads = {"scrambled": "scrambled read (their code)",
           "time": "read in time order (scramble fixed)"}
  for variant, order in (("mpgd", "scrambled"), ("eq11", "scrambled"), ("mpgd", "time"),
                         ("eq11", "time")):
    kind = f"{variant}_authors" + ("_time" if order == "time" else "")
    what = ", eq. 11 differences" if variant == "eq11" else ""
    registry.register_noise(kind, mpgd_authors_perturbation, traced=("mu", "sigma"),
                            context=("seed", "seed_range", "num_steps"),
                            prepare={"seed": _as_int}, fixed={"variant": variant, "order": order},
                            description=f"{table_doc}{what}, {reads[order]}")
  registry.register_noise("iid_observable", iid_observable_perturbation,
                          traced=("mu", "sigma", "gamma", "beta"),
                          prepare={"gamma": thaler.thaler_constants},
                          description="white-noise surrogate: i.i.d. draws of the authors' table "
                                      "marginal, eta^gamma")
  registry.register_noise("gaussian_authors", gaussian_authors_perturbation,
                          traced=("mu", "sigma", "exponent"),
                          description="authors' airfoil Gaussian baseline: eta^p (p = 1 in their "
                                      "code), shared additive draw per input feature of a weight "
                                      "matrix")


_register()

__all__ = ["mpgd_authors_perturbation", "iid_observable_perturbation",
           "gaussian_authors_perturbation", "authors_chains", "authors_raw_table",
           "authors_table", "authors_branch_point", "authors_observable_values",
           "scramble_index", "table_marginal", "SEED_BASE", "EQ11_SEED_FACTOR", "WARMUP_STEPS"]
