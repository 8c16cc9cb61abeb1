"""Escape-time statistics: P2's first exit time σ_G (Sec. 4, eq. 16-17) and its survival (Cor. 4.6).

Analysis layer (NumPy / SciPy only). An escape run is summarised by one integer: the step of its
first exit from the domain G, or ``-1`` when it was still inside G at the horizon ``T``
(right-censored). Exits at ``t <= burn_in`` happen before the process could relax into G's
quasi-stationary state (instability exits: a jump straight out of the start); they are counted
apart and the statistics use the *residual* times ``r = τ − burn_in`` of the runs that survived
the burn-in, censored at ``c = T − burn_in``. For an exponential law the residual has the same
law as τ (memorylessness), so this exclusion does not bias its rate.

* :func:`exponential_mle` — the rate's maximum-likelihood estimate under right censoring,
  mean = exposure / events (exposure = Σ min(r, c)), with a bootstrap over runs for the SE of
  log(mean) (model-free: it does not assume the law is exponential).
* :func:`rate_fit` — weighted least squares of log(mean) on a transform of η, e.g.
  ``log η`` (power law, P2 eq. 17: E σ ∝ η^b) or ``1/η`` (Kramers: log E σ = a + b/η), with
  χ² = Σ ((y − ŷ)/se)², ``dof = k − 2`` and ``p = P(χ²_dof > χ²)``.
* :func:`censored_ks` — Kolmogorov–Smirnov distance between the residual times' empirical CDF
  (on ``[0, c)``, where censoring at a fixed ``c`` leaves it unbiased) and the exponential CDF
  ``1 − exp(−t/mean)`` at the MLE mean; its p-value by a parametric bootstrap that re-estimates
  the mean on each draw (the estimated parameter makes the table KS p-value wrong).
* :func:`surrogate_times` — exponential (memoryless) or Gamma(2) times of a given mean, rounded
  up to whole steps and censored like the data: the controls run through the same tests.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
from scipy import stats as sps

CENSORED = -1


def residuals(t, horizon: int, burn_in: int = 0) -> dict:
  """Split escape steps ``t`` (``-1``: censored at ``horizon``; NaN or < -1: diverged, counted
  as instability) into instability exits (``1 <= t <= burn_in`` or diverged) and the residual
  times of the rest: ``r`` (``t − burn_in``, the censored ones at ``c = horizon − burn_in``)
  and ``event`` (True where the run exited before the horizon)."""
  t = np.asarray(t, np.float64).ravel()
  diverged = ~np.isfinite(t) | (t < CENSORED)
  tt = np.where(diverged, 0.0, t)
  early = diverged | ((tt >= 1) & (tt <= burn_in))
  keep = ~early
  c = float(horizon - burn_in)
  event = keep & (tt >= 1)
  r = np.where(event, tt - burn_in, c)[keep]
  return {"r": r, "event": event[keep], "c": c, "early": int(early.sum()),
          "diverged": int(diverged.sum()), "num": int(t.size)}


def _mle(r, event) -> float:
  k = np.sum(event, axis=-1)
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.where(k > 0, np.sum(r, axis=-1) / np.maximum(k, 1), np.inf)


def exponential_mle(t, horizon: int, burn_in: int = 0, *, num_resamples: int = 1000,
                    seed: int = 0) -> dict:
  """Censored-exponential MLE of the mean residual escape time and the bootstrap SE of its log
  (runs resampled with replacement; ``log_se`` is ``None`` with fewer than 2 events).
  ``median`` is the empirical median residual (``None`` if half the runs are censored)."""
  d = residuals(t, horizon, burn_in)
  r, ev = d["r"], d["event"]
  k = int(ev.sum())
  mean = float(_mle(r, ev)) if r.size else math.inf
  log_se = None
  if k >= 2:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, r.size, (num_resamples, r.size))
    boot = _mle(r[idx], ev[idx])
    lb = np.log(boot[np.isfinite(boot)])
    log_se = float(np.std(lb, ddof=1)) if lb.size > 1 else None
  srt = np.sort(np.where(ev, r, np.inf))
  med = float(np.median(srt)) if r.size and np.isfinite(np.median(srt)) else None
  tt = r[ev]
  return {"events": k, "runs": int(r.size), "censored": int(r.size - k), "early": d["early"],
          "diverged": d["diverged"], "num": d["num"], "exposure": float(np.sum(r)),
          "mean": mean, "log_se": log_se, "median": med,
          "cv_escaped": float(np.std(tt) / np.mean(tt)) if k > 1 else None}


def rate_fit(x: Sequence[float], log_mean: Sequence[float], log_se: Sequence[float]) -> dict:
  """Weighted least squares ``log_mean ≈ a + b x`` (weights ``1/log_se²``): ``a``, ``b``,
  ``b_se`` (from the weighted normal equations, not rescaled), ``chi2``, ``dof = k − 2``,
  ``p`` (upper tail of χ²_dof; ``None`` when ``dof < 1``)."""
  x, y, s = (np.asarray(v, np.float64) for v in (x, log_mean, log_se))
  if x.size < 2:
    raise ValueError(f"rate_fit needs at least 2 points, got {x.size}")
  w = 1.0 / s ** 2
  a_mat = np.stack([np.ones_like(x), x], 1)
  cov = np.linalg.inv(a_mat.T @ (w[:, None] * a_mat))
  coef = cov @ (a_mat.T @ (w * y))
  chi2 = float(np.sum(w * (y - a_mat @ coef) ** 2))
  dof = int(x.size - 2)
  return {"a": float(coef[0]), "b": float(coef[1]), "b_se": float(math.sqrt(cov[1, 1])),
          "chi2": chi2, "dof": dof, "p": float(sps.chi2.sf(chi2, dof)) if dof >= 1 else None}


def _ks_distance(r, event, c: float, mean) -> np.ndarray:
  """Sup over [0, c) of |F_n − F| at the event values u and just below them (u − 1), rows of
  ``r`` / ``event`` being samples; ``F(u) = 1 − exp(−u/mean)`` at whole steps (the law of an
  exponential time rounded up to a whole step)."""
  r = np.atleast_2d(r)
  event = np.atleast_2d(event)
  mean = np.atleast_1d(mean)[:, None]
  m = r.shape[1]
  u = np.sort(np.where(event, r, np.inf), axis=1)  # events first, ascending
  fin = np.isfinite(u)
  rank = np.arange(1, m + 1)[None, :]
  # F_n at u_(i): (number of events <= u_(i)) / m; ties: the last of a run of ties counts all
  nxt = np.concatenate([u[:, 1:], np.full((u.shape[0], 1), np.inf)], 1)
  last = nxt != u
  uu = np.where(fin, u, 0.0)
  f_model = -np.expm1(-uu / mean)
  f_below = -np.expm1(-np.maximum(uu - 1.0, 0.0) / mean)
  fn_at = rank / m
  # F_n just below u_(i) = (i − 1 − ties before) / m; the first of a tie run has i − 1 before
  prev = np.concatenate([np.full((u.shape[0], 1), -np.inf), u[:, :-1]], 1)
  first = prev != u
  fn_below = (rank - 1) / m
  d1 = np.where(fin & last, np.abs(fn_at - f_model), 0.0)
  d2 = np.where(fin & first, np.abs(fn_below - f_below), 0.0)
  # and at the censoring point c (from below): F_n(c−) = events / m vs F(c − 1)
  k = event.sum(1)
  d3 = np.abs(k / m - (-np.expm1(-(c - 1.0) / mean[:, 0])))
  return np.maximum(np.maximum(d1.max(1), d2.max(1)), d3)


def censored_ks(r, event, c: float, *, num_draws: int = 999, seed: int = 0) -> dict:
  """KS distance of residual times ``r`` (``event`` False: censored at ``c``) from the
  exponential law at their censored MLE mean, and its parametric-bootstrap p-value (exponential
  draws of that mean, rounded up to whole steps, censored at ``c``, mean re-estimated).
  ``{"ks": None, "p": None}`` with fewer than 2 events."""
  r = np.asarray(r, np.float64)
  event = np.asarray(event, bool)
  k = int(event.sum())
  if k < 2:
    return {"ks": None, "p": None, "mean": None, "events": k}
  mean = float(_mle(r, event))
  d0 = float(_ks_distance(r, event, c, mean)[0])
  rng = np.random.default_rng(seed)
  sim = np.ceil(rng.exponential(mean, (num_draws, r.size)))
  ev = sim < c
  sim = np.where(ev, sim, c)
  ms = _mle(sim, ev)
  ok = np.isfinite(ms)
  ds = _ks_distance(sim[ok], ev[ok], c, ms[ok])
  p = (1 + int(np.sum(ds >= d0))) / (1 + int(ok.sum()))
  return {"ks": d0, "p": float(p), "mean": mean, "events": k}


def surrogate_times(kind: str, mean: float, num: int, horizon: int, burn_in: int = 0, *,
                    seed: int = 0) -> np.ndarray:
  """``num`` escape steps of a surrogate process that survived the burn-in (``burn_in +``
  residual, ``-1`` past ``horizon``): ``"exponential"`` (memoryless) or ``"gamma2"`` (two
  exponential stages, coefficient of variation 1/√2) residuals of mean ``mean``, rounded up."""
  rng = np.random.default_rng(seed)
  if kind == "exponential":
    r = rng.exponential(mean, num)
  elif kind == "gamma2":
    r = rng.gamma(2.0, mean / 2.0, num)
  else:
    raise ValueError(f"kind must be 'exponential' or 'gamma2', got {kind!r}")
  t = burn_in + np.ceil(r)
  return np.where(t < horizon, t, CENSORED).astype(np.int64)


__all__ = ["CENSORED", "residuals", "exponential_mle", "rate_fit", "censored_ks",
           "surrogate_times"]
