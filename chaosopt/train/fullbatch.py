"""Full-batch (micro-batched) training of image classifiers: the CIFAR-10 ResNet-18 experiment
of P0 (Table 2: GD, Gaussian-perturbed GD, MPGD eq. 8 and its eq. 11 variant, perturbations on
the first convolution only) and its CPU-sized FashionMNIST counterpart.

**Full-batch gradient.** ``grad R(x) = (1/M) sum_i grad R_i(x)``, the mean of the gradients of
M equal-sized micro-batches, accumulated in a ``lax.scan`` (:func:`microbatch_value_and_grad`),
so memory is bounded by one micro-batch's activations whatever the data set size. With equal
micro-batches and a per-micro-batch mean loss this *is* the gradient of the full-batch mean loss
(for a model without BatchNorm; tested).

**BatchNorm.** In training mode BatchNorm normalizes with the statistics of the *micro-batch*
(not of the 50000-image full batch), exactly like gradient accumulation in PyTorch, which is
what P0's full-batch experiment (following Geiping et al. 2022) does. The running statistics
are updated once per micro-batch (momentum 0.9), sequentially through the scan, and are used for
evaluation. The micro-batch composition is fixed across steps (the data are split once).

**Runs.** Each training step is ``x_{k+1} = x_k - eta grad R(x_k) + perturbation_k`` with the
perturbation (``chaosopt.gaussian_perturbation`` / ``chaosopt.mpgd_perturbation``, built by
:func:`chaosopt.train.schemes.build`, as in the runner) applied to the leaves of a mask
(the first convolution in P0 Table 2; the other leaves get plain ``optax.sgd``;
``optax.multi_transform``, i.e. two ``optax.masked``).
Augmentation (random crop after 4-pixel padding + flip) is drawn on device from
``fold_in(fold_in(run_key, step), micro_batch)``, so step ``k`` is a pure function of the carry
and ``k``; that is what makes checkpoint/resume bit-identical. A run whose training loss or
parameters become non-finite is frozen at its last finite state and reported by step
(``diverged_at``), as in the ensemble driver; the other runs go on. "Finite" is the parameters:
the loss evaluated at them may still overflow (a diverged run's final metrics can be NaN; they
are excluded from the summary statistics).

**Tables.** :func:`train_groups` trains the scheme groups of a table
(:func:`chaosopt.train.schemes.plan`): members (schemes of one group x seeds) vmapped
(``seed_strategy`` ``"vmap"``), one after another (``"sequential"``) or in blocks of a given
size, checkpointed in the workdir's folder of the group (``block<b>`` per block, the layout of
:func:`chaosopt.train.ensemble.run_ensemble`), and returns one
:class:`chaosopt.train.results.SchemeRecord` per scheme. Data are sharded over
a mesh's ``"data"`` axis and vmapped runs over its ``"seeds"`` axis (:mod:`.sharding`); the
mesh may span several processes (``jax.distributed``): every process then calls
:func:`train_runs` with the same arguments and gets the same host results.
The loop is :func:`chaosopt.core.loop.scan_chunks`; chunks are the evaluation intervals, and a
checkpoint (:mod:`.checkpoint`) is written every ``checkpoint_every`` chunks. On the CPU backend
the micro-batch loops are unrolled and the steps dispatched from the host (``cpu_loops``):
XLA:CPU runs convolutions inside loop bodies 3-9x slower (jax-ml/jax#12868).
"""
from __future__ import annotations

import contextlib
import functools
import os
import time
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from chaosopt.tasks.augment import random_crop_flip
from chaosopt.train import ensemble
from chaosopt.train import results as results_lib
from chaosopt.train import schemes as schemes_lib
from chaosopt.train import seeds as seeds_lib
from chaosopt.train import sharding as sharding_lib
from chaosopt.core.loop import host_steps_default, make_chunk_fn, scan_chunks

LossFn = Callable[[Any, Any, Any, jax.Array], tuple[jax.Array, tuple[dict, Any]]]


# --------------------------------------------------------------------------- gradient

def microbatch_value_and_grad(loss_fn: LossFn, params: Any, model_state: Any, batches: Any,
                              key: Optional[jax.Array] = None, unroll: bool = False):
  """Mean loss, metrics and gradient over the micro-batches of ``batches``.

  ``batches``: pytree of arrays ``[M, B, ...]`` (M micro-batches of B examples).
  ``loss_fn(params, model_state, micro_batch, key) -> (loss, (metrics, new_model_state))``;
  micro-batch ``i`` gets ``fold_in(key, i)``. ``model_state`` (e.g. BatchNorm statistics) is
  threaded through the micro-batches in order. Returns
  ``((loss, metrics, model_state), grads)`` with loss, metrics and grads averaged over M.
  ``unroll``: unroll the loop over micro-batches (for XLA:CPU, see :mod:`.loop`; the program
  grows with M, so only for the few micro-batches of a CPU-sized run).
  """
  num = jax.tree_util.tree_leaves(batches)[0].shape[0]
  key = jax.random.key(0) if key is None else key
  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

  def one(state, i, mb):
    return grad_fn(params, state, mb, jax.random.fold_in(key, i))

  first = jax.tree_util.tree_map(lambda x: x[0], batches)
  (_, (m_shape, _)), _ = jax.eval_shape(one, model_state, jnp.int32(0), first)
  zeros = lambda t: jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), t)  # noqa
  init = (jnp.zeros([], jnp.float32), zeros(m_shape),
          jax.tree_util.tree_map(jnp.zeros_like, params), model_state)

  def body(c, xs):
    loss_sum, m_sum, g_sum, state = c
    i, mb = xs
    (loss, (metrics, state)), g = one(state, i, mb)
    add = lambda a, b: jax.tree_util.tree_map(jnp.add, a, b)  # noqa: E731
    return (loss_sum + loss.astype(jnp.float32), add(m_sum, metrics), add(g_sum, g), state), None

  (loss_sum, m_sum, g_sum, state), _ = jax.lax.scan(
      body, init, (jnp.arange(num, dtype=jnp.int32), batches), unroll=num if unroll else 1)
  mean = lambda t: jax.tree_util.tree_map(lambda x: x / num, t)  # noqa: E731
  return (loss_sum / num, mean(m_sum), state), mean(g_sum)


# --------------------------------------------------------------------------- data

class ImageData(NamedTuple):
  """Micro-batched images ``[M, B, H, W, C]`` (uint8 or float) and labels ``[M, B]``."""
  images: Any
  labels: Any

  @property
  def size(self) -> int:
    return int(np.prod(self.labels.shape))


def to_microbatches(images: np.ndarray, labels: np.ndarray, microbatch_size: int) -> ImageData:
  """Splits ``[N, H, W(, C)]`` images into ``N / microbatch_size`` micro-batches (host)."""
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[..., None]
  n = len(images)
  if microbatch_size < 1 or n % microbatch_size:
    raise ValueError(f"the number of examples ({n}) must be a positive multiple of "
                     f"microbatch_size ({microbatch_size})")
  m = n // microbatch_size
  return ImageData(images.reshape((m, microbatch_size) + images.shape[1:]),
                   np.asarray(labels, np.int32).reshape(m, microbatch_size))


# --------------------------------------------------------------------------- classifier

class Classifier(NamedTuple):
  """A flax model with its input normalization and augmentation settings."""
  model: Any
  mean: tuple
  std: tuple
  augment: bool = True
  pad: int = 4
  scale: float = 1.0 / 255.0  # raw pixel -> [0, 1] before (x - mean) / std

  def prepare(self, images: jax.Array) -> jax.Array:
    x = images.astype(jnp.float32) * self.scale
    return (x - jnp.asarray(self.mean, jnp.float32)) / jnp.asarray(self.std, jnp.float32)

  def variables(self, params, batch_stats) -> dict:
    return {"params": params, "batch_stats": batch_stats} if batch_stats else {"params": params}

  def loss_fn(self, params, batch_stats, mb, key):
    """Training-mode loss of one micro-batch (augmented, micro-batch BatchNorm statistics)."""
    images, labels = mb
    if self.augment:
      images = random_crop_flip(key, images, self.pad)
    x = self.prepare(images)
    if batch_stats:
      logits, upd = self.model.apply(self.variables(params, batch_stats), x, train=True,
                                     mutable=["batch_stats"])
      batch_stats = upd["batch_stats"]
    else:
      logits = self.model.apply(self.variables(params, batch_stats), x, train=True)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    acc = jnp.mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32))
    return loss, ({"accuracy": acc}, batch_stats)

  def evaluate(self, params, batch_stats, data: ImageData, unroll: bool = False) -> dict:
    """Loss and accuracy on ``data`` in evaluation mode (running BatchNorm statistics), one
    micro-batch at a time (``unroll``: as in :func:`microbatch_value_and_grad`)."""
    def one(c, mb):
      images, labels = mb
      logits = self.model.apply(self.variables(params, batch_stats), self.prepare(images))
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).sum()
      correct = jnp.sum(jnp.argmax(logits, -1) == labels)
      return (c[0] + loss, c[1] + correct), None
    (loss, correct), _ = jax.lax.scan(one, (jnp.float32(0), jnp.int32(0)), tuple(data),
                                      unroll=data.labels.shape[0] if unroll else 1)
    n = data.labels.shape[0] * data.labels.shape[1]
    return {"loss": loss / n, "accuracy": correct.astype(jnp.float32) / n}


# --------------------------------------------------------------------------- optimizer

def perturbed_gd(kind: str, static: dict, hp: dict, key: jax.Array, mask: Any
                 ) -> optax.GradientTransformation:
  """GD on every leaf, plus the scheme's perturbation on the leaves where ``mask`` is True."""
  if kind == "gd":
    return optax.sgd(hp["learning_rate"])
  labels = jax.tree_util.tree_map(lambda m: "perturbed" if m else "plain", mask)
  return optax.multi_transform(
      {"perturbed": schemes_lib.build(kind, static, hp, key),
       "plain": optax.sgd(hp["learning_rate"])}, labels)


# --------------------------------------------------------------------------- training

class Carry(NamedTuple):
  """Per-run training state (leading run axis when vmapped)."""
  params: Any
  batch_stats: Any
  opt_state: Any
  key: jax.Array  # augmentation key of the run


def make_run_fns(classifier: Classifier, kind: str, static: dict, mask: Any,
                 example_shape: tuple, unroll: bool = False):
  """``init_one(hparams, key) -> Carry`` and ``step_one(carry, hparams, data, k) ->
  (carry, metrics)`` of a single run: the full-batch step ``x_{k+1} = x_k - eta grad R(x_k) +
  perturbation_k`` (perturbation on the ``mask`` leaves). Vmap both over runs. ``unroll``:
  unroll the micro-batch loop (:func:`microbatch_value_and_grad`)."""
  model = classifier.model
  dummy = jnp.zeros((1,) + tuple(example_shape), jnp.float32)

  def init_one(h, key):
    variables = model.init(jax.random.fold_in(key, 0), dummy)
    params = variables["params"]
    tx = perturbed_gd(kind, static, h, jax.random.fold_in(key, 1), mask)
    return Carry(params=params, batch_stats=variables.get("batch_stats", {}),
                 opt_state=tx.init(params), key=jax.random.fold_in(key, 2))

  def step_one(c: Carry, h, data: ImageData, k):
    tx = perturbed_gd(kind, static, h, jax.random.key(0), mask)  # key only seeds init
    (loss, metrics, bs), grads = microbatch_value_and_grad(
        classifier.loss_fn, c.params, c.batch_stats, tuple(data), jax.random.fold_in(c.key, k),
        unroll=unroll)
    updates, opt_state = tx.update(grads, c.opt_state, c.params)
    params = optax.apply_updates(c.params, updates)
    return Carry(params, bs, opt_state, c.key), {"train_loss_aug": loss,
                                                 "train_acc_aug": metrics["accuracy"]}

  return init_one, step_one


def _compile_fast(fn, *args):
  """Jit-compiles ``fn`` with XLA backend optimizations off (for one-off programs such as
  initialization, whose optimized compile is slow on CPU and whose speed does not matter)."""
  return jax.jit(fn).lower(*args).compile(
      compiler_options={"xla_backend_optimization_level": 0})(*args)


def train_runs(*, classifier: Classifier, kind: str, static: dict, hparams: dict,
               run_keys: jax.Array, train: ImageData, evals: dict[str, ImageData],
               num_steps: int, chunk_size: int, mask_fn: Callable[[Any], Any],
               example_shape: tuple, mesh=None, checkpointer=None, checkpoint_every: int = 1,
               stop_after_chunks: Optional[int] = None, progress: bool = False,
               desc: str = "", log: Callable[[str], None] = lambda s: None,
               cpu_loops: Optional[bool] = None) -> dict:
  """Trains R runs (vmapped), run r with hyper-parameters ``hparams[...][r]`` and key
  ``run_keys[r]`` (params from ``fold_in(key, 0)``, perturbation from ``fold_in(key, 1)``,
  augmentation from ``fold_in(key, 2)``).

  Evaluates every ``evals`` split (and ``"train"`` without augmentation if given there) at step 0
  and after every chunk. With a ``checkpointer``, resumes from its latest checkpoint and saves
  every ``checkpoint_every`` chunks; ``stop_after_chunks`` stops early (simulates a kill).
  ``cpu_loops`` (default: on the CPU backend) unrolls the micro-batch loops and dispatches
  the steps from the host (:mod:`.loop`: XLA:CPU runs convolutions inside loops several times
  slower); it changes where the loops run, not the steps.
  ``mesh`` may span several processes (:func:`.sharding.initialize_distributed`): all of them
  must call this with the same host data and arguments (and, with a ``checkpointer``, the same
  directory on a shared file system: every process saves its shards); each gets the same host
  results. Returns host arrays: ``eval_steps [E]``, ``evals[split][metric] [E, R]``,
  ``history[metric] [T, R]`` (per-step training loss/accuracy on the augmented micro-batches),
  ``steps_done``, ``carry`` (device), ``diverged_at [R]`` (the step at which a run was frozen,
  -1: never; when every run is frozen the loop stops early) and ``timings``.
  """
  t_start = time.perf_counter()
  model = classifier.model
  hp_local = dict(hparams)
  num_runs = int(np.shape(run_keys)[0])
  if mesh is not None:
    sharding_lib.check_divisible(mesh, train.labels.shape[1], num_runs)
  train = sharding_lib.put_microbatches(train, mesh)
  evals = {k: sharding_lib.put_microbatches(v, mesh) for k, v in evals.items()}
  dummy = jnp.zeros((1,) + tuple(example_shape), jnp.float32)
  mask = mask_fn(jax.eval_shape(model.init, jax.random.key(0), dummy)["params"])

  if cpu_loops is None:
    cpu_loops = host_steps_default()
  init_one, step_one = make_run_fns(classifier, kind, static, mask, example_shape,
                                    unroll=cpu_loops)

  v_step = jax.vmap(step_one, (0, 0, None, None))
  # several processes: hyper-parameters replicated over the global mesh, metrics replicated so
  # every process can read them (scan_chunks fetches them to the host)
  multi = sharding_lib.multiprocess(mesh)
  hp = sharding_lib.put_replicated(hp_local, mesh)

  def plain_step(carry, k):
    runs, data = carry
    runs, m = v_step(runs, hp, data, k)
    if multi:
      m = jax.lax.with_sharding_constraint(m, sharding_lib.replicated(mesh))
    return (runs, data), m

  def guard_one(old: Carry, new: Carry, alive, div, m, k):
    # a run whose loss or parameters became non-finite keeps its last finite state
    ok = jnp.isfinite(m["train_loss_aug"]) & ensemble.all_finite(new.params)
    return (ensemble.tree_select(alive & ok, new, old), alive & ok,
            jnp.where(alive & ~ok, k, div),
            {name: jnp.where(alive, v, jnp.nan) for name, v in m.items()})

  v_guard = jax.vmap(guard_one, (0, 0, 0, 0, 0, None))

  def guard(old, new, alive, div, m, k):
    runs, alive, div, m = v_guard(old, new, alive, div, m, k)
    if multi:
      m = jax.lax.with_sharding_constraint(m, sharding_lib.replicated(mesh))
    return runs, alive, div, m

  def step_fn(carry, k):
    runs, data, alive, div = carry
    (new, data), m = plain_step((runs, data), k)
    new, alive, div, m = guard(runs, new, alive, div, m, k)
    return (new, data, alive, div), m

  if cpu_loops:
    # steps dispatched from the host: the step and the check are two programs, so the step
    # program is the one without the check (XLA:CPU fuses a check into the step differently,
    # which moves the BatchNorm statistics by an ulp)
    j_step, j_guard = jax.jit(plain_step), jax.jit(guard)

    def chunk_fn(carry, steps):
      runs, data, alive, div = carry
      outs = []
      for k in np.asarray(steps):
        k = jnp.int32(k)
        (new, data), m = j_step((runs, data), k)
        runs, alive, div, m = j_guard(runs, new, alive, div, m, k)
        outs.append(m)
      return (runs, data, alive, div), jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *outs)
  else:
    chunk_fn = make_chunk_fn(step_fn)

  v_eval = jax.jit(jax.vmap(functools.partial(classifier.evaluate, unroll=cpu_loops),
                            (0, 0, None)))

  def evaluate(runs) -> dict:
    out = {}
    for split, data in evals.items():
      out[split] = sharding_lib.to_host(v_eval(runs.params, runs.batch_stats, data))
    return out

  runs = _compile_fast(jax.vmap(init_one), hp_local, run_keys)
  runs = sharding_lib.put_seeded(runs, mesh)
  t_init = time.perf_counter() - t_start

  start, doc = 0, None
  if checkpointer is not None and checkpointer.latest_step() is not None:
    start, runs, doc = checkpointer.restore(runs)
    log(f"{desc}: resumed from the checkpoint at step {start}")
  if doc is None:
    doc = {"eval_steps": [0], "evals": [_tolist(evaluate(runs))], "history": []}
  # per run: alive, and the step at which it was frozen (-1: never); kept in the checkpoint's
  # document (a checkpoint written before freezing existed resumes with every run alive)
  div0 = np.asarray(doc.get("diverged_at", [-1] * num_runs), np.int32)
  alive = sharding_lib.put_seeded(jnp.asarray(div0 < 0), mesh)
  div = sharding_lib.put_seeded(jnp.asarray(div0), mesh)

  chunks_done = [0]

  def on_chunk(carry, metrics, steps_done):
    runs_now = carry[0]
    doc["eval_steps"].append(steps_done)
    doc["evals"].append(_tolist(evaluate(runs_now)))
    doc["history"].append(_tolist(metrics))
    doc["diverged_at"] = np.asarray(sharding_lib.to_host(carry[3])).tolist()
    chunks_done[0] += 1
    all_frozen = min(doc["diverged_at"]) >= 0
    if checkpointer is not None and (chunks_done[0] % checkpoint_every == 0 or all_frozen
                                     or steps_done >= num_steps):
      checkpointer.save(steps_done, runs_now, doc)
    return all_frozen or (stop_after_chunks is not None and chunks_done[0] >= stop_after_chunks)

  t0 = time.perf_counter()
  if start < num_steps and not min(div0) >= 0:
    (runs, _, _, _), _ = scan_chunks(None, (runs, train, alive, div), num_steps,
                                     chunk_size=chunk_size, start_step=start, on_chunk=on_chunk,
                                     progress=progress, desc=desc, chunk_fn=chunk_fn)
  t_train = time.perf_counter() - t0
  hist = {}
  if doc["history"]:
    for name in doc["history"][0]:
      hist[name] = np.concatenate([np.asarray(h[name], np.float32) for h in doc["history"]])
  ev = {split: {m: np.stack([np.asarray(e[split][m], np.float32) for e in doc["evals"]])
                for m in doc["evals"][0][split]} for split in doc["evals"][0]}
  return {"eval_steps": np.asarray(doc["eval_steps"]), "evals": ev, "history": hist,
          "steps_done": int(doc["eval_steps"][-1]), "carry": runs,
          "diverged_at": np.asarray(doc.get("diverged_at", [-1] * num_runs), np.int64),
          "timings": {"init_s": t_init, "train_s": t_train, "resumed_from": start}}


def train_groups(classifier: Classifier, groups: list, settings: schemes_lib.Settings, *,
                 train: ImageData, evals: dict[str, ImageData], mask_fn: Callable[[Any], Any],
                 example_shape: tuple, mesh=None, workdir=None,
                 stop_after_chunks: Optional[int] = None, progress: bool = False,
                 log: Callable[[str], None] = lambda s: None) -> dict:
  """Trains every scheme of ``groups`` (:func:`chaosopt.train.schemes.plan`) for the seeds of
  ``settings``; returns ``{name: SchemeRecord}`` in table order.

  Members of a group are schemes x seeds, scheme-major, every scheme with the same seed keys
  (``fold_in(key(settings.seed), seed)``), run in the blocks of ``settings.strategy``
  (:func:`chaosopt.train.seeds.blocks`) through :func:`train_runs`. With a ``workdir``
  (:class:`chaosopt.train.workdir.Workdir`), each group checkpoints in its folder
  (identity: :meth:`~chaosopt.train.schemes.SchemeGroup.identity`), one ``block<b>`` per
  block. A record's ``evals`` are ``{split}_{metric}`` ``[seeds, E]`` (``NaN`` after a block
  stopped because all its runs were frozen), ``history`` the per-step training metrics
  ``[seeds, T]``, ``final`` each seed's last evaluation, ``diverged_at`` the step at which a
  seed was frozen (-1: never), plus ``timings`` (one entry per block holding the seed).
  """
  seeds = list(settings.seeds)
  keys = seeds_lib.member_keys(jax.random.key(settings.seed), len(seeds), seeds[0])
  num_steps, n_r = settings.num_steps, len(seeds)
  parts: dict[str, dict] = {}
  for group in groups:
    n_s = len(group.names)
    run_keys = jnp.concatenate([keys] * n_s)
    ck_root = None if workdir is None else workdir.checkpoint_dir(
        group.label, key=group.identity(seeds, num_steps))
    for b, idx in enumerate(seeds_lib.blocks(n_s * n_r, settings.strategy)):
      static, host_hp = group.members(seeds, num_steps, idx)
      tag = group.label if len(idx) > 1 else \
          f"{group.names[idx[0] // n_r]}_seed{seeds[idx[0] % n_r]}"
      t0 = time.perf_counter()
      ck = (contextlib.nullcontext() if ck_root is None else
            _checkpointer(os.path.join(ck_root, f"block{b}")))
      with ck as checkpointer:
        res = train_runs(
            classifier=classifier, kind=group.kind, static=static,
            hparams=group.prepare(host_hp), run_keys=run_keys[idx], train=train, evals=evals,
            num_steps=num_steps, chunk_size=settings.chunk_size, mask_fn=mask_fn,
            example_shape=example_shape, mesh=mesh, checkpointer=checkpointer,
            checkpoint_every=settings.checkpoint_every, stop_after_chunks=stop_after_chunks,
            progress=progress, desc=tag, log=log)
      log(f"{tag}: {time.perf_counter() - t0:.1f} s")
      for j, r in enumerate(idx):
        i = int(r) // n_r
        e = parts.setdefault(group.names[i], {
            "group": group, "i": i, "static": static, "seeds": [], "evals": {}, "final": {},
            "history": {}, "diverged_at": [], "timings": [], "eval_steps": res["eval_steps"]})
        if len(res["eval_steps"]) > len(e["eval_steps"]):
          e["eval_steps"] = res["eval_steps"]
        e["seeds"].append(seeds[int(r) % n_r])
        for split, ms in res["evals"].items():
          for m, v in ms.items():
            e["evals"].setdefault(f"{split}_{m}", []).append(v[:, j])
            e["final"].setdefault(f"{split}_{m}", []).append(v[-1, j])
        for m, v in res["history"].items():
          e["history"].setdefault(m, []).append(v[:, j])
        e["diverged_at"].append(int(res["diverged_at"][j]))
        e["timings"].append(res["timings"])
  # a block stopped early (every run frozen) has fewer evaluations: padded to the longest
  eval_steps = max((e["eval_steps"] for e in parts.values()), key=len)
  out = {}
  for name in schemes_lib.in_table_order(groups):
    e = parts[name]
    g, i = e["group"], e["i"]
    out[name] = results_lib.scheme_record(
        name, g.kinds[i], g.scheme_hparams(i, e["static"]), e["seeds"],
        final={k: np.stack(v) for k, v in e["final"].items()}, eval_steps=eval_steps,
        evals={k: _stack_padded(v, len(eval_steps)) for k, v in e["evals"].items()},
        history={k: _stack_padded(v, num_steps) for k, v in e["history"].items()},
        diverged_at=np.asarray(e["diverged_at"], np.int64), timings=e["timings"])
  return out


def _checkpointer(directory: str):
  from chaosopt.train.checkpoint import Checkpointer
  return Checkpointer(directory)


def _stack_padded(rows: list, length: int) -> np.ndarray:
  """``[len(rows), length]``: rows of a block that stopped early padded with NaN."""
  return np.stack([np.concatenate([r, np.full(length - len(r), np.nan, r.dtype)])
                   if len(r) < length else r for r in rows])


def _tolist(tree):
  return jax.tree_util.tree_map(lambda x: np.asarray(x).tolist(), jax.device_get(tree))
