"""Full-batch ResNet-18 step for P0 Table 2: step time, images/s, MFU, MPGD overhead, seeds.

Measures, in one run, the exact training step of :mod:`chaosopt.train.fullbatch` (micro-batched
full-batch gradient, on-device crop+flip augmentation, BatchNorm per micro-batch, GD update
plus the perturbation on the first convolution):

* plain GD step time, images/s and model-FLOPs utilization (MFU). Model FLOPs: the nominal
  3 x forward FLOPs per training image (ResNet-18 width 64 on 32x32: 2 x 0.556 GMAC = 1.11 GFLOP
  forward, ~3.3 GFLOP per training image) scaled by (width / 64)^2, and XLA's own count
  (``cost_analysis``) for comparison; MFU needs the device peak (``--peak-tflops``; 989 for an
  H100 SXM in bf16 dense, unknown for a CPU);
* MPGD (eq. 8, gamma = 0.6, beta = 0.5, mu = 0.03, sigma = 0.01) step / GD step (goal <= 1.03);
* on CPU: the micro-batch loop as a ``lax.scan`` vs unrolled (the CPU default, see
  :mod:`chaosopt.core.loop`);
* S seeds: one vmapped program vs one program that ``lax.map``s the seeds vs S sequential calls
  of the single-seed program (vs the seeds axis sharded over a mesh when there are several
  devices).

CPU (default, small):  python benchmarks/resnet_step.py
GPU (Table 2 size):    python benchmarks/resnet_step.py --width 64 --batch 50000 \\
                          --microbatch 500 --dtype bfloat16 --seeds 5 --peak-tflops 989
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from chaosopt.tasks import models  # noqa: E402
from chaosopt.train import fullbatch as fb  # noqa: E402
from chaosopt.train import report, sharding  # noqa: E402
from chaosopt.core.loop import host_steps_default  # noqa: E402

GFLOP_PER_TRAIN_IMAGE_W64 = 3 * 2 * 0.5565  # 3 x forward (2 FLOP per MAC), 32x32, width 64


def build(args, kind, unroll=None):
  model = models.ResNet18(width=args.width, stage_sizes=tuple(args.stage_sizes),
                          dtype=jnp.bfloat16 if args.dtype == "bfloat16" else jnp.float32)
  clf = fb.Classifier(model, mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26), pad=4)
  shape = (args.image_size, args.image_size, 3)
  mask = models.first_conv_mask(jax.eval_shape(
      model.init, jax.random.key(0), jnp.zeros((1,) + shape))["params"])
  static = {"beta": 0.5} if kind == "mpgd" else {}
  unroll = host_steps_default() if unroll is None else unroll
  init_one, step_one = fb.make_run_fns(clf, kind, static, mask, shape, unroll=unroll)
  if kind == "mpgd":
    from chaosopt.dynamics.thaler import thaler_constants
    hp = {"learning_rate": jnp.float32(0.1), "mu": jnp.float32(0.03),
          "sigma": jnp.float32(0.01), "gamma": thaler_constants(0.6)}
  else:
    hp = {"learning_rate": jnp.float32(0.1)}
  return init_one, step_one, hp


def data(args, mesh=None):
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (args.batch, args.image_size, args.image_size, 3), dtype=np.uint8)
  y = rng.integers(0, 10, args.batch).astype(np.int32)
  return sharding.put_microbatches(fb.to_microbatches(x, y, args.microbatch), mesh)


def timed(fn, carry, repeats):
  """(compile+first call seconds, median seconds per later call, carry)."""
  t0 = time.perf_counter()
  carry = jax.block_until_ready(fn(carry, 0))
  first = time.perf_counter() - t0
  ts = []
  for k in range(1, repeats + 1):
    t0 = time.perf_counter()
    carry = jax.block_until_ready(fn(carry, k))
    ts.append(time.perf_counter() - t0)
  return first, float(np.median(ts)), carry


def single_step_fn(step_one, hp, d):
  @jax.jit
  def f(c, k):
    return step_one(c, hp, d, jnp.int32(k))[0]
  return lambda c, k: f(c, k)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--width", type=int, default=8)
  p.add_argument("--stage-sizes", type=int, nargs=4, default=[2, 2, 2, 2])
  p.add_argument("--batch", type=int, default=256, help="full batch (training set) size")
  p.add_argument("--microbatch", type=int, default=64)
  p.add_argument("--image-size", type=int, default=32)
  p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
  p.add_argument("--seeds", type=int, default=2)
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--peak-tflops", type=float, default=0.0,
                 help="device peak (dense) TFLOP/s for MFU; 0 = unknown")
  p.add_argument("--skip-seeds", action="store_true")
  args = p.parse_args(argv)
  env = report.environment()
  print(f"# resnet_step  {env['date']}  jax {env['jax']}  backend {env['backend']}  "
        f"devices {jax.device_count()}  cpu_count {env['cpu_count']}")
  print(f"# width {args.width} stages {args.stage_sizes} batch {args.batch} microbatch "
        f"{args.microbatch} image {args.image_size} dtype {args.dtype}")
  d = data(args)
  nominal = GFLOP_PER_TRAIN_IMAGE_W64 * (args.width / 64) ** 2 * (args.image_size / 32) ** 2 \
      * (sum(args.stage_sizes) / 8)  # rough scaling for reduced sizes
  results = {}
  for kind in ("gd", "mpgd"):
    init_one, step_one, hp = build(args, kind)
    carry = jax.jit(init_one)(hp, jax.random.key(0))
    fn = single_step_fn(step_one, hp, d)
    first, t, carry = timed(fn, carry, args.repeats)
    results[kind] = t
    if kind == "gd":
      try:
        ca = jax.jit(lambda c: step_one(c, hp, d, jnp.int32(0))[0]).lower(carry).compile() \
            .cost_analysis()
        ca = ca[0] if isinstance(ca, (list, tuple)) else ca
        xla_gflop = float(ca.get("flops", float("nan"))) / 1e9
      except Exception:  # cost analysis is backend-dependent
        xla_gflop = float("nan")
      ips = args.batch / t
      achieved = nominal * ips / 1e3  # TFLOP/s
      mfu = f"{100 * achieved / args.peak_tflops:.1f}%" if args.peak_tflops else "n/a (peak unknown)"
      print(f"GD step: {t * 1e3:.1f} ms (first call incl. compile {first:.1f} s), "
            f"{ips:.0f} images/s, nominal {nominal:.4f} GFLOP/image -> {achieved:.4f} TFLOP/s, "
            f"XLA-counted {xla_gflop / args.batch:.4f} GFLOP/image, MFU {mfu}")
      print(f"  full Table 2 (10 schemes x 5 seeds x 1000 steps x 50000 images) at this "
            f"throughput per image-FLOP: {10 * 5 * 1000 * 50000 * 3.34 / (achieved * 1e3) / 3600:.1f} h")
    else:
      print(f"MPGD step: {t * 1e3:.1f} ms; MPGD / GD = {t / results['gd']:.3f} (goal <= 1.03)")
  if host_steps_default():  # XLA:CPU runs convolutions inside loop bodies slowly (loop.py)
    init_one, step_one, hp = build(args, "gd", unroll=False)
    carry = jax.jit(init_one)(hp, jax.random.key(0))
    _, t_scan, _ = timed(single_step_fn(step_one, hp, d), carry, args.repeats)
    print(f"GD step with the micro-batch loop as a lax.scan: {t_scan * 1e3:.1f} ms = "
          f"{t_scan / results['gd']:.2f}x the unrolled loop (the CPU default)")
  if not args.skip_seeds:
    init_one, step_one, hp = build(args, "mpgd")
    keys = jax.random.split(jax.random.key(0), args.seeds)
    carry = jax.jit(jax.vmap(init_one, (None, 0)))(hp, keys)
    v = jax.jit(lambda c, k: jax.vmap(step_one, (0, None, None, None))(c, hp, d, k)[0])
    _, t_vmap, _ = timed(lambda c, k: v(c, jnp.int32(k)), carry, args.repeats)
    m = jax.jit(lambda c, k: jax.lax.map(lambda ci: step_one(ci, hp, d, k)[0], c))
    _, t_map, _ = timed(lambda c, k: m(c, jnp.int32(k)), carry, args.repeats)
    fn = single_step_fn(step_one, hp, d)
    c1 = [jax.tree_util.tree_map(lambda x: x[i], carry) for i in range(args.seeds)]
    _, t1, _ = timed(fn, c1[0], args.repeats)
    t_seq = t1 * args.seeds
    line = (f"{args.seeds} seeds (MPGD): vmap {t_vmap * 1e3:.1f} ms/step, lax.map in one "
            f"program {t_map * 1e3:.1f} ms/step, sequential {t_seq * 1e3:.1f} ms/step "
            f"(vmap / sequential = {t_vmap / t_seq:.3f}, map / sequential = "
            f"{t_map / t_seq:.3f})")
    if jax.device_count() > 1 and args.seeds % jax.device_count() == 0:
      mesh = sharding.make_mesh(1, jax.device_count())
      dm = data(args, mesh)
      cm = sharding.put_seeded(carry, mesh)
      vm = jax.jit(lambda c, k: jax.vmap(step_one, (0, None, None, None))(c, hp, dm, k)[0])
      _, t_mesh, _ = timed(lambda c, k: vm(c, jnp.int32(k)), cm, args.repeats)
      line += f", mesh-sharded seeds {t_mesh * 1e3:.1f} ms/step"
    print(line)


if __name__ == "__main__":
  main()
