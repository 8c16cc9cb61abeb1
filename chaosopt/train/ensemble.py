"""The ensemble driver: many independent runs (seeds × hyper-parameters) of one recursion.

No new equation: it executes any per-run recursion ``carry_{k+1}, m_k = step(carry_k, k, key_k,
hp)`` (e.g. P0 eq. 8 through an optax transform) for a set of *members* — one member per
(seed, hyper-parameter) pair — and returns host arrays with a leading member axis.

* **One seed rule.** Member ``i`` gets ``keys[i]``; :func:`chaosopt.train.seeds.seed_keys`
  gives ``fold_in(key(seed), first + i)`` (typed keys). ``init(member_key, hp)`` builds the carry
  (derive its keys with ``fold_in(member_key, 0)``, ``fold_in(member_key, 1)``), step ``k``
  gets ``fold_in(fold_in(member_key, 2), k)``.
* **Seed-axis strategy** (``strategy``): ``"vmap"`` (all members in one vmapped program),
  ``"sequential"`` (one member at a time, one compiled program reused), or an int ``c``
  (vmapped blocks of ``c`` members). XLA:CPU runs small vmapped programs (the airfoil MLP) much
  faster than a loop of single ones and conv nets the other way round; ``BENCHMARKS.md`` has
  the measured ratios. **Bit-identity:** with ``"sequential"`` a member's numbers are identical
  whatever the other members are (same program, same inputs); with ``"vmap"``/blocks they may
  differ by rounding (XLA may fuse a batched program differently), which a chaotic recursion
  amplifies — tested in ``tests/test_ensemble.py``.
* **Divergence.** ``is_finite(carry, metrics)`` (default: every inexact leaf of the new carry is
  finite) false freezes that member at its last finite carry; ``diverged_at`` records the step.
* **Evaluation** between chunks: ``evaluate(carry, hp) -> {metric: scalar}`` per member.
* **Early stop**: ``done(carry) -> bool`` per member; the run ends when every member is done
  (or diverged).
* **Checkpoints**: with ``checkpoint_dir``, an orbax checkpoint of the carry (not of the
  hyper-parameters, which the call rebuilds) and the metrics so far every ``checkpoint_every``
  chunks, once at least :data:`CHECKPOINT_SECONDS` seconds have passed since the block started
  or was last saved; a re-run restarts from it and gives bit-identical results (the step is a
  pure function of ``(carry, k)``). A finished block (or one where every member stopped) is
  stored whole (``result.pkl``), so a re-run skips it; a block shorter than the cutoff writes
  no orbax checkpoint at all. With several processes (``jax.distributed``), which must save
  together, every ``checkpoint_every`` chunks and the last one, whatever the clock.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.core.loop import make_chunk_fn, scan_chunks
from chaosopt.train import checkpoint as ck_lib
from chaosopt.train import seeds as seeds_lib

logger = logging.getLogger("chaosopt")

Strategy = seeds_lib.Strategy

# Chunk checkpoints are written only once this many seconds have passed since the block started
# or was last saved (one process; the finished block is stored as result.pkl). One orbax save of
# the airfoil table's carry costs ~0.07 s: saving after each of 12 quarter-second chunks was
# ~3.4 s of a 22 s main job, while a 10 s cutoff keeps the saves under 1% of any longer run and
# a kill loses at most ~10 s plus one chunk. ``$CHAOSOPT_CHECKPOINT_SECONDS`` overrides it (0:
# every ``checkpoint_every`` chunks, as before; the kill/resume tests use 0).
ENV_CHECKPOINT_SECONDS = "CHAOSOPT_CHECKPOINT_SECONDS"
CHECKPOINT_SECONDS = 10.0


def checkpoint_seconds() -> float:
  """The chunk-checkpoint cutoff in seconds (:data:`CHECKPOINT_SECONDS`, or the environment's
  ``CHAOSOPT_CHECKPOINT_SECONDS``)."""
  env = os.environ.get(ENV_CHECKPOINT_SECONDS, "").strip()
  return float(env) if env else CHECKPOINT_SECONDS


def _is_key(x) -> bool:
  return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def tree_select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
  """``where(pred, a, b)`` leaf-wise for a scalar ``pred``; handles typed PRNG keys."""
  def sel(a, b):
    if _is_key(a):
      return jax.random.wrap_key_data(
          jnp.where(pred, jax.random.key_data(a), jax.random.key_data(b)),
          impl=jax.random.key_impl(a))
    return jnp.where(pred, a, b)
  return jax.tree_util.tree_map(sel, on_true, on_false)


def host_tree(tree: Any) -> Any:
  """Host (numpy) copy of ``tree``; typed PRNG keys become their ``key_data``."""
  return jax.tree_util.tree_map(
      lambda x: np.asarray(jax.random.key_data(x)) if _is_key(x) else np.asarray(x),
      jax.device_get(tree) if not any(_is_key(x) for x in jax.tree_util.tree_leaves(tree))
      else tree)


def all_finite(tree: Any) -> jax.Array:
  """True if every inexact leaf of ``tree`` is finite (keys and integers are ignored)."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
            if not _is_key(x) and jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def carry_finite(carry: Any, metrics: Any = None) -> jax.Array:
  """The default divergence test: every inexact leaf of the new carry is finite."""
  return all_finite(carry)


@dataclasses.dataclass
class EnsembleResult:
  """Host results; every array has a leading member axis ``[N, ...]``."""
  carry: Any                  # final carry (last finite one for diverged members)
  history: dict               # metric -> [N, T] per step (NaN after divergence / early stop)
  eval_steps: np.ndarray      # [E]
  evals: dict                 # metric -> [N, E]
  diverged_at: np.ndarray     # [N] int, -1 if never diverged
  steps_done: int


def run_ensemble(init: Callable[[jax.Array, Any], Any],
                 step: Callable[[Any, jax.Array, jax.Array, Any], tuple[Any, Any]],
                 num_steps: int, *, keys: jax.Array, hparams: Any = None,
                 chunk_size: int = 1000, strategy: Strategy = "vmap",
                 evaluate: Optional[Callable[[Any, Any], dict]] = None,
                 is_finite: Optional[Callable[[Any, Any], jax.Array]] = carry_finite,
                 done: Optional[Callable[[Any], jax.Array]] = None,
                 checkpoint_dir: Optional[str] = None, checkpoint_every: int = 1,
                 on_eval: Optional[Callable[[int, dict, np.ndarray], None]] = None,
                 progress: bool = False, desc: str = "", host_steps: bool = False,
                 init_args: Any = None) -> EnsembleResult:
  """Runs every member for ``num_steps`` steps (see the module docstring).

  Args:
    init: ``init(key, hp) -> carry`` for one member (``init(key, hp, x)`` with ``init_args``).
    step: ``step(carry, k, key_k, hp) -> (carry, metrics)``; ``metrics`` a dict of scalars
      (may be empty) kept per step.
    num_steps: number of steps.
    keys: ``[N]`` member keys (:func:`chaosopt.train.seeds.seed_keys`).
    hparams: pytree with a leading ``[N]`` axis (per-member hyper-parameters) or ``None``.
    chunk_size: steps per jitted chunk (evaluation / checkpoint interval).
    strategy: ``"vmap"``, ``"sequential"`` or a block size (see the module docstring).
    evaluate: ``evaluate(carry, hp) -> {metric: scalar}``, at step 0 and after every chunk.
    is_finite: ``is_finite(new_carry, metrics) -> bool``; ``None`` disables freezing.
    done: ``done(carry) -> bool``; the loop stops when every member is done or diverged.
    checkpoint_dir: orbax checkpoints of each block there (resume); ``None``: none.
    checkpoint_every: checkpoint interval in chunks (a chunk's checkpoint is skipped when the
      last one is under :func:`checkpoint_seconds` old; see the module docstring).
    on_eval: ``on_eval(step, {metric: [n]}, member_indices)`` after each evaluation (logging).
    progress: show a progress bar (TTY only).
    host_steps: dispatch steps from the host (conv nets on XLA:CPU, see :mod:`chaosopt.core.loop`).
    init_args: pytree with a leading ``[N]`` axis given to ``init`` only (not kept in the carry):
      e.g. initial parameters computed once for several calls.
  """
  n = int(keys.shape[0])
  if n < 1:
    raise ValueError("run_ensemble needs at least one member key")
  if num_steps < 0 or chunk_size < 1:
    raise ValueError(f"num_steps must be >= 0 and chunk_size >= 1, got {num_steps}, "
                     f"{chunk_size}")
  # the compiled programs are built once and shared by every block: keys and
  # hyper-parameters travel in the carry (arguments, not constants), so blocks of equal size
  # reuse one compilation ("sequential": one program for every member)
  progs = _programs(init, step, hparams is not None, init_args is not None, evaluate=evaluate,
                    is_finite=is_finite, done=done, host_steps=host_steps)
  results = []
  for b, idx in enumerate(seeds_lib.blocks(n, strategy)):
    sub_keys, sub_hp, sub_x = _take((keys, hparams, init_args), idx, n)
    ck = None if checkpoint_dir is None else os.path.join(checkpoint_dir, f"block{b}")
    results.append(_run_block(progs, num_steps, sub_keys, sub_hp, sub_x, idx,
                              chunk_size=chunk_size, checkpoint_dir=ck,
                              checkpoint_every=checkpoint_every, on_eval=on_eval,
                              progress=progress,
                              desc=desc if len(results) == 0 else f"{desc} [{b}]"))
  if len(results) == 1:
    return results[0]
  cat = lambda *xs: np.concatenate(xs, axis=0)  # noqa: E731
  eval_steps = results[0].eval_steps
  if any(len(r.eval_steps) != len(eval_steps) for r in results):
    # blocks stopped early at different steps: pad evaluations with NaN to the longest
    longest = max(results, key=lambda r: len(r.eval_steps)).eval_steps
    for r in results:
      e = len(r.eval_steps)
      r.evals = {k: np.concatenate([v, np.full(v.shape[:1] + (len(longest) - e,), np.nan)], 1)
                 for k, v in r.evals.items()}
    eval_steps = longest
  return EnsembleResult(
      carry=jax.tree_util.tree_map(cat, *[r.carry for r in results]),
      history={k: cat(*[r.history[k] for r in results]) for k in results[0].history},
      eval_steps=eval_steps,
      evals={k: cat(*[r.evals[k] for r in results]) for k in results[0].evals},
      diverged_at=cat(*[r.diverged_at for r in results]),
      steps_done=max(r.steps_done for r in results))


def _take(tree: Any, idx: np.ndarray, n: int) -> Any:
  """``tree``'s members ``idx``; the tree itself when ``idx`` is every member in order (one
  block: no gather programs to compile)."""
  if len(idx) == n and np.array_equal(idx, np.arange(n)):
    return tree
  return jax.tree_util.tree_map(lambda x: x[idx], tree)


class _Programs(NamedTuple):
  init: Callable   # (keys, hp[, x]) -> (carry, evaluation at step 0 or None)
  chunk: Callable  # (carry, steps) -> (carry, (per-step metrics, {"eval", "done"} after it))
  eval: Optional[Callable]
  done: Optional[Callable]


def _programs(init, step, has_hp, has_x, *, evaluate, is_finite, done, host_steps) -> _Programs:
  """The block's compiled programs. The evaluation and the early-stop test run inside the init
  and chunk programs (one program less to compile and dispatch each; with host steps, one
  program after each chunk); ``eval``/``done`` alone serve a resumed block."""
  def init_one(key, hp, *x):
    return {"state": init(key, hp, *x), "alive": jnp.array(True),
            "diverged_at": jnp.array(-1, jnp.int32), "key": key, "hp": hp}

  def step_one(c, k):
    key, hp = c["key"], c["hp"]
    new, metrics = step(c["state"], k, jax.random.fold_in(jax.random.fold_in(key, 2), k), hp)
    metrics = dict(metrics or {})
    if is_finite is None:
      return dict(c, state=new), metrics
    ok = jnp.asarray(is_finite(new, metrics))
    alive = c["alive"] & ok
    out = dict(c, state=tree_select(alive, new, c["state"]), alive=alive,
               diverged_at=jnp.where(c["alive"] & ~ok, k, c["diverged_at"]))
    nan = lambda v: jnp.where(c["alive"], v, jnp.nan) if jnp.issubdtype(  # noqa: E731
        jnp.result_type(v), jnp.inexact) else v
    return out, {m: nan(jnp.asarray(v)) for m, v in metrics.items()}

  v_eval = None if evaluate is None else jax.vmap(lambda c: evaluate(c["state"], c["hp"]))
  v_done = None if done is None else jax.vmap(lambda c: done(c["state"]))

  def after(c):  # what the host needs after a chunk
    return {"eval": None if v_eval is None else v_eval(c),
            "done": None if v_done is None else v_done(c)}

  v_init = jax.vmap(init_one, (0, 0 if has_hp else None) + ((0,) if has_x else ()))

  def init_then_eval(*args):
    carry = v_init(*args)
    return carry, None if v_eval is None else v_eval(carry)

  return _Programs(
      init=jax.jit(init_then_eval),
      chunk=make_chunk_fn(jax.vmap(step_one, (0, None)), host_steps=host_steps, after=after),
      eval=None if v_eval is None else jax.jit(v_eval),
      done=None if v_done is None else jax.jit(v_done))


def _without_hp(carry: dict) -> dict:
  return {k: v for k, v in carry.items() if k != "hp"}


def _run_block(progs: _Programs, num_steps, keys, hparams, x, idx, *, chunk_size, checkpoint_dir,
               checkpoint_every, on_eval, progress, desc) -> EnsembleResult:
  final_path = None if checkpoint_dir is None else os.path.join(checkpoint_dir, "result.pkl")
  if final_path is not None and os.path.exists(final_path):
    import pickle
    try:
      with open(final_path, "rb") as f:
        return pickle.load(f)
    except Exception as e:  # noqa: BLE001 - a damaged result is recomputed
      logger.warning("%s is damaged (%s); recomputing that block", final_path, type(e).__name__)

  # one init program for a fresh and a resumed block: a resumed block discards its step-0
  # evaluation (milliseconds) rather than compiling an init program without it
  carry, eval0 = progs.init(keys, hparams, *(() if x is None else (x,)))
  v_eval, v_done = progs.eval, progs.done

  def host_eval(e):
    return {k: np.asarray(v, np.float64) for k, v in jax.device_get(e).items()}

  start, eval_steps, evals, hist_chunks = 0, [], [], []
  # one process: the orbax manager (and orbax itself) is made only to resume or to save;
  # several processes (jax.distributed) save together, so they keep the chunk-count rule only
  # (a clock would differ between them) and make the manager up front
  single = jax.process_count() == 1
  ckpt = None

  def open_checkpoints():  # the block's orbax manager: the last checkpoint only
    return ck_lib.Checkpointer(checkpoint_dir, max_to_keep=1)

  if checkpoint_dir is not None and (not single or ck_lib.has_steps(checkpoint_dir)):
    ckpt = open_checkpoints()
    if ckpt.latest_step() is not None:
      # hyper-parameters are inputs, not state: rebuilt by this call, never checkpointed (a
      # member's hp may be a large table, e.g. pre-drawn noise)
      try:
        start, restored, doc = ckpt.restore(_without_hp(carry))
        eval_steps, evals = doc["eval_steps"], [{k: np.asarray(v) for k, v in e.items()}
                                                 for e in doc["evals"]]
        hist_chunks = [{k: np.asarray(v, np.float32 if k not in doc["hist_dtypes"] else
                                      doc["hist_dtypes"][k]) for k, v in h.items()}
                       for h in doc["hist"]]
        carry = dict(restored, hp=carry["hp"])
      except Exception as e:  # noqa: BLE001 - a damaged checkpoint: start that block afresh
        logger.warning("checkpoint in %s is damaged (%s: %s); starting that block from step 0",
                       checkpoint_dir, type(e).__name__, str(e)[:120])
        ckpt.close()
        ck_lib.delete_steps(checkpoint_dir)
        ckpt = open_checkpoints()
        start, eval_steps, evals, hist_chunks = 0, [], [], []
  if not eval_steps and v_eval is not None:
    eval_steps, evals = [0], [host_eval(eval0 if start == 0 else v_eval(carry))]
    if on_eval is not None:
      on_eval(0, evals[-1], idx)

  chunks_done, last_step = [0], [start]
  min_seconds, last_save = (checkpoint_seconds() if single else 0.0), [time.monotonic()]

  def on_chunk(c, out, steps_done):
    nonlocal ckpt
    metrics, after = out  # host arrays (scan_chunks fetched them)
    last_step[0] = steps_done
    if metrics is not None:
      hist_chunks.append({k: np.asarray(v) for k, v in metrics.items()})
    if v_eval is not None:
      eval_steps.append(steps_done)
      evals.append(host_eval(after["eval"]))
      if on_eval is not None:
        on_eval(steps_done, evals[-1], idx)
    alive = np.asarray(jax.device_get(c["alive"]))
    stop = not alive.any()
    if v_done is not None:
      stop = stop or bool(np.all(np.asarray(after["done"]) | ~alive))
    chunks_done[0] += 1
    due = (chunks_done[0] % checkpoint_every == 0
           and time.monotonic() - last_save[0] >= min_seconds)
    # one process: the block's last chunk (or the one where every member stopped) is saved
    # whole as result.pkl right after, so it needs no orbax checkpoint unless one is due
    if checkpoint_dir is not None and (due or (not single and (stop or steps_done >= num_steps))):
      if ckpt is None:
        ckpt = open_checkpoints()
      ckpt.save(steps_done, _without_hp(c), {
          "eval_steps": list(eval_steps), "evals": [{k: v.tolist() for k, v in e.items()}
                                                    for e in evals],
          "hist": [{k: v.tolist() for k, v in h.items()} for h in hist_chunks],
          "hist_dtypes": {k: str(v.dtype) for k, v in (hist_chunks[0] if hist_chunks
                                                       else {}).items()}})
      last_save[0] = time.monotonic()
    return stop

  stopped = False
  if start > 0 and v_done is not None:
    alive = np.asarray(jax.device_get(carry["alive"]))
    stopped = bool(np.all(np.asarray(jax.device_get(v_done(carry))) | ~alive))
  if start < num_steps and not stopped:
    carry, _ = scan_chunks(None, carry, num_steps, chunk_size=min(chunk_size, num_steps),
                           start_step=start, on_chunk=on_chunk, progress=progress, desc=desc,
                           chunk_fn=progs.chunk, keep=False)
  if ckpt is not None:
    ckpt.close()
  m = len(idx)
  history = {}
  if hist_chunks:
    for k in hist_chunks[0]:
      v = np.concatenate([h[k] for h in hist_chunks], axis=0)  # [T_done, m]
      v = np.moveaxis(v, 0, -1)
      if v.shape[-1] < num_steps:
        pad = np.full(v.shape[:-1] + (num_steps - v.shape[-1],), np.nan,
                      v.dtype if np.issubdtype(v.dtype, np.inexact) else np.float64)
        v = np.concatenate([v.astype(pad.dtype), pad], axis=-1)
      history[k] = v
  evals_arr = ({k: np.stack([e[k] for e in evals], axis=-1) for k in evals[0]}
               if evals else {})
  result = EnsembleResult(carry=host_tree(carry["state"]), history=history,
                          eval_steps=np.asarray(eval_steps, np.int64), evals=evals_arr,
                          diverged_at=np.asarray(jax.device_get(carry["diverged_at"])),
                          steps_done=int(last_step[0]))
  assert result.diverged_at.shape == (m,)
  if final_path is not None and jax.process_index() == 0:  # one writer per run (jax.distributed)
    import pickle
    os.makedirs(checkpoint_dir, exist_ok=True)
    tmp = final_path + ".tmp"
    with open(tmp, "wb") as f:
      pickle.dump(result, f)
    os.replace(tmp, final_path)
  return result
