"""Compile time of the first ``jax.jit(tx.update)`` call versus the number of pytree leaves.

No paper equation: measures the cost of building and compiling one update of each noisy-GD
transformation (P0 eq. 8 / eq. 11, the Gaussian baseline, the Lévy Euler scheme of P2 eq. 3)
relative to ``optax.adam`` on the same pytree. The time is lowering + XLA compilation + the first
execution of ``jax.jit(tx.update)(grads, state, params)`` (``block_until_ready``), i.e. what a user
waits for at the first step. Leaf ``i`` has shape ``(i % 5 + 1, 3)`` (float32), so a pytree mixes
a few shapes like a small network.

Ratios are measured within one run (the machine is shared and noisy); ``optax.adam`` is measured
once per leaf count right before the transforms.

  python benchmarks/compile_time.py [--leaves 10 100 1000] [--only mpgd gaussian ...] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def transforms():
  """name -> factory(params) of every transform measured (per-leaf alpha needs the params)."""
  import jax
  import optax

  import chaosopt

  kw = dict(mu=0.01, sigma=0.05, key=0)
  return {
      "optax.adam": lambda p: optax.adam(1e-3),
      "mpgd": lambda p: chaosopt.mpgd(0.1, gamma=0.7, beta=0.5, **kw),
      "mpgd eq11": lambda p: chaosopt.mpgd(0.1, gamma=0.7, variant="eq11", **kw),
      "gaussian": lambda p: optax.chain(optax.sgd(0.1), chaosopt.gaussian_perturbation(0.1, **kw)),
      "levy scalar alpha": lambda p: chaosopt.levy_gd(0.1, alpha=1.5, **kw),
      "levy per-leaf alpha": lambda p: chaosopt.levy_gd(0.1, alpha=leaf_alphas(p), **kw),
  }


def leaf_alphas(params):
  """One alpha per leaf, cycling through 7 values in [1.2, 1.9)."""
  return {k: 1.2 + 0.1 * (i % 7) for i, k in enumerate(sorted(params))}


def make_params(n: int):
  import jax.numpy as jnp
  return {f"l{i:05d}": jnp.full((i % 5 + 1, 3), 0.01 * (i + 1), jnp.float32) for i in range(n)}


def first_update_seconds(tx, params) -> float:
  import jax
  state = tx.init(params)
  grads = params
  t0 = time.perf_counter()
  out = jax.jit(tx.update)(grads, state, params)
  jax.block_until_ready(out)
  return time.perf_counter() - t0


def main(argv=None):
  ap = argparse.ArgumentParser()
  ap.add_argument("--leaves", type=int, nargs="+", default=[10, 100, 1000])
  ap.add_argument("--only", nargs="*", default=None, help="subset of transform names")
  ap.add_argument("--repeats", type=int, default=1,
                  help="rounds per leaf count (each round measures adam, then every transform); "
                       "the summary gives the median ratio over rounds")
  args = ap.parse_args(argv)
  import jax
  import numpy as np
  jax.config.update("jax_compilation_cache_dir", None)  # never read a persistent cache
  facts = transforms()
  names = [n for n in facts if n == "optax.adam" or args.only is None or n in args.only]
  print(f"jax {jax.__version__}, backend {jax.default_backend()}, "
        f"load average {os.getloadavg()[0]:.1f}")
  print(f"{'leaves':>7} {'round':>5} {'transform':<22} {'seconds':>8} {'/ adam':>7}")
  summary = []
  for n in args.leaves:
    params = make_params(n)
    ratios = {name: [] for name in names}
    secs = {name: [] for name in names}
    for r in range(args.repeats):
      adam = None
      for name in names:
        jax.clear_caches()
        s = first_update_seconds(facts[name](params), params)
        adam = s if name == "optax.adam" else adam
        ratios[name].append(s / adam)
        secs[name].append(s)
        print(f"{n:>7} {r:>5} {name:<22} {s:8.2f} {s / adam:7.2f}", flush=True)
    summary += [(n, name, float(np.median(secs[name])), float(np.median(ratios[name])))
                for name in names]
  print(f"\nmedian over {args.repeats} round(s) (load average now {os.getloadavg()[0]:.1f}):")
  print(f"{'leaves':>7} {'transform':<22} {'seconds':>8} {'/ adam':>7}")
  for n, name, s, q in summary:
    print(f"{n:>7} {name:<22} {s:8.2f} {q:7.2f}")


if __name__ == "__main__":
  main()
