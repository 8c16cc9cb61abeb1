"""Orbax checkpoints of a chunked training run (execution layer, no paper equation; used by the
1000-step full-batch CIFAR-10 runs of P0 Table 2).

A checkpoint at step ``k`` holds the whole scan carry (parameters, BatchNorm statistics,
optimizer state including the perturbation's PRNG keys and Thaler chain states) plus a JSON
document (metric history so far, run description). Because the training step is a pure
function of ``(carry, k)`` and all randomness is derived from keys in the carry and ``k``, a run
restored from step ``k`` continues exactly as the uninterrupted run did: on CPU the final
metrics are bit-identical (tested in ``tests/test_checkpoint.py``).

Typed PRNG keys are stored as their raw ``key_data`` and re-wrapped on restore.

Several processes (``jax.distributed``, :mod:`.sharding`): every process must call
:meth:`Checkpointer.save` and :meth:`Checkpointer.restore` with the same directory on a file
system all of them see; each writes and reads its own shards of the global arrays, the JSON
document is written once (tested with two CPU processes in ``tests/test_distributed.py``).
Arrays local to one process (the ensemble driver's carry, which every process computes whole)
are stored as NumPy arrays, written once.

A checkpoint whose stored tree or shapes differ from the template (e.g. written by a version
that stored MPGD's chains as one flat ``[chains, coordinates]`` array; they are now shaped like
the parameters) is refused with a :class:`~chaosopt.core.errors.DataError` that says so, rather
than converted.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.core.errors import DataError


def _ocp():
  """orbax.checkpoint, imported on first use (≈ 0.3 s: a run that never saves or resumes, such
  as the main job's seconds-long groups, does not pay it)."""
  import orbax.checkpoint as ocp
  return ocp


def _is_step(directory: str, name: str) -> bool:
  """Whether ``name`` in ``directory`` is a step folder orbax wrote (``<step>/``)."""
  return name.isdigit() and os.path.isdir(os.path.join(directory, name))


def has_steps(directory: str) -> bool:
  """True if ``directory`` holds a finished checkpoint to resume (an orbax step folder);
  checked without importing orbax."""
  return os.path.isdir(directory) and any(_is_step(directory, n) for n in os.listdir(directory))


def _is_key(x) -> bool:
  return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _host_local(x) -> bool:
  # an array of this process only (every process holds its own full copy: the ensemble driver's
  # carry) in a multi-process run; orbax cannot write those as jax.Arrays
  return jax.process_count() > 1 and isinstance(x, jax.Array) and x.is_fully_addressable


def _to_storable(tree: Any) -> Any:
  def one(x):
    x = jax.random.key_data(x) if _is_key(x) else x
    # host-local replicas are stored as NumPy arrays (written once, by the primary process)
    return np.asarray(x) if _host_local(x) else x
  return jax.tree_util.tree_map(one, tree)


def _abstract(x):
  if isinstance(x, np.ndarray):
    return x  # restored as NumPy, then placed like the template by _from_storable
  return _ocp().utils.to_shape_dtype_struct(x) if hasattr(x, "shape") else x


def _from_storable(stored: Any, template: Any) -> Any:
  def back(s, t):
    # same placement as a fresh run, so the jitted step is not compiled again: a template on
    # one device gets an uncommitted default-device array, a sharded one its sharding
    if isinstance(t, jax.Array) and not isinstance(t.sharding, jax.sharding.SingleDeviceSharding):
      s = jax.device_put(s, t.sharding)
    else:
      s = jnp.asarray(np.asarray(s))
    if _is_key(t):
      s = jax.random.wrap_key_data(s, impl=jax.random.key_impl(t))
    return s
  return jax.tree_util.tree_map(back, stored, template)


class Checkpointer:
  """Saves/restores ``(step, carry, json_doc)`` under ``directory`` (one sub-folder per step).

  ``max_to_keep`` most recent checkpoints are kept. Saving is synchronous, so a process killed
  right after :meth:`save` returns still has a complete checkpoint; orbax writes to a temporary
  folder and renames it, so a kill *during* a save leaves the previous checkpoint intact.
  """

  def __init__(self, directory: str, *, max_to_keep: Optional[int] = 2):
    self.directory = os.path.abspath(directory)
    ocp = _ocp()
    self._mgr = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                             enable_async_checkpointing=False))

  def latest_step(self) -> Optional[int]:
    return self._mgr.latest_step()

  def save(self, step: int, carry: Any, doc: dict) -> None:
    ocp = _ocp()
    self._mgr.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(_to_storable(carry)), doc=ocp.args.JsonSave(doc)),
        force=True)
    self._mgr.wait_until_finished()

  def restore(self, template: Any, step: Optional[int] = None) -> tuple[int, Any, dict]:
    """Restores ``(step, carry, doc)`` (latest step by default) with the shapes, dtypes and
    shardings of ``template`` (e.g. the freshly initialized carry)."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f"no checkpoint in {self.directory}")
    abstract = jax.tree_util.tree_map(_abstract, _to_storable(template))
    ocp = _ocp()
    try:
      out = self._mgr.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract), doc=ocp.args.JsonRestore()))
    except ValueError as e:  # orbax: the stored tree or shapes differ from the template's
      detail = " ".join(str(e).split())[:400]
      raise DataError(
          f"checkpoint of another training-state layout (e.g. MPGD chains as one flat [chains, "
          f"coordinates] array, before they were shaped like the params) in "
          f"{self.directory}/{step}: this version cannot resume from it; start the run again "
          f"(chaosopt ... --restart, or delete {self.directory}). orbax: {detail}",
          path=self.directory) from e
    return step, _from_storable(out["state"], template), dict(out["doc"])

  def close(self) -> None:
    self._mgr.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def delete_steps(directory: str) -> None:
  """Deletes the step folders orbax wrote in ``directory`` (a damaged checkpoint), nothing
  else."""
  import shutil
  for name in os.listdir(directory):
    p = os.path.join(directory, name)
    if _is_step(directory, name) or (os.path.isdir(p) and ".orbax-checkpoint-tmp" in name):
      shutil.rmtree(p)


def to_jsonable(tree: Any) -> Any:
  """Host copy of a metrics pytree as nested lists (exact for float32/float64 values)."""
  return jax.tree_util.tree_map(lambda x: np.asarray(x).tolist(), jax.device_get(tree))
