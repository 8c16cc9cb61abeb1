"""Benchmark: the whole of P0 Table 1 (airfoil, 10 schemes x 5 seeds x 3000 full-batch epochs)
as a few vmapped, jitted programs, and 5 seeds vmapped vs 1 seed.

Reference: the authors' PyTorch/numpy script takes about 64 s per 3000-epoch run on a 2-core CPU
here, about 55 min for the >= 50 runs of the table. Goals: whole table (compilation included)
>= 150x faster (about 20 s); 5 seeds vmapped <= 1.5x the time of 1 seed.

  python benchmarks/table1.py [--num_steps 3000]

Each measurement is one ``runner.run`` from a fresh set of jitted functions (compilation
included); wall and process CPU time are printed (on a shared, loaded machine the CPU time is
the more stable figure). Compile and per-step costs are separated with a second run of one chunk:
``T(n) = C + n e``.
"""
from __future__ import annotations

import argparse
import os
import time

from chaosopt import experiments
from chaosopt.train import report, table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTHORS_S_PER_RUN = 64.0
AUTHORS_TABLE_S = 55 * 60.0


def timed_run(overrides):
  _, cfg, _ = experiments.load("airfoil_table1", [("task.hessian_trace", "false")] + overrides)
  t0, c0 = time.perf_counter(), time.process_time()
  res = table.run_config(cfg, log=lambda m: None)
  return time.perf_counter() - t0, time.process_time() - c0, res


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__)
  ap.add_argument("--num_steps", type=int, default=3000)
  ap.add_argument("--scheme", default="mpgd_0.6", help="scheme for the seeds comparison")
  args = ap.parse_args(argv)
  n, chunk = args.num_steps, 250
  env = report.environment()
  print(f"machine: {env['platform']}, {env['cpu_count']} CPUs, jax {env['jax']} "
        f"({env['backend']}), {env['date']}; load average {os.getloadavg()}")

  t_table, cpu_table, res = timed_run([("num_steps", str(n)), ("chunk_size", str(chunk))])
  runs = len(res.schemes) * len(res.settings["seeds"])
  print(f"whole Table 1: {len(res.schemes)} schemes x {len(res.settings['seeds'])} seeds x {n} "
        f"epochs = {runs} runs in {t_table:.1f} s wall, {cpu_table:.1f} s process CPU "
        f"(compile included); groups: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in res.timings.items()))
  print(f"  vs authors' ~{AUTHORS_TABLE_S / 60:.0f} min: {AUTHORS_TABLE_S / t_table:.0f}x faster "
        f"(goal >= 150x); per run {t_table / runs:.2f} s vs {AUTHORS_S_PER_RUN:.0f} s")

  out = {}
  for seeds in (1, 5):
    base = [("only", args.scheme), ("num_seeds", str(seeds)), ("chunk_size", str(chunk))]
    t_full, cpu_full, _ = timed_run(base + [("num_steps", str(n))])
    t_one, _, _ = timed_run(base + [("num_steps", str(chunk))])
    per_step = (t_full - t_one) / (n - chunk)
    out[seeds] = (t_full, per_step, t_one - chunk * per_step)
    print(f"{args.scheme}, {seeds} seed(s): {t_full:.2f} s wall ({cpu_full:.2f} s CPU) for "
          f"{n} epochs; "
          f"execution {per_step * 1e3:.3f} ms/epoch, compile+setup {out[seeds][2]:.2f} s")
  print(f"5 seeds vs 1 seed: total {out[5][0] / out[1][0]:.2f}x, execution "
        f"{out[5][1] / out[1][1]:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
  main()
