"""Experiment configs: loading them, command-line overrides, validation.

No paper equation: this is the execution layer. A config comes from a shipped config module
``configs/<name>.py`` (``chaosopt.configs``; ``chaosopt --config NAME[:variant]``) or from a
user's file ``path.py`` (``--config path.py[:arg]``); either defines ``get_config()`` (or
``get_config(arg)``) returning an ``ml_collections.ConfigDict`` whose ``experiment`` field
names the code that runs it (the flax/big_vision convention). The dict is locked, so
overriding an unknown key fails, and an experiment's :class:`Schema` checks every value's range;
both happen before anything is compiled. Nothing here knows schemes or noise kinds: a scheme
table's ``schemes`` are resolved and checked against the noise registry by
:mod:`chaosopt.train.schemes`.

Configs evolve: :func:`evolve` reads a config stored by older code (a workdir's
``config.json``) as the current code does — keys added since filled with their defaults,
renamed keys (:data:`ALIASES`) under their new names — so a workdir resumes and a committed
report re-renders after a key was added or renamed.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import math
import os
import re
import sys
import warnings
from typing import Any, Sequence

try:
  import ml_collections
except ImportError:  # the accelerator check's machine has none; its full-batch
  ml_collections = None  # and seed code needs no configs (tests/test_accelerator_check.py)
# what a config or a nested config may be (a stand-in without ml_collections: dicts)
CONFIG_TYPES = (dict,) if ml_collections is None else (dict, ml_collections.ConfigDict)
CONFIGDICT = () if ml_collections is None else (ml_collections.ConfigDict,)


class ConfigError(ValueError):
  """A config that cannot run (unknown key, bad value); raised before any compilation."""


def parse_variants(arg: str, allowed: Sequence[str]) -> set[str]:
  """The variants named in a config argument (``"quick"``, ``"quick,authors"``, ``"cpu+quick"``).

  Every config's ``get_config(arg)`` calls this instead of its own if/elif block; an unknown
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
  try:
    mod_spec.loader.exec_module(module)
  except Exception as e:  # noqa: BLE001 - a user's file: name it, one line
    where = _line_in(e, path)
    if isinstance(e, SyntaxError) and e.lineno:
      where = f" (line {e.lineno})"
    raise ConfigError(f"config file {path!r} failed to import{where}: "
                      f"{type(e).__name__}: {e}") from e
  return module


def _line_in(e: BaseException, path: str | None) -> str:
  """`` (line N)``: the last line of file ``path`` in the traceback of ``e`` ("" if none)."""
  where, tb = "", e.__traceback__
  while tb is not None and path:
    if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
      where = f" (line {tb.tb_lineno})"
    tb = tb.tb_next
  return where


def call_get_config(module, arg: str, where: str) -> ml_collections.ConfigDict:
  """``module.get_config(arg)`` (or ``get_config()`` without an argument), checked."""
  if not hasattr(module, "get_config"):
    raise ConfigError(f"{where} has no get_config()")
  n_params = len(inspect.signature(module.get_config).parameters)
  try:
    config = module.get_config(arg) if (arg or n_params) else module.get_config()
  except ValueError as e:  # a config's own argument check
    raise ConfigError(f"{where}: {e}") from None
  except Exception as e:  # noqa: BLE001 - get_config itself failed: name the file and line
    path = getattr(module, "__file__", None)
    raise ConfigError(f"{where}: get_config() failed{_line_in(e, path)}: "
                      f"{type(e).__name__}: {e}") from None
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
  if not _KEY_RE.fullmatch(key):
    raise ConfigError(f"--config.{key}: not a config key (write a.b.0.c or a.b[0].c)")
  if key in ALIASES and key not in config and ALIASES[key] in config:
    # a renamed key: accepted under its old name, set under the new one, warned once
    if key not in _warned_aliases:
      _warned_aliases.add(key)
      warnings.warn(f"--config.{key} is deprecated; use --config.{ALIASES[key]}",
                    DeprecationWarning, stacklevel=2)
    key = ALIASES[key]
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
    elif isinstance(node, CONFIGDICT):
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
  if isinstance(node, CONFIGDICT):
    if part not in node:
      raise ConfigError(f"unknown config key {where!r}; known keys here: {sorted(node.keys())}")
    return node[part]
  if isinstance(node, dict):
    if part not in node:
      raise ConfigError(f"unknown config key {where!r}; known keys here: {sorted(node)}")
    return node[part]
  raise ConfigError(f"--config.{where}: cannot index into a {type(node).__name__}")


_KEY_RE = re.compile(r"[A-Za-z_]\w*(?:\.\w+|\[\d+\])*")
# ----------------------------------------------------------------------------- schemas
# Every experiment declares its keys' types and ranges in one place, a :class:`Schema` of specs
# (``Int``, ``Num``, ``Seq``, ``OneOf``, ``Bool``, ``Str``, ``Opt``); its ``validate(config)``
# calls ``SCHEMA.check(config)`` and adds the cross-key checks. A spec knows values it must
# reject (``Spec.bad()``), so tests generate out-of-range input from the schema itself.

MAX_SEED = 2 ** 32 - 1  # jax.random.key and fold_in take 32-bit data (one seed per member)


def _fmt(x: float) -> str:
  return str(x) if isinstance(x, int) else f"{x:g}"


class Spec:
  """One key's type and range. ``check(where, value)`` raises :class:`ConfigError` naming
  ``where`` and the valid range; ``bad()`` lists values it must reject (for tests)."""
  text = "a value"

  def check(self, where: str, value: Any) -> None:
    raise NotImplementedError

  def bad(self) -> list:
    return []

  def fail(self, where: str, value: Any):
    raise ConfigError(f"{where} must be {self.text}, got {value!r}")


class Num(Spec):
  """A finite number (``integer=True``: an int) in ``[lo, hi]`` (``lo_open``/``hi_open``: an
  open end; ``None``: unbounded)."""

  def __init__(self, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
               hi_open: bool = False, integer: bool = False):
    self.lo, self.hi, self.lo_open, self.hi_open, self.integer = lo, hi, lo_open, hi_open, integer
    kind = "an int" if integer else "a finite number"
    if lo is not None and hi is not None:
      rng = (f"in {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}")
    elif lo is not None:
      rng = f"{'>' if lo_open else '>='} {_fmt(lo)}"
    elif hi is not None:
      rng = f"{'<' if hi_open else '<='} {_fmt(hi)}"
    else:
      rng = ""
    self.text = f"{rng} ({kind})" if rng else kind

  def ok(self, v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
      return False
    if self.integer and not isinstance(v, int):
      return False
    if isinstance(v, float) and not math.isfinite(v):
      return False
    if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
      return False
    return self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)

  def check(self, where: str, value: Any) -> None:
    if not self.ok(value):
      self.fail(where, value)

  def bad(self) -> list:
    out: list = ["x", None, True]
    if self.lo is not None:
      out.append(self.lo if self.lo_open else (self.lo - 1 if self.integer else self.lo - 0.5))
    if self.hi is not None:
      out.append(self.hi if self.hi_open else (self.hi + 1 if self.integer else self.hi + 0.5))
    out += [0.5 + (self.lo or 0)] if self.integer else [float("nan"), float("inf")]
    return out


def Int(min: int | None = None, max: int | None = None) -> Num:  # noqa: A002,N802
  """An int in ``[min, max]``."""
  return Num(min, max, integer=True)


def Positive() -> Num:  # noqa: N802
  """A finite number > 0."""
  return Num(0, lo_open=True)


def NonNegative() -> Num:  # noqa: N802
  """A finite number >= 0."""
  return Num(0)


def Seed() -> Num:  # noqa: N802
  """A seed: an int in [0, 2^32 - 1]."""
  return Num(0, MAX_SEED, integer=True)


class Bool(Spec):
  text = "a boolean"

  def check(self, where, value):
    if not isinstance(value, bool):
      self.fail(where, value)

  def bad(self):
    return ["yes", 2]


class Str(Spec):
  """Any string (``nonempty``: at least one character)."""

  def __init__(self, nonempty: bool = False):
    self.nonempty = nonempty
    self.text = "a non-empty string" if nonempty else "a string"

  def check(self, where, value):
    if not isinstance(value, str) or (self.nonempty and not value):
      self.fail(where, value)

  def bad(self):
    return [3] + ([""] if self.nonempty else [])


class OneOf(Spec):
  """One of the listed values."""

  def __init__(self, *choices):
    self.choices = choices
    self.text = f"one of {list(choices)}"

  def check(self, where, value):
    if not any(type(value) is type(c) and value == c for c in self.choices):  # True != 1 here
      self.fail(where, value)

  def bad(self):
    return ["__none_of_these__", 12345.5]


class Seq(Spec):
  """A list or tuple of elements that each satisfy ``elem``; ``length`` exact or between
  ``min_len`` and ``max_len``; ``order``: ``"increasing"`` / ``"decreasing"`` (strictly) or
  ``"unique"`` (no repeats); ``subset``: every element one of these (the ``elem``)."""

  def __init__(self, elem: Spec | None = None, *, min_len: int = 1, max_len: int | None = None,
               length: int | None = None, order: str | None = None,
               subset: Sequence | None = None):
    assert order in (None, "increasing", "decreasing", "unique"), order
    self.elem = elem if elem is not None else (OneOf(*subset) if subset else Str())
    self.min_len = length if length is not None else min_len
    self.max_len = length if length is not None else max_len
    self.order = order
    n = (f"{length}" if length is not None else
         f"{self.min_len} to {self.max_len}" if self.max_len is not None else f">= {self.min_len}")
    order_text = {None: "", "unique": ", no repeats"}.get(order, f", strictly {order}")
    self.text = f"a list of {n} values{order_text}, each {self.elem.text}"

  def check(self, where, value):
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
      self.fail(where, value)
    n = len(value)
    if n < self.min_len or (self.max_len is not None and n > self.max_len):
      self.fail(where, value)
    for i, v in enumerate(value):
      self.elem.check(f"{where}[{i}]", v)
    pairs = list(zip(value, value[1:]))
    if ((self.order == "increasing" and any(not a < b for a, b in pairs))
        or (self.order == "decreasing" and any(not a > b for a, b in pairs))
        or (self.order == "unique" and len(set(map(repr, value))) < n)):
      self.fail(where, value)

  def bad(self):
    base = [_sample(self.elem)] * max(self.min_len, 1)
    out: list = ["x", 3]
    if self.min_len >= 1:
      out.append([])
    if self.max_len is not None:
      out.append(base[:1] * (self.max_len + 1))
    for b in self.elem.bad():
      out.append([b] + base[1:])
    if self.order:
      out.append(base[:1] * 2)
    return out


class Record(Spec):
  """A dict with exactly these keys (a key whose spec is :class:`Opt` may be absent)."""

  def __init__(self, fields: dict[str, Spec]):
    self.fields = dict(fields)
    self.text = f"a dict with keys {sorted(self.fields)}"

  def check(self, where, value):
    if not isinstance(value, CONFIG_TYPES):
      self.fail(where, value)
    unknown = sorted(set(value) - set(self.fields))
    _check(not unknown, f"{where}: unknown key(s) {unknown}; allowed: {sorted(self.fields)}")
    for k, spec in self.fields.items():
      if k not in value:
        _check(isinstance(spec, Opt), f"{where} is missing the key {k!r} ({spec.text})")
      else:
        spec.check(f"{where}.{k}", value[k])

  def bad(self):
    return ["x", {}]


def _sample(spec: Spec) -> Any:
  """A value ``spec`` accepts (to build bad lists of the right length)."""
  if isinstance(spec, Num):
    lo, hi = spec.lo, spec.hi
    if lo is not None and hi is not None:
      v = (lo + hi) / 2
    elif lo is not None:
      v = lo + 1 if spec.lo_open else lo
    else:
      v = 0 if hi is None else hi - 1
    if spec.integer:
      v = math.ceil(v) if spec.ok(math.ceil(v)) else math.floor(v)
    return v if spec.integer else float(v)
  if isinstance(spec, OneOf):
    return spec.choices[0]
  return "x"


def Interval(lo: float | None = None, hi: float | None = None) -> Seq:  # noqa: N802
  """``(a, b)`` with ``a < b``, both in ``[lo, hi]``."""
  return Seq(Num(lo, hi), length=2, order="increasing")


class Opt(Spec):
  """A key that may be absent (checked by ``spec`` when present)."""

  def __init__(self, spec: Spec):
    self.spec, self.text = spec, spec.text

  def check(self, where, value):
    self.spec.check(where, value)

  def bad(self):
    return self.spec.bad()


# keys every experiment may have (checked wherever they appear at the top level, by
# check_common and by every Schema unless it declares the key itself)
COMMON: dict[str, Spec] = {
    "seed": Seed(), "first_seed": Seed(), "num_seeds": Int(1), "num_steps": Int(1),
    "chunk_size": Int(1), "checkpoint_every": Int(1), "learning_rate": Positive(),
}


def _lookup(config, key: str):
  node = config
  for part in key.split("."):
    if isinstance(node, CONFIG_TYPES) and part in node:
      node = node[part]
    else:
      return _ABSENT
  return node


class Schema:
  """Types and ranges of an experiment's config keys (dotted for nested keys, e.g.
  ``"task.hidden"``), plus :data:`COMMON` for the shared keys it does not declare.

  ``check(config)`` raises :class:`ConfigError` naming the first bad key and its valid range
  (a declared key that is missing is an error too, unless wrapped in :class:`Opt`);
  ``bad_cases(config)`` yields ``(key, value)`` pairs ``check`` must reject."""

  def __init__(self, specs: dict[str, Spec]):
    self.specs = dict(specs)

  def extend(self, specs: dict[str, Spec]) -> "Schema":
    """This schema with ``specs`` added (or replacing keys of the same name)."""
    return Schema({**self.specs, **specs})

  def specs_for(self, config) -> dict[str, Spec]:
    out = {k: Opt(v) for k, v in COMMON.items() if k in config and k not in self.specs}
    out.update(self.specs)
    return out

  def check(self, config) -> None:
    for key, spec in self.specs_for(config).items():
      value = _lookup(config, key)
      if value is _ABSENT:
        _check(isinstance(spec, Opt), f"config is missing the key {key!r} "
                                      f"({spec.text})")
        continue
      spec.check(f"config.{key}", value)
    if "first_seed" in config and "num_seeds" in config:
      last = config.first_seed + config.num_seeds - 1
      _check(last <= MAX_SEED, f"config.first_seed + num_seeds - 1 = {last} exceeds {MAX_SEED}")

  def bad_cases(self, config) -> list[tuple[str, Any]]:
    return [(key, v) for key, spec in self.specs_for(config).items()
            if _lookup(config, key) is not _ABSENT for v in spec.bad()]


# ----------------------------------------------------------------------------- memory
MEMORY_FRACTION = 0.8  # refuse a config whose estimate exceeds this fraction of MemAvailable


def available_memory() -> int:
  """Bytes of memory available to a new allocation: ``MemAvailable`` of /proc/meminfo, else
  free pages x page size (``os.sysconf``)."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  try:
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
  except (ValueError, OSError, AttributeError):
    return 1 << 62  # unknown: no limit


def human_bytes(n: float) -> str:
  for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
    if abs(n) < 1024 or unit == "PB":
      return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
    n /= 1024
  return f"{n:.3g} EB"


def device_memory() -> int | None:
  """Free bytes of the first accelerator (``memory_stats``: ``bytes_limit - bytes_in_use``);
  None on CPU, when JAX is not imported yet, or when the backend does not say."""
  jax = sys.modules.get("jax")
  if jax is None:
    return None
  try:
    dev = jax.local_devices()[0]
    if dev.platform == "cpu":
      return None
    stats = dev.memory_stats() or {}
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
  except Exception:  # noqa: BLE001 - no statistics: the host's memory is the limit
    return None


def check_memory(nbytes: float, detail: str, hint: str = "") -> None:
  """:class:`ConfigError` (before anything is allocated) when a run's memory estimate
  ``nbytes`` exceeds :data:`MEMORY_FRACTION` of the available memory: the host's, or the
  accelerator's when that is smaller (the arrays live there). ``detail`` says what the
  estimate counts, ``hint`` which keys to reduce."""
  avail, where = available_memory(), "available"
  dev = device_memory()
  if dev is not None and dev < avail:
    avail, where = dev, "free on the accelerator"
  limit = MEMORY_FRACTION * avail
  if not nbytes <= limit:  # also NaN / inf
    raise ConfigError(
        f"this config needs about {human_bytes(nbytes)} of memory ({detail}); the limit is "
        f"{human_bytes(limit)} ({MEMORY_FRACTION:.0%} of the {human_bytes(avail)} {where})"
        + (f": reduce {hint}" if hint else ""))


def check_common(config: ml_collections.ConfigDict) -> None:
  """Checks the keys shared by experiments wherever they appear at the top level
  (:data:`COMMON`): seeds fit 32 bits (``seed``, ``first_seed + num_seeds - 1``), counts are
  ints >= 1 (``num_seeds``, ``num_steps``, ``chunk_size``, ``checkpoint_every``),
  ``learning_rate`` is finite and > 0 (when it is a number; some experiments take a list).
  Raises :class:`ConfigError` naming the key."""
  specs = {k: s for k, s in COMMON.items() if k in config
           and not (k == "learning_rate" and isinstance(config[k], (list, tuple)))}
  Schema({k: Opt(s) for k, s in specs.items()}).check(config)


def require(cond: bool, msg: str) -> None:
  """:class:`ConfigError` with ``msg`` (naming the key and its valid range) unless ``cond``: the
  cross-key checks of an experiment's ``validate``."""
  if not cond:
    raise ConfigError(msg)


_check = require


# ----------------------------------------------------------------------------- evolution
# Renamed config keys, ``{"old.dotted.key": "new.dotted.key"}``, for every experiment; an
# experiment module may declare its own in ``CONFIG_ALIASES``. A stored config (a workdir's
# config.json, a committed report's) that has the old key reads as having the new one. Keep an
# entry while any stored config may hold the old name.
ALIASES: dict[str, str] = {
    "seed_mode": "seed_strategy",  # the full-batch tables' seed knob (deprecated; one release)
}
_warned_aliases: set = set()


def evolve(stored: dict, current: dict, defaults: dict,
           aliases: dict[str, str] = ALIASES) -> dict:
  """``stored`` — a config written by older code — as the current code reads it (a new dict),
  for comparison with ``current`` (the config of this run).

  Keys renamed in ``aliases`` move to their new name (when that is absent); a key of
  ``current`` absent from ``stored`` (at any depth of nested dicts) gets its value in
  ``defaults``, the current default config. A config written before a key existed thus equals
  the default config; a run whose value of the new key differs from its default still differs
  (the code before the key behaved as its default does: that is the contract for adding a
  key). Values present in ``stored`` are never changed.
  """
  out = json.loads(json.dumps(stored))  # a deep copy of plain JSON data
  for old, new in aliases.items():
    value = _pop_path(out, old.split("."))
    if value is not _ABSENT and _get_path(out, new.split(".")) is _ABSENT:
      _set_path(out, new.split("."), value)
  return _fill(out, current, defaults)


def evolve_for(module, variant: str, stored, current: dict):
  """:func:`evolve` with the defaults and aliases of config module ``module``: its config for
  ``variant`` without overrides (``get_config(variant)``) and ``ALIASES`` + the module's
  ``CONFIG_ALIASES``. ``stored`` is returned unchanged when it is not a dict or the module's
  config cannot be built."""
  if not isinstance(stored, dict):
    return stored
  from chaosopt.train import report
  try:
    defaults = call_get_config(module, variant or "", f"experiment {module.__name__!r}").to_dict()
  except ConfigError:
    return stored
  defaults = json.loads(json.dumps(report.jsonable(defaults)))
  return evolve(stored, current, defaults,
                {**ALIASES, **getattr(module, "CONFIG_ALIASES", {})})


_ABSENT = object()


def _fill(stored: Any, current: Any, defaults: Any) -> Any:
  if isinstance(stored, dict) and isinstance(current, dict) and isinstance(defaults, dict):
    for k in current:
      if k in stored:
        stored[k] = _fill(stored[k], current[k], defaults.get(k))
      elif k in defaults:
        stored[k] = json.loads(json.dumps(defaults[k]))
  return stored


def _get_path(d: Any, path: list[str]) -> Any:
  for p in path:
    if not isinstance(d, dict) or p not in d:
      return _ABSENT
    d = d[p]
  return d


def _pop_path(d: Any, path: list[str]) -> Any:
  parent = _get_path(d, path[:-1])
  return parent.pop(path[-1]) if isinstance(parent, dict) and path[-1] in parent else _ABSENT


def _set_path(d: dict, path: list[str], value: Any) -> None:
  for p in path[:-1]:
    d = d.setdefault(p, {})
    if not isinstance(d, dict):
      return
  d[path[-1]] = value
