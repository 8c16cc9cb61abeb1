"""Data- and seed-parallel placement over a ``jax.sharding.Mesh``, in one process or several
(``jax.distributed``) (execution layer, no paper equation; used by the full-batch CIFAR-10 runs
of P0 Table 2).

The mesh has two axes: ``"seeds"`` (independent training runs) and ``"data"`` (examples), laid
over the GLOBAL device list (every process's devices, :func:`make_mesh`). Training data is
stored as micro-batches ``[M, B, ...]`` and sharded over ``"data"`` along the per-micro-batch
axis B, so every micro-batch is split across devices: gradients and BatchNorm batch statistics
are reduced across devices by the compiler, and the numbers equal the single-device run up to
float summation order. Per-seed state (leading seed axis) is sharded over ``"seeds"`` when that
axis has more than one device; parameters are otherwise replicated.

**Several processes** (one per host, or one per GPU): call :func:`initialize_distributed` first
thing (it reads ``CHAOSOPT_COORDINATOR`` / ``CHAOSOPT_NUM_PROCESSES`` / ``CHAOSOPT_PROCESS_ID``,
or the SLURM variables of an ``srun`` step, and does nothing in a plain single-process run).
Every process then runs the same program on the same host data (each loads the whole data set;
:func:`put_microbatches` copies each device's slice from it), results are brought to the host
with :func:`to_host` (``process_allgather`` when an array spans other processes' devices), so
every process holds the same host arrays, and only :func:`is_writer` (process 0) writes files.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA, SEEDS = "data", "seeds"
# the environment of a multi-process run (chaosopt.train.peers reads it without jax)
from chaosopt.train.peers import (ENV_COORDINATOR, ENV_DISABLE, ENV_LOCAL_DEVICE_IDS,  # noqa: E402,F401
                                  ENV_NUM_PROCESSES, ENV_PROCESS_ID, slurm_step)


def initialize_distributed(*, coordinator: Optional[str] = None,
                           num_processes: Optional[int] = None,
                           process_id: Optional[int] = None) -> bool:
  """Starts ``jax.distributed`` when the environment asks for a multi-process run.

  Explicit settings (arguments, else the environment variables ``CHAOSOPT_COORDINATOR``
  (``host:port``), ``CHAOSOPT_NUM_PROCESSES``, ``CHAOSOPT_PROCESS_ID`` and optionally
  ``CHAOSOPT_LOCAL_DEVICE_IDS``) win; otherwise, inside a multi-task SLURM ``srun`` step, jax
  detects coordinator, process count and id itself. Anything else is a single-process run and
  nothing happens; ``CHAOSOPT_DISTRIBUTED=0`` forces that (one process inside a SLURM step).
  Must be called before any other jax call touches a device. Cross-process
  collectives on the CPU backend use gloo (set here; it does not affect GPUs). Returns True
  when this process is part of a multi-process run.
  """
  env = os.environ
  coordinator = coordinator or env.get(ENV_COORDINATOR) or None
  if num_processes is None and env.get(ENV_NUM_PROCESSES):
    num_processes = int(env[ENV_NUM_PROCESSES])
  if process_id is None and env.get(ENV_PROCESS_ID):
    process_id = int(env[ENV_PROCESS_ID])
  if jax.distributed.is_initialized():
    return jax.process_count() > 1
  if env.get(ENV_DISABLE, "").strip().lower() in ("0", "false", "no", "off"):
    return False
  explicit = coordinator is not None or num_processes is not None or process_id is not None
  if explicit:
    if coordinator is None or num_processes is None or process_id is None:
      raise ValueError(f"a multi-process run needs all of {ENV_COORDINATOR}, "
                       f"{ENV_NUM_PROCESSES} and {ENV_PROCESS_ID} (got coordinator="
                       f"{coordinator!r}, num_processes={num_processes}, "
                       f"process_id={process_id})")
    if num_processes == 1:
      return False
    kwargs = {}
    if env.get(ENV_LOCAL_DEVICE_IDS):
      kwargs["local_device_ids"] = [int(i) for i in env[ENV_LOCAL_DEVICE_IDS].split(",")]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id, **kwargs)
    return True
  if slurm_step():
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize()  # coordinator, count and id from the SLURM variables
    return True
  return False


def is_writer() -> bool:
  """True in the process that writes outputs (reports, figures): process 0."""
  return jax.process_index() == 0


def make_mesh(num_data: Optional[int] = None, num_seeds: int = 1,
              devices: Optional[list] = None) -> Mesh:
  """A ``(seeds, data)`` mesh over the global devices (all processes); ``num_data`` defaults to
  all devices / ``num_seeds``. Built by ``jax.make_mesh`` (device order suited to the
  interconnect on GPU/TPU) with ``Auto`` axes (the compiler propagates shardings)."""
  devices = list(jax.devices()) if devices is None else list(devices)
  if num_seeds < 1:
    raise ValueError(f"num_seeds must be >= 1, got {num_seeds}")
  if num_data is None:
    num_data = len(devices) // num_seeds
  if num_data < 1 or num_data * num_seeds > len(devices):
    raise ValueError(f"mesh seeds={num_seeds} x data={num_data} needs "
                     f"{num_seeds * max(num_data, 1)} devices, {len(devices)} available")
  used = devices[:num_seeds * num_data]
  if jax.process_count() > 1:
    missing = sorted(set(range(jax.process_count())) - {d.process_index for d in used})
    if missing:  # every process runs the same program, so every one needs devices in it
      raise ValueError(f"mesh seeds={num_seeds} x data={num_data} leaves out the devices of "
                       f"process(es) {missing}; in a multi-process run the mesh must span "
                       "every process")
  auto = jax.sharding.AxisType.Auto
  return jax.make_mesh((num_seeds, num_data), (SEEDS, DATA), (auto, auto),
                       devices=used)


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


def multiprocess(mesh: Optional[Mesh]) -> bool:
  """Whether ``mesh`` spans devices of other processes."""
  return mesh is not None and jax.process_count() > 1 and not all(
      d.process_index == jax.process_index() for d in mesh.devices.flat)


def _is_key(x) -> bool:
  return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def put_global(tree: Any, sharding: NamedSharding) -> Any:
  """Places host-identical values (numpy, or jax arrays every process computed alike) on a
  sharding that may span several processes: each process fills its own devices' slices from
  its host copy (``jax.make_array_from_callback``). Typed PRNG keys travel as key data."""
  def one(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return jax.device_put(x, sharding)  # already global: reshard
    if _is_key(x):
      data = put_global(np.asarray(jax.random.key_data(x)), sharding)
      return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])
  return jax.tree_util.tree_map(one, tree)


def put_microbatches(tree: Any, mesh: Optional[Mesh]) -> Any:
  """Places ``[M, B, ...]`` arrays on the mesh (default device when ``mesh`` is None)."""
  if mesh is None:
    return jax.device_put(tree)
  if multiprocess(mesh):
    return put_global(tree, microbatch_sharding(mesh))
  return jax.device_put(tree, microbatch_sharding(mesh))


def put_seeded(tree: Any, mesh: Optional[Mesh]) -> Any:
  """Places per-seed state (leading seed axis) on the mesh: seeds over ``"seeds"``."""
  if mesh is None:
    return tree
  sh = seed_sharding(mesh) if mesh.shape[SEEDS] > 1 else replicated(mesh)
  if multiprocess(mesh):
    return put_global(tree, sh)
  return jax.device_put(tree, sh)


def put_replicated(tree: Any, mesh: Optional[Mesh]) -> Any:
  """Replicates small inputs (hyper-parameters) over a multi-process mesh; unchanged in one
  process (there jit places them itself)."""
  if not multiprocess(mesh):
    return tree
  return put_global(tree, replicated(mesh))


def to_host(tree: Any) -> Any:
  """Host numpy copy of a pytree; arrays spanning other processes' devices are gathered
  (``multihost_utils.process_allgather``), so every process gets the same full values."""
  def one(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      if _is_key(x):
        x = jax.random.key_data(x)
      if x.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
      from jax.experimental import multihost_utils
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return jax.device_get(x)
  return jax.tree_util.tree_map(one, tree)
