"""CIFAR-10 in the official python format, for the ResNet-18 experiment of P0 (Table 2).

``cifar-10-python.tar.gz`` (https://www.cs.toronto.edu/~kriz/cifar.html, md5
``c58f30108f718f92721af3b95e74349a``) holds ``cifar-10-batches-py/`` with ``data_batch_1..5``
(training, 5 x 10000) and ``test_batch`` (10000): pickled dicts with ``b'data'`` (uint8
``[N, 3072]``, channel-major 3x32x32) and ``b'labels'``, plus ``batches.meta``. The tarball is
looked up in ``data_dir`` / ``$CHAOSOPT_DATA`` / ``~/.cache/chaosopt``, downloaded there when
online, md5-checked, and read directly (no extraction). Offline and missing, a wrong md5, or a
damaged tarball: :class:`chaosopt.core.errors.DataError` naming the file (for a missing one, the
exact path where to put it).

``allow_synthetic=True`` (smoke runs, :mod:`chaosopt.tasks.datasets`): the real tarball when it
is present (never downloaded), otherwise the generated stand-in of
:func:`write_generated` (:mod:`chaosopt.tasks.synthetic`) in the same format, read by the same code.
"""
from __future__ import annotations

import functools
import io
import os
import pickle
import tarfile
import tempfile
from typing import Optional

import numpy as np

from chaosopt.core.errors import DataError
from chaosopt.tasks import _download, synthetic

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILENAME = "cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
NUM_CLASSES = 10
# per-channel mean / std of the 50000 training images, in [0, 1] units
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def tarball_path(data_dir: Optional[str] = None, *, md5: Optional[str] = MD5,
                 download: bool = True) -> str:
  """Path of the md5-checked tarball, downloading it if missing (see module docstring)."""
  return _download.fetch(FILENAME, URL, _download.cache_dir(data_dir), md5=md5,
                         allow_download=download, what="CIFAR-10")


def real_path(data_dir: Optional[str] = None) -> Optional[str]:
  """Path of the tarball if it is present in the cache directory (no download, no check)."""
  path = os.path.join(_download.cache_dir(data_dir), FILENAME)
  return path if os.path.exists(path) else None


def _unpickle(blob: bytes) -> dict:
  return pickle.loads(blob, encoding="bytes")


def load_cifar10(split: str = "train", data_dir: Optional[str] = None, *,
                 md5: Optional[str] = MD5, download: bool = True,
                 allow_synthetic: bool = False) -> tuple[np.ndarray, np.ndarray]:
  """Returns ``(images uint8 [N, 32, 32, 3] NHWC, labels int32 [N])`` of ``split``.

  ``split``: ``"train"`` (data_batch_1..5, N = 50000) or ``"test"`` (N = 10000). ``md5``: the
  expected checksum of the tarball (``None`` skips the check). ``allow_synthetic``: without the
  real tarball in the cache directory, the generated stand-in (module docstring) instead of a
  download; a real tarball that is present is still checked and a damaged one refused.
  """
  if split not in ("train", "test"):
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
  if allow_synthetic and real_path(data_dir) is None:
    x, y = _generated()[split]
    return x.copy(), y.copy()
  names = TRAIN_BATCHES if split == "train" else TEST_BATCHES
  path = tarball_path(data_dir, md5=md5, download=download)
  xs, ys = [], []
  try:
    with tarfile.open(path, "r:gz") as tar:
      for name in names:
        member = f"{FOLDER}/{name}"
        try:
          f = tar.extractfile(member)
        except KeyError:
          raise DataError(f"{path} has no member {member!r}; not the official CIFAR-10 "
                          "python tarball", path) from None
        d = _unpickle(f.read())
        data = np.asarray(d[b"data"], np.uint8)
        labels = np.asarray(d[b"labels"], np.int64)
        if data.ndim != 2 or data.shape[1] != 3072:
          raise DataError(f"{path}: {member}: expected data of shape [N, 3072], got "
                          f"{data.shape}", path)
        if labels.shape != (data.shape[0],):
          raise DataError(f"{path}: {member}: {labels.shape[0]} labels for {data.shape[0]} "
                          f"images", path)
        bad = (labels < 0) | (labels > 9)
        if bad.any():
          raise DataError(f"{path}: {member}: {int(bad.sum())} labels outside 0..9 (first: "
                          f"{int(labels[bad][0])})", path)
        xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(labels.astype(np.int32))
  except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError) as e:
    raise DataError(f"{path}: cannot read the CIFAR-10 tarball ({type(e).__name__}: {e}); "
                    f"the file is truncated or corrupt — delete it and download it "
                    f"again", path) from None
  return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


@functools.lru_cache(maxsize=1)
def _generated() -> dict:
  """Both splits of the generated stand-in, written to a temporary tarball in the official
  format and read back by :func:`load_cifar10` (once per process)."""
  with tempfile.TemporaryDirectory(prefix="chaosopt-cifar10-") as d:
    write_generated(d)
    return {s: load_cifar10(s, d, md5=None, download=False) for s in ("train", "test")}


def label_names(data_dir: Optional[str] = None, *, md5: Optional[str] = MD5) -> list[str]:
  """The ten class names from ``batches.meta``."""
  with tarfile.open(tarball_path(data_dir, md5=md5, download=False), "r:gz") as tar:
    meta = _unpickle(tar.extractfile(f"{FOLDER}/batches.meta").read())
  return [n.decode() for n in meta[b"label_names"]]


def write_fixture(path: str, images: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                  names: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer",
                                            "dog", "frog", "horse", "ship", "truck"),
                  compresslevel: int = 9) -> str:
  """Writes a tarball in exactly the official format (for tests and offline smoke runs).

  ``images[batch]`` uint8 ``[N, 32, 32, 3]`` and ``labels[batch]`` for every batch name in
  ``data_batch_1..5`` and ``test_batch``. Returns the tarball's md5.
  """
  with tarfile.open(path, "w:gz", compresslevel=compresslevel) as tar:
    def add(name: str, obj: dict) -> None:
      blob = pickle.dumps(obj, protocol=2)
      info = tarfile.TarInfo(f"{FOLDER}/{name}")
      info.size = len(blob)
      tar.addfile(info, io.BytesIO(blob))
    for name in TRAIN_BATCHES + TEST_BATCHES:
      x = np.asarray(images[name], np.uint8)
      add(name, {b"batch_label": name.encode(), b"labels": [int(v) for v in labels[name]],
                 b"data": x.transpose(0, 3, 1, 2).reshape(len(x), 3072),
                 b"filenames": [f"{name}_{i}.png".encode() for i in range(len(x))]})
    add("batches.meta", {b"num_cases_per_batch": 10000, b"num_vis": 3072,
                         b"label_names": [n.encode() for n in names]})
  return _download.md5sum(path)


def write_generated(directory: str, *, seed: int = synthetic.SEED,
                    sizes: Optional[dict] = None) -> str:
  """Writes ``cifar-10-python.tar.gz`` in the official layout into ``directory`` (the training
  images split evenly over ``data_batch_1..5``); returns its path."""
  sizes = sizes or synthetic.CIFAR10_SIZES
  os.makedirs(directory, exist_ok=True)
  xtr, ytr = synthetic.class_images(sizes["train"], (32, 32, 3), "train", seed=seed)
  xte, yte = synthetic.class_images(sizes["test"], (32, 32, 3), "test", seed=seed)
  parts = np.array_split(np.arange(len(xtr)), len(TRAIN_BATCHES))
  images = {n: xtr[p] for n, p in zip(TRAIN_BATCHES, parts)}
  labels = {n: ytr[p] for n, p in zip(TRAIN_BATCHES, parts)}
  images["test_batch"], labels["test_batch"] = xte, yte
  path = os.path.join(directory, FILENAME)
  write_fixture(path, images, labels, compresslevel=1)
  return path
