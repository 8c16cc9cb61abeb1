"""The noise-process registry: scheme kinds runnable from experiment configs.

No new equation: every registered kind is the noisy-GD recursion of P0 eq. 8 with its noise
swapped (see :mod:`chaosopt.transforms._base`),

    x_{k+1} = x_k - eta_k grad R(x_k) + perturbation_k(x_k),

built as ``optax.chain(optax.sgd(eta), factory(eta, key=key, **hyper_parameters))``. A kind is
registered once, with its perturbation factory; configs then name it in a scheme
(``{"name": "mine", "kind": "mine", "sigma": 0.1}``) and the experiment runner builds, validates
and vmaps it without any edit elsewhere:

* the keys a scheme may set are the factory's keyword arguments (minus ``key`` and those the
  kind fixes), their defaults are the factory's defaults;
* values are validated by calling the factory itself with them (its own ``ValueError`` becomes
  the config error), before anything is compiled;
* ``traced`` names the hyper-parameters that may differ between schemes of one compiled,
  vmapped program (``learning_rate`` always may); the others must be equal within a program
  (they select the program's structure). ``prepare`` maps a traced key to a host-side function
  turning a float64 array of values into what the factory accepts under ``vmap`` (e.g. γ ↦
  :func:`chaosopt.dynamics.thaler.thaler_constants`).

Built-in kinds: ``gd`` (no perturbation), ``gaussian`` (P0's Gaussian baseline), ``mpgd``
(P0 eq. 8), ``eq11`` (P0 eq. 11), ``levy`` (P2 eq. 3, Euler scheme of the α-stable SDE).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, NamedTuple, Optional

import optax

from chaosopt.dynamics import thaler
from chaosopt.transforms.levy import levy_perturbation
from chaosopt.transforms.mpgd import gaussian_perturbation, mpgd_perturbation

Factory = Callable[..., optax.GradientTransformation]
# arguments a config never sets: the runner supplies them
RESERVED = ("learning_rate", "key")
# run-context values a kind may ask the runner for (``register_noise(..., context=...)``):
# "seed" the member's integer seed (traced: one program for all seeds), "seed_range" the
# (first, last) seeds of the run (static), "num_steps" the run's length (static). Processes
# that are functions of an integer seed rather than a PRNG key (host-built tables such as the
# authors' MPGD process) use them.
CONTEXT = ("seed", "seed_range", "num_steps")


class NoiseSpec(NamedTuple):
  """A registered scheme kind (see the module docstring)."""
  kind: str
  factory: Optional[Factory]      # None: plain GD
  traced: tuple                   # vmappable hyper-parameters besides learning_rate
  prepare: Mapping[str, Callable[[Any], Any]]
  fixed: Mapping[str, Any]        # keyword arguments this kind binds (e.g. variant="eq11")
  description: str
  context: tuple = ()             # arguments the runner supplies from the run (CONTEXT)

  @property
  def parameters(self) -> dict[str, inspect.Parameter]:
    """The factory's configurable keyword arguments (name -> ``inspect.Parameter``)."""
    if self.factory is None:
      return {}
    params = inspect.signature(self.factory).parameters
    return {k: p for k, p in params.items()
            if k not in RESERVED and k not in self.fixed and k not in self.context
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}

  @property
  def required(self) -> tuple:
    """Hyper-parameters a scheme of this kind must set (factory arguments without default)."""
    return tuple(k for k, p in self.parameters.items() if p.default is inspect.Parameter.empty)

  def defaults(self) -> dict:
    return {k: p.default for k, p in self.parameters.items()
            if p.default is not inspect.Parameter.empty}

  def build(self, learning_rate, key, **hparams) -> optax.GradientTransformation:
    """``optax.sgd(learning_rate)`` followed by this kind's perturbation."""
    sgd = optax.sgd(learning_rate)
    if self.factory is None:
      return sgd
    return optax.chain(sgd, self.factory(learning_rate, key=key, **self.fixed, **hparams))

  def check(self, learning_rate, hparams: Mapping[str, Any]) -> None:
    """Raises ``ValueError`` (the factory's own message) if the values are not accepted."""
    unknown = sorted(set(hparams) - set(self.parameters))
    if unknown:
      raise ValueError(f"unknown hyper-parameter(s) {unknown} for kind {self.kind!r}; "
                       f"allowed: {sorted(self.parameters)}")
    missing = [k for k in self.required if k not in hparams]
    if missing:
      raise ValueError(f"kind {self.kind!r} needs {missing}")
    if learning_rate is not None and not learning_rate > 0:
      raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    if self.factory is not None:
      self.factory(learning_rate, key=0, **self.fixed, **hparams)


_REGISTRY: dict[str, NoiseSpec] = {}


def register_noise(kind: str, factory: Optional[Factory], *, traced: tuple = (),
                   prepare: Optional[Mapping[str, Callable[[Any], Any]]] = None,
                   fixed: Optional[Mapping[str, Any]] = None, description: str = "",
                   context: tuple = (), overwrite: bool = False) -> NoiseSpec:
  r"""Registers a scheme kind, making a perturbation runnable from experiment configs.

  A scheme of kind ``kind`` runs the noisy-GD recursion of P0 eq. 8 with this kind's noise:

  .. code-block:: text

    x_{k+1} = x_k - eta_k grad R(x_k) + perturbation_k(x_k),
    built as optax.chain(optax.sgd(eta), factory(eta, key=key, **hyper_parameters))

  Args:
    kind: the name configs use (``scheme["kind"]``).
    factory: ``factory(learning_rate, *, key, **hyper_parameters) -> GradientTransformation``
      adding the perturbation to the updates (e.g. :func:`chaosopt.mpgd_perturbation`, or
      :func:`chaosopt.perturbation` around a :class:`~chaosopt.NoiseProcess`); ``None`` for
      plain GD.
    traced: hyper-parameters that may be vmapped (one compiled program for several values).
    prepare: host-side preparation of traced values (float64 array -> factory argument).
    fixed: keyword arguments bound by this kind (not settable from configs).
    description: one line shown by ``chaosopt list --kinds``.
    context: factory arguments the runner fills from the run (a subset of :data:`CONTEXT`).
    overwrite: allow replacing an existing kind (otherwise a ``ValueError``).

  Returns:
    The registered :class:`NoiseSpec` (its ``parameters``, ``defaults()``, ``check`` and
    ``build`` are what the runner uses).

  Examples:
    >>> import jax.numpy as jnp
    >>> import chaosopt
    >>> from chaosopt.transforms.registry import get_noise, unregister_noise
    >>> spec = chaosopt.register_noise("my_gaussian", chaosopt.gaussian_perturbation,
    ...                                traced=("sigma",), description="example")
    >>> sorted(spec.parameters), spec.defaults()["exponent"]
    (['exponent', 'mu', 'sigma'], 0.5)
    >>> tx = get_noise("my_gaussian").build(0.1, 0, sigma=0.0)  # sgd + perturbation
    >>> updates, _ = tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
    >>> updates.round(3)
    Array([-0.1, -0.1], dtype=float32)
    >>> unregister_noise("my_gaussian")

  References:
    Lim, Wan & Şimşekli, NeurIPS 2022, eq. 8 (P0 in docs/papers.md); docs/extending.md.
  """
  if not isinstance(kind, str) or not kind:
    raise ValueError(f"kind must be a non-empty string, got {kind!r}")
  if kind in _REGISTRY and not overwrite:
    raise ValueError(f"noise kind {kind!r} is already registered (pass overwrite=True)")
  bad_ctx = [c for c in context if c not in CONTEXT]
  if bad_ctx:
    raise ValueError(f"context {bad_ctx} not supported; one of {CONTEXT}")
  spec = NoiseSpec(kind=kind, factory=factory, traced=tuple(traced),
                   prepare=dict(prepare or {}), fixed=dict(fixed or {}),
                   description=description, context=tuple(context))
  bad = [k for k in spec.traced if k not in spec.parameters]
  if bad:
    raise ValueError(f"traced hyper-parameter(s) {bad} are not arguments of {factory!r}")
  _REGISTRY[kind] = spec
  return spec


def unregister_noise(kind: str) -> None:
  """Removes a kind (tests that register a toy process clean up with this)."""
  _REGISTRY.pop(kind, None)


def get_noise(kind: str) -> NoiseSpec:
  """The :class:`NoiseSpec` of ``kind``; ``KeyError`` naming the registered kinds otherwise."""
  try:
    return _REGISTRY[kind]
  except KeyError:
    raise KeyError(f"unknown noise kind {kind!r}; registered: {sorted(_REGISTRY)}") from None


def noise_kinds() -> tuple:
  """The registered kinds, in registration order."""
  return tuple(_REGISTRY)


def build(kind: str, static: Mapping[str, Any], hparams: Mapping[str, Any], key
          ) -> optax.GradientTransformation:
  """``optax.sgd(hparams["learning_rate"])`` chained with ``kind``'s perturbation built from
  ``static`` and the (possibly traced) other ``hparams``: the one optimizer builder of the
  scheme-table runner and the full-batch trainer."""
  hp = dict(hparams)
  lr = hp.pop("learning_rate")
  return get_noise(kind).build(lr, key, **dict(static), **hp)


def _gamma_constants(values):
  return thaler.thaler_constants(values)


register_noise("gd", None, description="plain gradient descent (no perturbation)")
register_noise("gaussian", gaussian_perturbation, traced=("mu", "sigma", "exponent"),
               description="P0 Gaussian baseline: -mu eta^p xi1*x + sigma eta^p xi2, xi ~ N(0,1)")
register_noise("mpgd", mpgd_perturbation, traced=("mu", "sigma", "gamma"),
               prepare={"gamma": _gamma_constants}, fixed={"variant": "mpgd"},
               description="P0 eq. 8: Thaler-map observables, eta^gamma scaling")
register_noise("eq11", mpgd_perturbation, traced=("mu", "sigma", "gamma"),
               prepare={"gamma": _gamma_constants}, fixed={"variant": "eq11"},
               description="P0 eq. 11: differences of two unsigned Thaler observables")
register_noise("levy", levy_perturbation, traced=("mu", "sigma"),
               description="P2 eq. 3: S_alpha(1, beta, 0) noise, eta^(1/alpha) scaling")

# kinds registered by other modules of chaosopt (imported last: they call register_noise)
from chaosopt.transforms import authors as _authors  # noqa: E402,F401  (registers its kinds)
