"""Reproduces P0 Table 1 (airfoil self-noise, MLP 5-16-1 ReLU, full-batch GD, 3000 epochs).

Runs ``configs/airfoil.py`` (baseline, Gaussian, MPGD and eq. 11 at gamma in {.55,.6,.65,.7},
5 seeds) plus one supplementary row, the Gaussian baseline with the noise scaled by eta**1
(what the authors' airfoil script does through a loss term), and writes
``experiments/reports/airfoil_table1/`` (report.md, results.json, PNGs).

  python experiments/airfoil_table1.py [--num_seeds 5] [--num_steps 3000]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from chaosopt.train import config as config_lib
from chaosopt.train import report, runner

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "reports", "airfoil_table1")

# P0 Table 1: (test RMSE, "RMSE gap" as coded = test RMSE - train MSE, see docs/errata.md)
PAPER = {
    "baseline": (0.4309, 0.2411), "gaussian": (0.4279, 0.2354),
    "mpgd_0.55": (0.3916, 0.2256), "mpgd_0.6": (0.3810, 0.2298),
    "mpgd_0.65": (0.3829, 0.2407), "mpgd_0.7": (0.4600, 0.2315),
    "eq11_0.55": (0.3865, 0.2305), "eq11_0.6": (0.4092, 0.2206),
    "eq11_0.65": (0.3891, 0.2307), "eq11_0.7": (0.3754, 0.2311),
}
# the authors' script re-run (docs/errata.md): test RMSE mean ± std over 5 seeds
RERUN = {"baseline": "0.4344 ± 0.057", "gaussian": "0.4273 ± 0.097", "mpgd_0.6": "0.4076 ± 0.084"}


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__)
  ap.add_argument("--num_seeds", type=int, default=5)
  ap.add_argument("--num_steps", type=int, default=3000)
  ap.add_argument("--out", default=OUT)
  args = ap.parse_args(argv)
  config = config_lib.load_config(os.path.join(ROOT, "configs", "airfoil.py"), [
      ("num_seeds", str(args.num_seeds)), ("num_steps", str(args.num_steps))])
  with config.unlocked():
    config.schemes = list(config.schemes) + [
        {"name": "gaussian_eta1", "kind": "gaussian", "mu": 0.01, "sigma": 0.02,
         "exponent": 1.0}]
  config_lib.validate(config)
  t0 = time.perf_counter()
  result = runner.run(config, progress=True)
  wall = time.perf_counter() - t0
  summary = runner.summarize(result)

  def ms(name, metric):
    m = summary[name]["metrics"][metric]
    return f"{m['mean']:.4f} ± {m['std']:.4f}"

  rows = []
  for name, s in summary.items():
    paper = PAPER.get(name, (None, None))
    rows.append([
        name, f"{paper[0]:.4f}" if paper[0] else "–", RERUN.get(name, "–"), ms(name, "test_rmse"),
        ms(name, "train_rmse"), ms(name, "gap"), f"{paper[1]:.4f}" if paper[1] else "–",
        ms(name, "coded_gap"), ms(name, "hessian_trace"),
        f"{s['num_diverged']}/{s['num_seeds']}"])
  table = report.markdown_table(
      ["scheme", "paper test RMSE", "authors' script re-run", "ours test RMSE", "ours train RMSE",
       "ours true gap (test−train RMSE)", "paper 'gap'", "ours coded gap (test RMSE − train MSE)",
       "ours tr ∇²R (final)", "diverged"], rows)

  # seeds that diverged are excluded here as in the table's mean ± std
  test = {n: np.asarray(r.final["test_rmse"])[np.asarray(r.diverged_at) < 0]
          for n, r in result.schemes.items()}
  base_m, base_s = report.mean_std(test["baseline"])
  best_mpgd = min((n for n in test if n.startswith(("mpgd", "eq11"))),
                  key=lambda n: np.mean(test[n]))
  best_m, best_s = report.mean_std(test[best_mpgd])
  # two-sample standard error of the difference of means (5 seeds each)
  se = float(np.sqrt(np.var(test["baseline"], ddof=1) / len(test["baseline"])
                     + np.var(test[best_mpgd], ddof=1) / len(test[best_mpgd])))
  diff = base_m - best_m
  mpgd_beats = [n for n in test if n.startswith(("mpgd", "eq11"))
                and np.mean(test[n]) < base_m]
  verdict = []
  verdict.append(
      f"- **Claim: MPGD gives lower test RMSE than GD and Gaussian GD.** Best MPGD-type row "
      f"here: `{best_mpgd}` {best_m:.4f} ± {best_s:.4f} vs baseline {base_m:.4f} ± {base_s:.4f} "
      f"(difference {diff:+.4f}, standard error {se:.4f}); {len(mpgd_beats)}/8 MPGD/eq. 11 rows "
      f"have a lower mean than the baseline. "
      + ("The difference is within two standard errors: with 5 seeds we **cannot confirm** the "
         "claim (the paper reports means only, no spread)." if abs(diff) < 2 * se else
         "The difference exceeds two standard errors." if diff > 0 else
         "MPGD is worse here: we **do not reproduce** the claim."))
  gaps = {n: summary[n]["metrics"]["gap"]["mean"] for n in summary}
  verdict.append(
      f"- **Claim: MPGD gives a smaller RMSE gap.** The paper's 'gap' is test RMSE − train "
      f"*MSE* (erratum), ≈ 0.22–0.24 for every row because train MSE < train RMSE; the true "
      f"test − train RMSE gap is {min(gaps.values()):+.4f} … {max(gaps.values()):+.4f} across "
      f"rows here, i.e. the networks barely overfit and the gap cannot discriminate schemes.")
  worse = [n for n in test if n.startswith(("mpgd", "eq11")) and np.mean(test[n]) > base_m]
  tr_rmse = {n: summary[n]["metrics"]["train_rmse"]["mean"] for n in summary}
  verdict.append(
      f"- **Not reproduced: the paper's best rows.** {len(worse)}/8 MPGD/eq. 11 rows have a "
      f"*higher* mean test RMSE than the baseline here ({', '.join(worse)}), e.g. MPGD γ = 0.6: "
      f"{ms('mpgd_0.6', 'test_rmse')} vs the paper's 0.3810. Their *train* RMSE is higher too "
      f"(MPGD γ = 0.6 {tr_rmse['mpgd_0.6']:.4f}, γ = 0.7 {tr_rmse['mpgd_0.7']:.4f} vs baseline "
      f"{tr_rmse['baseline']:.4f}): the heavy-tailed perturbation (larger γ = heavier tail) "
      f"disturbs the optimization itself rather than closing a generalization gap. Our chains "
      f"use the sign rule that reproduces β and an exact invariant-measure start; the authors' "
      f"code uses the literal sign product with a re-seeded δ and a T^10000 warm-up "
      f"(docs/errata.md), so their perturbation is not the same random process.")
  verdict.append(
      f"- Seed-to-seed spread of test RMSE (std ≈ {np.mean([np.std(v, ddof=1) for v in test.values()]):.3f}) "
      f"is of the size of the differences the paper reports between schemes, as the authors' "
      f"script re-run in docs/errata.md also shows.")

  md = f"""# P0 Table 1 — airfoil self-noise (MLP 5-16-1 ReLU, full-batch GD)

Run: `python experiments/airfoil_table1.py --num_seeds {args.num_seeds} --num_steps {args.num_steps}`
({args.num_seeds} seeds × {args.num_steps} full-batch epochs × {len(summary)} schemes, wall
time {wall:.1f} s including compilation on {report.environment()['cpu_count']} CPU cores).

Setup (as in the paper and the authors' code): the authors' split
(`RandomState(0).permutation(1503)`: first 301 rows test, next 1202 train), features and target
standardized with training statistics, PyTorch-default Linear initialization, MSE loss,
η = 0.1, β = 0.5, all parameters perturbed. Gaussian: μ = 0.01, σ = 0.02; MPGD (eq. 8):
μ = 0.01, σ = 0.02; eq. 11 variant: μ = σ = 0.01. **Gaussian baseline noise exponent: η^0.5**
(Brownian increments; the paper does not state it). The supplementary row `gaussian_eta1` uses
η^1, what the authors' airfoil script effectively does. All seeds share their initial
parameters across schemes (seed i ↦ the same init). RMSEs are on the standardized target;
mean ± std (ddof = 1) over seeds that did not diverge.

{table}
## Verdict

{chr(10).join(verdict)}

The paper's numbers are means over 5 seeds of a different random stream (PyTorch), so
agreement can only be expected within the seed-to-seed spread shown in the std columns.
"""
  if result.messages:
    md += "\n## Diverged runs\n\n" + "\n".join(f"- {m}" for m in result.messages) + "\n"
  figs = runner.make_plots(result)
  results = {"config": result.config, "task": result.task_info, "summary": summary,
             "paper": PAPER, "authors_script_rerun": RERUN, "timings_s": result.timings,
             "wall_s": wall, "messages": result.messages}
  report.write_report(args.out, md, results, figs)
  print(md)


if __name__ == "__main__":
  main()
