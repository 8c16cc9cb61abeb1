"""Chunked ``lax.scan`` driver: the one training loop every experiment uses.

No paper equation: this is the execution layer. A run is ``carry_{k+1}, m_k = step_fn(carry_k, k)``
for ``k = start, ..., num_steps - 1``; it executes as one jitted ``lax.scan`` per chunk of
``chunk_size`` steps so the host can show progress, log metrics, stop on NaN or write a
checkpoint between chunks. The step index is passed to ``step_fn`` as a traced int32 scalar.
Seeds and hyper-parameter axes are added by the caller with ``jax.vmap`` around ``step_fn``
(and around the initial carry), so one compiled program runs a whole table.

``host_steps=True`` runs the steps of a chunk as separate calls of one jitted step instead of a
``lax.scan``: XLA:CPU executes convolutions inside a loop body several times slower than at the
top level of a program (jax-ml/jax#12868; the full-batch ResNet step measured 3.1-4.7 s in a loop
vs 0.54 s unrolled, ``benchmarks/resnet_step.py``), so conv nets on CPU want it, while models
whose step takes microseconds (the airfoil MLP, the 1-D maps) want the scan.
:func:`host_steps_default` is the rule the conv-net experiments use.
"""
from __future__ import annotations

import os
import time
import warnings
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

StepFn = Callable[[Any, jax.Array], tuple[Any, Any]]
# on_chunk(carry, metrics_of_chunk (host numpy pytree, leading axis = steps), steps_done) -> bool
# returning True stops the run early (e.g. every seed diverged).
ChunkCallback = Callable[[Any, Any, int], Optional[bool]]


ENV_CACHE_DIR = "CHAOSOPT_CACHE_DIR"  # the command's compilation cache; "" or "off": none


def default_cache_dir() -> Optional[str]:
  """The command's persistent compilation cache: ``$CHAOSOPT_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/chaosopt/jax``, else ``~/.cache/chaosopt/jax``; ``None`` when
  ``CHAOSOPT_CACHE_DIR`` is empty or ``off`` (the command's ``--no-compile-cache``)."""
  env = os.environ.get(ENV_CACHE_DIR)
  if env is not None:
    return None if env.strip().lower() in ("", "0", "off", "no", "false") else env
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "chaosopt", "jax")


# Set by the command's SIGINT handler (chaosopt.cli): a Ctrl-C that library code swallowed (an
# orbax save catches BaseException in its threads) still stops the loop at the next chunk.
_interrupted = False


def request_interrupt() -> None:
  """Marks the process as interrupted: :func:`scan_chunks` raises ``KeyboardInterrupt`` after
  its current chunk (the command calls this from its SIGINT handler)."""
  global _interrupted
  _interrupted = True


def clear_interrupt() -> None:
  global _interrupted
  _interrupted = False


def interrupted() -> bool:
  """Whether :func:`request_interrupt` was called (and not cleared) in this process."""
  return _interrupted


def use_compilation_cache(directory: str) -> None:
  """Keeps compiled programs in ``directory`` (JAX's persistent compilation cache): runs that
  differ only in their PRNG keys (seeds run one after another) compile once, and a killed run
  restarts without recompiling. Every program is stored, however quickly it compiled: JAX's
  default (only programs compiling in over a second) left the main job's ~76 small programs
  (initialization, evaluation, final metrics, 4 s of a warm run) compiling on every run. Call it
  before the first compilation of the process."""
  os.makedirs(directory, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  # an entry that cannot be written (a full disk) or read back (one truncated by a full disk:
  # JAX then compiles the program again) only costs a compilation: no warning per program (the
  # run's own writes report a full disk in one line)
  warnings.filterwarnings("ignore", message="Error (writing|reading) persistent compilation "
                          "cache entry")


def host_steps_default() -> bool:
  """True on the CPU backend, where conv nets should not run inside ``lax`` loops (see the
  module docstring); False on GPU/TPU."""
  return jax.default_backend() == "cpu"


def make_chunk_fn(step_fn: StepFn, *, donate: bool = True, host_steps: bool = False,
                  after: Optional[Callable[[Any], Any]] = None):
  """Returns ``chunk(carry, steps) -> (carry, stacked metrics)``: one jitted ``lax.scan`` over
  ``steps``, or (``host_steps``) one jitted ``step_fn`` call per step with the metrics stacked
  on the device. Both give the same steps; only the loop's place differs. ``after(carry)``:
  something the host needs of the chunk's last carry (an evaluation), computed in the scan's
  program (jitted on its own with ``host_steps``); the chunk then returns ``(carry, (metrics,
  after(carry)))``."""
  donate_argnums = (0,) if donate else ()
  if not host_steps:
    def scan_chunk(carry, steps):
      carry, metrics = jax.lax.scan(step_fn, carry, steps)
      return (carry, metrics) if after is None else (carry, (metrics, after(carry)))
    return jax.jit(scan_chunk, donate_argnums=donate_argnums)
  step = jax.jit(step_fn, donate_argnums=donate_argnums)
  after_jit = None if after is None else jax.jit(after)

  def chunk(carry, steps):
    outs = []
    for k in np.asarray(steps):
      carry, m = step(carry, jnp.int32(k))
      outs.append(m)
    metrics = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *outs)
    return (carry, metrics) if after_jit is None else (carry, (metrics, after_jit(carry)))

  return chunk


def scan_chunks(step_fn: StepFn, carry: Any, num_steps: int, *, chunk_size: int,
                start_step: int = 0, on_chunk: Optional[ChunkCallback] = None,
                progress: bool = False, desc: str = "", donate: bool = True,
                host_steps: bool = False, chunk_fn: Optional[Callable] = None,
                keep: bool = True):
  """Runs ``step_fn`` from ``start_step`` to ``num_steps`` in jitted chunks.

  All chunks have the same length (the last one is shorter only if ``num_steps - start_step``
  is not a multiple of ``chunk_size``, which compiles one extra program). Returns the final
  carry and the concatenated host metrics (``None`` if ``step_fn`` returns ``None`` metrics).
  ``host_steps``: see :func:`make_chunk_fn` and the module docstring. ``chunk_fn``: a chunk
  function made once by :func:`make_chunk_fn` (then ``step_fn`` is unused), so several loops
  of the same shapes share one compiled program. ``keep=False``: the metrics go to ``on_chunk``
  only (the return value's metrics are ``None``).
  """
  if chunk_size <= 0:
    raise ValueError(f"chunk_size must be > 0, got {chunk_size}")
  if chunk_fn is None:
    chunk_fn = make_chunk_fn(step_fn, donate=donate, host_steps=host_steps)
  bar = None
  if progress:
    from tqdm.auto import tqdm
    # disable=None: no bar unless stderr is a terminal (logs and pipes get metric lines only)
    bar = tqdm(total=num_steps, initial=start_step, desc=desc, unit="step", dynamic_ncols=True,
               disable=None, leave=False)
  all_metrics = []
  step = start_step
  try:
    while step < num_steps:
      n = min(chunk_size, num_steps - step)
      # a host array: no program of its own to compile (jnp.arange would be two per length)
      steps = np.arange(step, step + n, dtype=np.int32)
      carry, metrics = chunk_fn(carry, steps)
      metrics = jax.device_get(metrics)
      step += n
      if metrics is not None and keep:
        all_metrics.append(metrics)
      if bar is not None:
        bar.update(n)
      if on_chunk is not None and on_chunk(carry, metrics, step):
        break
      if _interrupted:  # a Ctrl-C that code between chunks caught and dropped
        raise KeyboardInterrupt
  finally:
    if bar is not None:
      bar.close()
  if not all_metrics:
    return carry, None
  stacked = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0), *all_metrics)
  return carry, stacked


def best_of(fn: Callable[[], Any], reps: int = 5) -> float:
  """Benchmark timing: calls ``fn`` once to compile/warm up, then returns the best wall time in
  seconds of ``reps`` calls, each blocked on its result."""
  jax.block_until_ready(fn())
  ts = []
  for _ in range(reps):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    ts.append(time.perf_counter() - t0)
  return min(ts)
