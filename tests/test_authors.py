"""Tests of chaosopt.transforms.contrib.authors: the MPGD authors' airfoil process and its controls.

Formula tests re-derive each property independently (a scalar re-implementation of one chain,
the re-read index formula, NumPy's own row-major reshape). Four reference numbers were obtained
by running the authors' helper functions (shoelim/mpgd, airfoilselfnoise_regression/helper.py at
commit 715230c7) locally; they are documented at their test.
"""
from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from chaosopt.train import schemes as schemes_lib
from chaosopt.transforms import registry
from chaosopt.transforms.contrib import authors

G, BETA = 0.6, 0.5


def _naive_chain(init_seed, sign_seed, gamma, beta, num_steps):
  """One chain written from the description (scalar Python floats, math.pow)."""
  s = 1.0 - gamma
  ystar = authors.authors_branch_point(gamma)
  vl, vr = authors.authors_observable_values(gamma)
  x = np.random.RandomState(init_seed).uniform()
  for _ in range(10_000):
    x = math.fmod(math.pow(math.pow(x, s) + math.pow(1 + x, s) - 1, 1 / s), 1.0)
  delta = 2 * np.random.RandomState(sign_seed).binomial(1, 0.5 * (1 + beta), 1)[0] - 1
  out, chi = [], 1.0
  for k in range(num_steps + 1):
    if k:
      x = math.fmod(math.pow(math.pow(x, s) + math.pow(1 + x, s) - 1, 1 / s), 1.0)
    if x > ystar:
      chi *= delta
    out.append(chi * (vr if x > ystar else vl))
  return np.array(out)


def _sample_table(shape, *, seed=1, num_steps=40, variant="mpgd", order="scrambled",
                  layout="torch", gamma=G):
  params = {"w": jnp.zeros(shape)}
  noise = authors._table_noise(gamma, BETA, num_steps, seed, (seed, seed), variant, order, layout)
  st = noise.init(None, params)
  sample = jax.jit(lambda k: noise.sample(st, None, k, params))
  xi1, xi2 = zip(*[(np.asarray(a["w"]), np.asarray(b["w"]))
                   for a, b, _ in (sample(k) for k in range(num_steps + 1))])
  return np.stack(xi1), np.stack(xi2)


def test_chain_start_warmup_signs_match_scalar_formula():
  c = authors.SEED_BASE + 7
  got = authors.authors_chains([c], [c], G, BETA, 60)[0]
  np.testing.assert_array_equal(got, _naive_chain(c, c, G, BETA, 60))


def test_scramble_index_formula_and_row_major_reread():
  shape, T = (4, 3), 40
  d = 12
  raw = authors.authors_raw_table(G, BETA, T, 1, d)
  xi, xi_add = _sample_table(shape, num_steps=T)
  for k in (0, 1, 17, T):
    for j in range(d):
      r, c = divmod(k * d + j, T + 1)
      assert (r, c) == authors.scramble_index(k, j, d, T)
      assert xi[k].reshape(-1)[j] == raw[r, c]
  # the same as NumPy's row-major re-read of the (d, T+1) table as (T+1, *shape)
  np.testing.assert_array_equal(xi, raw.reshape((T + 1,) + shape))
  np.testing.assert_array_equal(xi_add, -xi)  # one table, additive term with -sigma


def test_time_order_is_the_transpose():
  T = 40
  raw = authors.authors_raw_table(G, BETA, T, 2, 6)
  xi, _ = _sample_table((6,), seed=2, num_steps=T, order="time")
  np.testing.assert_array_equal(xi, raw.T)


def test_seed_rule_shared_and_shifted_chains():
  T = 30
  a5 = authors.authors_raw_table(G, BETA, T, 1, 5)
  a3 = authors.authors_raw_table(G, BETA, T, 1, 3)
  np.testing.assert_array_equal(a3, a5[:3])       # coordinate i of every tensor shares chain i
  b5 = authors.authors_raw_table(G, BETA, T, 2, 5)
  np.testing.assert_array_equal(b5[:4], a5[1:])   # seed s+1 = seed s shifted by one coordinate
  c = authors.SEED_BASE + 1
  np.testing.assert_array_equal(a5[0], _naive_chain(c, c, G, BETA, T).astype(np.float32))


def test_delta_constant_per_chain_and_chi_flips():
  T = 400
  seeds = [authors.SEED_BASE + i for i in range(40)]
  v = authors.authors_chains(seeds, seeds, G, BETA, T)
  vl, vr = authors.authors_observable_values(G)
  right = np.isclose(np.abs(v), abs(vr))
  assert np.all(right | np.isclose(np.abs(v), vl))
  sign = np.sign(v) * np.where(right, np.sign(vr), 1.0)   # chi^{(k)}
  for c, row_sign, row_right in zip(seeds, sign, right):
    delta = 2 * np.random.RandomState(c).binomial(1, 0.75, 1)[0] - 1
    if delta == 1:
      assert np.all(row_sign == 1)
    else:  # chi^{(k)} = (-1)^{number of right-branch visits at times 0..k}
      np.testing.assert_array_equal(row_sign, (-1.0) ** np.cumsum(row_right))
  assert any(np.any(s < 0) for s in sign) and any(np.all(s > 0) for s in sign)


def test_float32_storage():
  T = 20
  raw = authors.authors_raw_table(G, BETA, T, 1, 4)
  assert raw.dtype == np.float32
  base = [authors.SEED_BASE + 1 + i for i in range(4)]
  v64 = authors.authors_chains(base, base, G, BETA, T)
  np.testing.assert_array_equal(raw, v64.astype(np.float32))
  vl, vr = authors.authors_observable_values(G)
  allowed = np.float32([vl, -vl, vr, -vr])
  assert np.all(np.isin(raw, allowed))


def test_eq11_difference():
  T, s, d = 25, 3, 4
  raw = authors.authors_raw_table(G, BETA, T, s, d, variant="eq11")
  first = [authors.SEED_BASE + s + i for i in range(d)]
  second = [i + 100 * (authors.SEED_BASE + s) for i in range(d)]
  v1 = authors.authors_chains(first, first, G, BETA, T)
  v2 = authors.authors_chains(second, first, G, BETA, T)   # same sign seed as the first chain
  np.testing.assert_array_equal(raw, (v1 - v2).astype(np.float32))
  xi, _ = _sample_table((2, 2), seed=s, num_steps=T, variant="eq11")
  np.testing.assert_array_equal(xi, raw.reshape(T + 1, 2, 2))


def test_reference_numbers_from_authors_code():
  # Obtained by running obs_v_dim / diff_obs_v_dim of the authors' helper.py (commit 715230c7,
  # NumPy 2.4, glibc libm; torch replaced by a NumPy stand-in for zeros/tensor/view) with
  # p = 0.75, T = 40, gamma = 0.6, a (4, 3) parameter and seed = 123456 + 1:
  # sum of the table entries (float64 sum of float32), and the number of negative entries.
  xi, _ = _sample_table((4, 3), seed=1, num_steps=40)
  assert float(xi.astype(np.float64).sum()) == pytest.approx(18.732868194580078, abs=1e-9)
  assert int((xi < 0).sum()) == 117
  xe, _ = _sample_table((4, 3), seed=1, num_steps=40, variant="eq11")
  assert float(xe.astype(np.float64).sum()) == pytest.approx(0.7849574089050293, abs=1e-9)
  assert int((xe < 0).sum()) == 96


def test_flax_layout_transposes_kernels():
  T = 10
  xt, _ = _sample_table((3, 5), num_steps=T, layout="torch")      # torch (out=3, in=5)
  xf, _ = _sample_table((5, 3), num_steps=T, layout="flax")       # flax kernel (in=5, out=3)
  np.testing.assert_array_equal(xf, np.swapaxes(xt, 1, 2))


def _lag1(series):
  x = series - series.mean(0)
  return float(np.mean(np.sum(x[1:] * x[:-1], 0) / np.sum(x * x, 0)))


def test_lag1_autocorrelation_scrambled_vs_time():
  # Airfoil 16x5 weight matrix (d = 80), gamma = 0.6, beta = 0.5, T = 3000, their seeds 1..5.
  # Measured: scrambled ≈ 0.015 (a coordinate reads one chain at lag d = 80), time order
  # ≈ 0.13 (the chain's own lag-1 correlation). Per-coordinate lag-1 estimates have SE
  # ≈ 1/sqrt(3000) ≈ 0.018; averaged over 400 (correlated) coordinate series the mean is within
  # a few 0.001 — the bounds below allow ≈ 0.025 either side of the measured values.
  T, d = 3000, 80
  codes, lut = authors.authors_table(G, BETA, T, 1, 5, d, "mpgd")
  scr, tim = [], []
  for off in range(5):
    raw = lut[codes[off:off + d]]
    scr.append(_lag1(raw.reshape(T + 1, d)[:T]))
    tim.append(_lag1(raw.T[:T]))
  scr, tim = np.mean(scr), np.mean(tim)
  assert -0.01 < scr < 0.04, scr
  assert 0.10 < tim < 0.16, tim
  assert tim > 4 * scr


def test_iid_control_law_and_independence():
  gamma, beta, n = 0.6, 0.5, 400
  params = {"w": jnp.zeros((50,)), "b": jnp.zeros((2, 5))}
  tx = authors.iid_observable_perturbation(1.0, gamma=gamma, beta=beta, mu=1.0, sigma=0.0, key=3)
  st = tx.init(params)
  ones = jax.tree_util.tree_map(jnp.ones_like, params)

  @jax.jit
  def draw(st):
    # update with zero gradient, params = 1, eta = 1: u = -mu * xi
    u, st = tx.update(jax.tree_util.tree_map(jnp.zeros_like, params), st, ones)
    return -jnp.concatenate([u["w"], u["b"].reshape(-1)]), st

  xs = []
  for _ in range(n):
    x, st = draw(st)
    xs.append(np.asarray(x))
  xs = np.stack(xs)                                            # [steps, 60]
  vl, vr, p_left, p_plus = authors.table_marginal(gamma, beta)
  vals = np.float32([vl, -vl, vr, -vr])
  probs = [p_left * p_plus, p_left * (1 - p_plus), (1 - p_left) * p_plus,
           (1 - p_left) * (1 - p_plus)]
  assert np.all(np.isin(xs, vals))
  N = xs.size
  for v, p in zip(vals, probs):  # 5 binomial SEs
    assert abs(np.mean(xs == v) - p) < 5 * math.sqrt(p * (1 - p) / N), (v, p)
  # independence over steps: lag-1 autocorrelation, SE ≈ 1/sqrt(400·60) ≈ 0.0065; bound 4 SE
  assert abs(_lag1(xs)) < 4 / math.sqrt(N)


def test_table_marginal_matches_the_table():
  # The law the iid control draws from vs the entries of a 300-chain table (T = 3000).
  # Tolerances: P(left) from correlated chains, ≈ 0.01 SE → 0.02; P(sign +) is driven by the
  # number of delta = -1 chains, Binomial(300, 0.25): SE of the + fraction ≈ 0.0125 → 0.04.
  T = 3000
  codes, lut = authors.authors_table(G, BETA, T, 0, 0, 300, "mpgd")
  v = lut[codes]
  vl, vr, p_left, p_plus = authors.table_marginal(G, BETA)
  left = np.isclose(np.abs(v), vl)
  plus = np.sign(v) == np.where(left, 1, np.sign(vr))
  assert abs(left.mean() - p_left) < 0.02
  assert abs(plus.mean() - p_plus) < 0.04


def test_gaussian_authors_shared_draws_and_exponent():
  params = {"kernel": jnp.zeros((5, 16)), "bias": jnp.zeros((16,))}   # flax kernel (in, out)
  tx = authors.gaussian_authors_perturbation(0.1, mu=0.0, sigma=1.0, key=0)
  st = tx.init(params)
  zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
  upd = jax.jit(lambda st: tx.update(zeros, st, params))
  draws = []
  for _ in range(300):
    u, st = upd(st)
    draws.append(u)
  k = np.stack([np.asarray(u["kernel"]) for u in draws]) / 0.1       # eta^1 = 0.1
  # one draw per input feature, shared by all 16 output units
  np.testing.assert_array_equal(k, np.broadcast_to(k[:, :, :1], k.shape))
  # variance of a column sum of 16 N(0,1): 16. 1500 draws: SE of the variance ≈ 16·sqrt(2/1500)
  # ≈ 0.58; bound 3 units (≈ 5 SE)
  assert abs(np.var(k[:, :, 0]) - 16.0) < 3.0
  b = np.stack([np.asarray(u["bias"]) for u in draws]) / 0.1
  assert abs(np.var(b) - 1.0) < 0.15 and len(np.unique(b[0])) == 16
  # exponent: eta^p scaling (same key -> same draws)
  tx2 = authors.gaussian_authors_perturbation(0.1, mu=0.0, sigma=1.0, key=0, exponent=0.5)
  u2, _ = tx2.update(zeros, tx2.init(params), params)
  np.testing.assert_allclose(np.asarray(u2["kernel"]) * 0.1 ** 0.5,
                             np.asarray(draws[0]["kernel"]), rtol=1e-5)
  with pytest.raises(ValueError):
    tx3 = authors.gaussian_authors_perturbation(0.1, sigma=1.0, key=0)
    tx3.update({"c": jnp.zeros((3, 3, 2, 4))}, tx3.init({"c": jnp.zeros((3, 3, 2, 4))}),
               {"c": jnp.zeros((3, 3, 2, 4))})


KINDS = ("mpgd_authors", "eq11_authors", "mpgd_authors_time", "eq11_authors_time",
         "iid_observable", "gaussian_authors")


@pytest.mark.parametrize("kind", KINDS)
def test_registered_kinds_run_under_jit(kind):
  spec = registry.get_noise(kind)
  hp = {"gaussian_authors": {}, "iid_observable": {"gamma": 0.6}}.get(kind, {"gamma": 0.6})
  schemes_lib.check(spec, 0.1, hp)
  if "num_steps" in spec.context:  # supplied by the runner from the run
    hp = dict(hp, num_steps=20)
  params = {"Dense_0": {"kernel": jnp.ones((5, 16)), "bias": jnp.ones((16,))},
            "Dense_1": {"kernel": jnp.ones((16, 1)), "bias": jnp.ones((1,))}}
  tx = schemes_lib.build(kind, hp, {"learning_rate": 0.1}, jax.random.key(0))
  st = tx.init(params)
  grads = jax.tree_util.tree_map(lambda p: 0.1 * p, params)

  @jax.jit
  def step(p, st):
    u, st = tx.update(grads, st, p)
    return optax.apply_updates(p, u), st

  p = params
  for _ in range(5):
    p, st = step(p, st)
  chex.assert_tree_all_finite(p)
  assert not np.allclose(np.asarray(p["Dense_0"]["kernel"]), 1 - 5 * 0.01)  # noise was added


def test_traced_seed_vmap_equals_per_seed_programs():
  # One program for seeds 1..4 (seed traced, static seed_range) == four concrete-seed programs.
  params = {"kernel": jnp.ones((5, 16)), "bias": jnp.ones((16,))}
  grads = jax.tree_util.tree_map(jnp.zeros_like, params)

  def run(seed, seed_range):
    tx = authors.mpgd_authors_perturbation(0.1, gamma=0.6, mu=0.01, sigma=0.01, seed=seed,
                                           num_steps=10, seed_range=seed_range)
    st = tx.init(params)
    out = []
    for _ in range(3):
      u, st = tx.update(grads, st, params)
      out.append(u["kernel"])
    return jnp.stack(out)

  batched = jax.jit(jax.vmap(lambda s: run(s, (1, 4))))(jnp.arange(1, 5))
  for i, s in enumerate(range(1, 5)):
    np.testing.assert_array_equal(np.asarray(batched[i]), np.asarray(run(s, None)))
  assert not np.array_equal(np.asarray(batched[0]), np.asarray(batched[1]))
  with pytest.raises(ValueError):
    authors.mpgd_authors_perturbation(0.1, gamma=0.6, seed=7, seed_range=(1, 4))


def _cifar_reference(d, seed, gamma, num_steps, variant):
  """The authors' CIFAR-10 table of a d-entry tensor written from their construction (table seed
  2s: chain i seeded 2s + i for start and sign; eq. 11 second start i + 100·2s with the same
  sign seed), float32 [d, T+1], independent of authors_table / the noise's indexing."""
  first = [2 * seed + i for i in range(d)]
  v = authors.authors_chains(first, first, gamma, BETA, num_steps)
  if variant == "eq11":
    v = v - authors.authors_chains([i + 100 * 2 * seed for i in range(d)], first, gamma, BETA,
                                   num_steps)
  return v.astype(np.float32)


@pytest.mark.parametrize("variant", ["mpgd", "eq11"])
def test_cifar_process_value_for_value(variant):
  """The authors' CIFAR-10 process through optax.masked(stem_mask): at step k the stem conv
  kernel (flax (3,3,3,C)) put back into PyTorch layout (C,3,3,3) and flattened, and the stem BN
  scale (C,), each receive slice k of their own re-read table raw.reshape(-1)[k d:(k+1) d],
  times -η^γ σ. Exact (η = σ = 1) and to float32 rounding of the product (rtol 1e-6: one
  float32 multiplication of η^γ σ by a table value) with their η = 0.1, σ = 0.01. The other
  leaves get nothing; μ = 0 makes the update independent of the parameter values. Seed 2 inside
  the range 1..3 also exercises the shared table's row offset 2·(s - lo)."""
  from chaosopt.tasks import models
  C, T, s, gamma = 4, 6, 2, 0.6
  rng = np.random.default_rng(0)
  params = {"stem_conv": {"kernel": jnp.asarray(rng.normal(size=(3, 3, 3, C)), jnp.float32)},
            "stem_bn": {"scale": jnp.ones(C), "bias": jnp.zeros(C)},
            "head": {"kernel": jnp.ones((C, 2)), "bias": jnp.zeros(2)}}
  mask = models.stem_mask(params)
  raws = {"conv": _cifar_reference(3 * 3 * 3 * C, s, gamma, T, variant),
          "bn": _cifar_reference(C, s, gamma, T, variant)}

  def noise(eta, sigma, p):
    tx = optax.masked(authors.mpgd_authors_perturbation(
        eta, gamma=gamma, beta=BETA, mu=0.0, sigma=sigma, seed=jnp.asarray(s), seed_range=(1, 3),
        num_steps=T, variant=variant, seed_base=0, seed_scale=2), mask)
    st = tx.init(p)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, p)
    step = jax.jit(lambda st: tx.update(zeros, st, p))
    out = []
    for _ in range(T + 1):
      u, st = step(st)
      out.append(jax.tree_util.tree_map(np.asarray, u))
    return out

  shifted = jax.tree_util.tree_map(lambda a: a + 3.0, params)
  for eta, sigma in ((1.0, 1.0), (0.1, 0.01)):
    scale = np.float32(-(eta ** gamma) * sigma)
    got, got_shifted = noise(eta, sigma, params), noise(eta, sigma, shifted)
    for k in range(T + 1):
      conv_torch = np.transpose(got[k]["stem_conv"]["kernel"], (3, 2, 0, 1)).reshape(-1)
      want_conv = raws["conv"].reshape(-1)[k * 108:(k + 1) * 108]
      want_bn = raws["bn"].reshape(-1)[k * C:(k + 1) * C]
      if eta == 1.0:
        np.testing.assert_array_equal(conv_torch, -want_conv)
        np.testing.assert_array_equal(got[k]["stem_bn"]["scale"], -want_bn)
      else:
        np.testing.assert_allclose(conv_torch, scale * want_conv, rtol=1e-6, atol=0)
        np.testing.assert_allclose(got[k]["stem_bn"]["scale"], scale * want_bn, rtol=1e-6, atol=0)
      for path in (("stem_bn", "bias"), ("head", "kernel"), ("head", "bias")):
        np.testing.assert_array_equal(got[k][path[0]][path[1]], 0.0)
      chex.assert_trees_all_equal(got[k], got_shifted[k])
    # the table is not trivially zero (mpgd: v never vanishes; eq. 11: v(y1) - v(y2) often does)
    final = np.abs(got[T]["stem_conv"]["kernel"])
    assert (final.min() if variant == "mpgd" else final.max()) > 0


def test_seed_rule_arguments_default_to_the_airfoil_rule():
  """seed_base/seed_scale generalize the seed rule; the defaults are the airfoil rule
  (123456 + s), and seed_scale = 2 gives the CIFAR rule 2s in the shared table (rows
  2·(s - lo) + i)."""
  T, d = 3, 5
  a = authors.authors_raw_table(G, BETA, T, 4, d)
  b = authors.authors_raw_table(G, BETA, T, 4, d, "mpgd", authors.SEED_BASE, 1)
  np.testing.assert_array_equal(a, b)
  codes, lookup = authors.authors_table(G, BETA, T, 1, 3, d, "mpgd", 0, 2)
  assert codes.shape == (2 * 2 + d, T + 1)
  for s in (1, 2, 3):
    np.testing.assert_array_equal(lookup[codes[2 * (s - 1):2 * (s - 1) + d]],
                                  _cifar_reference(d, s, G, T, "mpgd"))
  codes, lookup = authors.authors_table(G, BETA, T, 1, 3, d, "eq11", 0, 2)
  for s in (1, 2, 3):
    np.testing.assert_array_equal(lookup[codes[s - 1]], _cifar_reference(d, s, G, T, "eq11"))
  with pytest.raises(ValueError, match="seed_scale"):
    authors.mpgd_authors_perturbation(0.1, gamma=G, seed_scale=0)
  with pytest.raises(ValueError, match="seed_base"):
    authors.mpgd_authors_perturbation(0.1, gamma=G, seed_base=-1)
