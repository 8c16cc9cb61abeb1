"""Build hook (the project metadata is in pyproject.toml): records the git commit of the checkout
a wheel or sdist is built from in the built copy of ``chaosopt/_build_info.py``, so a
non-editable install can name the code it runs (``chaosopt --version``, the ``provenance`` of
every results.json). The source tree is never modified; without git, outside the checkout (an
sdist unpacked elsewhere) or in an editable install the file is copied as it is.
"""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
INFO = os.path.join("chaosopt", "_build_info.py")


def _git(*args):
  try:
    out = subprocess.run(["git", "-C", HERE, *args], capture_output=True, text=True, timeout=30)
  except (OSError, subprocess.SubprocessError):
    return None
  return out.stdout.strip() if out.returncode == 0 else None


def _info_text():
  """The module text with this checkout's commit, or None if HERE is not a git checkout's root
  (e.g. an unpacked sdist, possibly inside some other repository)."""
  top = _git("rev-parse", "--show-toplevel")
  if top is None or os.path.realpath(top) != os.path.realpath(HERE):
    return None
  commit = _git("rev-parse", "HEAD")
  if not commit:
    return None
  status = _git("status", "--porcelain", "--untracked-files=no")
  dirty = None if status is None else bool(status)
  with open(os.path.join(HERE, INFO), encoding="utf-8") as f:
    doc = f.read().split('"""', 2)
  head = '"""' + doc[1] + '"""\n' if len(doc) == 3 else ""
  return f"{head}COMMIT = {commit!r}\nDIRTY = {dirty!r}\n"


def _write(path, text):
  if os.path.lexists(path):
    os.remove(path)  # a fresh file: never written through a hard link into the source
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)


class BuildPy(build_py):
  def run(self):
    super().run()
    if getattr(self, "editable_mode", False):
      return
    text = _info_text()
    if text is None:  # keep the source's (or an sdist's) copy, not a stale generated one
      with open(os.path.join(HERE, INFO), encoding="utf-8") as f:
        text = f.read()
    _write(os.path.join(self.build_lib, INFO), text)


class Sdist(sdist):
  def make_release_tree(self, base_dir, files):
    super().make_release_tree(base_dir, files)
    text = _info_text()
    if text is not None:
      _write(os.path.join(base_dir, INFO), text)


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
