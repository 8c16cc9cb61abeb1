"""A multi-process run's supervisor (chaosopt.train.peers): when a peer dies, the surviving
process prints one line and exits 1, whichever way the runtime ends it -- a cross-process
operation that fails in Python (the child marks it and exits 70) or the coordination service's
C++ ``LOG(FATAL)`` abort after a heartbeat timeout. The children here are stand-ins that write
the runtime's real messages (recorded from jax 0.10 with a peer killed by ``kill -9``) and end
as the runtime does; the real two-process kill is ``test_dead_peer_is_one_line`` (slow).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from chaosopt.train import peers

ABORT = textwrap.dedent('''
    import os, sys
    sys.stdout.write("airfoil_table1: running\\n"); sys.stdout.flush()
    sys.stderr.write("[baseline] step 25000/100000: gap 0.01\\n"); sys.stderr.flush()
    sys.stderr.write(
      "E1207 08:58:56.765452   31490 coordination_service.cc:1520] [27] Shutdown barrier in "
      "coordination service has failed:\\nINTERNAL: Barrier failed because: task is set to ERROR: "
      "UNAVAILABLE: Task 1 heartbeat timeout. This indicates that the remote task has failed\\n"
      "F1207 08:58:56.765945   31501 client.h:80] Terminating process because the JAX "
      "distributed service detected fatal errors.\\n*** Check failure stack trace: ***\\n"
      "    @     0x7fcfb1440634  absl::log_internal::LogMessage::SendToLog()\\n")
    sys.stderr.flush()
    os.abort()
''')


def _run(code, verbose=False, capfd=None):
  status = peers.supervise([sys.executable, "-c", code], verbose=verbose)
  out, err = capfd.readouterr()
  return status, out, err


def test_coordination_abort_becomes_one_line(capfd, monkeypatch):
  monkeypatch.setenv("CHAOSOPT_PROCESS_ID", "0")
  status, out, err = _run(ABORT, capfd=capfd)
  assert status == 1
  assert "airfoil_table1: running" in out  # stdout passes through
  lines = err.strip().splitlines()
  # the progress line before the failure is forwarded, then exactly one line of ours
  assert lines[0].startswith("[baseline] step 25000")
  assert len(lines) == 2, err
  assert lines[1].startswith("chaosopt: process 0: another process of this multi-process run "
                             "died or stopped responding (process 1 stopped sending heartbeats)")
  assert "re-run the same command" in lines[1]
  assert "Check failure" not in err and "client.h" not in err


def test_verbose_forwards_the_runtime_messages(capfd):
  status, _, err = _run(ABORT, verbose=True, capfd=capfd)
  assert status == 1
  assert "Check failure stack trace" in err and "heartbeat timeout" in err
  assert err.strip().splitlines()[-1].startswith("chaosopt: process")


def test_failed_collective_in_python_becomes_one_line(capfd):
  code = (f"import os, sys\nsys.stderr.write({peers.MARK!r} + ' UNKNOWN: Gloo context "
          f"initialization failed: DEADLINE_EXCEEDED: GetKeyValue() timed out\\n')\n"
          f"sys.stderr.flush()\nos._exit({peers.PEER_FAILURE})\n")
  status, _, err = _run(code, capfd=capfd)
  assert status == 1
  (line,) = err.strip().splitlines()
  assert "(a cross-process operation timed out)" in line and peers.MARK not in line


def test_ordinary_exits_pass_through_unchanged(capfd):
  status, out, err = _run("import sys; print('ok'); sys.stderr.write('chaosopt: config error: "
                          "x\\n'); sys.exit(2)", capfd=capfd)
  assert (status, out.strip(), err.strip()) == (2, "ok", "chaosopt: config error: x")
  status, _, err = _run("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", capfd=capfd)
  assert status == 128 + signal.SIGKILL and err.strip() == (
      "chaosopt: stopped by SIGKILL; re-run the same command to resume")


def test_requested_reads_the_environment_only():
  assert not peers.requested({})
  assert peers.requested({"CHAOSOPT_NUM_PROCESSES": "2"})
  assert not peers.requested({"CHAOSOPT_NUM_PROCESSES": "1"})
  assert not peers.requested({"CHAOSOPT_NUM_PROCESSES": "2", peers.ENV_SUPERVISED: "1"})
  assert not peers.requested({"CHAOSOPT_NUM_PROCESSES": "2", "CHAOSOPT_DISTRIBUTED": "0"})
  slurm = {"SLURM_JOB_ID": "1", "SLURM_STEP_NODELIST": "n1", "SLURM_NTASKS": "4",
           "SLURM_PROCID": "0", "SLURM_LOCALID": "0"}
  assert peers.requested(slurm) and not peers.requested(dict(slurm, SLURM_STEP_NUM_TASKS="1"))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.mark.slow
def test_dead_peer_is_one_line(tmp_path):
  """Two processes of a long airfoil run; process 1 is killed with SIGKILL once training
  started; process 0 ends with one line and exit 1 (detection takes jax's heartbeat timeout,
  100 s, or a collective's 30 s timeout), and its workdir resumes."""
  port = _free_port()
  env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAOSOPT_", "SLURM_"))}
  cmd = [sys.executable, "-m", "chaosopt", "--config", "airfoil_table1",
         "--config.num_steps=200000", "-q", "--no-plots", "--workdir", str(tmp_path / "run")]
  procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(
                                env, JAX_PLATFORMS="cpu", CHAOSOPT_COORDINATOR=f"127.0.0.1:{port}",
                                CHAOSOPT_NUM_PROCESSES="2", CHAOSOPT_PROCESS_ID=str(i)))
           for i in range(2)]
  try:
    time.sleep(40)
    procs[1].kill()
    _, err = procs[0].communicate(timeout=400)
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  assert procs[0].returncode == 1, err
  (line,) = err.strip().splitlines()
  assert line.startswith("chaosopt: process 0: another process of this multi-process run")


def test_peer_failures_are_recognised_whatever_their_type():
  """A gloo collective whose peer is gone raises ValueError, a timed-out key-value get a
  JaxRuntimeError; both are peer failures, an ordinary error is not."""
  assert peers.is_peer_failure(ValueError(
      "UNKNOWN: Gloo AllGather failed: [pair.cc:547] Connection closed by peer [127.0.0.1]:1"))
  assert peers.is_peer_failure(RuntimeError(
      "UNKNOWN: Gloo context initialization failed: DEADLINE_EXCEEDED: GetKeyValue() timed out"))
  assert not peers.is_peer_failure(ValueError("learning_rate must be > 0"))
  assert not peers.is_peer_failure(KeyboardInterrupt())
