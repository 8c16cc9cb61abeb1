"""Benchmark: the ensemble driver's seed-axis strategies on the airfoil MLP (P0 Table 1) and
the 200-seed Table 1 (issue: many seeds fast).

For N seeds of one MPGD scheme (γ = 0.6), ``seed_strategy`` ``vmap`` (one program for all
seeds), ``sequential`` (one seed at a time, one program reused) and vmapped blocks of 8 are
timed end to end (compilation included, wall and process CPU), median of ``--reps`` runs, and
printed as ratios to ``vmap`` measured in the same run. ``--table200`` also times the whole
Table 1 (11 schemes) at 200 seeds × 3000 steps, without the Hessian trace.

  python benchmarks/seed_strategy.py [--num_steps 500] [--reps 3] [--table200]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import jax

from chaosopt import experiments
from chaosopt.train import table


def timed(overrides) -> tuple[float, float]:
  _, cfg, _ = experiments.load("airfoil_table1", [("task.hessian_trace", "false")] + overrides)
  jax.clear_caches()
  t0, c0 = time.perf_counter(), time.process_time()
  table.run_config(cfg, log=lambda m: None)
  return time.perf_counter() - t0, time.process_time() - c0


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__)
  ap.add_argument("--num_steps", type=int, default=500)
  ap.add_argument("--reps", type=int, default=3)
  ap.add_argument("--seeds", default="1,8,32")
  ap.add_argument("--table200", action="store_true")
  args = ap.parse_args(argv)
  print(f"jax {jax.__version__} ({jax.default_backend()}), {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f}; {args.num_steps} steps, median of {args.reps}")
  for n in [int(x) for x in args.seeds.split(",")]:
    rows = {}
    for strategy in ("vmap", "sequential", "8"):
      if strategy == "8" and n <= 8:
        continue
      ts = [timed([("only", "mpgd_0.6"), ("num_seeds", str(n)),
                   ("num_steps", str(args.num_steps)), ("chunk_size", str(args.num_steps)),
                   ("seed_strategy", strategy if strategy != "8" else "8")])
            for _ in range(args.reps)]
      rows[strategy] = (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
    base = rows["vmap"][0]
    print(f"  {n:3d} seeds: " + ", ".join(
        f"{k} {w:.2f} s wall ({c:.2f} s CPU, {w / base:.2f}x vmap)" for k, (w, c) in rows.items()))
  if args.table200:
    w, c = timed([("num_seeds", "200")])
    print(f"whole Table 1, 11 schemes x 200 seeds x 3000 steps: {w:.1f} s wall, {c:.1f} s CPU")


if __name__ == "__main__":
  main()
