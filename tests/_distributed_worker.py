"""One process of the multi-process full-batch test (tests/test_distributed.py).

``python tests/_distributed_worker.py OUT_DIR MESH_SEEDS MESH_DATA [CKPT_DIR]``: starts
``jax.distributed`` from the CHAOSOPT_* environment (a no-op when it is absent), trains the
tiny BatchNorm ResNet of ``_image_helpers`` (MPGD, 2 runs, 2 steps of 16 images) on a ``MESH_SEEDS x
MESH_DATA`` mesh over the global devices, and writes the host results of THIS process to
``OUT_DIR/result_<process>.npz``; process 0 alone also writes ``OUT_DIR/writer.txt``. With
``CKPT_DIR`` it first trains one chunk and stops (a simulated kill), then resumes from the
orbax checkpoint that every process saved.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from chaosopt.train import sharding  # noqa: E402

sharding.initialize_distributed()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from _image_helpers import run, tiny_problem  # noqa: E402


def main(out_dir, mesh_seeds, mesh_data, ckpt_dir=None):
  t0 = time.perf_counter()
  clf, data = tiny_problem(n=16, microbatch=8)
  mesh = sharding.make_mesh(num_data=mesh_data, num_seeds=mesh_seeds)
  kw = dict(mesh=mesh, num_steps=2, chunk_size=1)
  if ckpt_dir:
    from chaosopt.train.checkpoint import Checkpointer
    with Checkpointer(ckpt_dir) as ck:
      run(clf, data, checkpointer=ck, stop_after_chunks=1, **kw)
    with Checkpointer(ckpt_dir) as ck:
      res = run(clf, data, checkpointer=ck, **kw)
    assert res["timings"]["resumed_from"] == 1, res["timings"]
  else:
    res = run(clf, data, **kw)
  params = sharding.to_host(res["carry"].params)
  flat = {"param_" + "/".join(str(getattr(k, "key", k)) for k in path): np.asarray(v)
          for path, v in jax.tree_util.tree_flatten_with_path(params)[0]}
  out = dict(flat, train_loss_aug=res["history"]["train_loss_aug"],
             eval_train_loss=res["evals"]["train"]["loss"],
             eval_train_accuracy=res["evals"]["train"]["accuracy"],
             eval_steps=res["eval_steps"],
             process_count=np.int32(jax.process_count()),
             device_count=np.int32(jax.device_count()),
             mesh_devices=np.int32(len(res["carry"].params["stem_conv"]["kernel"].sharding
                                       .device_set)))
  np.savez(os.path.join(out_dir, f"result_{jax.process_index()}.npz"), **out)
  if sharding.is_writer():
    with open(os.path.join(out_dir, "writer.txt"), "a") as f:
      f.write(f"{jax.process_index()}\n")
  print(f"process {jax.process_index()}/{jax.process_count()}: {time.perf_counter() - t0:.1f} s",
        flush=True)


if __name__ == "__main__":
  a = sys.argv[1:]
  main(a[0], int(a[1]), int(a[2]), a[3] if len(a) > 3 else None)
