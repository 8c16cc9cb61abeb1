"""Shared pieces of the P1 (Kong & Tao 2020) multiscale experiments (not an experiment itself).

No new equation: the objectives ``f = f0 + f_{1,eps}`` (P1 eq. 1), the stochastic map
``phi_hat`` (Thm. 4) and the rescaled Gibbs law (eq. 2) live in
:mod:`chaosopt.tasks.multiscale` and :mod:`chaosopt.analysis.distributions`. Here:

* :func:`precision` — the ``config.x64`` switch as a scope: float64 is on only while ``run``
  computes (the test suite runs every quick variant in one process, so nothing is left
  switched on globally);
* :func:`check_x64` — refuses float32 for ``eps <= 1e-4`` before anything is compiled (the
  objective constructors refuse it too, see :func:`chaosopt.tasks.multiscale.require_x64`);
* :data:`ENSEMBLE_KEYS` / :func:`check_ensemble` — the keys shared by the ensemble experiments
  (types and ranges for their schemas; snapshot times against the step count and chunk size;
  the memory of the ensemble);
* :func:`keys` — one base seed, a distinct ``fold_in`` per purpose;
* :func:`gd_and_phi_hat` — the GD ensemble and the stochastic-map ensemble from the same start
  (P1 eq. 1's φ and Thm 4's φ̂), snapshotted at ``config.snapshots``;
* :func:`gd_final` — the final GD ensemble, optionally on ``f0`` alone (controls);
* :func:`density_panel` / :func:`reference_curve` — binned laws drawn as densities (the mass
  outside the box is stated on the panel, never dropped).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import jax
import numpy as np

from chaosopt.tasks import multiscale as ms
from chaosopt.train import config as config_lib
from chaosopt.train import plots


@contextlib.contextmanager
def precision(config) -> Iterator[bool]:
  """float64 on inside the block iff ``config.x64`` (``jax.enable_x64`` scope, restored on
  exit); yields whether float64 is in effect (recorded in the results)."""
  with ms.x64_scope(bool(config.x64)):
    yield ms.x64_enabled()


def check_x64(config, eps_values: Iterable[float]) -> None:
  """``ConfigError`` if some ``eps <= 1e-4`` while ``config.x64`` is False (float32 cannot
  resolve the phase ``x/eps``; the old scripts refused this too)."""
  small = [float(e) for e in eps_values if float(e) <= ms.X64_EPS_THRESHOLD]
  if small and not bool(config.x64):
    raise config_lib.ConfigError(
        f"eps = {min(small):g} <= {ms.X64_EPS_THRESHOLD:g} needs float64: keep x64 = True "
        f"(float32 cannot resolve the phase x/eps)")


# keys shared by the orbit-ensemble experiments (their SCHEMA extends these)
ENSEMBLE_KEYS = {
    "x64": config_lib.Bool(), "seed": config_lib.Seed(), "num_orbits": config_lib.Int(1),
    "num_steps": config_lib.Int(1), "snapshots": config_lib.Seq(config_lib.Int(0),
                                                                order="unique"),
    "chunk_size": config_lib.Int(1), "orbit_steps": config_lib.Int(1), "bins": config_lib.Int(1),
    "init": config_lib.Interval()}


def check_ensemble(config, dim: int = 1, extra_bytes: float = 0.0,
                   final_snapshot: bool = False) -> None:
  """Cross-key checks of :data:`ENSEMBLE_KEYS`: every snapshot time in [0, num_steps] and a
  multiple of chunk_size (num_steps too when the run also snapshots the last step,
  ``final_snapshot``, or has no ``snapshots`` key); the memory of ``num_orbits`` float64 orbits
  of dimension ``dim`` with their snapshots (plus ``extra_bytes``)."""
  snaps = list(config.get("snapshots", ()))
  for t in snaps:
    config_lib.require(t <= config.num_steps and t % config.chunk_size == 0,
                       f"config.snapshots: every snapshot must be in [0, num_steps = "
                       f"{config.num_steps}] and a multiple of chunk_size = {config.chunk_size}"
                       f", got {t}")
  if final_snapshot or not snaps:
    config_lib.require(config.num_steps % config.chunk_size == 0,
                       f"config.chunk_size ({config.chunk_size}) must divide num_steps "
                       f"({config.num_steps}): the last step is a snapshot")
    snaps.append(config.num_steps)
  n = config.num_orbits
  nbytes = 8.0 * n * dim * (4 * len(snaps) + 16) + extra_bytes
  config_lib.check_memory(nbytes, f"{n:,} orbits x {len(snaps)} snapshots", "num_orbits")


def key(config, purpose: int) -> jax.Array:
  """``fold_in(key(config.seed), purpose)``: a distinct typed key per purpose."""
  return jax.random.fold_in(jax.random.key(int(config.seed)), int(purpose))


def gd_and_phi_hat(obj, eta: float, x0, config, phi_key: jax.Array,
                   gd_only: bool = False) -> dict:
  """``{"gd": snapshots, "phi_hat": snapshots}`` of GD (``obj.gd_map``) and of the stochastic
  map φ̂ (noise from ``phi_key``) iterated from the same ``x0`` for ``config.num_steps`` steps,
  snapshots at ``config.snapshots`` in chunks of ``config.chunk_size``; ``gd_only`` skips φ̂
  (a control run that needs only GD)."""
  from chaosopt.analysis import distributions as di

  _, gd = di.iterate_ensemble(di.gd_ensemble_step(obj, eta), x0, config.num_steps,
                              snapshots=config.snapshots, chunk_size=config.chunk_size)
  if gd_only:
    return {"gd": gd}
  _, sm = di.iterate_ensemble(di.stochastic_map_step(obj, eta), (x0, phi_key),
                              config.num_steps, snapshots=config.snapshots,
                              chunk_size=config.chunk_size, observe=lambda c: c[0])
  return {"gd": gd, "phi_hat": sm}


def gd_final(obj, eta: float, x0, config, *, f0_only: bool = False):
  """The GD ensemble after ``config.num_steps`` steps from ``x0`` (``[n, d]``): GD on the full
  objective, or with ``f0_only`` on ``f0`` alone (the micro-scale removed: the negative control
  of P1's claims that the micro-scale makes GD 'stochastic')."""
  from chaosopt.analysis import distributions as di

  step = (jax.vmap(lambda x: x - eta * obj.grad_f0(x)) if f0_only
          else di.gd_ensemble_step(obj, eta))
  _, snap = di.iterate_ensemble(step, x0, config.num_steps, snapshots=(config.num_steps,),
                                chunk_size=config.chunk_size)
  return snap[config.num_steps]


def density_panel(ax, probs, edges, *, label: str, color=None, outside: float = 0.0,
                  filled: bool = True, lw: float = 1.5):
  """Draws bin probabilities ``probs`` on ``edges`` as a density (probability / bin width).
  The mass outside the box (``outside``, a fraction) cannot be drawn: it is stated on the
  panel, never dropped silently (the :func:`chaosopt.train.plots.histogram` rule)."""
  edges = np.asarray(edges, float)
  dens = np.asarray(probs, float) / np.diff(edges)
  if filled:
    ax.stairs(dens, edges, fill=True, alpha=0.4, color=color, label=label)
  else:
    ax.stairs(dens, edges, color=color, lw=lw, label=label)
  if outside and outside > 0:
    prior = sum(1 for t in ax.texts if getattr(t, "_outside_note", False))
    t = ax.text(0.02, 0.97 - 0.08 * prior, f"{label}: {plots.fmt_num(100 * outside)}% of the "
                f"mass outside [{plots.fmt_num(edges[0])}, {plots.fmt_num(edges[-1])}]",
                transform=ax.transAxes, fontsize=7.5, va="top", ha="left",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7", "alpha": 0.9})
    t._outside_note = True


def reference_curve(ax, probs, edges, *, label: str, color="black"):
  """Reference bin probabilities (e.g. the rescaled Gibbs law) as a density line."""
  edges = np.asarray(edges, float)
  cen = 0.5 * (edges[1:] + edges[:-1])
  ax.plot(cen, np.asarray(probs, float) / np.diff(edges), color=color, lw=1.4, label=label)


def verdict_word(ok: bool) -> str:
  return "reproduced" if ok else "not reproduced"
