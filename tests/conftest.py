"""Shared pytest helpers."""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

# several test processes (pytest-xdist, ``-n`` in pyproject's addopts) on one accelerator:
# none may take most of its memory up front (JAX's default on GPU)
if os.environ.get("PYTEST_XDIST_WORKER"):
  os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

# one folder for what the test processes of this run share (the wheel of wheel_site), made by
# the first process (the controller under xdist: its workers inherit the variable)
if "CHAOSOPT_TEST_SHARED" not in os.environ:
  os.environ["CHAOSOPT_TEST_SHARED"] = tempfile.mkdtemp(prefix="chaosopt-test-shared-")
  atexit.register(shutil.rmtree, os.environ["CHAOSOPT_TEST_SHARED"], ignore_errors=True)

# the command's persistent compilation cache (chaosopt.core.loop.default_cache_dir): one
# folder for this session, shared by the subprocesses it starts, not the user's ~/.cache
if "CHAOSOPT_CACHE_DIR" not in os.environ:
  os.environ["CHAOSOPT_CACHE_DIR"] = tempfile.mkdtemp(prefix="chaosopt-test-cache-")
  atexit.register(shutil.rmtree, os.environ["CHAOSOPT_CACHE_DIR"], ignore_errors=True)


# the report's worker process (chaosopt.train.render) would import jax, matplotlib and scipy
# once more beside every experiment the suite runs: off here (tests/test_render.py tests it)
os.environ.setdefault("CHAOSOPT_RENDER_WORKER", "0")


def run_python(code: str, *, x64: bool = False, env: dict | None = None, timeout: int = 300) -> str:
  """Runs ``code`` in a fresh interpreter (for jax_enable_x64 or XLA_FLAGS, which must be set
  before jax initializes) and returns its stdout; fails the test with stderr on error."""
  e = dict(os.environ)
  if x64:
    e["JAX_ENABLE_X64"] = "1"
  e.update(env or {})
  p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                     env=e, timeout=timeout)
  if p.returncode != 0:
    pytest.fail(f"subprocess failed ({p.returncode}):\n{p.stderr[-4000:]}")
  return p.stdout


@pytest.fixture
def python_subprocess():
  return run_python


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def wheel_site():
  """The checkout built into a wheel (``pip wheel --no-deps``) and installed with ``--target``
  into a folder outside the checkout: ``(wheel_path, site_dir)``. Built once per test run (the
  first worker that needs it builds it under a lock, the others reuse it) and shared by
  tests/test_install.py and the quick runs of tests/test_experiments.py."""
  import fcntl
  import pathlib
  base = pathlib.Path(os.environ["CHAOSOPT_TEST_SHARED"]) / "wheel"
  base.mkdir(exist_ok=True)
  wheels, site = base / "wheels", base / "site"
  with open(base / "lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not (base / "done").exists():
      subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                      str(wheels), ROOT], check=True, capture_output=True, timeout=600)
      (wheel,) = list(wheels.glob("chaosopt-*.whl"))
      subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                      str(site), str(wheel)], check=True, capture_output=True, timeout=600)
      (base / "done").write_text("")
  (wheel,) = list(wheels.glob("chaosopt-*.whl"))
  return wheel, site


def offline_env(site, data_dir) -> dict:
  """The environment of a fresh machine without network: the installed wheel first on the
  path, an empty data folder, every proxy pointing at a closed local port."""
  closed = "http://127.0.0.1:9"
  return dict(os.environ, PYTHONPATH=str(site), CHAOSOPT_DATA=str(data_dir), http_proxy=closed,
              https_proxy=closed, HTTP_PROXY=closed, HTTPS_PROXY=closed, no_proxy="",
              NO_PROXY="")


# ----------------------------------------------------------------------- parallel test runs
# pyproject's addopts run the suite in pytest-xdist workers (one per core). The scheduler below
# hands out whole units: every test file is one unit (its module fixtures are set up once, as
# in a serial run), except the quick runs of every experiment (tests/test_experiments.py, the
# longest work: one interpreter runs a unit's experiments), split into QUICK_GROUPS units that
# are scheduled first, so each worker starts with its share and the short files fill in.
# (A scheduler, not ``--dist loadgroup``: xdist 3.8's groups rename node ids, which pytest 9.2
# no longer allows, so the groups were silently ignored.)
QUICK_GROUPS = 2
QUICK_TEST = "test_quick_variant_runs_and_writes_outputs"


def quick_group(name: str) -> str:
  """The unit of the quick run of experiment ``name``: alternate over the sorted names."""
  from chaosopt import experiments
  return f"quick-runs-{sorted(experiments.names()).index(name) % QUICK_GROUPS}"


def _unit(nodeid: str) -> str:
  path, _, test = nodeid.partition("::")
  if test.startswith(QUICK_TEST + "["):
    return quick_group(test[len(QUICK_TEST) + 1:-1])
  return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
  from xdist.scheduler import LoadScopeScheduling

  class UnitScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid):
      return _unit(nodeid)
  return UnitScheduling(config, log)


def pytest_collection_modifyitems(config, items):
  # the quick runs first: the scheduler hands out units in collection order
  items.sort(key=lambda it: getattr(it, "originalname", None) != QUICK_TEST)
