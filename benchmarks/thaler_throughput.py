"""Benchmark: Thaler observable throughput vs jax.random.normal, and MPGD vs SGD step time.

Measured in one run (issue 2):
  1. coordinate-steps per second of the signed Thaler observable chain (map + rounding dither +
     skewness sign, i.e. what MPGD pays per coordinate per chain) over the samples per second of
     ``jax.random.normal`` — goal >= 1.0;
  2. per-step time of ``chaosopt.mpgd`` (eq. 8, two chains per coordinate) over ``optax.sgd`` on
     the 113-parameter airfoil MLP (5-16-1), full batch of 1202 rows — goal <= 1.10.
The Thaler/normal ratio is measured --runs times (each the best of 5 repetitions of both,
interleaved) and the median is reported, since the machine's speed drifts between runs.
Usage: python benchmarks/thaler_throughput.py [--x64] [--runs 5] [--no-mpgd]
"""
import argparse
import time

import jax

parser = argparse.ArgumentParser()
parser.add_argument("--x64", action="store_true")
parser.add_argument("--coords", type=int, default=1 << 20)
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--runs", type=int, default=5)
parser.add_argument("--no-mpgd", action="store_true")
args = parser.parse_args()
if args.x64:
  jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import chaosopt  # noqa: E402
from chaosopt.dynamics import observables, random_bits  # noqa: E402
from chaosopt.core.loop import best_of  # noqa: E402


n, k = args.coords, args.steps
key = jax.random.key(0)
state0 = observables.init_chains(key, (n,), 0.7, 0.5)


@jax.jit
def thaler_run(state, key):
  def body(c, kk):
    s, acc = c
    v, s = observables.step(s, random_bits.bits(kk, s.shape), 0.7, 0.5)
    return (s, acc + v), None
  return jax.lax.scan(body, (state, jnp.zeros_like(state)), jax.random.split(key, k))[0]


@jax.jit
def normal_run(key):
  def body(acc, kk):
    return acc + jax.random.normal(kk, (n,), acc.dtype), None
  return jax.lax.scan(body, jnp.zeros((n,), state0.dtype), jax.random.split(key, k))[0]


def interleaved_best_of(fa, fb, reps=5):
  """Best wall times of fa and fb over ``reps`` calls each, alternating a and b so that both see
  the same machine load (the 2-core machine is shared: its speed drifts within seconds)."""
  jax.block_until_ready(fa())
  jax.block_until_ready(fb())
  ta, tb = [], []
  for _ in range(reps):
    for f, ts in ((fa, ta), (fb, tb)):
      t0 = time.perf_counter()
      jax.block_until_ready(f())
      ts.append(time.perf_counter() - t0)
  return min(ta), min(tb)


ratios = []
for run in range(args.runs):
  t_thaler, t_normal = interleaved_best_of(lambda: thaler_run(state0, key), lambda: normal_run(key))
  r_thaler, r_normal = n * k / t_thaler, n * k / t_normal
  ratios.append(r_thaler / r_normal)
  print(f"run {run}: dtype {state0.dtype}: Thaler observable {r_thaler:.3e} coord-steps/s, "
        f"jax.random.normal {r_normal:.3e} samples/s, ratio {ratios[-1]:.2f}", flush=True)
print(f"Thaler / jax.random.normal throughput ratio: median {np.median(ratios):.2f} over "
      f"{len(ratios)} runs ({', '.join(f'{r:.2f}' for r in sorted(ratios))}) (goal >= 1.0)")
if args.no_mpgd:
  raise SystemExit

# MPGD vs SGD on the 113-parameter MLP, full batch.
rng = np.random.RandomState(0)
x = jnp.asarray(rng.randn(1202, 5), state0.dtype)
y = jnp.asarray(rng.randn(1202), state0.dtype)


def init_mlp(key):
  k1, k2 = jax.random.split(key)
  return {"w1": jax.random.normal(k1, (5, 16)) * 0.4, "b1": jnp.zeros(16),
          "w2": jax.random.normal(k2, (16, 1)) * 0.25, "b2": jnp.zeros(1)}


def loss(p):
  h = jax.nn.relu(x @ p["w1"] + p["b1"])
  return jnp.mean(((h @ p["w2"] + p["b2"])[:, 0] - y) ** 2)


params = init_mlp(key)
assert sum(v.size for v in params.values()) == 113
steps = 3000


def trainer(tx):
  @jax.jit
  def run(params):
    def body(c, _):
      p, s = c
      g = jax.grad(loss)(p)
      u, s = tx.update(g, s, p)
      return (optax.apply_updates(p, u), s), None
    return jax.lax.scan(body, (params, tx.init(params)), None, length=steps)[0][0]
  return run


sgd = trainer(optax.sgd(0.1))
mp = trainer(chaosopt.mpgd(0.1, gamma=0.7, beta=0.5, mu=0.01, sigma=0.02, key=1))
t_sgd = best_of(lambda: sgd(params))
t_mp = best_of(lambda: mp(params))
print(f"113-param MLP full-batch step: sgd {t_sgd / steps * 1e6:.1f} us, mpgd {t_mp / steps * 1e6:.1f} us,"
      f" ratio {t_mp / t_sgd:.3f} (goal <= 1.10)")
