"""Multiscale objectives ``f = f0 + f_{1,eps}`` of Kong & Tao (2020), P1 of docs/papers.md.

Each objective carries what P1's theory needs:

* ``f0`` (macroscopic part) and ``f1(x, eps)`` (microscopic part, eq. 1);
* ``zeta(key, x)``: a draw of the bounded noise of Cond. 1, the weak limit of
  ``-grad f_{1,eps}(x + Y)`` for a small uniform shift ``Y``; it drives the stochastic map
  ``phi_hat(x) = x - eta grad f0(x) + eta zeta`` (Thm. 4);
* ``sigma2``: ``Var zeta`` per coordinate (isotropic cases), which sets the rescaled Gibbs
  density ``exp(-2 f0 / (eta sigma2))`` (eq. 2, Thm. 7);
* ``m_paper`` / ``m_theory``: the constant of Cond. 2, ``m = E ln ||eps Hess f_{1,eps}(U)||_2``,
  which gives the Lyapunov exponent ``lambda ~ m + ln(eta/eps)`` (Thm. 9). ``m_theory`` is our
  exact value where one is known in closed form; ``chaosopt.analysis.lyapunov.measure_m``
  measures it numerically. Erratum (docs/errata.md): for ``eps(sin(x/eps) + sin(sqrt2 x/eps))`` the
  paper prints ``m = -0.0117`` but the torus average of ``ln|sin a + 2 sin b|`` is exactly 0.

Points are arrays of shape ``(dim,)`` (also in 1-D), so Jacobians are ``dim x dim``.

Precision: for ``eps <= 1e-4`` the phase ``x/eps`` cannot be resolved in float32 (float32
spacing near ``x = 1`` is 1.2e-7, i.e. a phase error of ``1.2e-7/eps`` radians), so the
constructors refuse such ``eps`` unless x64 is enabled (``jax.config.update("jax_enable_x64",
True)`` before any array is created, which :func:`configure_precision` does from a config).
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt._validation import check_positive
from chaosopt.core import draws
from chaosopt.core.precision import x64_enabled, x64_scope  # noqa: F401 - re-exported

# eps at or below this needs float64 (the threshold).
X64_EPS_THRESHOLD = 1e-4
SQRT2 = math.sqrt(2.0)
LN2 = math.log(2.0)
# k_critical = 3 sqrt(3) / 8 for k (x^2 - 1)^2 + eps sin(x/eps) (P1 Rmk. 12).
K_CRITICAL = 3.0 * math.sqrt(3.0) / 8.0


def require_x64(eps: float, *, allow_float32: bool = False, what: str = "objective") -> None:
  """Refuses (``ValueError``) ``eps <= 1e-4`` without x64; warns instead if ``allow_float32``."""
  if eps <= X64_EPS_THRESHOLD and not x64_enabled():
    msg = (f"{what}: eps={eps:g} <= {X64_EPS_THRESHOLD:g} is meaningless in float32 (the phase "
           f"x/eps has an error of ~{1.2e-7 / eps:.2g} rad near |x| = 1). Enable float64: set "
           "config.x64 = True (chaosopt.tasks.multiscale.configure_precision) or call "
           "jax.config.update('jax_enable_x64', True) before creating any array.")
    if allow_float32:
      warnings.warn("FLOAT32 RESULTS ARE UNRELIABLE: " + msg, RuntimeWarning, stacklevel=3)
    else:
      raise ValueError(msg)


def configure_precision(config: Any) -> None:
  """Applies ``config.x64`` (call first thing in a script, before any array exists)."""
  if bool(getattr(config, "x64", False)):
    jax.config.update("jax_enable_x64", True)


@dataclasses.dataclass(frozen=True)
class MultiscaleObjective:
  """``f(x) = f0(x) + f1(x, eps)`` with the noise and constants of P1 (see module docstring)."""
  name: str
  dim: int
  eps: float
  f0: Callable[[jax.Array], jax.Array]
  f1: Callable[[jax.Array, Any], jax.Array]
  zeta: Callable[[jax.Array, jax.Array], jax.Array]
  sigma2: Optional[float]  # Var zeta per coordinate; None if zeta depends on x
  m_paper: Optional[float]
  m_theory: Optional[float]
  description: str = ""

  def f(self, x: jax.Array, eps=None) -> jax.Array:
    return self.f0(x) + self.f1(x, self.eps if eps is None else eps)

  def grad(self, x: jax.Array, eps=None) -> jax.Array:
    return jax.grad(self.f)(x, eps)

  def grad_f0(self, x: jax.Array) -> jax.Array:
    return jax.grad(self.f0)(x)

  def gd_map(self, x: jax.Array, eta, eps=None) -> jax.Array:
    """P1's deterministic map ``phi(x) = x - eta grad f(x)``; ``eta``/``eps`` may be traced."""
    return x - eta * self.grad(x, eps)

  def stochastic_map(self, key: jax.Array, x: jax.Array, eta) -> jax.Array:
    """P1's ``phi_hat(x) = x - eta grad f0(x) + eta zeta`` with a fresh draw of ``zeta``."""
    return x - eta * self.grad_f0(x) + eta * self.zeta(key, x)

  def micro_hessian_scaled(self, x: jax.Array, eps=None) -> jax.Array:
    """``eps * Hess f_{1,eps}(x)`` (Cond. 2), by autodiff."""
    e = self.eps if eps is None else eps
    return e * jax.hessian(self.f1)(x, e)

  def info(self) -> dict:
    return {"name": self.name, "dim": self.dim, "eps": self.eps, "sigma2": self.sigma2,
            "m_paper": self.m_paper, "m_theory": self.m_theory,
            "description": self.description}


def _uniform_phase(key, shape, dtype):
  return draws.flat(jax.random.uniform, key, shape, dtype, 0.0, 2.0 * math.pi)


def _zeta_neg_cos(key, x):
  """``-cos U``: the limit of ``-d/dx eps sin(x/eps)``; Var 1/2."""
  return -jnp.cos(_uniform_phase(key, x.shape, x.dtype))


def _zeta_quasi(key, x):
  """``-(cos U1 + sqrt2 cos U2)``, U1, U2 independent (equidistribution on the torus); Var 3/2."""
  k1, k2 = jax.random.split(key)
  u1 = _uniform_phase(k1, x.shape, x.dtype)
  u2 = _uniform_phase(k2, x.shape, x.dtype)
  return -(jnp.cos(u1) + SQRT2 * jnp.cos(u2))


def _make(name, dim, eps, f0, f1, zeta, sigma2, m_paper, m_theory, description,
          allow_float32) -> MultiscaleObjective:
  check_positive("eps", eps)
  require_x64(eps, allow_float32=allow_float32, what=name)
  return MultiscaleObjective(name, dim, float(eps), f0, f1, zeta, sigma2, m_paper, m_theory,
                             description)


def _sin_micro(x, eps):
  return eps * jnp.sum(jnp.sin(x / eps))


def _quasi_micro(x, eps):
  return eps * jnp.sum(jnp.sin(x / eps) + jnp.sin(SQRT2 * x / eps))


def quartic_sin(eps: float = 1e-6, *, allow_float32: bool = False) -> MultiscaleObjective:
  """``x^4/4 + eps sin(x/eps)`` (P1 Fig. 3; eta = 0.1, eps = 1e-6)."""
  return _make("quartic_sin", 1, eps, lambda x: jnp.sum(x ** 4) / 4.0, _sin_micro,
               _zeta_neg_cos, 0.5, -LN2, -LN2, "x^4/4 + eps sin(x/eps)", allow_float32)


def quartic_quasiperiodic(eps: float = 1e-6, *,
                          allow_float32: bool = False) -> MultiscaleObjective:
  """``x^4/4 + eps(sin(x/eps) + sin(sqrt2 x/eps))`` (P1 Fig. 4 / Ex. 2 / Fig. 15).

  ``m_paper = -0.0117`` as printed; ``m_theory = 0`` (docs/errata.md: the torus average of
  ``ln|sin a + 2 sin b|`` vanishes because ``(1/2pi) int ln|c + 2 sin t| dt = 0`` for |c| <= 2).
  """
  return _make("quartic_quasiperiodic", 1, eps, lambda x: jnp.sum(x ** 4) / 4.0, _quasi_micro,
               _zeta_quasi, 1.5, -0.0117, 0.0,
               "x^4/4 + eps(sin(x/eps) + sin(sqrt2 x/eps))", allow_float32)


def tilted_double_well_quasiperiodic(eps: float = 0.01, *,
                                     allow_float32: bool = False) -> MultiscaleObjective:
  """``(x^2-1)^2/4 + x/8 + eps(sin(x/eps) + sin(sqrt2 x/eps))`` (P1 Fig. 1, eps = 0.01)."""
  return _make("tilted_double_well_quasiperiodic", 1, eps,
               lambda x: jnp.sum((x ** 2 - 1.0) ** 2 / 4.0 + x / 8.0), _quasi_micro,
               _zeta_quasi, 1.5, -0.0117, 0.0,
               "(x^2-1)^2/4 + x/8 + eps(sin(x/eps) + sin(sqrt2 x/eps))", allow_float32)


FIG5_OMEGA = math.sqrt(3.0) / 5.0


def _fig5_micro(x, eps):
  return eps * jnp.sum(jnp.cos(1.0 + jnp.cos(FIG5_OMEGA * x) / eps))


def _zeta_fig5(key, x):
  """State-dependent limit of ``-f1'``: ``-omega sin(omega x) sin U`` (Cond. 1 fails where
  ``sin(omega x) = 0``, e.g. at the minimizer x = 0 of f0); ``Var = omega^2 sin^2(omega x)/2``."""
  u = _uniform_phase(key, x.shape, x.dtype)
  return -FIG5_OMEGA * jnp.sin(FIG5_OMEGA * x) * jnp.sin(u)


def fig5_nonquasiperiodic(eps: float = 1e-4, *,
                          allow_float32: bool = False) -> MultiscaleObjective:
  """``x^2/2 + eps cos(1 + cos(sqrt3 x/5)/eps)`` (P1 Fig. 5; violates Cond. 1 and 2).

  ``zeta`` is state dependent (see :func:`_zeta_fig5`), so ``sigma2`` is None and the rescaled
  Gibbs density is not defined; m is not defined either (Cond. 2 fails).
  """
  return _make("fig5_nonquasiperiodic", 1, eps, lambda x: jnp.sum(x ** 2) / 2.0, _fig5_micro,
               _zeta_fig5, None, None, None, "x^2/2 + eps cos(1 + cos(sqrt3 x/5)/eps)",
               allow_float32)


def quartic_negcos(eps: float = 1e-3, *, allow_float32: bool = False) -> MultiscaleObjective:
  """``x^4/4 - eps cos(x/eps)`` (P1 Fig. 9 bifurcation diagram, eps = 1e-3)."""
  return _make("quartic_negcos", 1, eps, lambda x: jnp.sum(x ** 4) / 4.0,
               lambda x, e: -e * jnp.sum(jnp.cos(x / e)), _zeta_neg_cos, 0.5, -LN2, -LN2,
               "x^4/4 - eps cos(x/eps)", allow_float32)


def quadratic_sin(eps: float = 1e-4, *, allow_float32: bool = False) -> MultiscaleObjective:
  """``x^2/2 + eps sin(x/eps)`` (P1 Figs. 18-19, heavy ball and NAG-SC; mu = 1)."""
  return _make("quadratic_sin", 1, eps, lambda x: jnp.sum(x ** 2) / 2.0, _sin_micro,
               _zeta_neg_cos, 0.5, -LN2, -LN2, "x^2/2 + eps sin(x/eps)", allow_float32)


def double_well_sin(k: float = 1.0, eps: float = 1e-4, *,
                    allow_float32: bool = False) -> MultiscaleObjective:
  """``k (x^2-1)^2 + eps sin(x/eps)``: Figs. 13-14 (k = 1) and Figs. 20-21 (k = 0.02 vs 5).

  With ``zeta in [-1, 1]``, ``phi_hat`` cannot cross x = 0 iff ``{x: |4k x(x^2-1)| <= 1}`` is
  disconnected, i.e. ``k > K_CRITICAL = 3 sqrt3 / 8`` (Rmk. 12).
  """
  check_positive("k", k)
  return _make(f"double_well_sin(k={k:g})", 1, eps,
               lambda x: k * jnp.sum((x ** 2 - 1.0) ** 2), _sin_micro, _zeta_neg_cos, 0.5,
               -LN2, -LN2, f"{k:g} (x^2-1)^2 + eps sin(x/eps)", allow_float32)


MATYAS_M_PAPER = -0.2669


def _zeta_matyas(key, x):
  """``-grad(eps sin(x/eps) + eps cos(y/eps)) -> (-cos U1, sin U2)``; Var 1/2 each."""
  k1, k2 = jax.random.split(key)
  u1 = _uniform_phase(k1, x.shape[:-1], x.dtype)
  u2 = _uniform_phase(k2, x.shape[:-1], x.dtype)
  return jnp.stack([-jnp.cos(u1), jnp.sin(u2)], axis=-1)


def matyas_sincos(eps: float = 1e-7, *, allow_float32: bool = False) -> MultiscaleObjective:
  """``0.26(x^2+y^2) + 0.48xy + eps sin(x/eps) + eps cos(y/eps)`` (P1 Figs. 10-12, 16-17).

  ``m = (1/4pi^2) int ln max(|sin a|, |cos b|)``: printed -0.2669; ``m_theory`` is None
  (no closed form; ``chaosopt.analysis.lyapunov`` measures it).
  """
  def f0(x):
    return 0.26 * (x[0] ** 2 + x[1] ** 2) + 0.48 * x[0] * x[1]

  def f1(x, e):
    return e * jnp.sin(x[0] / e) + e * jnp.cos(x[1] / e)

  return _make("matyas_sincos", 2, eps, f0, f1, _zeta_matyas, 0.5, MATYAS_M_PAPER, None,
               "0.26(x^2+y^2) + 0.48xy + eps sin(x/eps) + eps cos(y/eps)", allow_float32)


REGISTRY: dict[str, Callable[..., MultiscaleObjective]] = {
    "quartic_sin": quartic_sin,
    "quartic_quasiperiodic": quartic_quasiperiodic,
    "tilted_double_well_quasiperiodic": tilted_double_well_quasiperiodic,
    "fig5_nonquasiperiodic": fig5_nonquasiperiodic,
    "quartic_negcos": quartic_negcos,
    "quadratic_sin": quadratic_sin,
    "double_well_sin": double_well_sin,
    "matyas_sincos": matyas_sincos,
}


def get_objective(name: str, **kwargs) -> MultiscaleObjective:
  """Looks an objective up by name (``kwargs`` go to its constructor)."""
  if name not in REGISTRY:
    raise ValueError(f"unknown multiscale objective {name!r}; known: {sorted(REGISTRY)}")
  return REGISTRY[name](**kwargs)
