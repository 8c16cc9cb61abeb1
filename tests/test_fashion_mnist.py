"""FashionMNIST IDX loader (data of P4 Fig. 1a): strict parsing, sha256 of the decompressed
data, DataError naming the file, the generated stand-in of smoke runs."""
import gzip
import hashlib
import os
import shutil
import struct

import numpy as np
import pytest

from chaosopt.core.errors import DataError
from chaosopt.tasks import _download, datasets, synthetic
from chaosopt.tasks import fashion_mnist as fm

HAS_DEBIAN = all(os.path.exists(os.path.join(fm.DEBIAN_DIR, n))
                 for pair in fm.FILES.values() for n in pair)


def _write_idx(path, arr):
  arr = np.asarray(arr, np.uint8)
  header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + arr.tobytes())


@pytest.fixture
def fixture_dir(tmp_path):
  rng = np.random.default_rng(0)
  data = {}
  for split, (img, lbl) in fm.FILES.items():
    n = 7 if split == "train" else 3
    x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, n, dtype=np.uint8)
    _write_idx(tmp_path / img, x)
    _write_idx(tmp_path / lbl, y)
    data[split] = (x, y)
  return tmp_path, data


def test_loader_reads_idx_fixture(fixture_dir):
  d, data = fixture_dir
  for split in ("train", "test"):
    x, y = fm.load_fashion_mnist(split, data_dir=str(d), download=False, sha256=None)
    assert x.dtype == np.uint8 and y.dtype == np.int32
    np.testing.assert_array_equal(x, data[split][0])
    np.testing.assert_array_equal(y, data[split][1])


def test_env_var_and_subdir(fixture_dir, tmp_path_factory, monkeypatch):
  d, data = fixture_dir
  root = tmp_path_factory.mktemp("cache")
  os.rename(d, root / "fashion-mnist")
  monkeypatch.setenv("CHAOSOPT_DATA", str(root))
  x, _ = fm.load_fashion_mnist("test", download=False, sha256=None)
  np.testing.assert_array_equal(x, data["test"][0])


def test_missing_files_say_where_to_put_them(tmp_path):
  with pytest.raises(DataError, match=str(tmp_path / "fashion-mnist")) as e:
    fm.load_fashion_mnist("train", data_dir=str(tmp_path), download=False)
  assert e.value.path == str(tmp_path / "fashion-mnist" / fm.FILES["train"][0])
  with pytest.raises(ValueError, match="split"):
    fm.load_fashion_mnist("val", data_dir=str(tmp_path))


def test_corrupt_idx_is_rejected(tmp_path):
  p = tmp_path / "bad.gz"
  with gzip.open(p, "wb") as f:
    f.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10) + b"\x00" * 5)
  with pytest.raises(DataError, match="bad.gz: expected 10 data bytes") as e:
    fm.read_idx(str(p))
  assert e.value.path == str(p)


@pytest.mark.skipif(not HAS_DEBIAN, reason="Debian package dataset-fashion-mnist not installed")
def test_real_debian_data(monkeypatch, tmp_path):
  # Debian recompresses the .gz files; the decompressed bytes match the official sha256s
  monkeypatch.setenv("CHAOSOPT_DATA", str(tmp_path))  # empty cache: falls back to Debian's copy
  x, y = fm.load_fashion_mnist("test", download=False)
  assert x.shape == (10000, 28, 28) and y.shape == (10000,)
  np.testing.assert_array_equal(np.bincount(y), np.full(10, 1000))  # balanced test split
  # allowed synthetic data: the real files are present, so they are what is read
  xs, _ = fm.load_fashion_mnist("test", allow_synthetic=True)
  np.testing.assert_array_equal(xs, x)


@pytest.mark.skipif(not HAS_DEBIAN, reason="Debian package dataset-fashion-mnist not installed")
def test_damaged_copy_of_the_real_labels_is_refused(tmp_path):
  # a copy of the real test split with its labels shuffled (same length, valid IDX, labels in
  # range: only the checksum can tell) and one with the images truncated
  for n in fm.FILES["test"]:
    shutil.copy(os.path.join(fm.DEBIAN_DIR, n), tmp_path / n)
  img, lbl = fm.FILES["test"]
  y = fm.read_idx(str(tmp_path / lbl))
  _write_idx(tmp_path / lbl, np.random.default_rng(0).permutation(y))
  with pytest.raises(DataError, match=f"{lbl}: sha256 of the decompressed IDX data") as e:
    fm.load_fashion_mnist("test", str(tmp_path), download=False)
  assert e.value.path == str(tmp_path / lbl)
  shutil.copy(os.path.join(fm.DEBIAN_DIR, lbl), tmp_path / lbl)
  x = fm.read_idx(str(tmp_path / img))
  with gzip.open(tmp_path / img, "wb") as f:  # a valid gzip of a truncated IDX file
    f.write(bytes([0, 0, 0x08, 3]) + struct.pack(">III", *x.shape) + x.tobytes()[:-784])
  with pytest.raises(DataError, match=f"{img}: expected 7840000 data bytes"):
    fm.load_fashion_mnist("test", str(tmp_path), download=False)


def _idx_sha256(path):
  with gzip.open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def test_checksums_cover_the_four_files_and_catch_shuffled_or_truncated_files(tmp_path):
  # generated files in the official format stand in for the real ones (the check is the same:
  # the hash of the decompressed bytes, whatever the gzip compression)
  assert set(fm.SHA256) == {n for pair in fm.FILES.values() for n in pair}
  paths = fm.write_generated(str(tmp_path))
  sha = {os.path.basename(p): _idx_sha256(p) for pair in paths.values() for p in pair}
  x, y = fm.load_fashion_mnist("train", str(tmp_path), download=False, sha256=sha)
  img, lbl = paths["train"]
  with gzip.open(lbl, "rb") as f:
    raw = f.read()
  with gzip.open(lbl, "wb", compresslevel=9) as f:  # recompressed (as Debian does): still fine
    f.write(raw)
  fm.load_fashion_mnist("train", str(tmp_path), download=False, sha256=sha)
  synthetic.write_idx(lbl, np.random.default_rng(1).permutation(y))  # shuffled labels
  with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: sha256 of the decompressed"
                     ) as e:
    fm.load_fashion_mnist("train", str(tmp_path), download=False, sha256=sha)
  assert e.value.path == lbl
  synthetic.write_idx(lbl, y)
  blob = open(img, "rb").read()
  open(img, "wb").write(blob[: len(blob) // 2])  # truncated gzip stream
  with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*truncated or corrupt") as e:
    fm.load_fashion_mnist("train", str(tmp_path), download=False, sha256=sha)
  assert e.value.path == img
  # the official hashes are checked by default: these generated files are not the release
  fm.write_generated(str(tmp_path))
  with pytest.raises(DataError, match="sha256"):
    fm.load_fashion_mnist("test", str(tmp_path), download=False)


def _no_data(tmp_path, monkeypatch):
  monkeypatch.setenv("CHAOSOPT_DATA", str(tmp_path))
  monkeypatch.setattr(fm, "DEBIAN_DIR", str(tmp_path / "no-debian"))

  def refuse(url, dest, timeout=30.0):
    raise AssertionError(f"a smoke run must not download ({url})")
  monkeypatch.setattr(_download, "download", refuse)


def test_generated_stand_in_when_allowed_and_absent(tmp_path, monkeypatch):
  _no_data(tmp_path, monkeypatch)
  x, y = fm.load_fashion_mnist("train", allow_synthetic=True)
  xt, yt = fm.load_fashion_mnist("test", allow_synthetic=True)
  assert x.shape == (synthetic.FASHION_MNIST_SIZES["train"], 28, 28) and x.dtype == np.uint8
  assert xt.shape == (synthetic.FASHION_MNIST_SIZES["test"], 28, 28) and yt.dtype == np.int32
  np.testing.assert_array_equal(np.bincount(yt), np.full(10, len(yt) // 10))
  # learnable: the nearest class mean of the training split classifies most test images
  means = np.stack([x[y == k].reshape(-1, 784).mean(0) for k in range(10)])
  pred = np.argmin(((xt.reshape(-1, 1, 784) - means[None]) ** 2).sum(-1), 1)
  assert 0.7 < np.mean(pred == yt) < 1.0
  assert os.listdir(tmp_path) == []  # nothing written to the cache dir
  config = __import__("ml_collections").ConfigDict({"data": {"allow_synthetic": True}})
  rec = datasets.source("fashion_mnist", config)
  assert rec["source"] == "generated" and str(tmp_path) in rec["reason"]
  assert "**Data: generated, not FashionMNIST.**" in datasets.report_line({"data": rec})
  # without the flag: the DataError naming where to put the files (download refused here)
  with pytest.raises(AssertionError, match="must not download"):
    fm.load_fashion_mnist("train")
  with pytest.raises(DataError, match="not found"):
    fm.load_fashion_mnist("train", download=False)


def test_present_files_are_checked_even_when_synthetic_is_allowed(fixture_dir, monkeypatch):
  # real-named files that are present are read and checked, never silently replaced
  d, _ = fixture_dir
  with pytest.raises(DataError, match="sha256"):
    fm.load_fashion_mnist("train", str(d), allow_synthetic=True)


def test_bad_labels_and_truncated_files_name_the_file(fixture_dir):
  d, data = fixture_dir
  img, lbl = fm.FILES["train"]
  y = np.array(data["train"][1])
  y[4] = 200  # labels rewritten out of range used to train without error
  _write_idx(d / lbl, y)
  with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: 1 labels outside 0\.\.9"):
    fm.load_fashion_mnist("train", data_dir=str(d), download=False, sha256=None)
  blob = open(d / img, "rb").read()
  open(d / img, "wb").write(blob[: len(blob) // 2])
  with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*truncated or corrupt"):
    fm.load_fashion_mnist("train", data_dir=str(d), download=False, sha256=None)
