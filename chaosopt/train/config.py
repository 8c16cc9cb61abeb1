"""Experiment configs: loading ``configs/*.py``, command-line overrides, validation.

No paper equation: this is the execution layer. A config file defines ``get_config()`` (or
``get_config(arg)``, selected with ``path.py:arg``) returning an ``ml_collections.ConfigDict``
(the flax/big_vision convention). The dict is locked, so overriding an unknown key fails, and
:func:`validate` checks every value's range; both happen before anything is compiled.

Schemes are a list of dicts ``{"name", "kind", ...hyper-parameters}`` with ``kind`` one of
``gd`` (plain GD), ``gaussian`` (P0's Gaussian-perturbed GD baseline), ``mpgd`` (P0 eq. 8) and
``eq11`` (P0 eq. 11 variant).
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import os
from typing import Any, Sequence

import ml_collections

KINDS = ("gd", "gaussian", "mpgd", "eq11")
# hyper-parameters that may differ between schemes of one compiled (vmapped) program
TRACED_KEYS = ("learning_rate", "mu", "sigma", "gamma", "exponent")
# keys every kind accepts, and the extra keys of each kind (checked before anything runs)
_COMMON_KEYS = ("name", "kind", "learning_rate")
_KIND_KEYS = {
    "gd": (),
    "gaussian": ("mu", "sigma", "exponent"),
    "mpgd": ("gamma", "beta", "mu", "sigma"),
    "eq11": ("gamma", "beta", "mu", "sigma"),
}
# keys the runner sets itself when building an optimizer (never taken from a config)
_RESERVED = ("key", "variant")

REQUIRED_KEYS = {
    "task": ml_collections.ConfigDict, "learning_rate": float, "num_steps": int,
    "num_seeds": int, "first_seed": int, "seed": int, "chunk_size": int, "schemes": list,
    "per_step_metrics": bool, "only": str,
}


class ConfigError(ValueError):
  """A config that cannot run (unknown key, bad value); raised before any compilation."""


def load_config(spec: str, overrides: Sequence[tuple[str, str]] = ()) -> ml_collections.ConfigDict:
  """Loads ``spec`` (``path/to/config.py`` or ``path/to/config.py:arg``), applies overrides.

  ``overrides`` are ``("a.b", "value-as-text")`` pairs; the text is parsed according to the
  type of the existing field. The returned config is locked and validated.
  """
  path, _, arg = spec.partition(":")
  if not os.path.isfile(path):
    raise ConfigError(f"config file not found: {path!r}")
  mod_spec = importlib.util.spec_from_file_location(
      "_chaosopt_config_" + os.path.splitext(os.path.basename(path))[0], path)
  module = importlib.util.module_from_spec(mod_spec)
  mod_spec.loader.exec_module(module)
  if not hasattr(module, "get_config"):
    raise ConfigError(f"{path} has no get_config()")
  n_params = len(inspect.signature(module.get_config).parameters)
  config = module.get_config(arg) if (arg or n_params) else module.get_config()
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(f"{path}: get_config() must return an ml_collections.ConfigDict")
  config = ml_collections.ConfigDict(config)  # a copy we may lock
  config.lock()
  for key, text in overrides:
    set_override(config, key, text)
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
  parts = key.split(".")
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
  """Numeric hyper-parameters of ``scheme`` with defaults filled in (``learning_rate`` from the
  config, ``mu = sigma = 0``, ``exponent = 0.5`` for Gaussian, ``beta = 0`` for MPGD)."""
  kind = scheme["kind"]
  hp = {"learning_rate": scheme.get("learning_rate", config.learning_rate)}
  if kind in ("gaussian", "mpgd", "eq11"):
    hp["mu"] = scheme.get("mu", 0.0)
    hp["sigma"] = scheme.get("sigma", 0.0)
  if kind == "gaussian":
    hp["exponent"] = scheme.get("exponent", 0.5)
  if kind in ("mpgd", "eq11"):
    hp["gamma"] = scheme["gamma"]
    if "beta" in scheme or kind == "mpgd":
      hp["beta"] = scheme.get("beta", 0.0)
  return hp


def validate(config: ml_collections.ConfigDict, extra_scheme_keys: dict | None = None) -> None:
  """Raises :class:`ConfigError` naming the offending key and its valid range.

  ``extra_scheme_keys`` maps a kind to additional (static) keyword arguments its optimizer
  factory accepts; by default they are read from the factory signatures when available.
  """
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
  extra = extra_scheme_keys if extra_scheme_keys is not None else _factory_extra_keys()
  names = []
  for i, s in enumerate(config.schemes):
    where = f"config.schemes[{i}]"
    _check(isinstance(s, (dict, ml_collections.ConfigDict)), f"{where} must be a dict, got {s!r}")
    s = dict(s)
    _check("name" in s and isinstance(s["name"], str) and s["name"],
           f"{where} needs a non-empty string 'name'")
    where = f"config.schemes[{i}] ({s['name']!r})"
    _check(s.get("kind") in KINDS, f"{where}: kind must be one of {KINDS}, got {s.get('kind')!r}")
    kind = s["kind"]
    allowed = set(_COMMON_KEYS) | set(_KIND_KEYS[kind]) | set(extra.get(kind, ()))
    unknown = sorted(set(s) - allowed)
    _check(not unknown, f"{where}: unknown key(s) {unknown} for kind {kind!r}; "
                        f"allowed: {sorted(allowed)}")
    if kind in ("mpgd", "eq11"):
      _check("gamma" in s, f"{where}: kind {kind!r} needs 'gamma'")
    hp = scheme_hparams(s, config)
    lr = _number(f"{where}.learning_rate", hp["learning_rate"])
    _check(lr > 0, f"{where}: learning_rate must be > 0, got {lr}")
    for k in ("mu", "sigma"):
      if k in hp:
        _check(_number(f"{where}.{k}", hp[k]) >= 0, f"{where}: {k} must be >= 0, got {hp[k]}")
    if "exponent" in hp:
      _check(_number(f"{where}.exponent", hp["exponent"]) >= 0,
             f"{where}: exponent must be >= 0, got {hp['exponent']}")
    if "gamma" in hp:
      g = _number(f"{where}.gamma", hp["gamma"])
      _check(0.5 < g < 1, f"{where}: gamma must be in (0.5, 1), got {g}")
    if "beta" in hp:
      b = _number(f"{where}.beta", hp["beta"])
      _check(-1 <= b <= 1, f"{where}: beta must be in [-1, 1], got {b}")
    names.append(s["name"])
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


def _factory_extra_keys() -> dict:
  """Static keyword arguments the core factories accept beyond the ones handled above."""
  out = {}
  try:
    import chaosopt
    factories = {"gaussian": getattr(chaosopt, "gaussian_perturbation", None),
                 "mpgd": getattr(chaosopt, "mpgd_perturbation", None)}
  except ImportError:  # pragma: no cover
    return out
  for kind, fn in factories.items():
    if fn is None:
      continue
    params = inspect.signature(fn).parameters
    keys = tuple(k for k, p in params.items()
                 if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
                 and k not in _RESERVED and k not in _COMMON_KEYS)
    out[kind] = keys
    if kind == "mpgd":
      out["eq11"] = keys
  return out
