"""Benchmark: the main job exactly as README runs it (``chaosopt --config airfoil_table1 --workdir
DIR``: P0 Table 1, figures, report, everything the default config does), whole process, cold
and warm.

*Cold*: an empty persistent compilation cache (``CHAOSOPT_CACHE_DIR`` set to a new folder), so
every program compiles. *Warm*: the same cache after a cold run, a new workdir (the run computes
everything again; only compilation is skipped). Each repeat is one fresh process; the median of
``--repeats`` is printed with the machine's load average, the ratio to the authors' code (3185 s
for the same table on this machine: ≈ 64 s per 3000-epoch run, 10 schemes × 5 seeds) and the
run's own per-group breakdown (``results["timings_s"]``: compile + execute per scheme group, and
the final metrics).

  python benchmarks/main_job.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

AUTHORS_S = 3185.0


def one_run(cache: str, base: str, tag: str) -> tuple[float, dict]:
  workdir = os.path.join(base, tag)
  env = dict(os.environ, CHAOSOPT_CACHE_DIR=cache)
  t0 = time.perf_counter()
  subprocess.run([sys.executable, "-m", "chaosopt", "--config", "airfoil_table1", "--workdir",
                  workdir, "-q"], env=env, check=True, capture_output=True)
  wall = time.perf_counter() - t0
  with open(os.path.join(workdir, "results.json")) as f:
    doc = json.load(f)
  return wall, doc["results"].get("timings_s", {})


def main(argv=None) -> None:
  ap = argparse.ArgumentParser(description=__doc__)
  ap.add_argument("--repeats", type=int, default=3)
  args = ap.parse_args(argv)
  base = tempfile.mkdtemp(prefix="chaosopt-main-job-")
  cold, warm, groups_cold, groups_warm = [], [], [], []
  try:
    for r in range(args.repeats):
      cache = os.path.join(base, f"cache{r}")
      w, g = one_run(cache, base, f"cold{r}")
      cold.append(w)
      groups_cold.append(g)
      w, g = one_run(cache, base, f"warm{r}")
      warm.append(w)
      groups_warm.append(g)
  finally:
    shutil.rmtree(base, ignore_errors=True)
  load = os.getloadavg()
  c, w = statistics.median(cold), statistics.median(warm)
  print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs")
  print(f"main job cold: median {c:.1f} s of {[round(x, 1) for x in cold]}  "
        f"({AUTHORS_S / c:.0f}x faster than the authors' {AUTHORS_S:.0f} s)")
  print(f"main job warm: median {w:.1f} s of {[round(x, 1) for x in warm]}  "
        f"({AUTHORS_S / w:.0f}x)")
  for label, gs in (("cold", groups_cold), ("warm", groups_warm)):
    keys = list(gs[0])
    print(f"per group ({label}, median s): " + ", ".join(
        f"{k} {statistics.median(g.get(k, float('nan')) for g in gs):.2f}" for k in keys))


if __name__ == "__main__":
  main()
