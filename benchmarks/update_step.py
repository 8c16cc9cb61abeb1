"""Steady-state time of one jitted optimizer update at 10^6 coordinates: MPGD vs optax.

No paper equation: measures the cost of one step of the perturbation of P0 eq. 8 (MPGD, one
Thaler chain per coordinate and per noise field) against ``optax.add_noise`` (the Gaussian noise
MPGD replaces) and ``optax.adam`` on the same float32 parameters, in ONE run (the machine is
shared and noisy, so only ratios within a run mean anything). Each transform is one
``jax.jit(tx.update, donate_argnums=1)`` call (the optimizer state is donated, as in a training
loop); a repeat times ``--steps`` consecutive updates (``block_until_ready`` at the end) and
the per-update time is the median over ``--repeats`` repeats, interleaved across transforms.

Also printed: the state traffic of each update (bytes read + written: updates, params when the
transform reads them, and the optimizer state in and out) divided by its time, against the
bandwidth of a plain jitted copy of the same number of bytes (the machine's reference).

  python benchmarks/update_step.py [--coords 1000000] [--leaves 1] [--repeats 7] [--steps 20]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def transforms():
  """name -> (factory, reads params): the transforms measured, perturbations alone except adam."""
  import optax

  import chaosopt
  return {
      "mpgd eq8 (mu = 0)": (lambda: chaosopt.mpgd_perturbation(
          0.1, gamma=0.7, beta=0.5, sigma=0.05, key=0), False),
      "mpgd eq8 (mu > 0)": (lambda: chaosopt.mpgd_perturbation(
          0.1, gamma=0.7, beta=0.5, mu=0.01, sigma=0.05, key=0), True),
      "mpgd eq11 (mu > 0)": (lambda: chaosopt.mpgd_perturbation(
          0.1, gamma=0.7, variant="eq11", mu=0.01, sigma=0.05, key=0), True),
      "optax.add_noise": (lambda: optax.add_noise(0.01, 0.55, 0), False),
      "optax.adam": (lambda: optax.adam(1e-3), True),
  }


def make_params(n: int, leaves: int):
  import jax.numpy as jnp
  sizes = [n // leaves + (i < n % leaves) for i in range(leaves)]
  return {f"l{i:04d}": jnp.linspace(-1.0, 1.0, s, dtype=jnp.float32) for i, s in enumerate(sizes)}


def state_bytes(state) -> int:
  import jax
  return sum(x.nbytes for x in jax.tree_util.tree_leaves(state) if hasattr(x, "nbytes")
             and not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key))


def main(argv=None):
  ap = argparse.ArgumentParser()
  ap.add_argument("--coords", type=int, default=1_000_000)
  ap.add_argument("--leaves", type=int, default=1)
  ap.add_argument("--repeats", type=int, default=7)
  ap.add_argument("--steps", type=int, default=20)
  ap.add_argument("--only", nargs="*", default=None)
  args = ap.parse_args(argv)
  import jax
  import jax.numpy as jnp
  import numpy as np

  params = make_params(args.coords, args.leaves)
  grads = jax.tree_util.tree_map(lambda p: 0.1 * jnp.cos(p), params)
  pbytes = sum(p.nbytes for p in params.values())
  facts = {k: v for k, v in transforms().items()
           if args.only is None or k in args.only or k.startswith("optax.")}

  runs, traffic = {}, {}
  for name, (fact, reads_params) in facts.items():
    tx = fact()
    state = tx.init(params)
    sb = state_bytes(state)
    # read updates (+ params) and the state, write updates and the state
    traffic[name] = (sb, 2 * pbytes + (pbytes if reads_params else 0) + 2 * sb)
    upd = jax.jit(tx.update, donate_argnums=1)

    def run(state, upd=upd):
      for _ in range(args.steps):
        out, state = upd(grads, state, params)
      jax.block_until_ready((out, state))
      return state
    runs[name] = [run, state]

  # bandwidth reference: a jitted copy (read + write) of as many bytes as MPGD eq8 (mu > 0) moves
  ref_bytes = max(t for _, t in traffic.values())
  # one read + one write pass into a donated buffer (like the donated optimizer states)
  copy = jax.jit(lambda x: x + 1.0, donate_argnums=0)

  def run_copy(x):
    for _ in range(args.steps):
      x = copy(x)
    return jax.block_until_ready(x)
  runs["copy (bandwidth)"] = [run_copy, jnp.zeros(ref_bytes // 8, jnp.float32)]

  for entry in runs.values():  # compile and reach the steady state
    entry[1] = entry[0](entry[1])
  times = {name: [] for name in runs}
  for _ in range(args.repeats):
    for name, entry in runs.items():
      t0 = time.perf_counter()
      entry[1] = entry[0](entry[1])
      times[name].append((time.perf_counter() - t0) / args.steps)
  med = {name: float(np.median(t)) for name, t in times.items()}
  bw = 2 * (ref_bytes // 8) * 4 / med["copy (bandwidth)"]

  print(f"jax {jax.__version__}, backend {jax.default_backend()}, {args.coords} float32 "
        f"coordinates in {args.leaves} leaf/leaves, median of {args.repeats} repeats x "
        f"{args.steps} updates, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
  print(f"{'transform':<20} {'ms/update':>9} {'/add_noise':>10} {'/adam':>7} "
        f"{'state B/coord':>13} {'GB/s':>6} {'/copy':>6}")
  for name, t in med.items():
    if name == "copy (bandwidth)":
      print(f"{name:<20} {t * 1e3:9.3f} {'':>10} {'':>7} {'':>13} {bw / 1e9:6.1f} {1.0:6.2f}")
      continue
    sb, tb = traffic[name]
    print(f"{name:<20} {t * 1e3:9.3f} {t / med['optax.add_noise']:10.2f} "
          f"{t / med['optax.adam']:7.2f} {sb / args.coords:13.1f} {tb / t / 1e9:6.1f} "
          f"{tb / t / bw:6.2f}")
  print("spread (min-max ms): " + ", ".join(
      f"{n} {min(t) * 1e3:.2f}-{max(t) * 1e3:.2f}" for n, t in times.items()))


if __name__ == "__main__":
  main()
