"""Data-parallel (and seed-parallel) full-batch training over a jax.sharding Mesh matches the
single-device run within float tolerance. Uses 4 forced host CPU devices, which must be set
before jax initializes, hence a subprocess."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    import jax, numpy as np
    assert jax.device_count() == 4, jax.devices()
    from _image_helpers import tiny_problem, run
    from chaosopt.train import sharding

    def flat(carry):
      return [np.asarray(x) for x in jax.tree_util.tree_leaves(carry.params)]

    clf, data = tiny_problem()
    # plain GD keeps the compile small; the data path (augmentation, micro-batch BatchNorm,
    # gradient mean) is the one every scheme uses
    kw = dict(num_steps=2, chunk_size=2, kind="gd", static={{}},
              hparams={{"learning_rate": np.full((2,), 0.1, np.float32)}})
    single = run(clf, data, **kw)
    out = {{}}
    for name, mesh in [("data4", sharding.make_mesh(4, 1)), ("seeds2_data2",
                                                             sharding.make_mesh(2, 2))]:
      res = run(clf, data, mesh=mesh, **kw)
      err = max(float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12))
                for a, b in zip(flat(res["carry"]), flat(single["carry"])))
      loss_err = float(np.max(np.abs(res["history"]["train_loss_aug"]
                                     - single["history"]["train_loss_aug"])))
      shard = res["carry"].params["stem_conv"]["kernel"].sharding
      out[name] = {{"param_rel_err": err, "loss_err": loss_err,
                    "num_devices": len(shard.device_set)}}
    print("RESULT" + json.dumps(out))
    """)


def test_mesh_matches_single_device():
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu",
             XLA_FLAGS=(os.environ.get("XLA_FLAGS", "")
                        + " --xla_force_host_platform_device_count=4").strip())
  script = _SCRIPT.format(tests=os.path.join(ROOT, "tests"))
  proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads([l for l in proc.stdout.splitlines() if l.startswith("RESULT")][-1][6:])
  for name, r in out.items():
    # float32, 2 steps of a BatchNorm ResNet with cross-device reductions in another order:
    # differences are rounding-level (~1e-6 relative); 1e-4 leaves room, a wrong reduction
    # (e.g. per-device BatchNorm statistics or an unscaled gradient) is off by >1e-2
    assert r["param_rel_err"] < 1e-4, (name, r)
    assert r["loss_err"] < 1e-4, (name, r)
    assert r["num_devices"] == 4, (name, r)


def test_make_mesh_validation():
  from chaosopt.train import sharding
  with pytest.raises(ValueError, match="devices"):
    sharding.make_mesh(num_data=1000)
  with pytest.raises(ValueError, match="num_seeds"):
    sharding.make_mesh(num_data=1, num_seeds=0)
  sharding.check_divisible(sharding.make_mesh(1, 1), 4, 3)  # one device divides everything


def test_initialize_distributed_is_a_no_op_without_a_multi_process_environment(monkeypatch):
  from chaosopt.train import sharding
  for k in list(os.environ):
    if k.startswith(("CHAOSOPT_", "SLURM_")):
      monkeypatch.delenv(k)
  assert sharding.initialize_distributed() is False
  monkeypatch.setenv("SLURM_JOB_ID", "1")  # an sbatch shell, not a multi-task srun step
  monkeypatch.setenv("SLURM_NTASKS", "1")
  assert sharding.initialize_distributed() is False
  for k, v in [("SLURM_STEP_NODELIST", "n1"), ("SLURM_PROCID", "0"), ("SLURM_LOCALID", "0"),
               ("SLURM_NTASKS", "4"), ("SLURM_STEP_NUM_TASKS", "1")]:
    monkeypatch.setenv(k, v)  # a one-task step inside a 4-task allocation
  assert sharding.initialize_distributed() is False
  monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
  monkeypatch.setenv("CHAOSOPT_DISTRIBUTED", "0")  # opt-out wins over SLURM detection
  assert sharding.initialize_distributed() is False
  monkeypatch.delenv("CHAOSOPT_DISTRIBUTED")
  for k in ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_STEP_NUM_TASKS"):
    monkeypatch.delenv(k)
  assert sharding.is_writer()
  monkeypatch.setenv("CHAOSOPT_NUM_PROCESSES", "2")  # incomplete explicit settings
  with pytest.raises(ValueError, match="CHAOSOPT_COORDINATOR"):
    sharding.initialize_distributed()
