"""Command-line entry point: run an experiment config and write its outputs.

Runs the training recursions of P0 (MPGD eq. 8, its eq. 11 variant, Gaussian-perturbed GD, GD)
through :mod:`chaosopt.train.runner`::

  python -m chaosopt.run --config configs/airfoil.py --config.num_seeds=5 --workdir runs/airfoil
  chaosopt --config configs/widening_valley.py --config.only=mpgd,gd --workdir runs/valley

``--config path.py[:arg]`` selects the config file (``get_config(arg)``), ``--config.KEY=VALUE``
overrides a field (dotted paths, list indices allowed: ``--config.schemes.1.mu=0.05``); unknown
keys and out-of-range values are rejected before anything is compiled. The workdir receives
``config.json``, ``metrics.jsonl``, ``final_metrics.csv``, ``history.npz``, ``summary.json`` and
PNG plots.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence


def _parse_args(argv: Sequence[str]):
  parser = argparse.ArgumentParser(
      prog="chaosopt", description="Run a chaosopt experiment config.",
      epilog="Override any config field with --config.KEY=VALUE (e.g. --config.num_seeds=5).")
  parser.add_argument("--config", required=True, help="path/to/config.py[:arg]")
  parser.add_argument("--workdir", required=True, help="output directory")
  parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
  parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
  args, rest = parser.parse_known_args(list(argv))
  overrides, i = [], 0
  while i < len(rest):
    tok = rest[i]
    if not tok.startswith("--config."):
      parser.error(f"unrecognized argument {tok!r}")
    key, eq, value = tok[len("--config."):].partition("=")
    if not eq:
      if i + 1 >= len(rest):
        parser.error(f"{tok} needs a value")
      value, i = rest[i + 1], i + 1
    overrides.append((key, value))
    i += 1
  return args, overrides


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the CLI; returns the exit status (2 for a bad config)."""
  from chaosopt.train import config as config_lib
  from chaosopt.train import runner

  args, overrides = _parse_args(sys.argv[1:] if argv is None else argv)
  try:
    config = config_lib.load_config(args.config, overrides)
    task = runner.build_task(config.task)  # task arguments are validated here, pre-compile
  except config_lib.ConfigError as e:
    print(f"chaosopt: config error: {e}", file=sys.stderr)
    return 2

  from tqdm.auto import tqdm

  def on_eval(name, step, metrics):
    if args.no_progress:
      return
    shown = ", ".join(f"{k}={float(v.mean()):.4g}" for k, v in list(metrics.items())[:4])
    tqdm.write(f"[{name}] step {step}: {shown} (mean over seeds)")

  result = runner.run(config, task=task, progress=not args.no_progress, on_eval=on_eval,
                      log=lambda m: print(f"chaosopt: {m}", file=sys.stderr))
  summary = runner.write_outputs(result, args.workdir, plots=not args.no_plots)
  lines = []
  for name, s in summary.items():
    shown = ", ".join(f"{k} {v['mean']:.4f} ± {v['std']:.4f}"
                      for k, v in list(s["metrics"].items())[:4])
    extra = f" [{s['num_diverged']} diverged]" if s["num_diverged"] else ""
    lines.append(f"  {name}: {shown}{extra}")
  print("final metrics (mean ± std over seeds):\n" + "\n".join(lines))
  print(f"timings (s, compile included): {json.dumps(result.timings)}")
  print(f"outputs written to {args.workdir}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
