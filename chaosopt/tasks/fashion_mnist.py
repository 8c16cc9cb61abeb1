"""FashionMNIST loader (the data set of P4, Wu et al. 2020, Fig. 1a: small CNN, MSGD vs SGD/GD).

Reads the four official IDX gz files (``train-images-idx3-ubyte.gz`` etc.). Search order:
``data_dir`` argument; ``$CHAOSOPT_DATA`` (or ``~/.cache/chaosopt``), either directly or in a
``fashion-mnist/`` subdirectory; Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist/``). If none holds the files they are downloaded into
``<cache>/fashion-mnist/``; offline, a ``FileNotFoundError`` says where to put them.

P4 (and its authors' code) trains on 1000 FashionMNIST images; their script takes them from the
*test* split by mistake (see ``docs/errata.md``): use ``split="train"`` and take a subset.
"""
from __future__ import annotations

import gzip
import os
import zlib
from typing import Optional

import numpy as np

from chaosopt.tasks import _download

URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
SUBDIR = "fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
NUM_CLASSES = 10
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def read_idx(path: str) -> np.ndarray:
  """Parses an IDX file (optionally gzipped): magic ``0 0 dtype ndim``, big-endian dims, data."""
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      raw = f.read()
  except (OSError, EOFError, zlib.error) as e:  # truncated or corrupt gzip stream
    raise ValueError(f"{path}: cannot read ({type(e).__name__}: {e}); the file is truncated "
                     f"or corrupt — delete it and download it again") from None
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
    raise ValueError(f"{path} is not an IDX file (bad magic number)")
  dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
  if raw[2] not in dtypes:
    raise ValueError(f"{path}: unknown IDX data type 0x{raw[2]:02x}")
  ndim = raw[3]
  dims = np.frombuffer(raw, ">u4", count=ndim, offset=4).astype(np.int64)
  dtype = np.dtype(dtypes[raw[2]])
  offset = 4 + 4 * ndim
  n = int(np.prod(dims)) if ndim else 1
  if len(raw) - offset != n * dtype.itemsize:
    raise ValueError(f"{path}: expected {n * dtype.itemsize} data bytes for shape "
                     f"{tuple(dims)}, got {len(raw) - offset}")
  return np.frombuffer(raw, dtype, count=n, offset=offset).reshape(tuple(dims))


def _candidate_dirs(data_dir: Optional[str]) -> list[str]:
  if data_dir:
    d = _download.cache_dir(data_dir)
    return [d, os.path.join(d, SUBDIR)]
  c = _download.cache_dir()
  return [c, os.path.join(c, SUBDIR), DEBIAN_DIR]


def find_files(split: str, data_dir: Optional[str] = None, *, download: bool = True
               ) -> tuple[str, str]:
  """Paths of the (images, labels) files of ``split``, downloading them if needed."""
  if split not in FILES:
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
  names = FILES[split]
  for d in _candidate_dirs(data_dir):
    paths = tuple(os.path.join(d, n) for n in names)
    if all(os.path.exists(p) for p in paths):
      return paths  # type: ignore[return-value]
  dest = os.path.join(_download.cache_dir(data_dir), SUBDIR)
  paths = tuple(_download.fetch(n, URL + n, dest, allow_download=download, what="FashionMNIST")
                for n in names)
  return paths  # type: ignore[return-value]


def load_fashion_mnist(split: str = "train", data_dir: Optional[str] = None, *,
                       download: bool = True) -> tuple[np.ndarray, np.ndarray]:
  """Returns ``(images uint8 [N, 28, 28], labels int32 [N])`` of ``split`` ('train'|'test').

  60000 training and 10000 test images, labels in ``0..9`` (:data:`CLASS_NAMES`).
  """
  img_path, lbl_path = find_files(split, data_dir, download=download)
  images = read_idx(img_path)
  labels = read_idx(lbl_path)
  if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or \
      images.shape[0] != labels.shape[0]:
    raise ValueError(f"unexpected FashionMNIST shapes {images.shape} / {labels.shape} in "
                     f"{img_path}, {lbl_path} (expected [N, 28, 28] images and [N] labels)")
  bad = (labels < 0) | (labels >= NUM_CLASSES)
  if bad.any():
    raise ValueError(f"{lbl_path}: {int(bad.sum())} labels outside 0..{NUM_CLASSES - 1} "
                     f"(first: {int(labels[bad][0])} at index {int(np.flatnonzero(bad)[0])})")
  return np.asarray(images, np.uint8), labels.astype(np.int32)
