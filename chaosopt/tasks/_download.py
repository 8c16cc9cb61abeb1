"""Dataset cache directory, download and md5 checks shared by the dataset loaders.

No paper equation: data plumbing for the CIFAR-10 (P0 Table 2) and FashionMNIST (P4 Fig. 1a)
experiments. The cache directory is ``$CHAOSOPT_DATA`` when set, else ``~/.cache/chaosopt``.
Downloads use only the standard library. A missing file that cannot be downloaded (offline) and
a checksum mismatch raise :class:`chaosopt.core.errors.DataError` with the file's path in the
message and in ``.path`` (the command prints it in one line).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from typing import Optional

from chaosopt.core.errors import DataError

ENV_VAR = "CHAOSOPT_DATA"


def cache_dir(data_dir: Optional[str] = None) -> str:
  """``data_dir`` if given, else ``$CHAOSOPT_DATA``, else ``~/.cache/chaosopt``."""
  if data_dir:
    return os.path.abspath(os.path.expanduser(data_dir))
  env = os.environ.get(ENV_VAR)
  if env:
    return os.path.abspath(os.path.expanduser(env))
  return os.path.join(os.path.expanduser("~"), ".cache", "chaosopt")


def md5sum(path: str, chunk: int = 1 << 20) -> str:
  h = hashlib.md5()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(chunk), b""):
      h.update(block)
  return h.hexdigest()


def check_md5(path: str, expected: Optional[str]) -> None:
  """Raises ``DataError`` naming the file if its md5 differs from ``expected`` (None: skip)."""
  if expected is None:
    return
  got = md5sum(path)
  if got != expected.lower():
    raise DataError(f"md5 mismatch for {path}: expected {expected}, got {got}. The file is "
                    "corrupt or not the official release; delete it and download it again.",
                    path)


def download(url: str, dest: str, timeout: float = 30.0) -> None:
  """Downloads ``url`` to ``dest`` atomically (via a temporary file in the same directory)."""
  os.makedirs(os.path.dirname(dest), exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), suffix=".part")
  try:
    with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
      shutil.copyfileobj(resp, out)
    os.replace(tmp, dest)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def fetch(filename: str, url: str, directory: str, *, md5: Optional[str] = None,
          allow_download: bool = True, what: str = "dataset") -> str:
  """Returns the path of ``directory/filename``, downloading it from ``url`` if missing.

  Raises ``DataError`` with the exact destination path when the file is missing and cannot be
  downloaded (offline, or ``allow_download=False``), and on an md5 mismatch.
  """
  path = os.path.join(directory, filename)
  if not os.path.exists(path):
    err = None
    if allow_download:
      try:
        download(url, path)
      except (urllib.error.URLError, OSError, TimeoutError) as e:  # offline, DNS, HTTP errors
        err = e
    if not os.path.exists(path):
      reason = f" (download failed: {err})" if err is not None else " (download disabled)"
      raise DataError(
          f"{what} file {filename!r} not found{reason}. Download it from {url} and put it at "
          f"{path} (or set ${ENV_VAR} to the directory that holds it).", path)
  check_md5(path, md5)
  return path
