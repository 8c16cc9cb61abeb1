"""Benchmark: alpha-stable sampling and per-parameter tail-index estimation (issue 5).

Measured in one run (ratios of timings taken in the same process):
  1. SaS sampling (CMS, :func:`chaosopt.dynamics.stable.sample_stable`, alpha = 1.5, 10^6
     float32 draws, jitted) vs ``scipy.stats.levy_stable.rvs`` (goal: >= 5x faster) and vs
     ``jax.random.normal`` (goal: >= 0.3x its throughput);
  2. per-parameter tail indices of 10^5 parameters x 10^3 samples (Mohammadi et al., P3 Thm F.2;
     plus the log-moment and CF fits, which also give the scale) — goal <= 10 s on 2 CPU cores;
  3. ``scipy.stats.levy_stable.fit`` on one parameter's 10^3 samples (run once, in a subprocess
     with a timeout) vs our fit of that parameter.
Usage: python benchmarks/stable_sampling.py [--n 1000000] [--fit-timeout 300]
"""
import argparse
import json
import multiprocessing as mp
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from chaosopt.dynamics import tail_index as ti
from chaosopt.dynamics.stable import sample_stable
from chaosopt.core.loop import best_of
from chaosopt.train.report import environment


def _scipy_fit(x, q):
  t0 = time.perf_counter()
  params = stats.levy_stable.fit(x)
  q.put((time.perf_counter() - t0, [float(p) for p in params]))


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--n", type=int, default=1_000_000)
  p.add_argument("--params", type=int, default=100_000)
  p.add_argument("--samples", type=int, default=1_000)
  p.add_argument("--fit-timeout", type=float, default=300.0)
  args = p.parse_args()
  out = {"environment": environment()}
  alpha = 1.5
  key = jax.random.key(0)

  ours = jax.jit(lambda k: sample_stable(k, alpha, 0.0, (args.n,)))
  normal = jax.jit(lambda k: jax.random.normal(k, (args.n,)))
  t_ours = best_of(lambda: ours(key))
  t_normal = best_of(lambda: normal(key))
  t0 = time.perf_counter()
  stats.levy_stable.rvs(alpha, 0.0, size=args.n, random_state=0)
  t_scipy = time.perf_counter() - t0
  out["sampling"] = {"n": args.n, "alpha": alpha, "ours_s": t_ours, "normal_s": t_normal,
                     "scipy_rvs_s": t_scipy, "speedup_vs_scipy": t_scipy / t_ours,
                     "throughput_vs_normal": t_normal / t_ours}
  print(f"sampling 1e{int(np.log10(args.n))}: ours {t_ours*1e3:.1f} ms, normal {t_normal*1e3:.1f} ms, "
        f"scipy {t_scipy*1e3:.0f} ms | vs scipy {t_scipy/t_ours:.1f}x faster (goal >= 5), "
        f"throughput vs normal {t_normal/t_ours:.2f} (goal >= 0.3)")

  x = sample_stable(jax.random.key(1), alpha, 0.0, (args.params, args.samples))
  est = {}
  for name, fn in [("mohammadi", lambda: ti.mohammadi_alpha(x)),
                   ("log_moment", lambda: ti.log_moment_fit(x)),
                   ("cf_fit", lambda: ti.cf_fit(x))]:
    est[name] = best_of(fn, reps=2)
    print(f"tail index {args.params} params x {args.samples} samples, {name}: {est[name]:.2f} s"
          + (" (goal <= 10 s)" if name == "mohammadi" else ""))
  out["tail_index"] = {"params": args.params, "samples": args.samples, "seconds": est}

  one = np.asarray(x[0], np.float64)
  ours_fit = jax.jit(lambda v: ti.cf_fit(v))
  t_one = best_of(lambda: ours_fit(x[0]))
  q = mp.get_context("spawn").Queue()
  proc = mp.get_context("spawn").Process(target=_scipy_fit, args=(one, q))
  t0 = time.perf_counter()
  proc.start()
  proc.join(args.fit_timeout)
  if proc.is_alive():
    proc.terminate()
    proc.join()
    t_fit, fit_params = None, None
    print(f"scipy levy_stable.fit (1 param, {args.samples} samples): > {args.fit_timeout:.0f} s "
          f"(timed out); ours (cf_fit) {t_one*1e3:.2f} ms: ratio > {args.fit_timeout/t_one:.0f}x")
  else:
    t_fit, fit_params = q.get()
    print(f"scipy levy_stable.fit (1 param, {args.samples} samples): {t_fit:.1f} s -> {fit_params}; "
          f"ours (cf_fit) {t_one*1e3:.2f} ms: ratio {t_fit/t_one:.0f}x")
  out["fit_one_param"] = {"scipy_fit_s": t_fit, "timeout_s": args.fit_timeout,
                          "scipy_params": fit_params, "ours_cf_fit_s": t_one,
                          "ours_params": [float(v) for v in ours_fit(x[0])]}
  print(json.dumps(out["sampling"]))


if __name__ == "__main__":
  main()
