"""Experiment runner: a whole table of (scheme x seed) runs as a few vmapped, jitted programs.

Implements the training recursions of P0 (MPGD, eq. 8 and the eq. 11 variant, with the
Gaussian-perturbed GD baseline) on a :class:`chaosopt.tasks.base.Task`:
``x_{k+1} = x_k - eta grad R(x_k) + perturbation_k`` built as ``optax.sgd(eta)`` chained with
:func:`chaosopt.gaussian_perturbation` or :func:`chaosopt.mpgd_perturbation`.

A run is a pure function of ``(groups, settings, key)``: the scheme groups and run settings of
:mod:`chaosopt.train.schemes` (resolved from a config by :func:`chaosopt.train.schemes.plan`;
this module reads no config). Schemes are grouped by *structure* (kind and static options);
inside a group the numeric hyper-parameters (learning rate, mu, sigma, gamma,
Gaussian exponent) are a vmapped axis, seeds are a second vmapped axis, and the steps are one
``lax.scan`` executed in chunks by :func:`chaosopt.core.loop.scan_chunks` (progress bar,
evaluation between chunks). A seed whose loss or parameters become non-finite is frozen at its
last finite parameters (per-seed ``alive`` flag in the carry) and reported by scheme, seed and
step; the other seeds run on.

Seed ``i`` uses ``fold_in(key, i)`` (``key = jax.random.key(settings.seed)``,
:mod:`chaosopt.train.seeds`) whatever the other seeds, so seed ``i`` run alone
(``first_seed=i, num_seeds=1``) starts from the same parameters and draws the same noise as in
a batch. Whether its numbers are also *bit*-identical depends on the seed strategy
(:func:`chaosopt.train.ensemble.run_ensemble`): with ``"sequential"`` every seed runs through
one compiled program, so its numbers do not depend on the other seeds
(``tests/test_ensemble.py``; the authors' table kinds compile one program per static seed
range, see :meth:`chaosopt.train.schemes.SchemeGroup.members`); with ``"vmap"`` (the default)
or a block size, the batched program may round differently from a batch of one (XLA fuses
batched kernels differently), so the runs agree only to float32 rounding, and a chaotic
recursion (the Thaler chains of MPGD) amplifies a one-ulp difference until, after a few tens
of steps, the trajectories part (``tests/test_runner.py`` compares 10 steps at
``rtol=1e-5``).

Small groups run two at a time (threads; one compiles or traces while the other executes), which
changes no number: each group is its own program on its own inputs.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any, Callable, Optional

import jax
import jax.flatten_util
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from chaosopt.core import loop as loop_lib
from chaosopt.core import precision as precision_lib
from chaosopt.tasks.base import Task
from chaosopt.train import config as config_lib
from chaosopt.train import ensemble
from chaosopt.train import results as results_lib
from chaosopt.train import seeds as seeds_lib
from chaosopt.train import schemes as schemes_lib
from chaosopt.train.schemes import SchemeGroup, Settings


# --------------------------------------------------------------------------- tasks

def build_task(task_config: ml_collections.ConfigDict) -> Task:
  """Instantiates ``config.task`` (``name`` plus keyword arguments of the registered factory)."""
  from chaosopt.tasks import registry as task_registry
  kwargs = dict(task_config)
  name = kwargs.pop("name")
  try:
    return task_registry.make_task(name, **kwargs)
  except (ValueError, TypeError) as e:
    raise config_lib.ConfigError(f"config.task: {e}") from None


# --------------------------------------------------------------------------- the run

tree_select = ensemble.tree_select


@dataclasses.dataclass
class RunResult:
  settings: dict           # the run settings (chaosopt.train.schemes.Settings)
  task_info: dict
  schemes: dict            # name -> chaosopt.train.results.SchemeRecord, in table order
  timings: dict            # group label -> seconds (compile included)
  messages: list


def seed_keys(settings: Settings, key: Optional[jax.Array] = None) -> jax.Array:
  """Per-seed keys ``fold_in(key, seed)`` for the settings' seeds (``key =
  jax.random.key(settings.seed)`` unless given)."""
  key = jax.random.key(settings.seed) if key is None else key
  return seeds_lib.member_keys(key, len(settings.seeds), settings.seeds[0])


class _FlatTask:
  """The task on flat parameter vectors (batched initial parameters and final metrics, one
  compiled program for every group). The optimizer itself sees the task's parameter pytree,
  as a user's optax chain would (per-tensor noise processes depend on the leaves)."""

  def __init__(self, task: Task):
    self.task = task
    # unravel from an abstract trace: the ravel of a concrete template would be a program
    unravels = []

    def ravel(p):
      flat, unravel = jax.flatten_util.ravel_pytree(p)
      unravels.append(unravel)
      return flat
    template = jax.eval_shape(task.init, jax.random.key(0))
    flat_shape = jax.eval_shape(ravel, template)
    self.num_params, self.dtype = flat_shape.shape[0], flat_shape.dtype
    self.unravel = unravels[0]
    leaves, self._treedef = jax.tree_util.tree_flatten(template)
    self._leaves = [(leaf.shape, leaf.dtype) for leaf in leaves]
    self.final = lambda x: task.all_final_metrics(self.unravel(x))
    init = lambda key: jax.flatten_util.ravel_pytree(task.init(key))[0]  # noqa: E731
    # batched over a leading axis; one compile per distinct batch size. v_init0: the initial
    # parameters of seed keys, task.init(fold_in(key, 0)) (the rule of every group)
    self.v_init0 = jax.jit(jax.vmap(lambda k: init(jax.random.fold_in(k, 0))))
    self._v_final = jax.jit(jax.vmap(self.final))
    self._compiled: dict = {}  # batch shape -> compiled v_final (compile_final)

  def compile_final(self, n: int, block: int = 32) -> None:
    """Compiles :meth:`v_final`'s program for a batch of ``n`` vectors ahead (AOT), so a thread
    can do it while the groups run; ``v_final`` then uses it (the same program)."""
    if jax.config.jax_disable_jit:  # eager, as the caller asked
      return
    shape = (_block_rows(n, block), self.num_params)
    self._compiled[shape] = self._v_final.lower(
        jax.ShapeDtypeStruct(shape, self.dtype)).compile()

  def unravel_host(self, batch: np.ndarray) -> Any:
    """:attr:`unravel` of host vectors ``[..., P]`` in numpy (ravel_pytree's layout: the leaves
    in tree order, each raveled), no program."""
    batch = np.asarray(batch)
    out, offset = [], 0
    for shape, dtype in self._leaves:
      size = math.prod(shape)
      out.append(batch[..., offset:offset + size].reshape(batch.shape[:-1] + tuple(shape))
                 .astype(dtype, copy=False))
      offset += size
    return jax.tree_util.tree_unflatten(self._treedef, out)

  def v_final(self, batch, block: int = 32) -> dict:
    """Final metrics of a batch of flat parameter vectors, ``block`` at a time (bounded
    memory: an exact Hessian trace of every member at once needs gigabytes at 200 seeds);
    the last block is padded so one program serves every block."""
    batch = np.asarray(batch)  # sliced and padded on the host: no program per slice
    n = batch.shape[0]
    rows = _block_rows(n, block)
    out = []
    for i in range(0, n, block):
      part = batch[i:i + block]
      m = part.shape[0]
      if m < rows:
        part = np.concatenate([part, np.repeat(part[-1:], rows - m, axis=0)])
      res = jax.device_get(self._compiled.get(part.shape, self._v_final)(part))
      out.append({k: np.asarray(v)[:m] for k, v in res.items()})
    return {k: np.concatenate([o[k] for o in out]) for k in out[0]}


def _block_rows(n: int, block: int) -> int:
  """Rows of each final-metrics batch for ``n`` vectors: ``block``, the last block padded, or
  ``n`` when they fit in one (one program for every batch)."""
  return block if n > block else n


def run(groups: list[SchemeGroup], task: Task, settings: Settings,
        key: Optional[jax.Array] = None, *, workdir: Any = None, progress: bool = False,
        on_eval: Optional[Callable[[str, int, dict], None]] = None,
        log: Optional[Callable[[str], None]] = None) -> RunResult:
  """Runs every scheme of ``groups`` on ``task`` for the seeds of ``settings``; returns host
  arrays, schemes in table order.

  ``groups``/``settings``: :func:`chaosopt.train.schemes.plan` of a config. ``key``: the base
  key (default ``jax.random.key(settings.seed)``). ``workdir`` (a
  :class:`chaosopt.train.workdir.Workdir`) enables checkpoints (resume after a kill).
  ``on_eval(scheme_name, step, {metric: [seeds]})`` is called between chunks.
  """
  log = log or logging.getLogger("chaosopt").warning
  flat = _FlatTask(task)
  keys = seed_keys(settings, key)
  seeds = list(settings.seeds)
  # the final metrics' program compiles in a thread while the initial parameters and the
  # groups compute (one core is idle at the start; its compilation was the last step's)
  n_final = len(seeds) * (1 + sum(len(g.names) for g in groups))
  final_ready = _in_thread(lambda: flat.compile_final(n_final))
  # the same initial parameters for every scheme (seed i -> fold_in(seed_key_i, 0)), on the host
  # (each group's members are copies of them)
  params0 = np.asarray(flat.v_init0(keys))
  results, timings, finals = {}, {}, []

  def one(group):
    t0 = time.perf_counter()
    res, final_params = _run_group(settings, flat, group, keys, params0, seeds,
                                   workdir=workdir, progress=progress, on_eval=on_eval)
    return res, final_params, time.perf_counter() - t0

  # small groups overlap (one compiles while another executes); large ones run in order so
  # the memory estimate (the largest group live at once) holds
  size = flat.num_params * len(seeds) * max(len(g.names) for g in groups)
  at_once = GROUPS_AT_ONCE if size <= OVERLAP_MAX_NUMBERS else 1
  # overlapping groups start largest first (longest-processing-time order: the group left
  # running alone at the end is a small one); in order, they run in table order
  order = sorted(range(len(groups)), key=lambda i: -len(groups[i].names)) if at_once > 1 \
      else list(range(len(groups)))
  done = dict(zip(order, _each_group(one, [groups[i] for i in order], at_once)))
  for i, group in enumerate(groups):
    res, final_params, seconds = done[i]
    timings[group.label] = seconds
    finals.append(final_params)
    results.update({r.name: r for r in res})
  # final metrics (possibly expensive, e.g. a Hessian trace) of the initial parameters and of
  # every run, as one batch: one compiled program
  t0 = time.perf_counter()
  final_ready()
  n = len(seeds)
  batch = np.concatenate([params0] + [np.asarray(f).reshape(-1, f.shape[-1]) for f in finals])
  fm = flat.v_final(batch)
  timings["final_metrics"] = time.perf_counter() - t0
  initial = {k: np.asarray(v[:n]) for k, v in fm.items()}
  offset, messages = n, []
  for group, f in zip(groups, finals):
    for i, name in enumerate(group.names):
      r = results[name]
      r.initial = initial
      r.final = {k: np.asarray(v[offset:offset + n]) for k, v in fm.items()}
      r.final_params = flat.unravel_host(f[i])
      offset += n
  ordered = {name: results[name] for name in schemes_lib.in_table_order(groups)}
  for r in ordered.values():
    for m in r.messages:
      log(m)
      messages.append(m)
  return RunResult(settings=dataclasses.asdict(settings), task_info=dict(task.info or {}),
                   schemes=ordered, timings=timings, messages=messages)


# Scheme groups run two at a time when every group holds at most this many parameter numbers
# (members x parameters; the airfoil table: 20 x 113): see _each_group.
GROUPS_AT_ONCE = 2
OVERLAP_MAX_NUMBERS = 10 ** 7


def _each_group(fn: Callable, groups: list, at_once: int) -> list:
  """``[fn(g) for g in groups]``, ``at_once`` groups at a time in threads on one process: JAX
  releases the GIL while it compiles and executes, so one group's compilation (one core)
  overlaps another's execution. Several processes (``jax.distributed``) run the groups in
  order: their collectives must be issued in the same order everywhere. Results do not depend
  on the overlap (each group is its own program on its own inputs)."""
  if (jax.process_count() > 1 or len(groups) < 2 or at_once < 2
      or jax.config.jax_disable_jit):
    return [fn(g) for g in groups]
  import concurrent.futures
  ex = concurrent.futures.ThreadPoolExecutor(at_once, thread_name_prefix="group")
  in_callers_context = _callers_context(fn)
  futures = [ex.submit(in_callers_context, g) for g in groups]
  try:
    return [f.result() for f in futures]
  except BaseException as e:
    # an error or Ctrl-C: groups not started are dropped, running ones stop at their next
    # chunk (their completed checkpoints are kept), then the first error is raised
    already = loop_lib.interrupted()
    loop_lib.request_interrupt()
    ex.shutdown(wait=True, cancel_futures=True)
    if not already and not isinstance(e, KeyboardInterrupt):
      loop_lib.clear_interrupt()
    raise
  finally:
    ex.shutdown(wait=True)


def _callers_context(fn: Callable) -> Callable:
  """``fn`` to run in another thread under this thread's JAX config contexts (``with
  jax.enable_x64(True):``, a default device or matmul precision, NaN checks), which are
  thread-local: without them a float64 table would silently run in float32."""
  import contextlib
  x64 = bool(jax.config.jax_enable_x64)
  precision = jax.config.jax_default_matmul_precision
  device = jax.config.jax_default_device
  nans, infs = bool(jax.config.jax_debug_nans), bool(jax.config.jax_debug_infs)

  def in_callers_context(*args):
    with contextlib.ExitStack() as stack:
      stack.enter_context(precision_lib.x64_scope(x64))
      stack.enter_context(jax.default_matmul_precision(precision))
      stack.enter_context(jax.debug_nans(nans))
      stack.enter_context(jax.debug_infs(infs))
      if device is not None:
        stack.enter_context(jax.default_device(device))
      return fn(*args)
  return in_callers_context


def _in_thread(fn: Callable) -> Callable[[], Any]:
  """Starts ``fn()`` in a daemon thread (caller's JAX contexts); returns a function that waits
  for it and returns its value (or raises its error). Several processes (``jax.distributed``)
  and ``jax.disable_jit`` run it in place, when the returned function is called."""
  if jax.process_count() > 1 or jax.config.jax_disable_jit:
    return fn
  import threading
  out: dict = {}
  call = _callers_context(fn)

  def target():
    try:
      out["value"] = call()
    except BaseException as e:  # noqa: BLE001 - raised by the waiter
      out["error"] = e
  t = threading.Thread(target=target, daemon=True, name="prepare")
  t.start()

  def wait():
    t.join()
    if "error" in out:
      raise out["error"]
    return out.get("value")
  return wait


def _size(tree) -> int:
  return int(sum(int(np.prod(x.shape, dtype=np.float64)) for x in jax.tree_util.tree_leaves(tree)))


def _opt_floats_per_param(group: SchemeGroup, settings: Settings, params_shape,
                          num_params: int) -> float:
  """Optimizer-state numbers per parameter of ``group``'s transform (``jax.eval_shape`` of its
  ``init``: nothing allocated); 4 when it cannot be traced abstractly. Kinds that take run
  context (the authors' processes) build host tables when constructed: not traced here (their
  tables are counted by :func:`memory_estimate`)."""
  if group.takes_context:
    return 0.0
  if num_params > 10 ** 8:  # tracing the state of a huge model is slow: assume the default
    return 4.0
  try:
    static, host_hp = group.members(settings.seeds[:1], settings.num_steps, idx=[0])
    hp = {k: v[0] for k, v in group.prepare(host_hp).items()}
    state = jax.eval_shape(lambda p: group.build(static, hp, jax.random.key(0)).init(p),
                           params_shape)
    return _size(state) / max(num_params, 1)
  except Exception:  # noqa: BLE001 - an estimate only; the run itself reports real errors
    return 4.0


def memory_estimate(groups: list[SchemeGroup], task: Task, settings: Settings
                    ) -> tuple[float, str]:
  """``(bytes, detail)``: the memory a run of ``groups`` needs, estimated before anything is
  allocated (parameter and metric shapes from ``jax.eval_shape``).

  Live at once (the largest group): members x parameters x (1 + optimizer-state numbers per
  parameter + gradients + updates) x 4 bytes, members = the group's schemes x seeds
  (``seed_strategy`` ``"sequential"``: one seed at a time; a block size: that many). Kept until
  the end: the per-step history (``train_loss``, plus every metric when ``per_step_metrics``),
  the evaluations between chunks and every member's final parameters, for every scheme."""
  params_shape = jax.eval_shape(lambda: task.init(jax.random.key(0)))  # abstract: no compile
  p = _size(params_shape)
  n_metrics = len(jax.eval_shape(task.metrics, params_shape))
  seeds = len(settings.seeds)
  strategy = settings.strategy
  steps = int(settings.num_steps)
  chunks = -(-steps // int(settings.chunk_size))
  live, kept, total_members = 0.0, 0.0, 0
  for g in groups:
    members = len(g.names) * seeds
    total_members += members
    at_once = (members if strategy == "vmap" else len(g.names) if strategy == "sequential"
               else len(g.names) * min(int(strategy), seeds))
    state = _opt_floats_per_param(g, settings, params_shape, p)
    # kinds built from run context read host tables: num_steps numbers per parameter and seed
    tables = 4.0 * seeds * p * steps if g.takes_context else 0.0
    live = max(live, 4.0 * at_once * p * (3 + state) + tables)
    per_step = 1 + (n_metrics if settings.per_step_metrics else 0)
    kept += 4.0 * members * (steps * per_step + (chunks + 1) * n_metrics + p)
  kept += 4.0 * (total_members + seeds) * p  # the final-metrics batch (params0 + every run)
  detail = (f"{total_members} members = {seeds} seeds x {total_members // max(seeds, 1)} "
            f"schemes, {p:,} parameters each, {steps} steps"
            + (" with per-step metrics" if settings.per_step_metrics else ""))
  return live + kept, detail


def _run_group(settings: Settings, flat: _FlatTask, group: SchemeGroup, keys, params0, seeds,
               *, workdir, progress, on_eval):
  num_steps, per_step_metrics = settings.num_steps, settings.per_step_metrics
  num_schemes, num_seeds = len(group.names), len(seeds)
  # members = schemes x seeds, scheme-major; every scheme sees the same seed keys
  static, host_hp = group.members(seeds, num_steps)
  member_hp = group.prepare(host_hp)
  # tiled on the host (a concatenation of typed keys would be a program)
  member_keys = jax.random.wrap_key_data(
      np.tile(np.asarray(jax.random.key_data(keys)), (num_schemes, 1)),
      impl=jax.random.key_impl(keys))
  task = flat.task

  def init(key, h, x):
    # x: the member's initial parameters task.init(fold_in(key, 0)), computed once for every
    # group (params0; initializers are slow to compile, once per group before)
    params = flat.unravel(x)
    tx = group.build(static, h, jax.random.fold_in(key, 1))
    return (params, tx.init(params))

  def step(carry, k, key, h):
    params, opt_state = carry
    # the factory key only seeds ``init``; the running key lives in opt_state
    tx = group.build(static, h, jax.random.key(0))
    if task.stochastic:
      loss, grads = jax.value_and_grad(task.loss)(params, key)
    else:
      loss, grads = jax.value_and_grad(task.loss)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    out = {"train_loss": loss.astype(jnp.float32)}
    if per_step_metrics:  # metrics of x_{k+1}
      out.update({name: jnp.asarray(v, jnp.float32)
                  for name, v in task.metrics(new_params).items()})
    return (new_params, opt_state), out

  def is_finite(carry, metrics):
    return jnp.isfinite(metrics["train_loss"]) & ensemble.all_finite(carry[0])

  def evaluate(carry, h):
    return task.metrics(carry[0])

  def on_member_eval(step_done, metrics, idx):
    if on_eval is None:
      return
    for i, name in enumerate(group.names):
      sel = (idx // num_seeds) == i
      if sel.any():
        on_eval(name, step_done, {k: v[sel] for k, v in metrics.items()})

  # the folder's identity (the group's schemes, hyper-parameters, seeds): a checkpoint is
  # never resumed under another scheme set
  ck_dir = None if workdir is None else workdir.checkpoint_dir(
      group.label, key=group.identity(seeds, num_steps))
  res = ensemble.run_ensemble(
      init, step, num_steps, keys=member_keys, hparams=member_hp,
      chunk_size=min(settings.chunk_size, num_steps),
      strategy=settings.strategy, evaluate=evaluate, is_finite=is_finite,
      checkpoint_dir=ck_dir, checkpoint_every=settings.checkpoint_every,
      on_eval=on_member_eval, progress=progress, desc=group.label,
      init_args=np.concatenate([params0] * num_schemes))
  shape = (num_schemes, num_seeds)
  diverged_at = res.diverged_at.reshape(shape)
  history = {k: v.reshape(shape + v.shape[1:]) for k, v in res.history.items()}
  evals_arr = {k: v.reshape(shape + v.shape[1:]) for k, v in res.evals.items()}
  # the task's own parameter pytree (what the optimizer saw) -> flat vectors, ravel order
  leaves = jax.tree_util.tree_leaves(res.carry[0])
  final_params = np.concatenate([np.asarray(x).reshape(len(x), -1) for x in leaves], axis=1
                                ).reshape(shape + (-1,))
  out = []
  for i, name in enumerate(group.names):
    out.append(results_lib.scheme_record(
        name, group.kinds[i], group.scheme_hparams(i, static), seeds,
        initial={}, history={k: v[i] for k, v in history.items()},
        eval_steps=np.asarray(res.eval_steps), evals={k: v[i] for k, v in evals_arr.items()},
        diverged_at=diverged_at[i]))
  return out, final_params
