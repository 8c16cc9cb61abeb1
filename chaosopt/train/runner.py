"""Experiment runner: a whole table of (scheme x seed) runs as a few vmapped, jitted programs.

Implements the training recursions of P0 (MPGD, eq. 8 and the eq. 11 variant, with the
Gaussian-perturbed GD baseline) on a :class:`chaosopt.tasks.base.Task`:
``x_{k+1} = x_k - eta grad R(x_k) + perturbation_k`` built as ``optax.sgd(eta)`` chained with
:func:`chaosopt.gaussian_perturbation` or :func:`chaosopt.mpgd_perturbation`.

A run is a pure function of ``(config, key)``. Schemes are grouped by *structure* (kind and
static options); inside a group the numeric hyper-parameters (learning rate, mu, sigma, gamma,
Gaussian exponent) are a vmapped axis, seeds are a second vmapped axis, and the steps are one
``lax.scan`` executed in chunks by :func:`chaosopt.train.loop.scan_chunks` (progress bar,
evaluation between chunks). A seed whose loss or parameters become non-finite is frozen at its
last finite parameters (per-seed ``alive`` flag in the carry) and reported by scheme, seed and
step; the other seeds run on.

Seed ``i`` uses ``fold_in(key, i)`` (``key = jax.random.key(config.seed)``), so running seeds
one at a time (``first_seed=i, num_seeds=1``) gives the same numbers as running them together.
"""
from __future__ import annotations

import csv
import dataclasses
import inspect
import json
import os
import time
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.flatten_util
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from chaosopt.tasks.base import Task
from chaosopt.train import config as config_lib
from chaosopt.train import report
from chaosopt.train.loop import scan_chunks


# --------------------------------------------------------------------------- tasks

def _task_registry() -> dict[str, Callable[..., Task]]:
  from chaosopt.tasks.airfoil import airfoil_task
  from chaosopt.tasks.widening_valley import widening_valley_task
  return {"airfoil": airfoil_task, "widening_valley": widening_valley_task}


def build_task(task_config: ml_collections.ConfigDict) -> Task:
  """Instantiates ``config.task`` (``name`` plus keyword arguments of the task factory)."""
  kwargs = dict(task_config)
  name = kwargs.pop("name")
  registry = _task_registry()
  if name not in registry:
    raise config_lib.ConfigError(f"config.task.name must be one of {sorted(registry)}, "
                                 f"got {name!r}")
  factory = registry[name]
  allowed = set(inspect.signature(factory).parameters)
  unknown = sorted(set(kwargs) - allowed)
  if unknown:
    raise config_lib.ConfigError(f"config.task: unknown key(s) {unknown} for task {name!r}; "
                                 f"allowed: {sorted(allowed)}")
  try:
    return factory(**kwargs)
  except ValueError as e:
    raise config_lib.ConfigError(f"config.task: {e}") from None


# --------------------------------------------------------------------------- schemes

@dataclasses.dataclass(frozen=True)
class SchemeGroup:
  """Schemes sharing one compiled program: same structure, hyper-parameters vmapped."""
  kind: str
  static: tuple  # sorted (key, value) pairs passed unchanged to the factory
  names: tuple
  kinds: tuple   # each member's own kind (a "gd" member may ride in a "gaussian" group)
  hparams: dict  # traced hyper-parameter -> float64 array [num_schemes]

  @property
  def label(self) -> str:
    return f"{self.kind}[{','.join(self.names)}]"


def group_schemes(schemes: list[dict], config: ml_collections.ConfigDict) -> list[SchemeGroup]:
  """Groups schemes by structure (kind + static options), in config order.

  Plain GD is the Gaussian recursion with ``mu = sigma = 0`` (the noise enters multiplied by an
  exact zero, so the iterates are bit-identical), so GD schemes join a Gaussian group when one
  exists: one compiled program fewer.
  """
  groups: dict[tuple, list[tuple[str, str, dict]]] = {}
  for s in schemes:
    hp = config_lib.scheme_hparams(s, config)
    traced = {k: float(v) for k, v in hp.items() if k in config_lib.TRACED_KEYS}
    static = {k: v for k, v in hp.items() if k not in config_lib.TRACED_KEYS}
    static.update({k: v for k, v in s.items() if k not in ("name", "kind") and k not in hp})
    key = (s["kind"], tuple(sorted((k, _hashable(v)) for k, v in static.items())))
    groups.setdefault(key, []).append((s["name"], s["kind"], traced))
  gd_key, gauss_key = ("gd", ()), ("gaussian", ())
  if gd_key in groups and gauss_key in groups:
    merged = [(n, k, {**h, "mu": 0.0, "sigma": 0.0, "exponent": 0.5})
              for n, k, h in groups.pop(gd_key)]
    groups[gauss_key] = merged + groups[gauss_key]
  out = []
  for (kind, static), members in groups.items():
    keys = members[0][2].keys()
    out.append(SchemeGroup(
        kind=kind, static=static, names=tuple(m[0] for m in members),
        kinds=tuple(m[1] for m in members),
        hparams={k: np.array([m[2][k] for m in members], np.float64) for k in keys}))
  return out


def _hashable(v):
  return tuple(v) if isinstance(v, list) else v


def build_optimizer(kind: str, static: dict, hp: dict, key: jax.Array
                    ) -> optax.GradientTransformation:
  """GD (``optax.sgd``) chained with the scheme's perturbation; ``hp`` values may be traced.

  For MPGD ``hp["gamma"]`` is a float or :class:`chaosopt.dynamics.thaler.ThalerConstants`.
  """
  lr = hp["learning_rate"]
  if kind == "gd":
    return optax.sgd(lr)
  import chaosopt
  if kind == "gaussian":
    perturb = chaosopt.gaussian_perturbation(lr, mu=hp["mu"], sigma=hp["sigma"], key=key,
                                             exponent=hp["exponent"], **static)
  elif kind in ("mpgd", "eq11"):
    variant = "mpgd" if kind == "mpgd" else "eq11"
    perturb = chaosopt.mpgd_perturbation(lr, gamma=hp["gamma"], mu=hp["mu"], sigma=hp["sigma"],
                                         key=key, variant=variant, **static)
  else:  # validated earlier
    raise ValueError(f"unknown scheme kind {kind!r}")
  return optax.chain(optax.sgd(lr), perturb)


# --------------------------------------------------------------------------- the run

class Carry(NamedTuple):
  """Per (scheme, seed) training state; ``params`` is the flat parameter vector."""
  params: jax.Array
  opt_state: Any
  alive: jax.Array        # bool: False once loss or params became non-finite
  diverged_at: jax.Array  # int32: the step whose update was non-finite, -1 if none


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


def _all_finite(tree) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(x.dtype, jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


@dataclasses.dataclass
class SchemeResult:
  """Everything measured for one scheme; arrays have a leading seed axis."""
  name: str
  kind: str
  hparams: dict
  seeds: list
  initial: dict            # metric -> [N], at the initial parameters
  final: dict              # metric -> [N], at the final (or last finite) parameters
  history: dict            # per-step values -> [N, T] ("train_loss" = loss at x_k, k < T)
  eval_steps: np.ndarray   # [E] steps at which ``evals`` were taken
  evals: dict              # metric -> [N, E]
  diverged_at: np.ndarray  # [N] int, -1 where the seed never diverged
  messages: list
  final_params: Any = None  # pytree with a leading seed axis


@dataclasses.dataclass
class RunResult:
  config: dict
  task_info: dict
  schemes: dict            # name -> SchemeResult, in config order
  timings: dict            # group label -> seconds (compile included)
  messages: list


def seed_keys(config: ml_collections.ConfigDict, key: Optional[jax.Array] = None) -> jax.Array:
  """Per-seed keys ``fold_in(key, first_seed + i)``."""
  key = jax.random.key(config.seed) if key is None else key
  idx = jnp.arange(config.first_seed, config.first_seed + config.num_seeds)
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(idx)


class _FlatTask:
  """The task on one flat parameter vector, with jitted batched init/metrics shared by groups.

  The optimizer sees one flat float vector (the perturbations act per coordinate, so this is the
  same recursion); with a single leaf the noise program is small and compiles fast.
  """

  def __init__(self, task: Task):
    self.task = task
    template = jax.eval_shape(task.init, jax.random.key(0))
    _, self.unravel = jax.flatten_util.ravel_pytree(
        jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), template))
    self.loss = lambda x: task.loss(self.unravel(x))
    self.metrics = lambda x: task.metrics(self.unravel(x))
    self.final = lambda x: task.all_final_metrics(self.unravel(x))
    self.init = lambda key: jax.flatten_util.ravel_pytree(task.init(key))[0]
    # batched over a leading axis; one compile per distinct batch size
    self.v_init = jax.jit(jax.vmap(self.init))
    self.v_metrics = jax.jit(jax.vmap(self.metrics))
    self.v_final = jax.jit(jax.vmap(self.final))


def run(config: ml_collections.ConfigDict, key: Optional[jax.Array] = None, *,
        task: Optional[Task] = None, progress: bool = False,
        on_eval: Optional[Callable[[str, int, dict], None]] = None,
        log: Callable[[str], None] = print) -> RunResult:
  """Runs every selected scheme of ``config`` for all seeds; returns host arrays.

  ``on_eval(scheme_name, step, {metric: [N]})`` is called between chunks (for logging).
  """
  config_lib.validate(config)
  task = build_task(config.task) if task is None else task
  flat = _FlatTask(task)
  schemes = config_lib.selected_schemes(config)
  keys = seed_keys(config, key)
  seeds = list(range(config.first_seed, config.first_seed + config.num_seeds))
  # the same initial parameters for every scheme (seed i -> fold_in(seed_key_i, 0))
  params0 = flat.v_init(jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys))
  results, timings, finals = {}, {}, []
  for group in group_schemes(schemes, config):
    t0 = time.perf_counter()
    res, final_params = _run_group(config, flat, group, keys, params0, seeds,
                                   progress=progress, on_eval=on_eval)
    timings[group.label] = time.perf_counter() - t0
    finals.append(final_params)
    results.update({r.name: r for r in res})
  # final metrics (possibly expensive, e.g. a Hessian trace) of the initial parameters and of
  # every run, as one batch: one compiled program
  t0 = time.perf_counter()
  n = len(seeds)
  batch = jnp.concatenate([params0] + [f.reshape(-1, f.shape[-1]) for f in finals])
  fm = jax.device_get(flat.v_final(batch))
  timings["final_metrics"] = time.perf_counter() - t0
  initial = {k: np.asarray(v[:n]) for k, v in fm.items()}
  offset, messages = n, []
  for group, f in zip(group_schemes(schemes, config), finals):
    for i, name in enumerate(group.names):
      r = results[name]
      r.initial = initial
      r.final = {k: np.asarray(v[offset:offset + n]) for k, v in fm.items()}
      r.final_params = jax.vmap(flat.unravel)(f[i])
      offset += n
  ordered = {s["name"]: results[s["name"]] for s in schemes}
  for r in ordered.values():
    for m in r.messages:
      log(m)
      messages.append(m)
  return RunResult(config=json.loads(config.to_json()), task_info=dict(task.info or {}),
                   schemes=ordered, timings=timings, messages=messages)


def _run_group(config, flat: _FlatTask, group: SchemeGroup, keys, params0, seeds, *,
               progress, on_eval):
  static = dict(group.static)
  hp = {k: jnp.asarray(v, jnp.float32) for k, v in group.hparams.items()}
  if "gamma" in hp:  # host float64 -> vmappable per-gamma constants
    from chaosopt.dynamics.thaler import thaler_constants
    hp["gamma"] = thaler_constants(group.hparams["gamma"])
  num_steps, per_step_metrics = config.num_steps, config.per_step_metrics
  num_schemes, num_seeds = len(group.names), len(seeds)

  def init_one(h, params, seed_key):
    tx = build_optimizer(group.kind, static, h, jax.random.fold_in(seed_key, 1))
    return Carry(params=params, opt_state=tx.init(params), alive=jnp.array(True),
                 diverged_at=jnp.array(-1, jnp.int32))

  def step_one(carry: Carry, h, k):
    # the factory key only seeds ``init``; the running key lives in opt_state
    tx = build_optimizer(group.kind, static, h, jax.random.key(0))
    loss, grads = jax.value_and_grad(flat.loss)(carry.params)
    updates, opt_state = tx.update(grads, carry.opt_state, carry.params)
    params = optax.apply_updates(carry.params, updates)
    ok = jnp.isfinite(loss) & _all_finite(params)
    alive = carry.alive & ok
    new = Carry(params=jnp.where(alive, params, carry.params),
                opt_state=tree_select(alive, opt_state, carry.opt_state), alive=alive,
                diverged_at=jnp.where(carry.alive & ~ok, k, carry.diverged_at))
    nan = jnp.array(jnp.nan, jnp.float32)
    out = {"train_loss": jnp.where(carry.alive, loss.astype(jnp.float32), nan)}
    if per_step_metrics:  # metrics of x_{k+1}
      for name, v in flat.metrics(new.params).items():
        out[name] = jnp.where(alive, jnp.asarray(v, jnp.float32), nan)
    return new, out

  # vmap over schemes (axis 0 of carry and hparams), then over seeds (axis 1 of carry)
  v_init = jax.jit(jax.vmap(jax.vmap(init_one, (None, 0, 0)), (0, None, None)))
  v_step = jax.vmap(jax.vmap(step_one, (0, None, None)), (0, 0, None))

  def evaluate(params):  # [S, N, P] -> {metric: [S, N]}
    m = jax.device_get(flat.v_metrics(params.reshape(num_schemes * num_seeds, -1)))
    return {k: np.asarray(v).reshape(num_schemes, num_seeds) for k, v in m.items()}

  carry = v_init(hp, params0, keys)
  eval_steps, evals = [0], [evaluate(carry.params)]

  def on_chunk(c: Carry, _, steps_done: int):
    m = evaluate(c.params)
    eval_steps.append(steps_done)
    evals.append(m)
    if on_eval is not None:
      for i, name in enumerate(group.names):
        on_eval(name, steps_done, {k: v[i] for k, v in m.items()})
    return not bool(np.any(jax.device_get(c.alive)))  # stop when every run diverged

  carry, hist = scan_chunks(lambda c, k: v_step(c, hp, k), carry, num_steps,
                            chunk_size=min(config.chunk_size, num_steps), on_chunk=on_chunk,
                            progress=progress, desc=group.label)
  diverged_at = np.asarray(jax.device_get(carry.diverged_at))
  alive = np.asarray(jax.device_get(carry.alive))
  # hist: metric -> [T_done, S, N]; pad to num_steps with NaN if the run stopped early
  history = {}
  for name, v in hist.items():
    v = np.moveaxis(np.asarray(v), 0, -1)
    if v.shape[-1] < num_steps:
      pad = np.full(v.shape[:-1] + (num_steps - v.shape[-1],), np.nan, v.dtype)
      v = np.concatenate([v, pad], axis=-1)
    history[name] = v
  evals_arr = {k: np.stack([e[k] for e in evals], axis=-1) for k in evals[0]}
  out = []
  for i, name in enumerate(group.names):
    msgs = []
    for j, seed in enumerate(seeds):
      if not alive[i, j]:
        msgs.append(f"scheme {name!r} seed {seed}: non-finite loss or parameters at step "
                    f"{int(diverged_at[i, j])}; that seed was stopped and keeps its last finite "
                    f"parameters (excluded from mean ± std)")
    hps = {k: float(v[i]) for k, v in group.hparams.items()}
    if group.kinds[i] == "gd":
      hps = {"learning_rate": hps["learning_rate"]}
    out.append(SchemeResult(
        name=name, kind=group.kinds[i], hparams={**hps, **static}, seeds=list(seeds),
        initial={}, final={}, history={k: v[i] for k, v in history.items()},
        eval_steps=np.asarray(eval_steps), evals={k: v[i] for k, v in evals_arr.items()},
        diverged_at=diverged_at[i], messages=msgs))
  return out, carry.params


# --------------------------------------------------------------------------- outputs

def summarize(result: RunResult) -> dict:
  """Per scheme and final metric: mean ± std (ddof=1) over the seeds that did not diverge."""
  out = {}
  for name, r in result.schemes.items():
    ok = r.diverged_at < 0
    entry = {"kind": r.kind, "hparams": r.hparams, "num_seeds": len(r.seeds),
             "num_diverged": int(np.sum(~ok)),
             "diverged": {str(s): int(d) for s, d in zip(r.seeds, r.diverged_at) if d >= 0},
             "metrics": {}}
    for metric, vals in r.final.items():
      vals = np.asarray(vals, np.float64)
      good = vals[ok]
      mean, std = report.mean_std(good) if good.size else (float("nan"), float("nan"))
      entry["metrics"][metric] = {"mean": mean, "std": std, "n": int(good.size),
                                  "values": vals.tolist()}
    out[name] = entry
  return out


def write_outputs(result: RunResult, workdir: str, *, plots: bool = True) -> dict:
  """Writes ``config.json``, ``metrics.jsonl`` (evaluations between chunks, one line per
  scheme, seed and step), ``final_metrics.csv`` (one row per scheme and seed),
  ``history.npz`` (per-step arrays), ``summary.json`` and PNG plots. Returns the summary."""
  os.makedirs(workdir, exist_ok=True)
  report.write_json(os.path.join(workdir, "config.json"),
                    {"config": result.config, "task": result.task_info})
  with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    for name, r in result.schemes.items():
      for j, seed in enumerate(r.seeds):
        for e, step in enumerate(r.eval_steps):
          row = {"scheme": name, "seed": seed, "step": int(step)}
          row.update({k: _float(v[j, e]) for k, v in r.evals.items()})
          f.write(json.dumps(row) + "\n")
  with open(os.path.join(workdir, "final_metrics.csv"), "w", newline="") as f:
    first = next(iter(result.schemes.values()))
    metrics = list(first.final)
    w = csv.writer(f)
    w.writerow(["scheme", "seed", "diverged_at"] + metrics)
    for name, r in result.schemes.items():
      for j, seed in enumerate(r.seeds):
        w.writerow([name, seed, int(r.diverged_at[j])]
                   + [repr(float(r.final[m][j])) for m in metrics])
  np.savez_compressed(os.path.join(workdir, "history.npz"), **{
      f"{name}/{k}": v for name, r in result.schemes.items() for k, v in r.history.items()})
  summary = summarize(result)
  report.write_json(os.path.join(workdir, "summary.json"), {
      "schemes": summary, "timings_s": result.timings, "messages": result.messages,
      "environment": report.environment()})
  if plots:
    for fname, fig in make_plots(result).items():
      fig.savefig(os.path.join(workdir, fname), dpi=100, bbox_inches="tight")
      import matplotlib.pyplot as plt
      plt.close(fig)
  return summary


def _float(x) -> Any:
  x = float(x)
  return x if np.isfinite(x) else str(x)


def make_plots(result: RunResult) -> dict:
  """``train_loss.png`` (per-step loss, mean over seeds) and ``eval_metrics.png``."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  figs = {}
  fig, ax = plt.subplots(figsize=(6, 4))
  for name, r in result.schemes.items():
    loss = r.history["train_loss"]
    with np.errstate(all="ignore"):
      ax.plot(np.arange(loss.shape[-1]), np.nanmean(loss, axis=0), label=name, lw=1)
  ax.set_yscale("log")
  ax.set_xlabel("step")
  ax.set_ylabel("training loss (mean over seeds)")
  ax.legend(fontsize=7)
  figs["train_loss.png"] = fig
  first = next(iter(result.schemes.values()))
  names = list(first.evals)
  ncol = min(3, len(names))
  nrow = -(-len(names) // ncol)
  fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3 * nrow), squeeze=False)
  for ax, metric in zip(axes.flat, names):
    for name, r in result.schemes.items():
      with np.errstate(all="ignore"):
        ax.plot(r.eval_steps, np.nanmean(r.evals[metric], axis=0), label=name, lw=1)
    ax.set_title(metric, fontsize=9)
    ax.set_xlabel("step")
  for ax in list(axes.flat)[len(names):]:
    ax.axis("off")
  axes.flat[0].legend(fontsize=6)
  fig.tight_layout()
  figs["eval_metrics.png"] = fig
  return figs
