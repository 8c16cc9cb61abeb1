"""The task registry: objectives runnable from experiment configs (``config.task.name``).

No equation of its own: a task is the objective contract of :class:`chaosopt.tasks.base.Task`
(an initializer, a full-batch or stochastic loss, metrics). Registering a factory once
(``register_task("mine", mine_task)``) makes ``config.task = {"name": "mine", ...kwargs}``
runnable by the scheme-table runner; the allowed keys are the factory's keyword arguments and
their values are checked by calling the factory itself.
"""
from __future__ import annotations

import inspect
from typing import Callable

from chaosopt.tasks.base import Task

TaskFactory = Callable[..., Task]
_TASKS: dict[str, TaskFactory] = {}


def register_task(name: str, factory: TaskFactory, *, overwrite: bool = False) -> None:
  """Registers ``factory(**kwargs) -> Task`` under ``name``."""
  if name in _TASKS and not overwrite:
    raise ValueError(f"task {name!r} is already registered (pass overwrite=True)")
  _TASKS[name] = factory


def unregister_task(name: str) -> None:
  _TASKS.pop(name, None)


def task_factory(name: str) -> TaskFactory:
  """The factory registered under ``name`` (``KeyError`` naming the registered tasks)."""
  if name not in _TASKS:
    raise KeyError(f"task name must be one of {sorted(_TASKS)}, got {name!r}")
  return _TASKS[name]


def task_names() -> tuple:
  return tuple(_TASKS)


def make_task(name: str, **kwargs) -> Task:
  """Builds task ``name``; ``ValueError`` naming the problem (unknown name or keyword, bad
  value) otherwise."""
  if name not in _TASKS:
    raise ValueError(f"task name must be one of {sorted(_TASKS)}, got {name!r}")
  factory = _TASKS[name]
  allowed = set(inspect.signature(factory).parameters)
  unknown = sorted(set(kwargs) - allowed)
  if unknown:
    raise ValueError(f"unknown key(s) {unknown} for task {name!r}; allowed: {sorted(allowed)}")
  return factory(**kwargs)


def _register_builtin() -> None:
  from chaosopt.tasks import airfoil, widening_valley
  register_task("airfoil", airfoil.airfoil_task)
  register_task("widening_valley", widening_valley.widening_valley_task)


_register_builtin()
