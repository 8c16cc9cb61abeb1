"""Shared pytest helpers."""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

# the command's persistent compilation cache (chaosopt.core.loop.default_cache_dir): one
# folder for this session, shared by the subprocesses it starts, not the user's ~/.cache
if "CHAOSOPT_CACHE_DIR" not in os.environ:
  os.environ["CHAOSOPT_CACHE_DIR"] = tempfile.mkdtemp(prefix="chaosopt-test-cache-")
  atexit.register(shutil.rmtree, os.environ["CHAOSOPT_CACHE_DIR"], ignore_errors=True)


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
def wheel_site(tmp_path_factory):
  """The checkout built into a wheel (``pip wheel --no-deps``) and installed with ``--target``
  into a folder outside the checkout: ``(wheel_path, site_dir)``. Built once per session and
  shared by tests/test_install.py and the quick runs of tests/test_experiments.py."""
  base = tmp_path_factory.mktemp("wheel")
  wheels = base / "wheels"
  subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                  ROOT], check=True, capture_output=True, timeout=600)
  (wheel,) = list(wheels.glob("chaosopt-*.whl"))
  site = base / "site"
  subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                  str(site), str(wheel)], check=True, capture_output=True, timeout=600)
  return wheel, site


def offline_env(site, data_dir) -> dict:
  """The environment of a fresh machine without network: the installed wheel first on the
  path, an empty data folder, every proxy pointing at a closed local port."""
  closed = "http://127.0.0.1:9"
  return dict(os.environ, PYTHONPATH=str(site), CHAOSOPT_DATA=str(data_dir), http_proxy=closed,
              https_proxy=closed, HTTP_PROXY=closed, HTTPS_PROXY=closed, no_proxy="",
              NO_PROXY="")
