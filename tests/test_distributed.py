"""Multi-process full-batch training through ``jax.distributed`` (two local CPU processes, gloo
collectives over loopback) equals the single-process run on the same number of devices.

Both runs execute the same partitioned program: the data axis of a 2-device mesh splits every
micro-batch in two halves, and the cross-device reductions (gradient mean, BatchNorm statistics,
evaluation sums) add two partial results. Within one process XLA adds them in-process; across
processes gloo does, and a sum of two floats does not depend on the order, so the results must
be bit-identical -- no tolerance. The multi-process run is also killed after its first chunk
and resumed from the orbax checkpoint that both processes saved (resume is exact too).
"""
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "_distributed_worker.py")


def _gloo_available() -> bool:
  try:
    from jax._src.lib import _jax as ext
  except ImportError:  # older jaxlib
    try:
      from jax._src.lib import xla_extension as ext
    except ImportError:
      return False
  return hasattr(ext, "make_gloo_tcp_collectives")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _env(devices: int, **extra) -> dict:
  env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSOPT_")
         and not k.startswith("SLURM_")}
  env.update(PYTHONPATH=ROOT, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", **extra)
  return env


def _two_processes(argv, cwd=None) -> None:
  """Runs ``argv`` as processes 0 and 1 of a local jax.distributed job (one CPU device each,
  coordinator on loopback) and asserts both exit 0."""
  port = _free_port()
  procs = [subprocess.Popen(
      argv, cwd=cwd,
      env=_env(1, CHAOSOPT_COORDINATOR=f"127.0.0.1:{port}", CHAOSOPT_NUM_PROCESSES="2",
               CHAOSOPT_PROCESS_ID=str(i)),
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
  logs = []
  try:
    for p in procs:
      logs.append(p.communicate(timeout=180)[0])
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  for i, (p, log) in enumerate(zip(procs, logs)):
    assert p.returncode == 0, f"process {i} failed:\n{log[-3000:]}"


def _load(path):
  with np.load(path) as z:
    return {k: z[k] for k in z.files}


@pytest.mark.skipif(not _gloo_available(),
                    reason="this jaxlib has no gloo CPU collectives (make_gloo_tcp_collectives)")
def test_two_processes_match_one_process(tmp_path):
  multi, single, ckpt = tmp_path / "multi", tmp_path / "single", tmp_path / "ckpt"
  multi.mkdir()
  single.mkdir()
  _two_processes([sys.executable, WORKER, str(multi), "1", "2", str(ckpt)])
  one = subprocess.run([sys.executable, WORKER, str(single), "1", "2"], env=_env(2),
                       capture_output=True, text=True, timeout=180)
  assert one.returncode == 0, one.stderr[-3000:]

  r0, r1 = _load(multi / "result_0.npz"), _load(multi / "result_1.npz")
  ref = _load(single / "result_0.npz")
  assert int(r0["process_count"]) == 2 and int(ref["process_count"]) == 1
  assert int(r0["device_count"]) == int(ref["device_count"]) == 2
  assert int(r0["mesh_devices"]) == 2  # the parameters live on both processes' devices
  # only process 0 writes outputs
  assert (multi / "writer.txt").read_text() == "0\n"
  compared = [k for k in ref if k not in ("process_count",)]
  assert any(k.startswith("param_") for k in compared) and "train_loss_aug" in compared
  for k in compared:
    # every process holds the same gathered host arrays ...
    np.testing.assert_array_equal(r0[k], r1[k], err_msg=k)
    # ... and they equal the single-process run bit for bit (see the module docstring)
    np.testing.assert_array_equal(r0[k], ref[k], err_msg=k)
  assert np.all(np.isfinite(ref["train_loss_aug"]))


@pytest.mark.skipif(not _gloo_available(),
                    reason="this jaxlib has no gloo CPU collectives (make_gloo_tcp_collectives)")
@pytest.mark.parametrize("spec, extra", [
    ("discretization_x2:quick", []),
    # experiments whose config validation builds transforms (it used to touch JAX before
    # jax.distributed started, and the command did not start)
    ("airfoil_table1:quick", ["--config.only=baseline,mpgd_0.6"]),
    # the same table path as airfoil_table1 (17 s): with the slow tests
    pytest.param("widening_valley:quick", ["--config.only=gd,mpgd"], marks=pytest.mark.slow),
])
def test_command_in_two_processes_writes_once_and_matches_one_process(tmp_path, spec, extra):
  """``chaosopt --config SPEC`` launched as 2 jax.distributed processes on one workdir: both
  exit 0, process 0 alone writes (provenance says 2 processes), and the results equal a
  single-process run of the same command exactly (every process computes every member)."""
  from chaosopt.train import results as results_lib
  multi, single = tmp_path / "multi", tmp_path / "single"
  cmd = [sys.executable, "-m", "chaosopt", "--config", spec, *extra, "-q", "--no-plots",
         "--workdir"]
  _two_processes(cmd + [str(multi)], cwd=str(tmp_path))
  one = subprocess.run(cmd + [str(single)], cwd=str(tmp_path), env=_env(1), capture_output=True,
                       text=True, timeout=180)
  assert one.returncode == 0, one.stderr[-3000:]
  doc_m, doc_s = results_lib.load(str(multi)), results_lib.load(str(single))
  assert doc_m["provenance"]["process_count"] == 2 and doc_s["provenance"]["process_count"] == 1
  assert doc_m["status"] == "finished"
  untimed = lambda r: {k: v for k, v in r.items() if k != "timings_s"}  # noqa: E731
  assert untimed(doc_m["results"]) == untimed(doc_s["results"])
  assert sorted(os.listdir(multi)) == sorted(os.listdir(single))
