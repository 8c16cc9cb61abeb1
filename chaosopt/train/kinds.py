"""How the runner reads a registered noise kind (:mod:`chaosopt.transforms.registry`).

Execution layer; the recursion is P0 eq. 8 with the kind's noise,
``optax.chain(optax.sgd(eta), factory(eta, key=key, **fixed, **hyper_parameters))``
(:func:`build`). The registry stores a :class:`~chaosopt.transforms.registry.NoiseSpec` as
given; this module gives its fields their meaning:

* the keys a scheme may set are the factory's keyword arguments minus ``key``,
  ``learning_rate``, the kind's ``fixed`` ones and its ``context`` ones; their defaults are the
  factory's defaults (:func:`parameters`, :func:`defaults`);
* values are validated by calling the factory itself with them (its own ``ValueError`` becomes
  the config error) before anything is compiled (:func:`check`);
* ``traced`` names the hyper-parameters that may differ between schemes of one compiled,
  vmapped program (``learning_rate`` always may); the others must be equal within a program.
  ``prepare`` maps a traced key to a host-side function turning a float64 array of values into
  what the factory accepts under ``vmap`` (e.g. γ ↦ :func:`chaosopt.dynamics.thaler.thaler_constants`);
* ``context`` names factory arguments filled from the run (:data:`CONTEXT`;
  :func:`chaosopt.train.runner.run_context`).

:func:`check_spec` rejects registered data that does not fit these rules, naming the kind.
"""
from __future__ import annotations

import inspect
from typing import Any, Mapping

import optax

from chaosopt.transforms import registry
from chaosopt.transforms.registry import NoiseSpec

# arguments a config never sets: the runner supplies them
RESERVED = ("learning_rate", "key")
# run-context values a kind may ask the runner for (``register_noise(..., context=...)``):
# "seed" the member's integer seed (traced: one program for all seeds), "seed_range" the
# (first, last) seeds of the run (static), "num_steps" the run's length (static). Processes
# that are functions of an integer seed rather than a PRNG key (host-built tables such as the
# authors' MPGD process) use them.
CONTEXT = ("seed", "seed_range", "num_steps")


def parameters(spec: NoiseSpec) -> dict[str, inspect.Parameter]:
  """The factory's configurable keyword arguments (name -> ``inspect.Parameter``)."""
  if spec.factory is None:
    return {}
  params = inspect.signature(spec.factory).parameters
  return {k: p for k, p in params.items()
          if k not in RESERVED and k not in spec.fixed and k not in spec.context
          and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def required(spec: NoiseSpec) -> tuple:
  """Hyper-parameters a scheme of this kind must set (factory arguments without default)."""
  return tuple(k for k, p in parameters(spec).items() if p.default is inspect.Parameter.empty)


def defaults(spec: NoiseSpec) -> dict:
  return {k: p.default for k, p in parameters(spec).items()
          if p.default is not inspect.Parameter.empty}


def check_spec(spec: NoiseSpec) -> None:
  """Raises ``ValueError`` naming the kind if its runner data does not fit its factory."""
  bad_ctx = [c for c in spec.context if c not in CONTEXT]
  if bad_ctx:
    raise ValueError(f"noise kind {spec.kind!r}: context {bad_ctx} not supported; one of "
                     f"{CONTEXT}")
  bad = [k for k in spec.traced if k not in parameters(spec)]
  if bad:
    raise ValueError(f"noise kind {spec.kind!r}: traced hyper-parameter(s) {bad} are not "
                     f"configurable arguments of {spec.factory!r}")
  bad = [k for k in spec.prepare if k not in spec.traced and k not in spec.context]
  if bad:
    raise ValueError(f"noise kind {spec.kind!r}: prepare names {bad}, which are neither traced "
                     f"nor context")


def check(spec: NoiseSpec, learning_rate, hparams: Mapping[str, Any]) -> None:
  """Raises ``ValueError`` (the factory's own message) if the values are not accepted."""
  check_spec(spec)
  allowed = parameters(spec)
  unknown = sorted(set(hparams) - set(allowed))
  if unknown:
    raise ValueError(f"unknown hyper-parameter(s) {unknown} for kind {spec.kind!r}; "
                     f"allowed: {sorted(allowed)}")
  missing = [k for k in required(spec) if k not in hparams]
  if missing:
    raise ValueError(f"kind {spec.kind!r} needs {missing}")
  if learning_rate is not None and not learning_rate > 0:
    raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
  if spec.factory is not None:
    spec.factory(learning_rate, key=0, **spec.fixed, **hparams)


def build(kind: str, static: Mapping[str, Any], hparams: Mapping[str, Any], key
          ) -> optax.GradientTransformation:
  """``optax.sgd(hparams["learning_rate"])`` chained with ``kind``'s perturbation built from
  ``static`` and the (possibly traced) other ``hparams``: the one optimizer builder of the
  scheme-table runner and the full-batch trainer."""
  spec = registry.get_noise(kind)
  hp = dict(hparams)
  lr = hp.pop("learning_rate")
  sgd = optax.sgd(lr)
  if spec.factory is None:
    return sgd
  return optax.chain(sgd, spec.factory(lr, key=key, **spec.fixed, **dict(static), **hp))
