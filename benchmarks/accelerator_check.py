"""The prepared accelerator check: one script, one JSON, one markdown summary (no paper equation;
it times the P0 Table 2 full-batch ResNet-18 step, the P0 Table 1 airfoil table and the P4
Fig. 1a MSGD step on one GPU).

Sections (each guarded: an error is recorded in the JSON and the next section runs; the JSON is
rewritten after every section, so a kill keeps what finished; ``--budget-s`` skips the sections
that would start after that many seconds; run order: ResNet step, airfoil, P4, ratios, seeds):

* ``resnet_step``: the full-batch step of :mod:`chaosopt.train.fullbatch` (ResNet-18 width 64,
  synthetic CIFAR-shaped uint8 images, ``--images`` in micro-batches of ``--microbatch``,
  crop+flip augmentation, BatchNorm per micro-batch, plain GD) in bfloat16 and float32: median
  step time, images/s and MFU. FLOPs: XLA's count (``jit(...).lower(...).compile()
  .cost_analysis()["flops"]``) of ONE micro-batch's forward+backward times the number of
  micro-batches (XLA's cost analysis counts a loop body once, so the scanned step's own count,
  also recorded, undercounts on GPU). Peaks (dense, per chip, NVIDIA datasheets): H100 SXM /
  H200 bf16 989 TFLOP/s, TF32 494, FP32 (no tensor cores) 67; H100 PCIe 756 / 378 / 51. The
  float32 step is compared with BOTH the TF32 peak (XLA's default precision lets cuDNN run f32
  convolutions on TF32 tensor cores) and the FP32 peak.
* ``perturbation``: step time of MPGD (eq. 8, gamma = 0.6, beta = 0.5, mu = 0.03,
  sigma = 0.01) and Gaussian GD (mu = 0.03, sigma = 0.01, eta^0.5) over plain GD, perturbing the
  first convolution (Table 2) and all parameters; the programs are timed interleaved.
* ``seeds``: S MPGD runs as one vmapped program vs S sequential calls of the one-run program (vs
  the runs sharded over a ``seeds`` mesh axis, and one run's micro-batches sharded over a
  ``data`` axis, when there are several devices).
* ``airfoil_table1``: wall time of the whole P0 Table 1 (10 schemes x 5 seeds x 3000 epochs)
  through :func:`chaosopt.train.runner.run`, compilation included, config built in code.
* ``p4_fig1a``: iterations/s of the P4 Fig. 1a step (SmallCNN, 1000 synthetic 28x28 images,
  seeds vmapped) for GD and MSGD-Cov (:func:`chaosopt.estimators.msgd_gradient`).

This script never imports ml_collections (absent on the accelerator machine): the trainer,
models and estimators do not need it; for the runner (whose config module imports it) a small
attribute-dict stand-in is registered under that name, in this process only.

  python benchmarks/accelerator_check.py [--out DIR]      # GPU, <= 8 min on one H100/H200
  python benchmarks/accelerator_check.py --dry-run        # every section, tiny, CPU, < 60 s
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import types

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

# dense TFLOP/s per chip (NVIDIA H100/H200 datasheets)
PEAKS_TFLOPS = {
    "H100 SXM": {"bfloat16": 989.0, "tf32": 494.0, "float32": 67.0},
    "H100 PCIe": {"bfloat16": 756.0, "tf32": 378.0, "float32": 51.0},
    "H200": {"bfloat16": 989.0, "tf32": 494.0, "float32": 67.0},
}
NOMINAL_GFLOP_PER_TRAIN_IMAGE_W64 = 3 * 2 * 0.5565  # 3 x forward, ResNet-18 width 64, 32x32
MU, SIGMA, BETA, GAMMA = 0.03, 0.01, 0.5, 0.6     # P0 Table 2
# run order: the cheap sections before the compile-heavy ratio and seed sections
SECTIONS = ("resnet_step", "airfoil_table1", "p4_fig1a", "perturbation", "seeds")

# --dry-run: one micro-batch, one ResNet stage, float32 ratios (XLA:CPU compiles bf16 slowly)
DRY = dict(width=2, stage_sizes=[1], images=16, microbatch=16, image_size=8, repeats=2,
           seeds=2, perturb_dtype="float32", airfoil_steps=20, airfoil_seeds=2,
           airfoil_only="mpgd_0.6", p4_images=16, p4_steps=2, p4_seeds=2)


def chip_peaks(device_kind: str):
  kind = device_kind.upper()
  if "H200" in kind:
    return "H200", PEAKS_TFLOPS["H200"]
  if "H100" in kind:
    name = "H100 PCIe" if "PCIE" in kind else "H100 SXM"
    return name, PEAKS_TFLOPS[name]
  return None, None


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--out", default="accelerator_check")
  p.add_argument("--dry-run", action="store_true",
                 help="every section at a tiny size on the CPU backend (< 60 s)")
  p.add_argument("--sections", default=",".join(SECTIONS))
  p.add_argument("--budget-s", type=float, default=360.0,
                 help="sections starting after this many seconds are skipped")
  p.add_argument("--width", type=int, default=64)
  p.add_argument("--stage-sizes", type=int, nargs="+", default=[2, 2, 2, 2])
  p.add_argument("--images", type=int, default=50000)
  p.add_argument("--microbatch", type=int, default=500)
  p.add_argument("--image-size", type=int, default=32)
  p.add_argument("--dtypes", default="bfloat16,float32")
  p.add_argument("--perturb-dtype", default="bfloat16", help="dtype of the ratio/seed sections")
  p.add_argument("--repeats", type=int, default=5, help="timed calls per program (median)")
  p.add_argument("--seeds", type=int, default=3)
  p.add_argument("--airfoil-steps", type=int, default=3000)
  p.add_argument("--airfoil-seeds", type=int, default=5)
  p.add_argument("--airfoil-only", default="", help="comma-separated schemes; empty = all ten")
  p.add_argument("--airfoil-hessian", action="store_true",
                 help="also compute the final Hessian traces (as benchmarks/table1.py: off)")
  p.add_argument("--p4-images", type=int, default=1000)
  p.add_argument("--p4-steps", type=int, default=200, help="iterations per timed chunk")
  p.add_argument("--p4-seeds", type=int, default=3)
  args = p.parse_args(argv)
  if args.dry_run:
    for k, v in DRY.items():
      setattr(args, k, v)
  return args


# --------------------------------------------------------------------------- helpers

def _block(x):
  import jax
  return jax.block_until_ready(x)


def time_calls(fn, carry, repeats: int):
  """``fn(carry, k) -> carry``: (first call incl. compile [s], median of ``repeats`` later
  calls [s], all later times, carry)."""
  t0 = time.perf_counter()
  carry = _block(fn(carry, 0))
  first = time.perf_counter() - t0
  ts = []
  for k in range(1, repeats + 1):
    t0 = time.perf_counter()
    carry = _block(fn(carry, k))
    ts.append(time.perf_counter() - t0)
  return first, float(np.median(ts)), ts, carry


def xla_flops(compiled) -> float:
  ca = compiled.cost_analysis()
  ca = ca[0] if isinstance(ca, (list, tuple)) else ca
  return float(ca.get("flops", float("nan"))) if ca else float("nan")


class ResNetBench:
  """Compiled one-run full-batch steps of the fullbatch trainer, cached by (dtype, kind, mask)."""

  def __init__(self, args):
    import jax
    from chaosopt.train import fullbatch as fb
    self.args = args
    rng = np.random.default_rng(0)
    s = args.image_size
    x = rng.integers(0, 256, (args.images, s, s, 3), dtype=np.uint8)
    y = rng.integers(0, 10, args.images).astype(np.int32)
    self.host = fb.to_microbatches(x, y, args.microbatch)
    self.data = jax.device_put(self.host)
    self.shape = (s, s, 3)
    self.cache = {}

  def build(self, dtype: str, kind: str, mask_kind: str = "first_conv"):
    import jax
    import jax.numpy as jnp
    from chaosopt.tasks import models
    from chaosopt.train import fullbatch as fb
    from chaosopt.core.loop import host_steps_default
    a = self.args
    model = models.ResNet18(width=a.width, stage_sizes=tuple(a.stage_sizes),
                            dtype=jnp.bfloat16 if dtype == "bfloat16" else jnp.float32)
    clf = fb.Classifier(model, mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26), pad=4)
    pshape = jax.eval_shape(model.init, jax.random.key(0),
                            jnp.zeros((1,) + self.shape))["params"]
    mask = (models.first_conv_mask(pshape) if mask_kind == "first_conv"
            else jax.tree_util.tree_map(lambda _: True, pshape))
    static, hp = {}, {"learning_rate": jnp.float32(0.1)}
    if kind in ("mpgd", "gaussian"):
      hp.update(mu=jnp.float32(MU), sigma=jnp.float32(SIGMA))
    if kind == "mpgd":
      from chaosopt.dynamics.thaler import thaler_constants
      static = {"beta": BETA}
      hp["gamma"] = thaler_constants(GAMMA)
    if kind == "gaussian":
      hp["exponent"] = jnp.float32(0.5)
    init_one, step_one = fb.make_run_fns(clf, kind, static, mask, self.shape,
                                         unroll=host_steps_default())
    return clf, init_one, step_one, hp

  def single(self, dtype, kind, mask_kind="first_conv"):
    """(step(carry, k) -> carry, carry0, parts) for one run; compiled once (ahead of time, so
    the cost analysis and the timed calls use the same executable) and cached."""
    import jax
    import jax.numpy as jnp
    from chaosopt.train import fullbatch as fb
    key = (dtype, kind, mask_kind)
    if key not in self.cache:
      clf, init_one, step_one, hp = self.build(dtype, kind, mask_kind)
      d = self.data
      try:  # unoptimized compile: initialization runs once
        carry = fb._compile_fast(init_one, hp, jax.random.key(0))  # noqa: SLF001
      except Exception:  # a backend without that compiler option
        carry = jax.jit(init_one)(hp, jax.random.key(0))
      t0 = time.perf_counter()
      compiled = jax.jit(lambda c, k: step_one(c, hp, d, k)[0]).lower(
          carry, jnp.int32(0)).compile()
      compile_s = time.perf_counter() - t0
      self.cache[key] = (lambda c, k: compiled(c, jnp.int32(k)), carry,
                         (clf, init_one, step_one, hp, compiled, compile_s))
    return self.cache[key]


# --------------------------------------------------------------------------- sections

def section_resnet_step(args, bench, meta):
  import jax
  out = {}
  peaks = meta["peaks_tflops"]
  m = bench.host.labels.shape[0]
  nominal = NOMINAL_GFLOP_PER_TRAIN_IMAGE_W64 * (args.width / 64) ** 2 * \
      (args.image_size / 32) ** 2 * (sum(args.stage_sizes) / 8)
  for dtype in [d for d in args.dtypes.split(",") if d]:
    fn, carry, (clf, _, step_one, hp, compiled, compile_s) = bench.single(dtype, "gd")
    first, t, ts, carry = time_calls(fn, carry, args.repeats)
    mb = jax.tree_util.tree_map(lambda x: x[0], tuple(bench.data))
    grad = jax.jit(lambda p, bs, b, k: jax.value_and_grad(clf.loss_fn, has_aux=True)(p, bs, b, k))
    mb_flops = xla_flops(grad.lower(carry.params, carry.batch_stats, mb,
                                    jax.random.key(0)).compile())
    step_flops_raw = xla_flops(compiled)
    flops = mb_flops * m
    r = {"step_s": t, "step_s_all": ts, "compile_s": compile_s, "first_call_s": first,
         "images_per_s": args.images / t,
         "microbatches": m, "xla_flops_per_microbatch": mb_flops,
         "xla_flops_per_step": flops, "xla_flops_whole_step_as_counted": step_flops_raw,
         "xla_gflop_per_image": flops / args.images / 1e9,
         "nominal_gflop_per_image": nominal, "achieved_tflops": flops / t / 1e12}
    if peaks:
      if dtype == "bfloat16":
        r["mfu"] = r["achieved_tflops"] / peaks["bfloat16"]
        r["mfu_peak"] = f"bf16 dense {peaks['bfloat16']:.0f} TFLOP/s"
      else:
        r["mfu"] = r["achieved_tflops"] / peaks["tf32"]
        r["mfu_peak"] = f"TF32 dense {peaks['tf32']:.0f} TFLOP/s"
        r["mfu_vs_fp32_peak"] = r["achieved_tflops"] / peaks["float32"]
    else:
      r["mfu"] = None
      r["mfu_peak"] = "unknown device peak"
    # a Table 2 row = 5 seeds x 1000 steps; the table = 10 rows
    r["table2_row_h_at_this_speed"] = 5 * 1000 * t / 3600
    out[dtype] = r
  return out


def section_perturbation(args, bench, meta):
  dtype = args.perturb_dtype
  progs = {"gd": ("gd", "first_conv"), "mpgd_first_conv": ("mpgd", "first_conv"),
           "gaussian_first_conv": ("gaussian", "first_conv"),
           "mpgd_all_params": ("mpgd", "all"), "gaussian_all_params": ("gaussian", "all")}
  state, first = {}, {}
  for name, (kind, mask) in progs.items():
    fn, carry, _ = bench.single(dtype, kind, mask)
    t0 = time.perf_counter()
    state[name] = (fn, _block(fn(carry, 0)))
    first[name] = time.perf_counter() - t0
  times = {n: [] for n in progs}
  for r in range(args.repeats):  # interleaved: drift affects every program alike
    for name in progs:
      fn, carry = state[name]
      t0 = time.perf_counter()
      carry = _block(fn(carry, r + 1))
      times[name].append(time.perf_counter() - t0)
      state[name] = (fn, carry)
  med = {n: float(np.median(v)) for n, v in times.items()}
  return {"dtype": dtype, "step_s": med, "step_s_all": times, "first_call_s": first,
          "ratio_to_gd": {n: med[n] / med["gd"] for n in progs if n != "gd"}}


def section_seeds(args, bench, meta):
  import jax
  import jax.numpy as jnp
  from chaosopt.train import sharding
  dtype, s = args.perturb_dtype, args.seeds
  fn1, carry1, (clf, init_one, step_one, hp, _, _) = bench.single(dtype, "mpgd")
  _, t1, _, _ = time_calls(fn1, carry1, args.repeats)
  keys = jax.random.split(jax.random.key(0), s)
  carry = jax.jit(jax.vmap(init_one, (None, 0)))(hp, keys)
  d = bench.data
  v = jax.jit(lambda c, k: jax.vmap(step_one, (0, None, None, None))(c, hp, d, k)[0])
  first_v, t_vmap, _, _ = time_calls(lambda c, k: v(c, jnp.int32(k)), carry, args.repeats)
  out = {"dtype": dtype, "seeds": s, "vmap_step_s": t_vmap, "vmap_first_call_s": first_v,
         "sequential_step_s": s * t1, "one_seed_step_s": t1,
         "vmap_over_sequential": t_vmap / (s * t1), "devices": jax.device_count()}
  n = jax.device_count()
  if n > 1 and s % n == 0:
    mesh = sharding.make_mesh(1, n)
    dm = sharding.put_microbatches(bench.host, mesh)
    cm = sharding.put_seeded(carry, mesh)
    vm = jax.jit(lambda c, k: jax.vmap(step_one, (0, None, None, None))(c, hp, dm, k)[0])
    _, t_mesh, _, _ = time_calls(lambda c, k: vm(c, jnp.int32(k)), cm, args.repeats)
    out["seed_sharded_step_s"] = t_mesh
    out["seed_sharded_over_sequential"] = t_mesh / (s * t1)
  elif n > 1:
    out["seed_sharded_step_s"] = f"skipped: {s} seeds not divisible by {n} devices"
  if n > 1 and args.microbatch % n == 0:
    mesh = sharding.make_mesh(n, 1)
    dm = sharding.put_microbatches(bench.host, mesh)
    c1 = sharding.put_seeded(carry1, mesh)
    f = jax.jit(lambda c, k: step_one(c, hp, dm, k)[0])
    _, t_dp, _, _ = time_calls(lambda c, k: f(c, jnp.int32(k)), c1, args.repeats)
    out["one_seed_data_sharded_step_s"] = t_dp
    out["data_parallel_speedup"] = t1 / t_dp
  return out


def _standin_ml_collections() -> types.ModuleType:
  """An attribute dict registered as ``ml_collections`` for the runner's config module (what
  ``runner.run`` uses of it: attribute access, ``in``, ``to_json``/``to_dict``)."""
  mod = types.ModuleType("ml_collections")

  class ConfigDict(dict):
    def __init__(self, d=None, **kw):
      super().__init__()
      for k, v in dict(d or {}, **kw).items():
        self[k] = ConfigDict(v) if isinstance(v, dict) and not isinstance(v, ConfigDict) else v

    def __getattr__(self, k):
      try:
        return self[k]
      except KeyError:
        raise AttributeError(k) from None

    def __setattr__(self, k, v):
      self[k] = v

    def to_dict(self):
      return {k: v.to_dict() if isinstance(v, ConfigDict) else v for k, v in self.items()}

    def to_json(self, **kw):
      return json.dumps(self.to_dict(), default=str, **kw)

    def lock(self):
      return self

    def unlock(self):
      return self

  mod.ConfigDict = mod.FrozenConfigDict = ConfigDict
  mod.CHAOSOPT_STANDIN = True
  return mod


def airfoil_config(args, ml_collections):
  """P0 Table 1 (`configs/airfoil_table1.py` get_config, rebuilt here so that it
  runs without ml_collections): MLP 5-16-1, lr 0.1, 3000 epochs, 5 seeds."""
  c = ml_collections.ConfigDict()
  c.experiment = "airfoil_table1"
  c.task = ml_collections.ConfigDict(
      {"name": "airfoil", "hidden": 16, "init": "pytorch", "activation": "relu",
       "split_seed": 0, "hessian_trace": bool(args.airfoil_hessian)})
  c.learning_rate = 0.1
  c.num_steps = args.airfoil_steps
  c.num_seeds = args.airfoil_seeds
  c.first_seed = 0
  c.seed = 0
  c.chunk_size = min(250, args.airfoil_steps)
  c.seed_strategy = "vmap"
  c.per_step_metrics = False
  c.only = args.airfoil_only
  gammas = (0.55, 0.6, 0.65, 0.7)
  schemes = [{"name": "baseline", "kind": "gd"},
             {"name": "gaussian", "kind": "gaussian", "mu": 0.01, "sigma": 0.02,
              "exponent": 0.5}]
  schemes += [{"name": f"mpgd_{g}", "kind": "mpgd", "gamma": g, "beta": 0.5, "mu": 0.01,
               "sigma": 0.02} for g in gammas]
  schemes += [{"name": f"eq11_{g}", "kind": "eq11", "gamma": g, "mu": 0.01, "sigma": 0.01}
              for g in gammas]
  c.schemes = schemes
  return c


def section_airfoil_table1(args, bench, meta):
  if "ml_collections" not in sys.modules:
    sys.modules["ml_collections"] = _standin_ml_collections()
  ml_collections = sys.modules["ml_collections"]
  from chaosopt.train import table
  cfg = airfoil_config(args, ml_collections)
  t0, c0 = time.perf_counter(), time.process_time()
  res = table.run_config(cfg, log=lambda m: None)
  wall = time.perf_counter() - t0
  return {"wall_s": wall, "process_cpu_s": time.process_time() - c0,
          "schemes": len(res.schemes), "seeds": args.airfoil_seeds, "epochs": args.airfoil_steps,
          "group_s": dict(res.timings), "hessian_trace": bool(args.airfoil_hessian),
          "speedup_vs_authors_55min": 55 * 60 / wall,
          "config_impl": "stand-in" if getattr(ml_collections, "CHAOSOPT_STANDIN", False)
          else "ml_collections"}


def section_p4_fig1a(args, bench, meta):
  import jax
  import jax.numpy as jnp
  import optax
  from chaosopt.estimators import full_batch_gradient, make_sampling_noise, msgd_gradient
  from chaosopt.tasks.models import SmallCNN
  from chaosopt.core.loop import host_steps_default, make_chunk_fn
  n, b = args.p4_images, min(50, args.p4_images)
  rng = np.random.default_rng(0)
  train = (jnp.asarray(rng.integers(0, 256, (n, 28, 28)), jnp.float32),
           jnp.asarray(rng.integers(0, 10, n), jnp.int32))
  model = SmallCNN()

  def per_example(params, batch):
    x, y = batch
    return optax.softmax_cross_entropy_with_integer_labels(model.apply(params, x), y)

  noise = make_sampling_noise("gaussian_cov", n, b)
  tx = optax.sgd(0.01)
  out = {"images": n, "seeds": args.p4_seeds, "steps_per_chunk": args.p4_steps,
         "host_steps": host_steps_default()}
  for method in ("gd", "msgd_cov"):
    def step(carry, k, method=method):
      params, s, key = carry
      key, sub = jax.random.split(key)
      if method == "gd":
        g, aux = full_batch_gradient(per_example, params, train)
      else:
        g, aux = msgd_gradient(per_example, params, train, sub, noise)
      u, s = tx.update(g, s, params)
      return (optax.apply_updates(params, u), s, key), aux["loss"]

    def init(key):
      k1, k2 = jax.random.split(key)
      p = model.init(k1, train[0][:1])
      return p, tx.init(p), k2

    carry = jax.vmap(init)(jax.random.split(jax.random.key(0), args.p4_seeds))
    chunk = make_chunk_fn(jax.vmap(step, (0, None)), donate=False,
                          host_steps=host_steps_default())
    steps = jnp.arange(args.p4_steps, dtype=jnp.int32)
    first, t, _, _ = time_calls(lambda c, k: chunk(c, steps)[0], carry, args.repeats)
    out[method] = {"iterations_per_s": args.p4_steps / t, "chunk_s": t, "first_call_s": first,
                   "paper_1e4_iterations_s": 1e4 * t / args.p4_steps}
  return out


# --------------------------------------------------------------------------- report

def markdown(res: dict) -> str:
  meta = res["meta"]
  lines = [f"# Accelerator check ({'DRY RUN, tiny sizes, ' if meta['dry_run'] else ''}"
           f"{meta['device_kind']} x {meta['device_count']}, jax {meta['jax']})\n",
           f"{meta['date']}, backend {meta['backend']}, peak table: {meta['peak_name']}, "
           f"total {meta.get('total_s', float('nan')):.0f} s. Sizes: {meta['sizes']}.\n"]

  def status(name):
    s = res.get(name, {})
    if s.get("status") != "ok":
      return f"**{s.get('status', 'missing')}**: {s.get('error', '')}"
    return None

  def f(x, spec=".3g"):
    return format(x, spec) if isinstance(x, (int, float)) else str(x)

  lines.append("## ResNet-18 full-batch step (GD)\n")
  st = status("resnet_step")
  if st:
    lines.append(st + "\n")
  else:
    lines.append("| dtype | step (s) | images/s | XLA GFLOP/image | TFLOP/s | MFU | vs peak |")
    lines.append("|---|---|---|---|---|---|---|")
    for d, r in res["resnet_step"]["result"].items():
      mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") is not None else "n/a"
      if "mfu_vs_fp32_peak" in r:
        mfu += f" ({100 * r['mfu_vs_fp32_peak']:.0f}% of FP32)"
      lines.append(f"| {d} | {f(r['step_s'], '.4f')} | {f(r['images_per_s'], '.0f')} | "
                   f"{f(r['xla_gflop_per_image'], '.3f')} | {f(r['achieved_tflops'])} | {mfu} | "
                   f"{r['mfu_peak']} |")
    lines.append("")
  lines.append("## Perturbation overhead (step time / GD step time)\n")
  st = status("perturbation")
  if st:
    lines.append(st + "\n")
  else:
    r = res["perturbation"]["result"]
    lines.append(f"{r['dtype']}, GD step {f(r['step_s']['gd'], '.4f')} s: " + ", ".join(
        f"{k} {v:.3f}" for k, v in r["ratio_to_gd"].items()) + " (goal MPGD first conv <= 1.03)\n")
  lines.append("## Seeds\n")
  st = status("seeds")
  if st:
    lines.append(st + "\n")
  else:
    r = res["seeds"]["result"]
    line = (f"{r['seeds']} MPGD runs: vmap {f(r['vmap_step_s'], '.4f')} s/step, sequential "
            f"{f(r['sequential_step_s'], '.4f')} s/step (vmap / sequential "
            f"{f(r['vmap_over_sequential'])})")
    if "seed_sharded_step_s" in r:
      line += f", seed-sharded {f(r['seed_sharded_step_s'])}"
    if "one_seed_data_sharded_step_s" in r:
      line += f", one run data-sharded {f(r['one_seed_data_sharded_step_s'])} s/step"
    lines.append(line + "\n")
  lines.append("## Airfoil Table 1 (runner, compile included)\n")
  st = status("airfoil_table1")
  if st:
    lines.append(st + "\n")
  else:
    r = res["airfoil_table1"]["result"]
    lines.append(f"{r['schemes']} schemes x {r['seeds']} seeds x {r['epochs']} epochs: "
                 f"{r['wall_s']:.1f} s wall ({r['speedup_vs_authors_55min']:.0f}x the authors' "
                 f"~55 min); groups " + ", ".join(f"{k} {v:.1f}s" for k, v in
                                                 r["group_s"].items()) + "\n")
  lines.append("## P4 Fig. 1a step (SmallCNN, seeds vmapped)\n")
  st = status("p4_fig1a")
  if st:
    lines.append(st + "\n")
  else:
    r = res["p4_fig1a"]["result"]
    lines.append(f"{r['images']} images, {r['seeds']} seeds: " + ", ".join(
        f"{m} {r[m]['iterations_per_s']:.1f} it/s (10^4 its: {r[m]['paper_1e4_iterations_s']:.0f}"
        " s)" for m in ("gd", "msgd_cov")) + "\n")
  return "\n".join(lines)


def main(argv=None) -> int:
  args = parse_args(argv)
  if args.dry_run:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
  t_start = time.perf_counter()
  import jax
  from chaosopt.train import report
  os.makedirs(args.out, exist_ok=True)
  dev = jax.devices()[0]
  peak_name, peaks = chip_peaks(dev.device_kind)
  env = report.environment()
  meta = {"date": env["date"], "jax": jax.__version__, "backend": jax.default_backend(),
          "device_kind": dev.device_kind, "device_count": jax.device_count(),
          "dry_run": args.dry_run, "peak_name": peak_name, "peaks_tflops": peaks,
          "default_matmul_precision": str(jax.config.jax_default_matmul_precision),
          "args": vars(args),
          "sizes": (f"ResNet-18 width {args.width} stages {args.stage_sizes}, {args.images} "
                    f"images {args.image_size}x{args.image_size} in micro-batches of "
                    f"{args.microbatch}")}
  res = {"meta": meta}
  json_path = os.path.join(args.out, "accelerator_check.json")
  md_path = os.path.join(args.out, "accelerator_check.md")

  def write():
    meta["total_s"] = time.perf_counter() - t_start
    meta["total_cpu_s"] = time.process_time()
    meta["ml_collections_loaded"] = (
        "ml_collections" in sys.modules
        and not getattr(sys.modules["ml_collections"], "CHAOSOPT_STANDIN", False))
    report.write_json(json_path, res)
    with open(md_path, "w") as fh:
      fh.write(markdown(res))

  bench = None
  wanted = [s for s in args.sections.split(",") if s]
  fns = {"resnet_step": section_resnet_step, "perturbation": section_perturbation,
         "seeds": section_seeds, "airfoil_table1": section_airfoil_table1,
         "p4_fig1a": section_p4_fig1a}
  for name in SECTIONS:
    if name not in wanted:
      res[name] = {"status": "skipped", "error": "not selected (--sections)"}
      continue
    elapsed = time.perf_counter() - t_start
    if elapsed > args.budget_s:
      res[name] = {"status": "skipped", "error": f"time budget: {elapsed:.0f} s > "
                                                 f"--budget-s {args.budget_s:.0f}"}
      write()
      continue
    t0, c0 = time.perf_counter(), time.process_time()
    try:
      if bench is None and name in ("resnet_step", "perturbation", "seeds"):
        bench = ResNetBench(args)
      res[name] = {"status": "ok", "result": fns[name](args, bench, meta)}
    except Exception as e:  # one failing section must not lose the others
      res[name] = {"status": "error", "error": f"{type(e).__name__}: {e}"[:2000],
                   "traceback": traceback.format_exc()[-4000:]}
    res[name]["section_s"] = time.perf_counter() - t0
    res[name]["section_cpu_s"] = time.process_time() - c0
    print(f"{name}: {res[name]['status']} ({res[name]['section_s']:.1f} s wall, "
          f"{res[name]['section_cpu_s']:.1f} s CPU)", flush=True)
    write()
  write()
  print(open(md_path).read())
  print(f"wrote {json_path} and {md_path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
