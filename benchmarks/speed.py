"""Speed where users wait (issue 22), in one run on this machine: the main job cold and warm,
its per-group breakdown, the 200-seed Table 1 with its GFLOP/s against the machine's matmul
rate, and one optimizer update at 10^6 coordinates (MPGD against optax.add_noise and optax.adam).

No paper equation: it times P0 Table 1 (``airfoil_table1``; eq. 8 and eq. 11 of P0) as users
run it, and the update of P0 eq. 8.

* **Main job**: :mod:`main_job` (``chaosopt --config airfoil_table1``, whole process, figures and
  report; cold = empty compilation cache, warm = after a cold run); median of ``--repeats``.
* **200-seed table**: ``chaosopt --config airfoil_table1:seeds200`` once, whole process, with an
  empty compilation cache (what a first run costs). *Useful* flop: XLA's cost analysis of one
  member's full-batch gradient (``jax.value_and_grad`` of the task's loss, compiled) times
  members x steps; noise, evaluation and bookkeeping are not counted. The reference rate is a
  jitted 2048 x 2048 float32 matmul on the same machine (the most XLA:CPU gets from it), and the
  arithmetic peak if ``--peak-gflops`` is given.
* **Update step**: ``benchmarks/update_step.py`` (steady state, jitted, donated state).

  python benchmarks/speed.py [--repeats 3] [--parts main,table,update] [--peak-gflops 300]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import main_job  # noqa: E402


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
  """GFLOP/s of a jitted float32 ``n x n`` matmul (best of ``reps``)."""
  import jax
  import jax.numpy as jnp
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  jax.block_until_ready(f(a))
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    jax.block_until_ready(f(a))
    best = min(best, time.perf_counter() - t0)
  return 2.0 * n ** 3 / best / 1e9


def gradient_flops() -> float:
  """XLA's flop count of one member's full-batch gradient of the airfoil MLP (P0 Table 1)."""
  import jax
  from chaosopt.tasks import airfoil
  task = airfoil.airfoil_task(hessian_trace=False)
  params = task.init(jax.random.key(0))
  compiled = jax.jit(jax.value_and_grad(task.loss)).lower(params).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost["flops"])


def table200(base: str) -> tuple[float, dict, int, int]:
  """Wall time, per-group timings, members and steps of one cold 200-seed Table 1 run."""
  workdir = os.path.join(base, "seeds200")
  env = dict(os.environ, CHAOSOPT_CACHE_DIR=os.path.join(base, "cache200"))
  t0 = time.perf_counter()
  subprocess.run([sys.executable, "-m", "chaosopt", "--config", "airfoil_table1:seeds200",
                  "--workdir", workdir, "-q"], env=env, check=True, capture_output=True)
  wall = time.perf_counter() - t0
  with open(os.path.join(workdir, "results.json")) as f:
    doc = json.load(f)
  res = doc["results"]
  members = sum(len(s["seeds"]) for s in res["schemes"].values())
  return wall, res.get("timings_s", {}), members, int(doc["settings"]["num_steps"])


def main(argv=None) -> None:
  ap = argparse.ArgumentParser(description=__doc__)
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--parts", default="main,table,update",
                  help="comma-separated parts to run: main (main job), table (200 seeds), update")
  ap.add_argument("--peak-gflops", type=float, default=None,
                  help="the machine's arithmetic peak, if known (printed beside the matmul rate)")
  args = ap.parse_args(argv)
  t_start = time.time()
  print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, load average at start "
        f"{os.getloadavg()[0]:.2f}")
  parts = set(args.parts.split(","))
  if "main" in parts:
    main_job.main(["--repeats", str(args.repeats)])
  mm = matmul_gflops()
  peak = f", arithmetic peak {args.peak_gflops:.0f} GFLOP/s" if args.peak_gflops else ""
  print(f"reference: jitted 2048^3 float32 matmul {mm:.0f} GFLOP/s{peak}")
  if "table" in parts:
    base = tempfile.mkdtemp(prefix="chaosopt-speed-")
    try:
      wall, timings, members, steps = table200(base)
    finally:
      shutil.rmtree(base, ignore_errors=True)
    flops = gradient_flops()
    total = flops * members * steps
    rate = total / wall / 1e9
    print(f"200-seed Table 1 (cold cache): {wall:.1f} s whole process ({members} runs x {steps} "
          f"steps); per group, compile + execute, two groups at a time: " + ", ".join(
              f"{k} {v:.1f}" for k, v in timings.items()))
    print(f"  useful flop: {flops / 1e6:.3f} MFLOP per run-step (XLA cost analysis of one "
          f"gradient), {total / 1e12:.2f} TFLOP: {rate:.1f} GFLOP/s over the whole process = "
          f"{rate / mm:.0%} of the matmul rate"
          + (f", {rate / args.peak_gflops:.0%} of peak" if args.peak_gflops else ""))
  if "update" in parts:
    print("update step at 10^6 coordinates (benchmarks/update_step.py):", flush=True)
    subprocess.run([sys.executable, os.path.join(HERE, "update_step.py")], check=True)
  load = os.getloadavg()
  print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{time.time() - t_start:.0f} s in all")


if __name__ == "__main__":
  main()
