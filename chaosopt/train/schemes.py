"""Schemes: the rows of a scheme table, resolved once against the noise registry and grouped
into compiled programs (execution layer; the recursion is P0 eq. 8 with the scheme's noise).

A config's ``schemes`` is a list of dicts ``{"name", "kind", ...hyper-parameters}``; ``kind``
names a kind registered in :mod:`chaosopt.transforms.registry`. This module is the only reader
of that registry in :mod:`chaosopt.train`; it gives a registered
:class:`~chaosopt.transforms.registry.NoiseSpec` its meaning:

* the keys a scheme may set are the factory's keyword arguments minus ``key``,
  ``learning_rate``, the kind's ``fixed`` ones and its ``context`` ones; their defaults are the
  factory's defaults (:func:`parameters`, :func:`defaults`);
* values are validated by calling the factory itself with them (its own ``ValueError`` becomes
  the config error) before anything is compiled (:func:`check`, :func:`validate`);
* ``traced`` names the hyper-parameters that may differ between schemes of one compiled,
  vmapped program (``learning_rate`` always may); the others are static and select the
  program. ``prepare`` maps a traced key to a host-side function turning a float64 array of
  values into what the factory accepts under ``vmap`` (e.g. γ ↦
  :func:`chaosopt.dynamics.thaler.thaler_constants`);
* ``context`` names factory arguments filled from the run (:data:`CONTEXT`,
  :meth:`SchemeGroup.members`).

The flow: :func:`resolve` turns the selected scheme dicts of a config into typed
:class:`Scheme` records (kind, traced and static hyper-parameters, defaults filled in);
:func:`group` gathers schemes of one structure (kind + static values) into a
:class:`SchemeGroup`, one compiled program whose traced values are a vmapped member axis;
:meth:`SchemeGroup.members` gives the inputs of its members (schemes × seeds) and
:func:`build` the optimizer, ``optax.chain(optax.sgd(eta), factory(eta, key=key, **fixed,
**hyper_parameters))``. :func:`settings` reads the rest of a table config (steps, seeds,
strategy) into :class:`Settings`; the runners (:func:`chaosopt.train.runner.run`,
:func:`chaosopt.train.fullbatch.train_groups`) take groups and settings, not a config.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Any, Mapping, Optional, Sequence

import jax.numpy as jnp
import numpy as np
import optax

from chaosopt.train import config as config_lib
from chaosopt.train import seeds as seeds_lib
from chaosopt.transforms import registry
from chaosopt.transforms.registry import NoiseSpec

ConfigError = config_lib.ConfigError
_check = config_lib.require

# arguments a config never sets: the runner supplies them
RESERVED = ("learning_rate", "key")
# run-context values a kind may ask the runner for (``register_noise(..., context=...)``):
# "seed" the member's integer seed (traced: one program for all seeds), "seed_range" the
# (first, last) seeds of the run (static), "num_steps" the run's length (static). Processes
# that are functions of an integer seed rather than a PRNG key (host-built tables such as the
# authors' MPGD process) use them.
CONTEXT = ("seed", "seed_range", "num_steps")
# keys every scheme dict has besides its kind's hyper-parameters
COMMON_KEYS = ("name", "kind", "learning_rate")
# the keys of every scheme-table config, with their types
REQUIRED_KEYS = {
    "task": config_lib.CONFIG_TYPES, "learning_rate": float, "num_steps": int,
    "num_seeds": int, "first_seed": int, "seed": int, "chunk_size": int, "schemes": list,
    "per_step_metrics": bool, "only": str,
}


# ----------------------------------------------------------------------------- a kind's data
def spec_of(kind: str) -> NoiseSpec:
  """The registered :class:`NoiseSpec` of ``kind`` (``KeyError`` naming the registered ones)."""
  return registry.get_noise(kind)


def kinds() -> tuple:
  """The registered kinds, in registration order."""
  return registry.noise_kinds()


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
  spec = spec_of(kind)
  hp = dict(hparams)
  lr = hp.pop("learning_rate")
  sgd = optax.sgd(lr)
  if spec.factory is None:
    return sgd
  return optax.chain(sgd, spec.factory(lr, key=key, **spec.fixed, **dict(static), **hp))


# ----------------------------------------------------------------------------- schemes
@dataclasses.dataclass(frozen=True)
class Scheme:
  """One row of a scheme table, resolved: its kind's defaults filled in, ``learning_rate`` from
  the config unless the scheme sets it; ``traced`` (``learning_rate`` and the kind's registered
  traced keys, floats) and ``static`` (every other hyper-parameter) in the scheme's order."""
  name: str
  kind: str
  traced: dict
  static: dict

  @property
  def hparams(self) -> dict:
    """Every hyper-parameter (traced, then static), in the scheme's order."""
    return {**self.traced, **self.static}

  @property
  def structure(self) -> tuple:
    """What selects the compiled program: the kind and the static values."""
    return (self.kind, tuple(sorted((k, _hashable(v)) for k, v in self.static.items())))


def _hashable(v):
  return tuple(v) if isinstance(v, list) else v


def hparams_of(scheme: Mapping, learning_rate: float) -> dict:
  """Hyper-parameters of a scheme dict with its kind's defaults filled in (the registered
  factory's defaults) and ``learning_rate`` (the config's) unless the scheme sets it."""
  spec = spec_of(scheme["kind"])
  hp = {"learning_rate": scheme.get("learning_rate", learning_rate)}
  hp.update(defaults(spec))
  hp.update({k: v for k, v in scheme.items() if k not in COMMON_KEYS})
  return hp


def scheme(d: Mapping, learning_rate: float) -> Scheme:
  """The :class:`Scheme` of one scheme dict (``learning_rate``: the config's)."""
  d = dict(d)
  spec = spec_of(d["kind"])
  hp = hparams_of(d, learning_rate)
  traced_keys = ("learning_rate",) + spec.traced
  return Scheme(name=d["name"], kind=d["kind"],
                traced={k: float(v) for k, v in hp.items() if k in traced_keys},
                static={k: v for k, v in hp.items() if k not in traced_keys})


def selected(config) -> list[dict]:
  """The scheme dicts to run: all, or those named in the comma-separated ``config.only``."""
  dicts = [dict(s) for s in config.schemes]
  only = config.get("only", "")
  if not only:
    return dicts
  wanted = [w.strip() for w in only.split(",") if w.strip()]
  names = [s["name"] for s in dicts]
  missing = [w for w in wanted if w not in names]
  _check(not missing, f"config.only names unknown scheme(s) {missing}; names: {names}")
  return [s for s in dicts if s["name"] in wanted]


def resolve(config) -> list[Scheme]:
  """The selected schemes of a scheme-table config, resolved (:class:`Scheme`), in config
  order."""
  return [scheme(s, config.learning_rate) for s in selected(config)]


# ----------------------------------------------------------------------------- validation
def _number(where: str, x: Any) -> float:
  _check(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x),
         f"{where} must be a finite number, got {x!r}")
  return float(x)


def validate_scheme(i: int, s: Any, learning_rate: float) -> None:
  """Checks one scheme dict against its registered kind (the factory's own validation)."""
  where = f"config.schemes[{i}]"
  _check(isinstance(s, config_lib.CONFIG_TYPES), f"{where} must be a dict, got {s!r}")
  s = dict(s)
  _check("name" in s and isinstance(s["name"], str) and s["name"],
         f"{where} needs a non-empty string 'name'")
  where = f"config.schemes[{i}] ({s['name']!r})"
  known = kinds()
  _check(s.get("kind") in known, f"{where}: kind must be one of {list(known)} (registered in "
                                 f"chaosopt.transforms.registry), got {s.get('kind')!r}")
  spec = spec_of(s["kind"])
  lr = _number(f"{where}.learning_rate", s.get("learning_rate", learning_rate))
  hp = {k: v for k, v in s.items() if k not in COMMON_KEYS}
  for k, v in hp.items():
    if k in spec.traced:
      _number(f"{where}.{k}", v)
  try:
    check(spec, lr, hp)
  except (ValueError, TypeError) as e:
    raise ConfigError(f"{where}: {e}") from None


def validate(config) -> None:
  """Raises :class:`ConfigError` naming the offending key and its valid range (scheme-table
  configs: a task, run settings and a table of schemes checked against their registered
  kinds)."""
  for key, typ in REQUIRED_KEYS.items():
    _check(key in config, f"config is missing the key {key!r}")
    val = config[key]
    ok = isinstance(val, typ) and not (typ is int and isinstance(val, bool))
    if typ is float:
      ok = isinstance(val, (int, float)) and not isinstance(val, bool)
    what = getattr(typ, "__name__", "dict or ConfigDict")
    _check(ok, f"config.{key} must be a {what}, got {val!r}")
  _check("name" in config.task, "config.task.name is missing")
  _check(config.learning_rate > 0 and math.isfinite(config.learning_rate),
         f"config.learning_rate must be > 0, got {config.learning_rate!r}")
  for key in ("num_steps", "num_seeds", "chunk_size"):
    _check(config[key] >= 1, f"config.{key} must be >= 1, got {config[key]!r}")
  _check(config.first_seed >= 0, f"config.first_seed must be >= 0, got {config.first_seed!r}")
  _check(len(config.schemes) >= 1, "config.schemes is empty")
  names = []
  for i, s in enumerate(config.schemes):
    validate_scheme(i, s, config.learning_rate)
    names.append(dict(s)["name"])
  dup = sorted({n for n in names if names.count(n) > 1})
  _check(not dup, f"duplicate scheme names {dup}")
  _check(len(selected(config)) >= 1,
         f"config.only={config.only!r} selects no scheme; names: {names}")
  seeds_lib.strategy(config)


# ----------------------------------------------------------------------------- groups
@dataclasses.dataclass(frozen=True)
class SchemeGroup:
  """Schemes sharing one compiled program: same structure, traced hyper-parameters vmapped."""
  kind: str
  static: tuple  # sorted (key, value) pairs passed unchanged to the factory
  names: tuple
  kinds: tuple   # each member's own kind (a "gd" member may ride in a "gaussian" group)
  hparams: dict  # traced hyper-parameter -> float64 array [num_schemes]
  positions: tuple = ()  # each member's index in the resolved scheme list (table order)

  @property
  def label(self) -> str:
    return f"{self.kind}[{','.join(self.names)}]"

  @property
  def spec(self) -> NoiseSpec:
    return spec_of(self.kind)

  def scheme_hparams(self, i: int, static: Mapping[str, Any]) -> dict:
    """Scheme ``i``'s hyper-parameters as it ran: traced values (floats), then ``static`` (the
    static values and run context of :meth:`members`)."""
    return {**{k: float(v[i]) for k, v in self.hparams.items()}, **dict(static)}

  def members(self, seeds: Sequence[int], num_steps: int,
              idx: Optional[np.ndarray] = None) -> tuple[dict, dict]:
    """``(static, host_hp)`` of the members ``idx`` (default all) of this group run for
    ``seeds``: members are schemes × seeds, scheme-major (member ``r`` is scheme
    ``r // len(seeds)``, seed ``seeds[r % len(seeds)]``). ``host_hp``: float64 arrays of the
    traced values per member, plus ``"seed"`` when the kind asks for it; ``static``: the
    group's static values plus the run context the kind asks for (``seed_range`` spans every
    seed of the run, so every block of members gets the same static range: one host-built
    table, one compiled program; ``num_steps``)."""
    n = len(seeds)
    idx = np.arange(len(self.names) * n) if idx is None else np.asarray(idx)
    host_hp = {k: np.repeat(np.asarray(v), n)[idx] for k, v in self.hparams.items()}
    static = dict(self.static)
    spec = self.spec
    if "seed" in spec.context:
      host_hp["seed"] = np.tile(np.asarray(seeds, np.float64), len(self.names))[idx]
    if "seed_range" in spec.context:
      static["seed_range"] = (int(min(seeds)), int(max(seeds)))
    if "num_steps" in spec.context:
      static["num_steps"] = int(num_steps)
    return static, host_hp

  def prepare(self, host_hp: dict) -> dict:
    """Host float64 arrays of traced hyper-parameters -> vmappable device values (float32, or
    the kind's registered ``prepare``, e.g. γ -> ThalerConstants)."""
    spec = self.spec
    return {k: spec.prepare[k](np.asarray(v)) if k in spec.prepare
            else jnp.asarray(v, jnp.float32) for k, v in host_hp.items()}

  def build(self, static: Mapping[str, Any], hparams: Mapping[str, Any], key
            ) -> optax.GradientTransformation:
    """The optimizer of one member (:func:`build`)."""
    return build(self.kind, static, hparams, key)

  @property
  def takes_context(self) -> bool:
    """Whether the kind is built from run context (host tables: a memory cost)."""
    return bool(self.spec.context)

  def identity(self, seeds: Sequence[int], num_steps: int) -> dict:
    """What a checkpoint of this group is the checkpoint of (the workdir's folder key): its
    schemes, their hyper-parameters, the seeds and the run length, so a checkpoint is never
    resumed under another scheme set."""
    return {"names": self.names, "kinds": self.kinds, "static": self.static,
            "hparams": {k: np.asarray(v).tolist() for k, v in self.hparams.items()},
            "seeds": [int(s) for s in seeds], "num_steps": int(num_steps)}


def group(schemes: Sequence[Scheme]) -> list[SchemeGroup]:
  """Groups schemes by structure (kind + static values), in order of first appearance.

  Traced hyper-parameters (``learning_rate`` and the kind's registered ``traced`` keys) may
  differ inside a group; every other value is static and part of the group's key.
  """
  groups: dict[tuple, list[tuple[int, Scheme]]] = {}
  for i, s in enumerate(schemes):
    groups.setdefault(s.structure, []).append((i, s))
  out = []
  for (kind, static), members in groups.items():
    keys = members[0][1].traced.keys()
    out.append(SchemeGroup(
        kind=kind, static=static, names=tuple(m.name for _, m in members),
        kinds=tuple(m.kind for _, m in members),
        hparams={k: np.array([m.traced[k] for _, m in members], np.float64) for k in keys},
        positions=tuple(i for i, _ in members)))
  return out


def in_table_order(groups: Sequence[SchemeGroup]) -> list[str]:
  """The scheme names of ``groups`` in table (config) order."""
  pairs = [(p, n) for g in groups for p, n in zip(g.positions or range(len(g.names)), g.names)]
  return [n for _, n in sorted(pairs, key=lambda t: t[0])] if all(g.positions for g in groups) \
      else [n for g in groups for n in g.names]


# ----------------------------------------------------------------------------- settings
@dataclasses.dataclass(frozen=True)
class Settings:
  """The run settings of a scheme table besides its schemes (what a runner needs)."""
  num_steps: int
  chunk_size: int
  seeds: Sequence[int]    # the seeds run: range(first_seed, first_seed + num_seeds)
  seed: int = 0           # seed i's key: fold_in(key(seed), i) (chaosopt.train.seeds)
  strategy: seeds_lib.Strategy = "vmap"
  per_step_metrics: bool = False
  checkpoint_every: int = 1


def settings(config) -> Settings:
  """The :class:`Settings` of a scheme-table config."""
  return Settings(num_steps=int(config.num_steps), chunk_size=int(config.chunk_size),
                  seeds=seeds_lib.seed_list(config), seed=int(config.get("seed", 0)),
                  strategy=seeds_lib.strategy(config),
                  per_step_metrics=bool(config.get("per_step_metrics", False)),
                  checkpoint_every=int(config.get("checkpoint_every", 1)))


def plan(config) -> tuple[list[SchemeGroup], Settings]:
  """A scheme-table config as the runners take it: its groups and settings."""
  return group(resolve(config)), settings(config)
