"""FashionMNIST IDX loader (data of P4 Fig. 1a)."""
import gzip
import os
import struct

import numpy as np
import pytest

from chaosopt.tasks import fashion_mnist as fm


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
    x, y = fm.load_fashion_mnist(split, data_dir=str(d), download=False)
    assert x.dtype == np.uint8 and y.dtype == np.int32
    np.testing.assert_array_equal(x, data[split][0])
    np.testing.assert_array_equal(y, data[split][1])


def test_env_var_and_subdir(fixture_dir, tmp_path_factory, monkeypatch):
  d, data = fixture_dir
  root = tmp_path_factory.mktemp("cache")
  os.rename(d, root / "fashion-mnist")
  monkeypatch.setenv("CHAOSOPT_DATA", str(root))
  x, _ = fm.load_fashion_mnist("test", download=False)
  np.testing.assert_array_equal(x, data["test"][0])


def test_missing_files_say_where_to_put_them(tmp_path):
  with pytest.raises(FileNotFoundError, match=str(tmp_path / "fashion-mnist")):
    fm.load_fashion_mnist("train", data_dir=str(tmp_path), download=False)
  with pytest.raises(ValueError, match="split"):
    fm.load_fashion_mnist("val", data_dir=str(tmp_path))


def test_corrupt_idx_is_rejected(tmp_path):
  p = tmp_path / "bad.gz"
  with gzip.open(p, "wb") as f:
    f.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10) + b"\x00" * 5)
  with pytest.raises(ValueError, match="data bytes"):
    fm.read_idx(str(p))


@pytest.mark.skipif(not os.path.exists(os.path.join(fm.DEBIAN_DIR, fm.FILES["test"][0])),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_real_debian_data(monkeypatch, tmp_path):
  monkeypatch.setenv("CHAOSOPT_DATA", str(tmp_path))  # empty cache: falls back to Debian's copy
  x, y = fm.load_fashion_mnist("test", download=False)
  assert x.shape == (10000, 28, 28) and y.shape == (10000,)
  np.testing.assert_array_equal(np.bincount(y), np.full(10, 1000))  # balanced test split


def test_bad_labels_and_truncated_files_name_the_file(fixture_dir):
  d, data = fixture_dir
  img, lbl = fm.FILES["train"]
  y = np.array(data["train"][1])
  y[4] = 200  # labels rewritten out of range used to train without error
  _write_idx(d / lbl, y)
  with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz: 1 labels outside 0\.\.9"):
    fm.load_fashion_mnist("train", data_dir=str(d), download=False)
  blob = open(d / img, "rb").read()
  open(d / img, "wb").write(blob[: len(blob) // 2])
  with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz.*truncated or corrupt"):
    fm.load_fashion_mnist("train", data_dir=str(d), download=False)
