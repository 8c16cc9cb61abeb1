"""Cost of the MSGD randomized-loss gradient (P4 Alg. 1) relative to a plain GD gradient, and to
the naive route through the per-example gradient matrix (∇𝓛ᵀ W, n×d memory).

Prints ratios measured in one run (same process, same inputs, jitted, median of repeats):
  msgd / gd      -- should be ≈ 1: one backward pass, the noise costs O(n)
  naive / msgd   -- forming ∇𝓛 (vmap of per-example grads) and contracting it with W
  svag / sgd(b)  -- SVAG's two-batch gradient vs one batch of the same size (≈ 2: 2b examples)

  python benchmarks/msgd_overhead.py [--n 1000] [--hidden 256] [--repeats 20]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
  ap = argparse.ArgumentParser()
  ap.add_argument("--n", type=int, default=1000)
  ap.add_argument("--dim", type=int, default=64)
  ap.add_argument("--hidden", type=int, default=256)
  ap.add_argument("--batch", type=int, default=50)
  ap.add_argument("--repeats", type=int, default=20)
  args = ap.parse_args(argv)

  import jax
  import jax.numpy as jnp
  import numpy as np
  from jax.flatten_util import ravel_pytree

  from chaosopt.estimators import (full_batch_gradient, gradient_matrix, make_sampling_noise,
                                   msgd_gradient, sgd_gradient, svag_gradient)

  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(args.n, args.dim)), jnp.float32)
  y = jnp.asarray(rng.integers(0, 10, args.n))
  k1, k2 = jax.random.split(jax.random.key(0))
  params = {"w1": jax.random.normal(k1, (args.dim, args.hidden)) / np.sqrt(args.dim),
            "w2": jax.random.normal(k2, (args.hidden, 10)) / np.sqrt(args.hidden)}

  def per_example(p, batch):
    xb, yb = batch
    logits = jnp.tanh(xb @ p["w1"]) @ p["w2"]
    return jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, yb[:, None], -1)[:, 0]

  data = (x, y)
  noise = make_sampling_noise("gaussian_cov", args.n, args.batch)
  fns = {
      "gd": jax.jit(lambda p, k: full_batch_gradient(per_example, p, data)[0]),
      "msgd": jax.jit(lambda p, k: msgd_gradient(per_example, p, data, k, noise)[0]),
      "naive": jax.jit(lambda p, k: ravel_pytree(p)[1](
          gradient_matrix(per_example, p, data).T @ (1.0 / args.n + noise(k)))),
      "sgd_b": jax.jit(lambda p, k: sgd_gradient(per_example, p, data, k,
                                                 batch_size=args.batch)[0]),
      "svag_b": jax.jit(lambda p, k: svag_gradient(per_example, p, data, k,
                                                   batch_size=args.batch, l=4)[0]),
  }
  times = {}
  key = jax.random.key(1)
  for name, f in fns.items():
    jax.block_until_ready(f(params, key))
    ts = []
    for i in range(args.repeats):
      t = time.perf_counter()
      jax.block_until_ready(f(params, jax.random.fold_in(key, i)))
      ts.append(time.perf_counter() - t)
    times[name] = float(np.median(ts))
  d = sum(a.size for a in jax.tree_util.tree_leaves(params))
  print(f"backend {jax.default_backend()}, n = {args.n}, d = {d}, batch {args.batch}")
  for k, v in times.items():
    print(f"  {k:7s} {1e3 * v:9.3f} ms")
  print(f"ratio msgd / gd       = {times['msgd'] / times['gd']:.2f}")
  print(f"ratio naive / msgd    = {times['naive'] / times['msgd']:.2f}")
  print(f"ratio svag / sgd(b)   = {times['svag_b'] / times['sgd_b']:.2f}")


if __name__ == "__main__":
  main()
