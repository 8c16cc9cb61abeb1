"""Experiment configs: loading them, command-line overrides, validation.

No paper equation: this is the execution layer. A config comes from an experiment module
``chaosopt/experiments/<name>.py`` (``chaosopt --config NAME[:variant]``) or from a user's file
``path.py`` (``--config path.py[:arg]``); either defines ``get_config()`` (or
``get_config(arg)``) returning an ``ml_collections.ConfigDict``
(the flax/big_vision convention). The dict is locked, so overriding an unknown key fails, and
:func:`validate` checks every value's range; both happen before anything is compiled.

Schemes are a list of dicts ``{"name", "kind", ...hyper-parameters}`` whose ``kind`` is
registered in :mod:`chaosopt.transforms.registry` (``gd``, ``gaussian``, ``mpgd``, ``eq11``,
``levy`` and any kind a user registers); the allowed keys, their defaults and their ranges are
the registered factory's own, read by :mod:`chaosopt.train.kinds`.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import os
from typing import Any, Sequence

import ml_collections

# hyper-parameters every scheme accepts besides its kind's (see chaosopt.transforms.registry)
_COMMON_KEYS = ("name", "kind", "learning_rate")

REQUIRED_KEYS = {
    "task": ml_collections.ConfigDict, "learning_rate": float, "num_steps": int,
    "num_seeds": int, "first_seed": int, "seed": int, "chunk_size": int, "schemes": list,
    "per_step_metrics": bool, "only": str,
}


class ConfigError(ValueError):
  """A config that cannot run (unknown key, bad value); raised before any compilation."""


def parse_variants(arg: str, allowed: Sequence[str]) -> set[str]:
  """The variants named in a config argument (``"quick"``, ``"quick,authors"``, ``"cpu+quick"``).

  Every experiment's ``get_config(arg)`` calls this instead of its own if/elif block; an unknown
  name raises :class:`ConfigError` listing the allowed ones.
  """
  names = {a.strip() for a in arg.replace("+", ",").split(",") if a.strip()}
  unknown = sorted(names - set(allowed))
  if unknown:
    raise ConfigError(f"unknown variant(s) {unknown}; this experiment has "
                      f"{sorted(allowed) or 'no variants'}")
  return names


def load_module_from_path(path: str):
  """Imports a user's config/experiment file by path."""
  mod_spec = importlib.util.spec_from_file_location(
      "_chaosopt_config_" + os.path.splitext(os.path.basename(path))[0], path)
  module = importlib.util.module_from_spec(mod_spec)
  mod_spec.loader.exec_module(module)
  return module


def call_get_config(module, arg: str, where: str) -> ml_collections.ConfigDict:
  """``module.get_config(arg)`` (or ``get_config()`` without an argument), checked."""
  if not hasattr(module, "get_config"):
    raise ConfigError(f"{where} has no get_config()")
  n_params = len(inspect.signature(module.get_config).parameters)
  try:
    config = module.get_config(arg) if (arg or n_params) else module.get_config()
  except ValueError as e:  # a config's own argument check
    raise ConfigError(f"{where}: {e}") from None
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(f"{where}: get_config() must return an ml_collections.ConfigDict")
  return ml_collections.ConfigDict(config)  # a copy we may lock


def apply_overrides(config: ml_collections.ConfigDict,
                    overrides: Sequence[tuple[str, str]] = ()) -> ml_collections.ConfigDict:
  """Locks ``config`` and applies ``("a.b", "text")`` overrides (types follow the fields)."""
  config.lock()
  for key, text in overrides:
    set_override(config, key, text)
  return config


def load_config(spec: str, overrides: Sequence[tuple[str, str]] = ()) -> ml_collections.ConfigDict:
  """Loads a config file by path (``path/to/config.py[:arg]``), applies overrides, validates
  it as a runner (scheme table) config. Experiments by name: :func:`chaosopt.experiments.load`.
  """
  path, _, arg = spec.partition(":")
  if not os.path.isfile(path):
    raise ConfigError(f"config file not found: {path!r}")
  config = call_get_config(load_module_from_path(path), arg, path)
  apply_overrides(config, overrides)
  validate(config)
  return config


def _parse_value(text: str, current: Any, key: str) -> Any:
  if isinstance(current, bool):
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
      return True
    if low in ("0", "false", "no", "off"):
      return False
    raise ConfigError(f"--config.{key}: expected a boolean, got {text!r}")
  try:
    if isinstance(current, int):
      return int(text)
    if isinstance(current, float):
      return float(text)
  except ValueError:
    raise ConfigError(f"--config.{key}: expected {type(current).__name__}, got {text!r}") from None
  if isinstance(current, str):
    return text
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    if current is None:
      return text
    raise ConfigError(f"--config.{key}: cannot parse {text!r} as {type(current).__name__}"
                      ) from None


def set_override(config: ml_collections.ConfigDict, key: str, text: str) -> None:
  """Sets ``config.<key>`` from its command-line text; unknown keys raise :class:`ConfigError`.

  Path components may index lists (``schemes.2.mu``); scheme dict keys must already exist.
  """
  parts = key.replace("[", ".").replace("]", "").split(".")
  key = ".".join(parts)
  node: Any = config
  for i, part in enumerate(parts[:-1]):
    node = _child(node, part, ".".join(parts[:i + 1]))
  last = parts[-1]
  current = _child(node, last, key)
  value = _parse_value(text, current, key)
  try:
    if isinstance(node, list):
      node[int(last)] = value
    elif isinstance(node, ml_collections.ConfigDict):
      setattr(node, last, value)
    else:
      node[last] = value
  except (AttributeError, KeyError, TypeError) as e:
    raise ConfigError(f"--config.{key}: {e}") from None


def _child(node: Any, part: str, where: str) -> Any:
  if isinstance(node, list):
    if not part.isdigit() or int(part) >= len(node):
      raise ConfigError(f"--config.{where}: no list element {part!r} (length {len(node)})")
    return node[int(part)]
  if isinstance(node, ml_collections.ConfigDict):
    if part not in node:
      raise ConfigError(f"unknown config key {where!r}; known keys here: {sorted(node.keys())}")
    return node[part]
  if isinstance(node, dict):
    if part not in node:
      raise ConfigError(f"unknown config key {where!r}; known keys here: {sorted(node)}")
    return node[part]
  raise ConfigError(f"--config.{where}: cannot index into a {type(node).__name__}")


def _check(cond: bool, msg: str) -> None:
  if not cond:
    raise ConfigError(msg)


def _number(where: str, x: Any) -> float:
  _check(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x),
         f"{where} must be a finite number, got {x!r}")
  return float(x)


def scheme_hparams(scheme: dict, config: ml_collections.ConfigDict) -> dict:
  """Hyper-parameters of ``scheme`` with its kind's defaults filled in (the registered
  factory's defaults) and ``learning_rate`` from the config unless the scheme sets it."""
  from chaosopt.train import kinds as kinds_lib
  from chaosopt.transforms import registry
  spec = registry.get_noise(scheme["kind"])
  hp = {"learning_rate": scheme.get("learning_rate", config.learning_rate)}
  hp.update(kinds_lib.defaults(spec))
  hp.update({k: v for k, v in scheme.items() if k not in _COMMON_KEYS})
  return hp


def validate_scheme(i: int, s: Any, config: ml_collections.ConfigDict) -> None:
  """Checks one scheme dict against its registered kind (the factory's own validation)."""
  from chaosopt.train import kinds as kinds_lib
  from chaosopt.transforms import registry
  where = f"config.schemes[{i}]"
  _check(isinstance(s, (dict, ml_collections.ConfigDict)), f"{where} must be a dict, got {s!r}")
  s = dict(s)
  _check("name" in s and isinstance(s["name"], str) and s["name"],
         f"{where} needs a non-empty string 'name'")
  where = f"config.schemes[{i}] ({s['name']!r})"
  kinds = registry.noise_kinds()
  _check(s.get("kind") in kinds, f"{where}: kind must be one of {list(kinds)} (registered in "
                                 f"chaosopt.transforms.registry), got {s.get('kind')!r}")
  spec = registry.get_noise(s["kind"])
  lr = _number(f"{where}.learning_rate", s.get("learning_rate", config.learning_rate))
  hp = {k: v for k, v in s.items() if k not in _COMMON_KEYS}
  for k, v in hp.items():
    if k in spec.traced:
      _number(f"{where}.{k}", v)
  try:
    kinds_lib.check(spec, lr, hp)
  except (ValueError, TypeError) as e:
    raise ConfigError(f"{where}: {e}") from None


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises :class:`ConfigError` naming the offending key and its valid range (runner
  configs: a task and a table of schemes)."""
  for key, typ in REQUIRED_KEYS.items():
    _check(key in config, f"config is missing the key {key!r}")
    val = config[key]
    ok = isinstance(val, typ) and not (typ is int and isinstance(val, bool))
    if typ is float:
      ok = isinstance(val, (int, float)) and not isinstance(val, bool)
    _check(ok, f"config.{key} must be a {typ.__name__}, got {val!r}")
  _check("name" in config.task, "config.task.name is missing")
  _check(config.learning_rate > 0 and math.isfinite(config.learning_rate),
         f"config.learning_rate must be > 0, got {config.learning_rate!r}")
  for key in ("num_steps", "num_seeds", "chunk_size"):
    _check(config[key] >= 1, f"config.{key} must be >= 1, got {config[key]!r}")
  _check(config.first_seed >= 0, f"config.first_seed must be >= 0, got {config.first_seed!r}")
  _check(len(config.schemes) >= 1, "config.schemes is empty")
  names = []
  for i, s in enumerate(config.schemes):
    validate_scheme(i, s, config)
    names.append(dict(s)["name"])
  dup = sorted({n for n in names if names.count(n) > 1})
  _check(not dup, f"duplicate scheme names {dup}")
  selected = selected_schemes(config)
  _check(len(selected) >= 1, f"config.only={config.only!r} selects no scheme; names: {names}")


def selected_schemes(config: ml_collections.ConfigDict) -> list[dict]:
  """The schemes to run: all, or those named in the comma-separated ``config.only``."""
  schemes = [dict(s) for s in config.schemes]
  if not config.only:
    return schemes
  wanted = [w.strip() for w in config.only.split(",") if w.strip()]
  names = [s["name"] for s in schemes]
  missing = [w for w in wanted if w not in names]
  _check(not missing, f"config.only names unknown scheme(s) {missing}; names: {names}")
  return [s for s in schemes if s["name"] in wanted]
