"""The paper reproductions, one module each (top layer: imports everything below).

Each module follows the contract of :mod:`chaosopt.train.experiment` (``run(config, workdir)``,
``report(config, results)``, optional ``validate``, ``INFO`` and ``PAPER``); its config is
``configs/<name>.py`` (:mod:`chaosopt.configs`: ``get_config(arg)`` and ``VARIANTS``). Both
ship in the package (``chaosopt.experiments``, ``chaosopt.configs``) and run by name:

  chaosopt --config airfoil_table1:quick --workdir runs/airfoil
  python -m chaosopt list

The name is the module name, the config's ``experiment`` field and the report folder. A user's
own config file works too (``--config my_config.py[:arg]``): it either is an experiment module
itself (it defines ``run`` and ``report``) or returns a config whose ``experiment`` field names
the shipped experiment that runs it (the big_vision convention: the config names the code).
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from types import ModuleType
from typing import Callable, Optional, Sequence

from chaosopt import configs
from chaosopt.train import config as config_lib


def names() -> list[str]:
  """Every shipped experiment (a config in ``chaosopt.configs``), sorted."""
  return sorted(m.name for m in pkgutil.iter_modules(configs.__path__)
                if not m.name.startswith("_"))


def _check(name: str) -> None:
  if name not in names():
    raise config_lib.ConfigError(
        f"unknown experiment {name!r}; `chaosopt list` shows them: {', '.join(names())}")


def get(name: str) -> ModuleType:
  """The experiment module ``name`` (:class:`~chaosopt.train.config.ConfigError` if unknown)."""
  _check(name)
  return importlib.import_module(f"{__name__}.{name}")


def get_config_module(name: str) -> ModuleType:
  """The config module ``chaosopt.configs.<name>`` (``get_config``, ``VARIANTS``)."""
  _check(name)
  return importlib.import_module(f"{configs.__name__}.{name}")


def load(spec: str, overrides: Sequence[tuple[str, str]] = (),
         edit: Optional[Callable] = None):
  """Resolves ``NAME[:variant]`` or ``path/to/config.py[:variant]``; applies the overrides, then
  ``edit(config)`` (e.g. a sweep, :func:`chaosopt.train.sweep.apply`), and validates. Returns
  ``(module, config, variant)``; errors are ``ConfigError`` naming the key.
  """
  target, _, arg = spec.partition(":")
  if target.endswith(".py") or os.sep in target:
    if not os.path.isfile(target):
      raise config_lib.ConfigError(f"config file not found: {target!r}")
    user = config_lib.load_module_from_path(target)
    config = config_lib.call_get_config(user, arg, target)
    if hasattr(user, "run") and hasattr(user, "report"):
      module = user
    else:
      exp = config.get("experiment")
      if not exp:
        raise config_lib.ConfigError(
            f"{target}: the config must name the experiment that runs it (config.experiment = "
            f"one of {names()}), or the file must define run() and report()")
      module = get(exp)
  else:
    config = config_lib.call_get_config(get_config_module(target), arg, f"experiment {target!r}")
    module = get(config.get("experiment") or target)
  config_lib.apply_overrides(config, overrides)
  if edit is not None:
    edit(config)
  validate(module, config)
  return module, config, arg


def validate(module: ModuleType, config) -> None:
  """The checks :func:`load` runs before anything is compiled: the keys shared by every
  experiment (:func:`chaosopt.train.config.check_common`), then the experiment's own
  ``validate`` (its ``SCHEMA`` of types and ranges, cross-key checks, the memory estimate).
  Raises :class:`~chaosopt.train.config.ConfigError` naming the key."""
  config_lib.check_common(config)
  if hasattr(module, "validate"):
    try:
      module.validate(config)
    except (ValueError, TypeError) as e:
      if isinstance(e, config_lib.ConfigError):
        raise
      raise config_lib.ConfigError(str(e)) from None
