"""The curated public API of ``chaosopt`` (top level and subpackages) and its import cost."""
from __future__ import annotations

import os
import subprocess
import sys

import chaosopt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("matplotlib", "orbax", "tqdm", "flax", "ml_collections", "scipy")


def test_top_level_names():
  for name in chaosopt.__all__:
    assert getattr(chaosopt, name) is not None, name
  assert chaosopt.mpgd is chaosopt.transforms.mpgd
  assert chaosopt.thaler_constants is chaosopt.dynamics.thaler_constants
  assert callable(chaosopt.check_schedule)


def test_subpackages_are_attributes():
  for name in ("analysis", "dynamics", "estimators", "tasks", "transforms"):
    assert getattr(chaosopt, name).__name__ == f"chaosopt.{name}"
    assert name in dir(chaosopt)
  assert callable(chaosopt.estimators.svag_gradient)
  assert callable(chaosopt.analysis.compare_paired)


def test_subpackage_all_resolves():
  for pkg in (chaosopt.transforms, chaosopt.estimators, chaosopt.dynamics, chaosopt.analysis):
    for name in pkg.__all__:
      assert hasattr(pkg, name), f"{pkg.__name__}.{name}"


def test_import_is_light():
  """``import chaosopt`` (and ``from chaosopt import *``) loads none of the heavy dependencies."""
  code = ("import sys; import chaosopt; from chaosopt import *; "
          f"print([m for m in {HEAVY!r} if m in sys.modules])")
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=ROOT, check=True).stdout.strip()
  assert out == "[]", out
