"""The MPGD authors' widening-valley recursion (their script's process, not P0 eq. 8 / Fig. 2).

Their script (repository shoelim/mpgd, ``wideningvalleyloss_minimization/
minimizing_widening_valley_loss.py``, commit 715230c; facts and line numbers in
``docs/authors_code.md``) minimizes ℓ(u, v) = v² ‖u‖² / 2 with, for their seed S (2222 in the
script):

    u_{k+1} = u_k - η u_k v_k² + σ0 a_k - μ0 m_k u_k
    v_{k+1} = v_k - η v_k ‖u_{k+1}‖² + σ0 b_k - μ0 m'_k u_{k+1}

* **u is a scalar**: ``np.random.uniform(d) * D`` is ``uniform(low=10, high=1) · 5``, one draw
  on (5, 50] (the first legacy uniform after ``np.random.seed(S)``); v_0 = 0.
* **Gauss-Seidel order**: the v-update uses the *new* u, and its "multiplicative" term multiplies
  u_{k+1}, not v.
* **GD** (their option 0): σ0 = μ0 = 0; nothing moves (v stays 0).
* **Gaussian** (option 1): σ0 = σ, μ0 = μ (no η factor); a ~ N(10, 1) (``np.random.normal(d)``
  has mean d = 10), m, b, m' ~ N(1, 1) (``np.random.normal(1)``), drawn in this order each step
  from the legacy global stream that drew u_0.
* **MPGD** (option 2): σ0 = σ η^γ, μ0 = μ η^γ; a = v1[k], b = v2[k], m = m' = v3[k] for three
  chains of :func:`chaosopt.transforms.contrib.authors.authors_chains` started from seeds S, S+123,
  S+1234 with sign seeds 12+S, 12+S+123, 12+S+1234 (their obs_v: constant sign per chain, χ
  including the current point, no k^{-γ}), read in time order; the additive terms enter with +σ.
* **Control** ``v_term="v"`` (a scheme key): the v-update's multiplicative term multiplies v,
  as P0 eq. 8 does, everything else theirs; it isolates the effect of their u-term.
* **Their plotted "trace"** is ``d v² + ‖u‖²`` with d = 10 although u is a scalar; the Hessian
  trace of their ℓ is v² + u². Both are recorded (``their_trace``, ``hessian_trace``).

chaosopt reproduces this process value for value: u_0 and the Gaussian draws come from the same
legacy NumPy stream (host-side tables), the chains from the same seeds, and the recursion runs in
float64 with their order of operations (``tests/test_widening_valley.py`` compares it with a
direct NumPy transcription of the recursion above). Run seed s of a config is their seed
``authors_seed + s``. This is experiment-level code on purpose: the recursion is not
"GD plus a perturbation of the parameters" (the v-update reads the new u), so it is not an optax
transform; the noise sources are the library's (``authors_chains``) and NumPy's legacy stream.
"""
from __future__ import annotations

import numpy as np

OPTIONS = ("gd", "gaussian", "mpgd")
CHAIN_OFFSETS = (0, 123, 1234)
SIGN_OFFSET = 12
TRACE_DIM = 10               # the d in their plotted d v² + ‖u‖²


def initial_u(seed: int) -> float:
  """u_0 = 5 · uniform(low=10, high=1) from ``RandomState(seed)`` (their ``uniform(d) * D``)."""
  return float(np.random.RandomState(int(seed)).uniform(10.0) * 5.0)


def gaussian_draws(seed: int, num_steps: int) -> np.ndarray:
  """[num_steps, 4] (a, m, b, m') of their Gaussian option: the legacy stream of
  ``RandomState(seed)`` after u_0, N(10, 1), N(1, 1), N(1, 1), N(1, 1) per step."""
  rs = np.random.RandomState(int(seed))
  rs.uniform(10.0)  # u_0
  z = rs.standard_normal(4 * int(num_steps)).reshape(int(num_steps), 4)
  return z + np.array([10.0, 1.0, 1.0, 1.0])


def chain_draws(seeds, gamma: float, beta: float, num_steps: int) -> np.ndarray:
  """[len(seeds), num_steps, 4] (a, m, b, m') = (v1[k], v3[k], v2[k], v3[k]) of their MPGD
  option for each seed (all chains of all seeds in one host call)."""
  from chaosopt.transforms.contrib import authors
  seeds = [int(s) for s in seeds]
  init = [s + o for s in seeds for o in CHAIN_OFFSETS]
  sign = [SIGN_OFFSET + s + o for s in seeds for o in CHAIN_OFFSETS]
  v = authors.authors_chains(init, sign, gamma, beta, num_steps)  # [3n, T+1]
  v = v.reshape(len(seeds), 3, -1)[:, :, :int(num_steps)]
  return np.stack([v[:, 0], v[:, 2], v[:, 1], v[:, 2]], axis=-1)


def step(u, v, noise, sigma0, mu0, eta, xp=np, v_term_on_v: bool = False):
  """One step of their recursion (module docstring) with their order of operations; ``noise``
  = (a, m, b, m'). ``xp``: numpy or jax.numpy. ``v_term_on_v``: the control whose v-update's
  multiplicative term multiplies v (as in P0 eq. 8) instead of their u_{k+1}."""
  a, m, b, m2 = noise[0], noise[1], noise[2], noise[3]
  u1 = u - eta * (u * v ** 2) + sigma0 * a - mu0 * m * u
  n2 = xp.sqrt(u1 * u1) ** 2  # np.linalg.norm(u) ** 2 of a scalar, as their code computes it
  v1 = v - eta * (v * n2) + sigma0 * b - mu0 * m2 * (v if v_term_on_v else u1)
  return u1, v1


def metrics(u, v, xp=np) -> dict:
  """loss v²u²/2, v, u² (``u_norm2``), the Hessian trace v² + u² and their plotted 10 v² + u²."""
  u2 = u * u
  return {"loss": v ** 2 * u2 / 2, "v": v, "u_norm2": u2, "hessian_trace": v ** 2 + u2,
          "their_trace": TRACE_DIM * v ** 2 + u2}


def scheme_inputs(scheme: dict, seeds, eta: float, num_steps: int) -> tuple[np.ndarray, float,
                                                                               float]:
  """(noise [n, T, 4], σ0, μ0) of one scheme of the table for their seeds ``seeds``."""
  kind, n = scheme["kind"], len(seeds)
  if kind == "gd":
    return np.zeros((n, int(num_steps), 4)), 0.0, 0.0
  sigma, mu = float(scheme["sigma"]), float(scheme["mu"])
  if kind == "gaussian":
    return np.stack([gaussian_draws(s, num_steps) for s in seeds]), sigma, mu
  if kind == "mpgd":
    g = float(scheme["gamma"])
    scale = float(eta) ** g
    return chain_draws(seeds, g, float(scheme.get("beta", 0.5)), num_steps), sigma * scale, \
        mu * scale
  raise ValueError(f"authors' valley: kind must be one of {OPTIONS}, got {kind!r}")
