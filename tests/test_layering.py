"""The package's layers import only from the layers below them (AST check of every module).

low-level (``chaosopt.core``, ``chaosopt._validation``) -> ``dynamics`` -> ``transforms`` /
``estimators`` -> ``tasks`` -> ``analysis`` -> ``train`` -> ``experiments`` (the top-level
``experiments/``, installed as ``chaosopt.experiments``) -> the command (``chaosopt.cli``,
``chaosopt.__main__``). The package root (``chaosopt/__init__.py``) only re-exports the public
API and is not importable from inside the layers.
"""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "chaosopt")
# top-level folders installed as chaosopt.<name> (package-dir in pyproject.toml): one layer each
OUTSIDE = ("experiments",)
ORDER = ["core", "_validation", "dynamics", "transforms", "estimators", "tasks", "analysis",
         "train", "experiments", "cli", "__main__"]
RANK = {"core": 0, "_validation": 0, "dynamics": 1, "transforms": 2, "estimators": 2,
        "tasks": 3, "analysis": 4, "train": 5, "experiments": 6, "cli": 7, "__main__": 7}


def _modules():
  for top, base in [(PKG, PKG)] + [(os.path.join(ROOT, d), ROOT) for d in OUTSIDE]:
    for root, _, files in os.walk(top):
      for f in files:
        if f.endswith(".py"):
          path = os.path.join(root, f)
          rel = os.path.relpath(path, base)
          layer = rel.split(os.sep)[0].removesuffix(".py")
          if layer == "__init__":
            continue
          yield rel, layer, path


def _imports(path):
  tree = ast.parse(open(path, encoding="utf-8").read())
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for a in node.names:
        yield a.name
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      if node.module == "chaosopt":
        for a in node.names:
          yield f"chaosopt.{a.name}"
      else:
        yield node.module


@pytest.mark.parametrize("rel,layer,path", list(_modules()), ids=lambda x: str(x))
def test_imports_only_from_lower_layers(rel, layer, path):
  assert layer in RANK, f"{rel}: unknown layer {layer!r}; add it to tests/test_layering.py"
  bad = []
  for name in _imports(path):
    parts = name.split(".")
    if parts[0] != "chaosopt":
      continue
    if len(parts) == 1:
      bad.append(f"{name} (the package root; import the module that defines it)")
      continue
    target = parts[1]
    if target not in RANK:
      bad.append(name)
    elif RANK[target] > RANK[layer]:
      bad.append(f"{name} (layer {target} is above {layer})")
  assert not bad, f"{rel} imports from higher layers: {bad}"


def test_analysis_does_not_import_train():
  for rel, layer, path in _modules():
    if layer == "analysis":
      assert not any(n.startswith("chaosopt.train") for n in _imports(path)), rel
