"""P1 (Kong & Tao 2020) App. D.4, Figs. 18-19: deterministic heavy ball (γ = 0.9) and NAG-SC
(``c = (1 − √(μη))/(1 + √(μη))``, μ = 1) on ``x²/2 + eps sin(x/eps)``, η = 0.01, eps = 1e-4, are
'stochastic' too.

The recursions are :mod:`chaosopt.dynamics.gd_maps` (equal to ``optax.sgd(η, momentum=γ)`` and
``optax.sgd(η, momentum=c, nesterov=True)``). Their stochastic counterparts replace ``∇f1`` by
``−ζ`` (Var ζ = 1/2); for f0 = x²/2 they are linear recursions ``z' = A z + b ζ`` whose
stationary variance solves the discrete Lyapunov equation ``S = A S Aᵀ + Var(ζ) b bᵀ``. We
compare the deterministic ensembles, the stochastic-counterpart ensembles, that exact variance
and one long orbit (plain GD as a reference). Needs float64 (``config.x64``). Variants:
``quick`` (500 orbits, 1000 steps).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.experiments import _multiscale as common
from chaosopt.train import config as config_lib
from chaosopt.experiments import _setting
from chaosopt.train import plots
from chaosopt.train import report as report_lib
from chaosopt.train import workdir as workdir_lib
from chaosopt.train.config import Int, Num, Positive, Schema

INFO = {"paper": "P1 Figs. 18-19", "title": "heavy ball and NAG-SC on a multiscale quadratic",
        "cost": "≈ 70 s CPU", "gpu": False}
METHODS = ("GD", "heavy ball", "NAG-SC")


# the keys' types and ranges (ENSEMBLE_KEYS: shared with the other ensemble experiments): heavy
# ball γ ∈ [0, 1), NAG-SC needs μη ∈ (0, 1]; the orbit histogram drops the first 1000 steps
SCHEMA = Schema({
    **{k: v for k, v in common.ENSEMBLE_KEYS.items() if k not in ("snapshots", "orbit_steps")},
    "eps": Positive(), "eta": Positive(), "gamma": Num(0, 1, hi_open=True), "mu": Positive(),
    "orbit_steps": Int(1001), "orbit_x0": Num(), "control_eta_over_eps": Positive()})


def validate(config) -> None:
  SCHEMA.check(config)
  common.check_x64(config, [config.eps])
  config_lib.require(config.mu * config.eta <= 1,
                     f"config.mu * eta must be in (0, 1] (NAG-SC's coefficient), got "
                     f"{config.mu * config.eta:g}")
  common.check_ensemble(config, dim=2)  # position and momentum


def exact_variances(eta: float, gamma: float, c: float, sigma2: float) -> dict:
  """Stationary Var x of the linear stochastic counterparts (f0'' = 1)."""
  from scipy.linalg import solve_discrete_lyapunov
  lin = {"GD": (np.array([[1 - eta]]), np.array([eta])),
         "heavy ball": (np.array([[1 - eta, gamma], [-eta, gamma]]), np.array([eta, eta])),
         "NAG-SC": (np.array([[(1 + c) * (1 - eta), -c], [1 - eta, 0.0]]),
                    np.array([(1 + c) * eta, eta]))}
  return {k: float(solve_discrete_lyapunov(a, sigma2 * np.outer(b, b))[0, 0])
          for k, (a, b) in lin.items()}


def _method(config, i: int, name: str, var_exact: float) -> dict:
  from chaosopt.analysis import distributions as di
  from chaosopt.dynamics import gd_maps as gm
  from chaosopt.tasks import multiscale as ms

  obj = ms.quadratic_sin(config.eps)
  eta, g = config.eta, config.gamma

  def recursion(eta):
    c = gm.nag_sc_coefficient(config.mu, eta)
    return {
        "GD": (lambda x: x, lambda s, gr: gm.gd_step(s, gr, eta), lambda s: s),
        "heavy ball": (gm.heavy_ball_init, lambda s, gr: gm.heavy_ball_step(s, gr, eta, g),
                       lambda s: s.x),
        "NAG-SC": (gm.nag_sc_init, lambda s, gr: gm.nag_sc_step(s, gr, eta, c),
                   lambda s: s.x)}[name]

  init, step, obs = recursion(eta)
  noisy = lambda key: (lambda x: obj.grad_f0(x) - obj.zeta(key, x))
  x0 = jax.random.uniform(common.key(config, 0), (config.num_orbits, 1), minval=config.init[0],
                          maxval=config.init[1])
  sd = float(np.sqrt(var_exact))
  edges = np.linspace(-5 * sd, 5 * sd, config.bins + 1)
  q = di.bin_probabilities(lambda x: -0.5 * jnp.sum(x ** 2) / var_exact, [edges])
  det_step = jax.vmap(lambda s: step(s, obj.grad))
  _, snap = di.iterate_ensemble(det_step, jax.vmap(init)(x0), config.num_steps,
                                snapshots=(config.num_steps,), chunk_size=config.chunk_size,
                                observe=obs)

  def sto_step(carry):
    s, k = carry
    k, sub = jax.random.split(k)
    return jax.vmap(lambda si, ki: step(si, noisy(ki)))(
        s, jax.random.split(sub, config.num_orbits)), k

  _, ssnap = di.iterate_ensemble(sto_step, (jax.vmap(init)(x0), common.key(config, 1 + i)),
                                 config.num_steps, snapshots=(config.num_steps,),
                                 chunk_size=config.chunk_size,
                                 observe=lambda cc: obs(cc[0]))
  xd, xs = snap[config.num_steps][:, 0], ssnap[config.num_steps][:, 0]
  counts, out, _ = di.orbit_histogram(lambda s: step(s, obj.grad),
                                      init(jnp.array([config.orbit_x0])), config.orbit_steps,
                                      lo=[edges[0]], hi=[edges[-1]], bins=config.bins,
                                      burn_in=1000, observe=obs)
  n_orb = int(counts.sum()) + out
  po = counts / n_orb
  pd, od = di.histogram_probs(xd, [edges])
  ps, os_ = di.histogram_probs(xs, [edges])
  # negative controls, same start, bins and thresholds: the method on f0 alone (no micro-scale)
  # at the same η vs the same stochastic ensemble; the method at η = control_eta_over_eps ×
  # eps, below the micro-minima's stability threshold (orbits stop in one), orbit vs ensemble
  _, s0 = di.iterate_ensemble(jax.vmap(lambda s: step(s, obj.grad_f0)), jax.vmap(init)(x0),
                              config.num_steps, snapshots=(config.num_steps,),
                              chunk_size=config.chunk_size, observe=obs)
  p0, o0 = di.histogram_probs(s0[config.num_steps][:, 0], [edges])
  eta_c = float(config.control_eta_over_eps) * float(config.eps)
  init_c, step_c, obs_c = recursion(eta_c)
  _, sc = di.iterate_ensemble(jax.vmap(lambda s: step_c(s, obj.grad)), jax.vmap(init_c)(x0),
                              config.num_steps, snapshots=(config.num_steps,),
                              chunk_size=config.chunk_size, observe=obs_c)
  pc, oc = di.histogram_probs(sc[config.num_steps][:, 0], [edges])
  cc, outc, _ = di.orbit_histogram(lambda s: step_c(s, obj.grad),
                                   init_c(jnp.array([config.orbit_x0])), config.orbit_steps,
                                   lo=[edges[0]], hi=[edges[-1]], bins=config.bins,
                                   burn_in=1000, observe=obs_c)
  nc = int(cc.sum()) + outc
  control = {"tv_f0_det_vs_stochastic": di.total_variation(p0, ps, o0, os_),
             "var_f0_det": float(np.var(s0[config.num_steps][:, 0])), "eta_below": eta_c,
             "tv_below_orbit_vs_ensemble": di.total_variation(cc / nc, pc, outc / nc, oc)}
  return {"var_det_ensemble": float(np.var(xd)), "var_stochastic_ensemble": float(np.var(xs)),
          "control": control,
          "var_exact": var_exact, "tv_det_vs_stochastic": di.total_variation(pd, ps, od, os_),
          "tv_det_vs_gaussian": di.total_variation(pd, q, od, 0.0),
          "tv_orbit_vs_ensemble": di.total_variation(po, pd, out / n_orb, od),
          "tv_floor": di.tv_sampling_floor(q, config.num_orbits), "edges": edges,
          "final": {"det": pd, "det_outside": od, "stochastic": ps, "stochastic_outside": os_,
                    "orbit": po, "orbit_outside": out / n_orb, "gaussian": q}}


def run(config, workdir) -> dict:
  from chaosopt.dynamics import gd_maps as gm
  from chaosopt.tasks import multiscale as ms

  wd = workdir_lib.as_workdir(workdir, config.to_dict())
  c = gm.nag_sc_coefficient(config.mu, config.eta)
  with common.precision(config) as x64:
    sigma2 = ms.quadratic_sin(config.eps).sigma2
    var_exact = exact_variances(config.eta, config.gamma, float(c), sigma2)
    methods = {name: wd.unit(f"method{i}", lambda i=i, name=name: _method(
        config, i, name, var_exact[name])) for i, name in enumerate(METHODS)}
  return {"float64": x64, "nag_c": float(c), "var_exact_stochastic": var_exact,
          "methods": methods}


def report(config, results):
  m = results["methods"]
  rows = [[name, f"{r['var_det_ensemble']:.3e}", f"{r['var_stochastic_ensemble']:.3e}",
           f"{r['var_exact']:.3e}", f"{r['tv_det_vs_stochastic']:.4f}",
           f"{r['tv_det_vs_gaussian']:.4f}", f"{r['tv_orbit_vs_ensemble']:.4f}",
           f"{r['tv_floor']:.4f}"] for name, r in m.items()]
  vs = verdicts(config, results)
  md = f"""# P1 Figs. 18-19: momentum GD on x²/2 + eps sin(x/eps), η = {plots.fmt_num(config.eta)}, eps = {plots.fmt_num(config.eps)}

Heavy ball γ = {plots.fmt_num(config.gamma)}; NAG-SC c = {results['nag_c']:.5f} (μ =
{plots.fmt_num(config.mu)}). Both recursions equal optax.sgd(η, momentum=γ) and optax.sgd(η,
momentum=c, nesterov=True) (tests/test_multiscale.py). {config.num_orbits} orbits from
U{tuple(config.init)}, {config.num_steps} steps; one orbit of {config.orbit_steps} steps from
x0 = {config.orbit_x0}; float64 = {results['float64']}. Random numbers: `fold_in(key(seed), j)`
(the old script split `PRNGKey(seed)`), so values differ from the earlier report within
sampling noise.

{report_lib.markdown_table(["method", "Var x (deterministic)", "Var x (stochastic counterpart)",
                            "Var x (exact, linear stochastic)", "TV(det, stoch)",
                            "TV(det, Gaussian)", "TV(orbit, ensemble)", "TV floor"], rows)}
## Verdicts

Criteria: the laws agree when TV(det, stoch) is below 3 × the two-sample floor (√2 × floor);
ergodicity when TV(orbit, ensemble) is below 3 × floor.

""" + verdict_lib.markdown(vs)
  figs = {"momentum": _figure(config, results)}
  return _setting.header(_setting.of(config, results)) + md, figs, vs


def verdicts(config, results) -> list:
  """P1 Figs. 18-19 (:mod:`chaosopt.analysis.verdicts`): NAG-SC's variance below heavy ball's
  (an F-type interval of the ratio of two ensemble variances), and per method the law of the
  deterministic ensemble vs its stochastic counterpart and ergodicity."""
  setting = _setting.of(config, results)
  m = results["methods"]
  ratio = m["NAG-SC"]["var_det_ensemble"] / m["heavy ball"]["var_det_ensemble"]
  ve = results["var_exact_stochastic"]
  n = int(config.num_orbits)
  # log of a ratio of two sample variances of n independent orbits: SE ≈ √(2/(n−1) · 2)
  half = 2 * np.sqrt(4.0 / max(n - 1, 1))
  unc = (float(ratio * np.exp(-half)), float(ratio * np.exp(half)))
  st, reason = verdict_lib.interval_status(unc, 1.0, effect="below")
  # the positive control: the stochastic counterparts' ensembles, whose exact stationary
  # variance ratio (discrete Lyapunov equation) is known, through the same interval and rule
  ratio_s = m["NAG-SC"]["var_stochastic_ensemble"] / m["heavy ball"]["var_stochastic_ensemble"]
  unc_s = (float(ratio_s * np.exp(-half)), float(ratio_s * np.exp(half)))
  ctrl_var = verdict_lib.control(
      "the stochastic counterparts' ensembles (same n, interval and rule)",
      verdict_lib.interval_status(unc_s, 1.0, effect="below")[0], ratio_s, expect="reproduced",
      must_show=f"a ratio below 1 (exact {ve['NAG-SC'] / ve['heavy ball']:.3f})")
  no_ctrl = "No control in these results (run before the controls existed)."
  out = [verdict_lib.decide(
      "NAG-SC has a smaller variance than heavy ball.", "P1 Figs. 18-19",
      "Var(NAG-SC) / Var(heavy ball) of the deterministic ensembles",
      "reproduced if the ratio's ± 2 SE interval (log scale, independent orbits) lies below 1, "
      "not reproduced if at or above 1", status=st, reason=reason, estimate=ratio,
      uncertainty=unc, detail=f"exact linear stochastic counterparts: "
                              f"{ve['NAG-SC'] / ve['heavy ball']:.3f}; {n} orbits each.",
      control=ctrl_var)]
  for name, r in m.items():
    tv, fl = r["tv_det_vs_stochastic"], r["tv_floor"]
    ctl = r.get("control")
    cd = ce = None
    if ctl is not None:
      tv0, tvc = ctl["tv_f0_det_vs_stochastic"], ctl["tv_below_orbit_vs_ensemble"]
      cd = verdict_lib.control(
          f"{name} on f0 alone (no micro-scale), same η and start, vs the same stochastic "
          "ensemble and threshold", verdict_lib.interval_status(
              (tv0, tv0), 3 * np.sqrt(2) * fl, effect="below")[0], tv0,
          must_show="a different law (it converges to the minimizer)")
      ce = verdict_lib.control(
          f"{name} at η = {plots.fmt_num(ctl['eta_below'])} (below the micro-minima's "
          "stability threshold), same start, orbit and threshold", verdict_lib.interval_status(
              (tvc, tvc), 3 * fl, effect="below")[0], tvc,
          must_show="no ergodicity (the orbit stops in one micro-minimum)")
    st, _ = verdict_lib.interval_status((tv, tv), 3 * np.sqrt(2) * fl, effect="below")
    out.append(verdict_lib.decide(
        f"{name}: the deterministic ensemble has its stochastic counterpart's law.",
        "P1 Figs. 18-19", "TV(deterministic, stochastic ensemble)", "reproduced if below 3√2 × "
        "the i.i.d. TV floor, not reproduced otherwise", status=st, estimate=tv,
        uncertainty=f"threshold {3 * np.sqrt(2) * fl:.4f}",
        detail=f"TV(det, Gaussian) = {r['tv_det_vs_gaussian']:.4f}.", control=cd,
        no_control=no_ctrl))
    tvo = r["tv_orbit_vs_ensemble"]
    st, _ = verdict_lib.interval_status((tvo, tvo), 3 * fl, effect="below")
    out.append(verdict_lib.decide(
        f"{name}: one orbit has the ensemble's law (ergodicity).", "P1 Figs. 18-19",
        "TV(single orbit, deterministic ensemble)", "reproduced if below 3 × the i.i.d. TV "
        "floor, not reproduced otherwise", status=st, estimate=tvo,
        uncertainty=f"threshold {3 * fl:.4f}", control=ce, no_control=no_ctrl))
  return _setting.finish(setting, out)


def _figure(config, results):
  fig, axes = plots.subplots(1, 3, figsize=(14, 3.9))
  for ax, (name, r) in zip(axes, results["methods"].items()):
    e, f = np.asarray(r["edges"]), r["final"]
    common.density_panel(ax, f["det"], e, label="deterministic ensemble", color="C0",
                         outside=f["det_outside"])
    common.density_panel(ax, f["stochastic"], e, label="stochastic counterpart", color="C1",
                         outside=f["stochastic_outside"], filled=False)
    common.density_panel(ax, f["orbit"], e, label="one deterministic orbit", color="C2",
                         outside=f["orbit_outside"], filled=False, lw=1.0)
    common.reference_curve(ax, f["gaussian"], e, label="N(0, exact variance)")
    ax.set_ylim(0, 1.35 * ax.get_ylim()[1])
    plots.label_axes(ax, "x (dimensionless)", "probability density",
                     title=f"{name} (step {config.num_steps})")
    plots.legend(ax, loc="upper right")
  return fig
