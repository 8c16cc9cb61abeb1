"""Data- and seed-parallel placement over a ``jax.sharding.Mesh`` (execution layer, no paper
equation; used by the full-batch CIFAR-10 runs of P0 Table 2).

The mesh has two axes: ``"seeds"`` (independent training runs) and ``"data"`` (examples).
Training data is stored as micro-batches ``[M, B, ...]`` and sharded over ``"data"`` along the
per-micro-batch axis B, so every micro-batch is split across devices: gradients and BatchNorm
batch statistics are reduced across devices by the compiler, and the numbers equal the
single-device run up to float summation order. Per-seed state (leading seed axis) is sharded
over ``"seeds"`` when that axis has more than one device; parameters are otherwise replicated.
"""
from __future__ import annotations

from typing import Any, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA, SEEDS = "data", "seeds"


def make_mesh(num_data: Optional[int] = None, num_seeds: int = 1,
              devices: Optional[list] = None) -> Mesh:
  """A ``(seeds, data)`` mesh; ``num_data`` defaults to all devices / ``num_seeds``."""
  devices = list(jax.devices()) if devices is None else list(devices)
  if num_seeds < 1:
    raise ValueError(f"num_seeds must be >= 1, got {num_seeds}")
  if num_data is None:
    num_data = len(devices) // num_seeds
  if num_data < 1 or num_data * num_seeds > len(devices):
    raise ValueError(f"mesh seeds={num_seeds} x data={num_data} needs "
                     f"{num_seeds * max(num_data, 1)} devices, {len(devices)} available")
  grid = np.asarray(devices[:num_seeds * num_data], dtype=object).reshape(num_seeds, num_data)
  return Mesh(grid, (SEEDS, DATA))


def microbatch_sharding(mesh: Mesh) -> NamedSharding:
  """Sharding of ``[M, B, ...]`` micro-batched data: B over ``"data"``."""
  return NamedSharding(mesh, P(None, DATA))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def seed_sharding(mesh: Mesh) -> NamedSharding:
  """Sharding of per-seed state ``[S, ...]``: S over ``"seeds"``."""
  return NamedSharding(mesh, P(SEEDS))


def check_divisible(mesh: Mesh, microbatch_size: int, num_seeds: int) -> None:
  nd, ns = mesh.shape[DATA], mesh.shape[SEEDS]
  if microbatch_size % nd:
    raise ValueError(f"microbatch_size={microbatch_size} must be divisible by the mesh's "
                     f"data axis ({nd} devices)")
  if num_seeds % ns:
    raise ValueError(f"num_seeds={num_seeds} must be divisible by the mesh's seeds axis "
                     f"({ns} devices)")


def put_microbatches(tree: Any, mesh: Optional[Mesh]) -> Any:
  """Places ``[M, B, ...]`` arrays on the mesh (default device when ``mesh`` is None)."""
  if mesh is None:
    return jax.device_put(tree)
  return jax.device_put(tree, microbatch_sharding(mesh))


def put_seeded(tree: Any, mesh: Optional[Mesh]) -> Any:
  """Places per-seed state (leading seed axis) on the mesh: seeds over ``"seeds"``."""
  if mesh is None:
    return tree
  sh = seed_sharding(mesh) if mesh.shape[SEEDS] > 1 else replicated(mesh)
  return jax.device_put(tree, sh)
