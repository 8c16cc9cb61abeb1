"""The package's layers import only from the layers below them (AST check of every module).

low-level (``chaosopt.core``, ``chaosopt._validation``, ``chaosopt._build_info``) -> ``dynamics`` -> ``transforms`` /
``estimators`` -> ``tasks`` -> ``analysis`` -> ``train`` -> ``configs`` -> ``experiments`` -> the
command (``chaosopt.cli``, ``chaosopt.__main__``). ``configs`` and ``experiments`` are the
top-level ``configs/`` and ``experiments/``, installed as ``chaosopt.configs`` and
``chaosopt.experiments``; a config is pure configuration: it imports only
``chaosopt.train.config``, the low-level layer, other configs, ``ml_collections`` and the
standard library. The package root (``chaosopt/__init__.py``) only re-exports the public API
and is not importable from inside the layers. Inside a layer, modules
import each other without cycles (the module import graph, relative imports and ``from pkg
import module`` included, has no strongly connected component of more than one module).
"""
from __future__ import annotations

import ast
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "chaosopt")
# top-level folders installed as chaosopt.<name> (package-dir in pyproject.toml): one layer each
OUTSIDE = ("configs", "experiments")
ORDER = ["core", "_validation", "_build_info", "dynamics", "transforms", "estimators", "tasks",
         "analysis", "train", "configs", "experiments", "cli", "__main__"]
RANK = {"core": 0, "_validation": 0, "_build_info": 0, "dynamics": 1, "transforms": 2,
        "estimators": 2, "tasks": 3, "analysis": 4, "train": 5, "configs": 6, "experiments": 7,
        "cli": 8, "__main__": 8}


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


def test_configs_are_pure_configuration():
  """configs/<name>.py only builds a ConfigDict: no jax, numpy or execution-layer imports."""
  allowed = {"chaosopt.train.config", "chaosopt.core", "chaosopt._validation"}
  for rel, layer, path in _modules():
    if layer != "configs":
      continue
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [f"{n.module}.{a.name}" for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module for a in n.names]
    for name in names:
      top = name.split(".")[0]
      if top == "chaosopt":
        assert name.startswith("chaosopt.configs") or any(
            name == a or name.startswith(a + ".") for a in allowed), f"{rel} imports {name}"
      else:
        assert top in sys.stdlib_module_names or top == "ml_collections", f"{rel} imports {name}"


def test_every_config_has_its_experiment():
  configs = {f for f in os.listdir(os.path.join(ROOT, "configs"))
             if f.endswith(".py") and not f.startswith("_")}
  experiments = {f for f in os.listdir(os.path.join(ROOT, "experiments"))
                 if f.endswith(".py") and not f.startswith("_")}
  assert configs == experiments
  # the modules live only at the top level (a stale chaosopt/configs or chaosopt/experiments
  # folder, even one holding only __pycache__, would shadow the installed package-dir mapping)
  for d in OUTSIDE:
    assert not os.path.exists(os.path.join(PKG, d)), f"remove chaosopt/{d}/ (moved to {d}/)"


# --- import cycles (inside a layer as well as across) -----------------------------------------

def _module_names(pkg: str = PKG) -> dict[str, str]:
  """Dotted module name -> path, for every module of the package in folder ``pkg``
  (``x/__init__.py`` is ``chaosopt.x``), and of the top-level configs/ and experiments/
  (``chaosopt.configs``, ``chaosopt.experiments``) when ``pkg`` is the checkout's package."""
  out = {}
  if pkg == PKG:
    for d in OUTSIDE:
      for name, path in _module_names(os.path.join(ROOT, d)).items():
        out["chaosopt." + d + name[len("chaosopt"):]] = path
  for root, _, files in os.walk(pkg):
    for f in files:
      if f.endswith(".py"):
        path = os.path.join(root, f)
        parts = ["chaosopt"] + os.path.relpath(path, pkg)[:-3].split(os.sep)
        if parts[-1] == "__init__":
          parts = parts[:-1]
        out[".".join(parts)] = path
  return out


def _edges(name: str, path: str, modules) -> set:
  """The package modules ``name`` imports (anywhere in the file: function-level imports run
  too). ``from a import b`` is an edge to the module ``a.b`` when there is one, else to ``a``;
  relative imports are resolved against the module's package."""
  package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
  out = set()
  for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
    if isinstance(node, ast.Import):
      out.update(a.name for a in node.names if a.name in modules)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
        base = ".".join(up + ([base] if base else []))
      for a in node.names:
        if f"{base}.{a.name}" in modules:
          out.add(f"{base}.{a.name}")
        elif base in modules:
          out.add(base)
  out.discard(name)
  return out


def _cycles(graph: dict) -> list:
  """Strongly connected components with more than one node (Tarjan, iterative)."""
  index, low, on_stack, stack, found = {}, {}, set(), [], []
  for start in graph:
    if start in index:
      continue
    work = [(start, iter(sorted(graph[start])))]
    index[start] = low[start] = len(index)
    stack.append(start)
    on_stack.add(start)
    while work:
      v, it = work[-1]
      w = next(it, None)
      if w is not None:
        if w not in index:
          index[w] = low[w] = len(index)
          stack.append(w)
          on_stack.add(w)
          work.append((w, iter(sorted(graph[w]))))
        elif w in on_stack:
          low[v] = min(low[v], index[w])
        continue
      work.pop()
      if work:
        low[work[-1][0]] = min(low[work[-1][0]], low[v])
      if low[v] == index[v]:
        comp = []
        while True:
          w = stack.pop()
          on_stack.discard(w)
          comp.append(w)
          if w == v:
            break
        if len(comp) > 1:
          found.append(sorted(comp))
  return found


def _import_cycles(pkg: str = PKG) -> list:
  modules = _module_names(pkg)
  return _cycles({m: _edges(m, p, modules) for m, p in modules.items()})


def test_no_import_cycles():
  cycles = _import_cycles()
  assert not cycles, f"import cycles (strongly connected modules): {cycles}"


def test_cycle_check_sees_relative_function_level_and_module_imports(tmp_path):
  """The checker itself, on a toy package: a cycle through ``from . import b`` and a
  function-level ``from chaosopt.x import a`` (a module) is found; a package importing its own
  submodule, and ``from chaosopt.x import name`` of a name its __init__ defines, are not."""
  files = {"__init__.py": "", "x/__init__.py": "from chaosopt.x import a\nNAME = 1\n",
           "x/a.py": "from . import b\n", "x/b.py": "def f():\n  from chaosopt.x import a\n",
           "x/c.py": "from chaosopt.x import NAME, a\n"}
  for rel, text in files.items():
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_text(text)
  assert _import_cycles(str(tmp_path)) == [["chaosopt.x.a", "chaosopt.x.b"]]
  (tmp_path / "x" / "b.py").write_text("")
  assert _import_cycles(str(tmp_path)) == []
