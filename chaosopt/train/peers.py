"""Supervision of one process of a multi-process run: a dead peer is one line, not a C++ abort
(execution layer, no paper equation).

When a process of a ``jax.distributed`` job dies (killed, out of memory, its node lost), the
survivors learn it from the coordination service: either a cross-process operation fails with a
``JaxRuntimeError`` (a collective or barrier times out), or the service's error poller, after the
peer's heartbeat timeout, terminates the process from a C++ thread (``LOG(FATAL)``: 60 lines of
runtime log and a stack trace, then ``SIGABRT``). Python cannot catch the second, so the command
runs each process of a multi-process run as a child of a small supervisor
(:func:`supervise`): the supervisor forwards the child's output, holds back the runtime's
coordination messages, and when the child ends because of them prints one line naming what
happened and that the run resumes from its checkpoints; ``-v`` forwards everything.

Single-process runs are not supervised (nothing changes for them). :func:`requested` decides
from the environment alone, without touching jax (which must not start before
``jax.distributed``).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import Optional, Sequence

ENV_SUPERVISED = "CHAOSOPT_SUPERVISED"  # "1" in the supervised child
ENV_SUPERVISOR_PID = "CHAOSOPT_SUPERVISOR_PID"
ENV_COORDINATOR = "CHAOSOPT_COORDINATOR"      # host:port of process 0's coordinator service
ENV_NUM_PROCESSES = "CHAOSOPT_NUM_PROCESSES"
ENV_PROCESS_ID = "CHAOSOPT_PROCESS_ID"
ENV_LOCAL_DEVICE_IDS = "CHAOSOPT_LOCAL_DEVICE_IDS"  # optional, comma-separated
ENV_DISABLE = "CHAOSOPT_DISTRIBUTED"  # "0": never start jax.distributed (e.g. SLURM, 1 process)


def slurm_step(env=None) -> bool:
  """Inside a multi-task ``srun`` step (jax's SLURM auto-detection reads the same variables;
  the step's own task count wins over the allocation's)."""
  env = os.environ if env is None else env
  needed = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID",
            "SLURM_LOCALID")
  if not all(k in env for k in needed):
    return False
  return int(env.get("SLURM_STEP_NUM_TASKS", env["SLURM_NTASKS"])) > 1


# exit status of a child whose cross-process operation failed (it printed MARK + the error)
PEER_FAILURE = 70
MARK = "[chaosopt: peer failure]"
# the first runtime line of the coordination failure (absl log prefix `E1207 08:58:56.765 ...`
# naming the coordination service or agent), the child's own mark, or a C++ check failure
_MARKER = re.compile(
    rb"(?m)^(?:[EF]\d{4} [\d:.]+ +\d+ (?:coordination_service|client\.h|coordination_service_agent)"
    rb"|\*\*\* Check failure stack trace|" + re.escape(MARK.encode()) + rb")")
_REASONS = (
    (re.compile(rb"Task (\d+) heartbeat timeout"), "process {0} stopped sending heartbeats"),
    (re.compile(rb"tasks are unhealthy[^\n]*\n(\d+)"), "process {0} stopped sending heartbeats"),
    (re.compile(rb"Connection (?:closed|reset) by peer"),
     "another process closed its connection"),
    (re.compile(rb"DEADLINE_EXCEEDED"), "a cross-process operation timed out"),
    (re.compile(rb"Gloo[^\n]*(?:failed|Connection closed|reset)", re.I),
     "a cross-process collective lost its peer"),
    (re.compile(rb"detected fatal errors"), "the distributed service reported a fatal error"),
)


# what a cross-process operation's error says when the other side is gone (the exception type
# varies: JaxRuntimeError for a timed-out key-value get, ValueError for a gloo collective)
_PEER_ERROR = re.compile(r"Gloo|DEADLINE_EXCEEDED|heartbeat|Connection (?:closed|reset) by peer|"
                         r"coordination service|UNAVAILABLE: ", re.I)


def is_peer_failure(exc: BaseException) -> bool:
  """True for an exception of a multi-process run that says a peer is gone."""
  return isinstance(exc, Exception) and bool(_PEER_ERROR.search(str(exc)))


def requested(env: Optional[dict] = None) -> bool:
  """True when the environment asks for a multi-process run that is not yet supervised: the
  ``CHAOSOPT_NUM_PROCESSES`` > 1 form, or a multi-task SLURM step (the rules of
  :func:`chaosopt.train.sharding.initialize_distributed`). Imports no jax."""
  env = os.environ if env is None else env
  if env.get(ENV_SUPERVISED) == "1":
    return False
  if env.get(ENV_DISABLE, "").strip().lower() in ("0", "false", "no", "off"):
    return False
  try:
    if int(env.get(ENV_NUM_PROCESSES) or 0) > 1:
      return True
  except ValueError:
    return False  # the run reports the bad value itself
  return slurm_step(env)


def reason(text: bytes) -> str:
  """What the runtime's held-back messages say happened, in a few words."""
  for pattern, words in _REASONS:
    m = pattern.search(text)
    if m:
      return words.format(*(g.decode() for g in m.groups()))
  return "the distributed runtime stopped this process"


def die_with_supervisor() -> None:
  """In the supervised child, first thing (one thread, before jax): on Linux, ask for SIGKILL
  when the supervisor dies (a scheduler's ``kill -9`` of the supervisor must not leave the
  computation running), and stop at once if it is already gone."""
  if os.environ.get(ENV_SUPERVISED) != "1" or not sys.platform.startswith("linux"):
    return
  import ctypes
  try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
  except (OSError, AttributeError):
    return
  if str(os.getppid()) != os.environ.get(ENV_SUPERVISOR_PID, str(os.getppid())):
    os._exit(1)


def supervise(argv: Sequence[str], verbose: bool = False) -> int:
  """Runs ``argv`` (this command, again) as a child with :data:`ENV_SUPERVISED` set and returns
  its exit status; after a coordination failure, one line on stderr and status 1.

  The child (which calls :func:`die_with_supervisor` first) inherits stdout; its stderr is
  forwarded chunk by chunk (progress bars keep working) up to the first coordination message, which with everything after it is held back
  unless ``verbose``. Ctrl-C reaches the child through the process group (the supervisor ignores
  it and returns the child's 130); SIGTERM (a scheduler ending the job) is passed on.
  """
  env = dict(os.environ, **{ENV_SUPERVISED: "1", ENV_SUPERVISOR_PID: str(os.getpid())})
  child = subprocess.Popen(list(argv), env=env, stderr=subprocess.PIPE)
  old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
  old_term = signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
  held = bytearray()
  holding = False
  err = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
  try:
    assert child.stderr is not None
    while True:
      chunk = os.read(child.stderr.fileno(), 65536)
      if not chunk:
        break
      if not holding:
        m = _MARKER.search(chunk)
        if m:
          holding = True
          chunk, rest = chunk[:m.start()], chunk[m.start():]
          held += rest
          if verbose:
            chunk += rest
      else:
        held += chunk
        if not verbose:
          continue
      if chunk:
        if err is not None:
          err.write(chunk)
          err.flush()
        else:
          sys.stderr.write(chunk.decode(errors="replace"))
    status = child.wait()
  finally:
    signal.signal(signal.SIGINT, old_int)
    signal.signal(signal.SIGTERM, old_term)
  if holding and status != 0:
    process = os.environ.get("CHAOSOPT_PROCESS_ID") or os.environ.get("SLURM_PROCID") or "?"
    print(f"chaosopt: process {process}: another process of this multi-process run died or "
          f"stopped responding ({reason(bytes(held))}); completed checkpoints are kept: "
          f"re-run the same command on every process to resume"
          + ("" if verbose else " (-v shows the runtime's messages)"), file=sys.stderr)
    return 1
  if status < 0:  # killed by a signal, not a coordination failure: say which
    name = signal.Signals(-status).name if -status in signal.Signals._value2member_map_ else -status
    print(f"chaosopt: stopped by {name}; re-run the same command to resume", file=sys.stderr)
    return 128 - status
  return status
