"""The noise-kind registry: register, get and list the kinds experiment configs may name.

No equation and no policy: a table from a kind's name (``scheme["kind"]`` in a config) to the
:class:`NoiseSpec` given when it was registered. Every registered factory is a perturbation of
the noisy-GD recursion of P0 eq. 8 (``u <- u - mu eta^p xi1 ⊙ x + sigma eta^p xi2``, see
:mod:`chaosopt.transforms._base`); what the registry stores beside the factory (``traced``,
``prepare``, ``context``) is data for the experiment runner, which interprets it
(:mod:`chaosopt.train.schemes`); the registry only keeps it.

Noise modules register their kinds when they are imported: :mod:`chaosopt.transforms` imports
the built-in modules (``gd``, ``gaussian``, ``mpgd``, ``eq11`` from
:mod:`chaosopt.transforms.mpgd`; ``levy`` from :mod:`chaosopt.transforms.levy`) and
:mod:`chaosopt.transforms.contrib` every module in its folder (docs/extending.md).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional

import optax

Factory = Callable[..., optax.GradientTransformation]


class NoiseSpec(NamedTuple):
  """A registered noise kind, as given to :func:`register_noise`."""
  kind: str
  factory: Optional[Factory]      # factory(learning_rate, *, key, **hyper_parameters); None: GD
  fixed: Mapping[str, Any]        # keyword arguments the kind binds (e.g. variant="eq11")
  description: str
  # data for the runner (chaosopt.train.schemes reads them; the registry does not):
  traced: tuple                   # hyper-parameters that may be vmapped in one program
  prepare: Mapping[str, Callable[[Any], Any]]  # host-side preparation of traced values
  context: tuple                  # arguments the runner fills from the run


_REGISTRY: dict[str, NoiseSpec] = {}


def register_noise(kind: str, factory: Optional[Factory], *, traced: tuple = (),
                   prepare: Optional[Mapping[str, Callable[[Any], Any]]] = None,
                   fixed: Optional[Mapping[str, Any]] = None, description: str = "",
                   context: tuple = (), overwrite: bool = False) -> NoiseSpec:
  r"""Registers a noise kind: experiment configs may then name it in a scheme.

  A scheme of kind ``kind`` runs the noisy-GD recursion of P0 eq. 8 with this kind's noise:

  .. code-block:: text

    x_{k+1} = x_k - eta_k grad R(x_k) + perturbation_k(x_k),
    built as optax.chain(optax.sgd(eta), factory(eta, key=key, **fixed, **hyper_parameters))

  The registry stores the arguments as given; the runner reads them (what a config may set,
  validation, vmapping: :mod:`chaosopt.train.schemes`, docs/extending.md).

  Args:
    kind: the name configs use (``scheme["kind"]``).
    factory: ``factory(learning_rate, *, key, **hyper_parameters) -> GradientTransformation``
      adding the perturbation to the updates (e.g. :func:`chaosopt.mpgd_perturbation`, or
      :func:`chaosopt.perturbation` around a :class:`~chaosopt.NoiseProcess`); ``None`` for
      plain GD.
    traced: for the runner: hyper-parameters that may be vmapped (one compiled program for
      several values).
    prepare: for the runner: host-side preparation of traced values (float64 array -> factory
      argument).
    fixed: keyword arguments bound by this kind (not settable from configs).
    description: one line shown by ``chaosopt list --kinds``.
    context: for the runner: factory arguments it fills from the run (``"seed"``,
      ``"seed_range"``, ``"num_steps"``).
    overwrite: allow replacing an existing kind (otherwise a ``ValueError``).

  Returns:
    The registered :class:`NoiseSpec`.

  Examples:
    >>> import chaosopt
    >>> from chaosopt.transforms.registry import get_noise, unregister_noise
    >>> spec = chaosopt.register_noise("my_gaussian", chaosopt.gaussian_perturbation,
    ...                                traced=("sigma",), description="example")
    >>> get_noise("my_gaussian") is spec, spec.traced
    (True, ('sigma',))
    >>> unregister_noise("my_gaussian")

  References:
    Lim, Wan & Şimşekli, NeurIPS 2022, eq. 8 (P0 in docs/papers.md); docs/extending.md.
  """
  if not isinstance(kind, str) or not kind:
    raise ValueError(f"kind must be a non-empty string, got {kind!r}")
  if kind in _REGISTRY and not overwrite:
    raise ValueError(f"noise kind {kind!r} is already registered (pass overwrite=True)")
  spec = NoiseSpec(kind=kind, factory=factory, fixed=dict(fixed or {}), description=description,
                   traced=tuple(traced), prepare=dict(prepare or {}), context=tuple(context))
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
