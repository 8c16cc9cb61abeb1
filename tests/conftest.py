"""Shared pytest helpers."""
import os
import subprocess
import sys
import textwrap

import pytest


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
