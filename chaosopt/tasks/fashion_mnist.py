"""FashionMNIST loader (the data set of P4, Wu et al. 2020, Fig. 1a: small CNN, MSGD vs SGD/GD).

Reads the four official IDX gz files (``train-images-idx3-ubyte.gz`` etc.). Search order:
``data_dir`` argument; ``$CHAOSOPT_DATA`` (or ``~/.cache/chaosopt``), either directly or in a
``fashion-mnist/`` subdirectory; Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist/``). If none holds the files they are downloaded into
``<cache>/fashion-mnist/``; offline, a :class:`chaosopt.core.errors.DataError` says where to
put them.

Checks: every file is parsed strictly (magic number, dimensions, data length) and the sha256 of
its *decompressed* IDX bytes is compared with the official release's (:data:`SHA256`). The
check is on the decompressed data because Debian's package recompresses the ``.gz`` files (so
their own checksums differ from the upstream md5s) while the IDX bytes inside are the same. A
damaged, truncated or altered file (e.g. shuffled labels) raises ``DataError`` naming the file.

``allow_synthetic=True`` (smoke runs, :mod:`chaosopt.tasks.datasets`): the real files when all
four are present (never downloaded), otherwise the generated stand-in of
:func:`write_generated` (:mod:`chaosopt.tasks.synthetic`) in the same format, read by the same code.

P4 (and its authors' code) trains on 1000 FashionMNIST images; their script takes them from the
*test* split by mistake (see ``docs/errata.md``): use ``split="train"`` and take a subset.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
import zlib
from typing import Mapping, Optional

import numpy as np

from chaosopt.core.errors import DataError
from chaosopt.tasks import _download, synthetic

URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
SUBDIR = "fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# sha256 of the decompressed IDX bytes of the official release, by file name. Labels: computed
# from upstream's own .gz files (md5s 25c81989... and bb300cfd..., as in its README); images:
# computed from Debian's recompressed copies and equal to the hashes other projects publish for
# the decompressed upstream files. Debian's label files decompress to the upstream bytes too.
SHA256 = {
    "train-images-idx3-ubyte.gz":
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz":
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz":
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz":
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
NUM_CLASSES = 10
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def read_idx(path: str, sha256: Optional[str] = None) -> np.ndarray:
  """Parses an IDX file (optionally gzipped): magic ``0 0 dtype ndim``, big-endian dims, data.

  ``sha256``: the expected hash of the decompressed bytes (``None`` skips the check). Every
  failure is a ``DataError`` naming ``path``.
  """
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      raw = f.read()
  except (OSError, EOFError, zlib.error) as e:  # truncated or corrupt gzip stream
    raise DataError(f"{path}: cannot read ({type(e).__name__}: {e}); the file is truncated "
                    f"or corrupt — delete it and download it again", path) from None
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
    raise DataError(f"{path} is not an IDX file (bad magic number)", path)
  dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
  if raw[2] not in dtypes:
    raise DataError(f"{path}: unknown IDX data type 0x{raw[2]:02x}", path)
  ndim = raw[3]
  offset = 4 + 4 * ndim
  if len(raw) < offset:
    raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)",
                    path)
  dims = np.frombuffer(raw, ">u4", count=ndim, offset=4).astype(np.int64)
  dtype = np.dtype(dtypes[raw[2]])
  n = int(np.prod(dims)) if ndim else 1
  if len(raw) - offset != n * dtype.itemsize:
    raise DataError(f"{path}: expected {n * dtype.itemsize} data bytes for shape "
                    f"{tuple(dims)}, got {len(raw) - offset}", path)
  if sha256 is not None:
    got = hashlib.sha256(raw).hexdigest()
    if got != sha256.lower():
      raise DataError(f"{path}: sha256 of the decompressed IDX data is {got}, expected "
                      f"{sha256} (the official release); the file is damaged or altered — "
                      f"delete it and download it again (or reinstall Debian's "
                      f"dataset-fashion-mnist)", path)
  return np.frombuffer(raw, dtype, count=n, offset=offset).reshape(tuple(dims))


def _candidate_dirs(data_dir: Optional[str]) -> list[str]:
  if data_dir:
    d = _download.cache_dir(data_dir)
    return [d, os.path.join(d, SUBDIR)]
  c = _download.cache_dir()
  return [c, os.path.join(c, SUBDIR), DEBIAN_DIR]


def _existing(split: str, data_dir: Optional[str]) -> Optional[tuple[str, str]]:
  for d in _candidate_dirs(data_dir):
    paths = tuple(os.path.join(d, n) for n in FILES[split])
    if all(os.path.exists(p) for p in paths):
      return paths  # type: ignore[return-value]
  return None


def real_files(data_dir: Optional[str] = None) -> Optional[dict[str, tuple[str, str]]]:
  """``{split: (images, labels)}`` of the real files when both splits are present (search order
  of the module docstring; no download, no check), else ``None``."""
  found = {split: _existing(split, data_dir) for split in FILES}
  return None if any(p is None for p in found.values()) else found  # type: ignore[return-value]


def find_files(split: str, data_dir: Optional[str] = None, *, download: bool = True
               ) -> tuple[str, str]:
  """Paths of the (images, labels) files of ``split``, downloading them if needed."""
  if split not in FILES:
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
  names = FILES[split]
  paths = _existing(split, data_dir)
  if paths is not None:
    return paths
  dest = os.path.join(_download.cache_dir(data_dir), SUBDIR)
  paths = tuple(_download.fetch(n, URL + n, dest, allow_download=download, what="FashionMNIST")
                for n in names)
  return paths  # type: ignore[return-value]


def load_fashion_mnist(split: str = "train", data_dir: Optional[str] = None, *,
                       download: bool = True, sha256: Optional[Mapping[str, str]] = SHA256,
                       allow_synthetic: bool = False) -> tuple[np.ndarray, np.ndarray]:
  """Returns ``(images uint8 [N, 28, 28], labels int32 [N])`` of ``split`` ('train'|'test').

  60000 training and 10000 test images, labels in ``0..9`` (:data:`CLASS_NAMES`). ``sha256``:
  expected hashes of the decompressed files by file name (``None`` skips the check).
  ``allow_synthetic``: unless all four real files are present, the generated stand-in (module
  docstring) instead of a download; real files that are present are still checked.
  """
  if split not in FILES:
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
  if allow_synthetic and real_files(data_dir) is None:
    x, y = _generated()[split]
    return x.copy(), y.copy()
  img_path, lbl_path = find_files(split, data_dir, download=download)
  sha = sha256 or {}
  images = read_idx(img_path, sha.get(os.path.basename(img_path)))
  labels = read_idx(lbl_path, sha.get(os.path.basename(lbl_path)))
  if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or \
      images.shape[0] != labels.shape[0]:
    raise DataError(f"unexpected FashionMNIST shapes {images.shape} / {labels.shape} in "
                    f"{img_path}, {lbl_path} (expected [N, 28, 28] images and [N] labels)",
                    img_path)
  bad = (labels < 0) | (labels >= NUM_CLASSES)
  if bad.any():
    raise DataError(f"{lbl_path}: {int(bad.sum())} labels outside 0..{NUM_CLASSES - 1} "
                    f"(first: {int(labels[bad][0])} at index {int(np.flatnonzero(bad)[0])})",
                    lbl_path)
  return np.asarray(images, np.uint8), labels.astype(np.int32)


@functools.lru_cache(maxsize=1)
def _generated() -> dict:
  """Both splits of the generated stand-in, written to temporary IDX gz files in the official
  format and read back by :func:`load_fashion_mnist` (once per process)."""
  with tempfile.TemporaryDirectory(prefix="chaosopt-fashion-mnist-") as d:
    write_generated(d)
    return {s: load_fashion_mnist(s, d, download=False, sha256=None) for s in FILES}


def write_generated(directory: str, *, seed: int = synthetic.SEED,
                    sizes: Optional[dict] = None) -> dict[str, tuple[str, str]]:
  """Writes the four FashionMNIST IDX gz files (official names) into ``directory``; returns
  ``{split: (images path, labels path)}`` (the generated set of :mod:`chaosopt.tasks.synthetic`)."""
  sizes = sizes or synthetic.FASHION_MNIST_SIZES
  os.makedirs(directory, exist_ok=True)
  out = {}
  for split in synthetic.SPLITS:
    x, y = synthetic.class_images(sizes[split], (28, 28), split, seed=seed)
    img, lbl = (os.path.join(directory, n) for n in FILES[split])
    out[split] = (synthetic.write_idx(img, x), synthetic.write_idx(lbl, y))
  return out
