"""Invariant-measure bias of Thaler chains (P0 eq. 5): long-run fraction of time above y* vs
ν((y*, 1]) = 1 - 2^{γ-1}.

Chains start from the invariant measure (``thaler.sample_invariant``, exact), so every step of an
exact chain has P(y_k > y*) = 1 - 2^{γ-1}: no warm-up is needed and any drift is a defect of the
chain. Prints, per (γ, dtype), bias = mean over chains of the per-chain fraction minus the target,
± its standard error. The chains are independent, so the standard error of the mean of the
per-chain fractions (each a time average over the whole run) already includes all time
correlation inside a chain; it is computed over ``--batches`` independent batches as well
(batch-means), and both are printed. ``--plain`` adds the plain float formula
``(y^{1-γ}+(1+y)^{1-γ}-1)^{1/(1-γ)} mod 1`` for comparison.

Usage: python benchmarks/thaler_bias.py [--gammas 0.55 0.65 0.75] [--dtypes float32 float64]
       [--chains 1000000] [--steps 10000] [--batches 1] [--seed 0] [--plain]
(1e10 coordinate-steps per (γ, dtype) = --chains 1000000 --steps 10000.)
"""
import argparse
import time

import jax

p = argparse.ArgumentParser()
p.add_argument("--gammas", type=float, nargs="+", default=[0.55, 0.65, 0.75])
p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
p.add_argument("--chains", type=int, default=200_000, help="chains per batch")
p.add_argument("--steps", type=int, default=3000)
p.add_argument("--batches", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--plain", action="store_true")
args = p.parse_args()
jax.config.update("jax_enable_x64", True)  # float32 chains are requested explicitly below

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from chaosopt.dynamics import random_bits, thaler  # noqa: E402


def plain(c, g):
  s = 1 - g

  def fn(y, key):
    y2 = jnp.mod((y**s + (1 + y) ** s - 1) ** (1 / s), 1.0)
    return y2, y > jnp.asarray(c.ystar, y.dtype)
  return fn


def dithered(c, g):
  def fn(y, key):
    return thaler.step(y, random_bits.bits(key, y.shape), c)
  return fn


def fractions(fn, g, dtype, key):
  k0, k1 = jax.random.split(key)
  y0 = thaler.sample_invariant(k0, (args.chains,), g, dtype)
  assert y0.dtype == dtype, y0.dtype

  @jax.jit
  def run(y, key):
    def body(carry, k):
      y, cnt = carry
      y, right = fn(y, k)
      return (y, cnt + right.astype(jnp.int32)), None
    return jax.lax.scan(body, (y, jnp.zeros(y.shape, jnp.int32)),
                        jax.random.split(key, args.steps))[0]

  y, cnt = run(y0, k1)
  assert y.dtype == dtype, y.dtype
  return np.asarray(cnt) / args.steps


print(f"{args.batches} x {args.chains} chains x {args.steps} steps per (gamma, dtype) = "
      f"{args.batches * args.chains * args.steps:.2e} coordinate-steps; seed {args.seed}")
for g in args.gammas:
  c = thaler.thaler_constants(g)
  target = 1 - 2 ** (g - 1)
  for dt in args.dtypes:
    dtype = jnp.dtype(dt)
    for name, make in [("chaosopt", dithered)] + ([("plain", plain)] if args.plain else []):
      t0 = time.perf_counter()
      keys = jax.random.split(jax.random.fold_in(jax.random.key(args.seed), int(g * 1000)),
                              args.batches)
      fr = [fractions(make(c, g), g, dtype, k) for k in keys]
      allf = np.concatenate(fr)
      bias = allf.mean() - target
      se = allf.std() / np.sqrt(allf.size)
      bm = ""
      if args.batches > 1:
        means = np.array([f.mean() for f in fr])
        bm = f", batch-means se {means.std(ddof=1) / np.sqrt(len(means)):.2e}"
      print(f"gamma {g:.2f} {dt:7s} {name:8s}: bias {bias:+.2e} +- {se:.2e} (se) = "
            f"{bias / se:+.1f} se{bm}  [{time.perf_counter() - t0:.0f} s]", flush=True)
