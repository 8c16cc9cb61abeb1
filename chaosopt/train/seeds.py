"""Seeds: how every experiment derives its PRNG keys, and how it lays its seeds out on the
machine (execution layer, no paper equation).

* **Member keys.** Seed ``i`` of a config gets ``fold_in(key(config.seed), i)``
  (:func:`seed_keys`) whatever the other seeds, so seed ``i`` run alone starts from the same
  parameters and draws the same noise as in a batch. Typed keys only.
* **Purpose keys.** Experiments that need several independent streams from one base seed (data,
  initialization, one unit or case) take ``purpose_key(seed, j) = fold_in(key(seed), j)`` and,
  for an ensemble, the member keys ``fold_in(base, i)`` of :func:`member_keys`.
* **Seed strategy.** ``config.seed_strategy``: ``"vmap"`` (every member in one vmapped program),
  ``"sequential"`` (one member at a time, one compiled program reused; a member's numbers then
  do not depend on the other members) or an int block size (:func:`strategy`, checked by
  :class:`StrategySpec`). The old key ``seed_mode`` (full-batch tables, ``"vmap"`` or
  ``"sequential"``) is read as ``seed_strategy`` with a deprecation warning (one release);
  stored configs and command-line overrides holding it are renamed by
  :data:`chaosopt.train.config.ALIASES`.
"""
from __future__ import annotations

import warnings
from typing import Any, Union

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.train import config as config_lib

Strategy = Union[str, int]
DEFAULT = "vmap"
_warned: set = set()


# ----------------------------------------------------------------------------- keys
def seed_keys(seed: int, num: int, first: int = 0) -> jax.Array:
  """Member keys ``fold_in(jax.random.key(seed), first + i)``, ``i < num`` (typed keys)."""
  return member_keys(jax.random.key(int(seed)), num, first)


def member_keys(base: jax.Array, num: int, first: int = 0) -> jax.Array:
  """``[num]`` member keys ``fold_in(base, first + i)``."""
  return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(first, first + num))


def purpose_key(seed: int, purpose: int) -> jax.Array:
  """``fold_in(key(seed), purpose)``: one key per purpose (data, a unit, a case)."""
  return jax.random.fold_in(jax.random.key(int(seed)), int(purpose))


def seed_list(config) -> range:
  """The seeds of a config: ``first_seed, ..., first_seed + num_seeds - 1`` (a ``range``: a
  config asking for 10^9 seeds is refused by its memory estimate, not by building the list)."""
  first = int(config.get("first_seed", 0))
  return range(first, first + int(config.num_seeds))


# ----------------------------------------------------------------------------- strategy
def parse(value: Any) -> Strategy:
  """``value`` as a strategy (``"vmap"``, ``"sequential"`` or an int >= 1; a digit string is an
  int); ``ConfigError`` naming ``config.seed_strategy`` otherwise."""
  if isinstance(value, str) and value.isdigit():
    value = int(value)
  ok = value in ("vmap", "sequential") or (isinstance(value, int) and not isinstance(value, bool)
                                          and value >= 1)
  if not ok:
    raise config_lib.ConfigError(f"config.seed_strategy must be 'vmap', 'sequential' or a "
                                 f"block size >= 1, got {value!r}")
  return value


def strategy(config) -> Strategy:
  """The config's seed strategy: ``config.seed_strategy`` (default ``"vmap"``), or the deprecated
  ``config.seed_mode`` (warned once per process)."""
  if "seed_strategy" in config:
    return parse(config.seed_strategy)
  if "seed_mode" in config:
    if "seed_mode" not in _warned:
      _warned.add("seed_mode")
      warnings.warn("config.seed_mode is deprecated; use config.seed_strategy (same values, "
                    "plus a block size)", DeprecationWarning, stacklevel=2)
    return parse(config.seed_mode)
  return DEFAULT


def blocks(n: int, strat: Strategy) -> list[np.ndarray]:
  """Member indices ``0 .. n-1`` split into the blocks run as one program each."""
  if strat == "vmap":
    return [np.arange(n)]
  if strat == "sequential":
    return [np.array([i]) for i in range(n)]
  if isinstance(strat, (int, np.integer)) and not isinstance(strat, bool) and strat >= 1:
    return [np.arange(i, min(i + int(strat), n)) for i in range(0, n, int(strat))]
  raise ValueError(f"strategy must be 'vmap', 'sequential' or a block size >= 1, got "
                   f"{strat!r}")


def at_once(strat: Strategy, n: int) -> int:
  """How many of ``n`` members one program holds at once (without building the blocks: a
  memory estimate must be cheap for any ``n``)."""
  if strat == "vmap":
    return n
  return min(1 if strat == "sequential" else int(parse(strat)), n)


class StrategySpec(config_lib.Spec):
  """The schema entry of ``seed_strategy`` (and of the deprecated ``seed_mode``)."""
  text = "'vmap', 'sequential' or a block size >= 1"

  def check(self, where, value):
    try:
      parse(value)
    except config_lib.ConfigError:
      self.fail(where, value)

  def bad(self):
    return ["threads", 0, True, 1.5]
