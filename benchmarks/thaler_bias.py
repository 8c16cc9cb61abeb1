"""Invariant-measure bias of Thaler chains: long-run fraction of time above y* vs 1 - 2^{γ-1}.

Issue 2's protocol: γ = 0.65, 2·10^5 chains started from the invariant measure, 3000 steps.
Compares the plain float32 formula ``(y^{1-γ} + (1+y)^{1-γ} - 1)^{1/(1-γ)} mod 1`` with
chaosopt's dithered chain (float32, or float64 with --x64), over several seeds.
Usage: python benchmarks/thaler_bias.py [--x64] [--seeds 3] [--chains 200000] [--steps 3000]
"""
import argparse

import jax

p = argparse.ArgumentParser()
p.add_argument("--x64", action="store_true")
p.add_argument("--seeds", type=int, default=3)
p.add_argument("--chains", type=int, default=200_000)
p.add_argument("--steps", type=int, default=3000)
p.add_argument("--gamma", type=float, default=0.65)
args = p.parse_args()
if args.x64:
  jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from chaosopt.dynamics import random_bits, thaler  # noqa: E402

g = args.gamma
c = thaler.thaler_constants(g)
target = 1 - 2 ** (g - 1)
s = 1 - g


def naive(y, key):
  y2 = jnp.mod((y**s + (1 + y) ** s - 1) ** (1 / s), 1.0)
  return y2, y > jnp.asarray(c.ystar, y.dtype)


def dithered(y, key):
  return thaler.step(y, random_bits.bits(key, y.shape), c)


for name, fn in [("plain formula", naive), ("chaosopt dithered", dithered)]:
  biases = []
  for seed in range(args.seeds):
    k0, k1 = jax.random.split(jax.random.key(seed))
    y0 = thaler.sample_invariant(k0, (args.chains,), g)

    @jax.jit
    def run(y, key):
      def body(carry, k):
        y, cnt = carry
        y, right = fn(y, k)
        return (y, cnt + right.astype(jnp.int32)), None
      return jax.lax.scan(body, (y, jnp.zeros(y.shape, jnp.int32)),
                          jax.random.split(key, args.steps))[0]

    y, cnt = run(y0, k1)
    frac = np.asarray(cnt) / args.steps
    biases.append(frac.mean() - target)
    se = frac.std() / np.sqrt(frac.size)
    print(f"{name:18s} {y.dtype} seed {seed}: bias {biases[-1]:+.2e} (se {se:.1e}), "
          f"chains at 0: {int((np.asarray(y) == 0).sum())}", flush=True)
  print(f"{name:18s} mean bias over {args.seeds} seeds: {np.mean(biases):+.2e} "
        f"± {np.std(biases, ddof=1) / np.sqrt(args.seeds):.1e}", flush=True)
