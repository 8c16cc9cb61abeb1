"""CIFAR-10 loader (official python tarball format) and the on-device augmentation of P0
Table 2 (random crop after 4-pixel padding + horizontal flip)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.tasks import cifar10
from chaosopt.tasks.augment import random_crop_flip


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _table2_script():
  """experiments/cifar10_table2.py as a module (the script is not part of the package)."""
  import importlib.util
  spec = importlib.util.spec_from_file_location(
      "_exp_cifar10_table2", os.path.join(ROOT, "experiments", "cifar10_table2.py"))
  exp = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(exp)
  return exp


@pytest.fixture(scope="module")
def fixture_tarball(tmp_path_factory):
  d = tmp_path_factory.mktemp("cifar")
  rng = np.random.default_rng(0)
  sizes = {n: 3 for n in cifar10.TRAIN_BATCHES}
  sizes["test_batch"] = 4
  images = {n: rng.integers(0, 256, (k, 32, 32, 3), dtype=np.uint8) for n, k in sizes.items()}
  labels = {n: rng.integers(0, 10, k) for n, k in sizes.items()}
  md5 = cifar10.write_fixture(str(d / cifar10.FILENAME), images, labels)
  return d, md5, images, labels


def test_loader_end_to_end(fixture_tarball):
  d, md5, images, labels = fixture_tarball
  x, y = cifar10.load_cifar10("train", data_dir=str(d), md5=md5, download=False)
  assert x.shape == (15, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int32
  np.testing.assert_array_equal(x, np.concatenate([images[n] for n in cifar10.TRAIN_BATCHES]))
  np.testing.assert_array_equal(y, np.concatenate([labels[n] for n in cifar10.TRAIN_BATCHES]))
  xt, yt = cifar10.load_cifar10("test", data_dir=str(d), md5=md5, download=False)
  np.testing.assert_array_equal(xt, images["test_batch"])
  np.testing.assert_array_equal(yt, labels["test_batch"])
  assert cifar10.label_names(str(d), md5=md5)[0] == "airplane"


def test_channel_layout_matches_official_encoding(tmp_path):
  # the official b'data' rows are the red plane, then green, then blue (1024 values each)
  img = np.zeros((1, 32, 32, 3), np.uint8)
  img[0, 0, 1, 0], img[0, 2, 0, 2] = 7, 9
  imgs = {n: img for n in cifar10.TRAIN_BATCHES + cifar10.TEST_BATCHES}
  lbls = {n: [3] for n in imgs}
  p = str(tmp_path / cifar10.FILENAME)
  cifar10.write_fixture(p, imgs, lbls)
  import pickle
  import tarfile
  with tarfile.open(p) as tar:
    row = pickle.loads(tar.extractfile("cifar-10-batches-py/test_batch").read(),
                       encoding="bytes")[b"data"][0]
  assert row[1] == 7 and row[2048 + 64] == 9
  x, _ = cifar10.load_cifar10("test", str(tmp_path), md5=None, download=False)
  np.testing.assert_array_equal(x, img)


def test_md5_mismatch_and_missing_file(fixture_tarball, tmp_path, monkeypatch):
  d, _, _, _ = fixture_tarball
  with pytest.raises(ValueError, match="md5 mismatch"):
    cifar10.load_cifar10("train", data_dir=str(d), download=False)  # official md5
  with pytest.raises(FileNotFoundError) as e:
    cifar10.load_cifar10("train", data_dir=str(tmp_path), download=False)
  assert os.path.join(str(tmp_path), cifar10.FILENAME) in str(e.value)
  monkeypatch.setenv("CHAOSOPT_DATA", str(tmp_path / "env"))
  with pytest.raises(FileNotFoundError, match=str(tmp_path / "env")):
    cifar10.load_cifar10("test", download=False)
  with pytest.raises(ValueError, match="split"):
    cifar10.load_cifar10("valid", data_dir=str(d))


def test_augmentation_is_a_flipped_window_of_the_padded_image():
  x = jnp.arange(2 * 6 * 6 * 1, dtype=jnp.float32).reshape(2, 6, 6, 1) + 1.0
  f = jax.jit(random_crop_flip, static_argnums=2)
  seen_flip = seen_shift = False
  padded = np.pad(np.asarray(x), ((0, 0), (2, 2), (2, 2), (0, 0)))
  for s in range(8):
    out = np.asarray(f(jax.random.key(s), x, 2))
    assert out.shape == x.shape
    for b in range(2):
      windows = [padded[b, i:i + 6, j:j + 6] for i in range(5) for j in range(5)]
      match = [w for w in windows if np.array_equal(w, out[b])]
      match_f = [w for w in windows if np.array_equal(w[:, ::-1], out[b])]
      assert match or match_f
      seen_flip |= bool(match_f) and not match
      seen_shift |= not np.array_equal(out[b], np.asarray(x[b])) and not np.array_equal(
          out[b], np.asarray(x[b])[:, ::-1])
  assert seen_flip and seen_shift  # 16 draws: P(no flip at all) = 2^-16
  # fresh per key, identical for the same key, vmappable over keys
  k = jax.random.key(0)
  np.testing.assert_array_equal(f(k, x, 2), f(k, x, 2))
  batched = jax.vmap(lambda kk: random_crop_flip(kk, x, 2))(jax.random.split(k, 3))
  assert batched.shape == (3,) + x.shape
  with pytest.raises(ValueError, match="B, H, W, C"):
    random_crop_flip(k, x[0], 2)


def test_table2_config_matches_protocol_and_validates():
  exp = _table2_script()
  from chaosopt.train import config as config_lib
  c = config_lib.load_config(os.path.join(ROOT, "configs", "cifar10_table2.py"))
  exp.validate(c)
  assert (c.learning_rate, c.num_steps, c.num_seeds) == (0.1, 1000, 5)
  names = [s["name"] for s in c.schemes]
  assert names == list(exp.PAPER)  # every Table 2 row, paper numbers beside ours
  for s in c.schemes:
    if s["kind"] != "gd":
      assert (s["mu"], s["sigma"]) == (0.03, 0.01)
    if s["kind"] == "mpgd":
      assert s["beta"] == 0.5
  cpu = config_lib.load_config(os.path.join(ROOT, "configs", "fmnist_fullbatch.py"))
  exp.validate(cpu)
  bad = config_lib.load_config(os.path.join(ROOT, "configs", "fmnist_fullbatch.py"),
                               [("seed_mode", "threads")])
  with pytest.raises(config_lib.ConfigError, match="seed_mode"):
    exp.validate(bad)
  with pytest.raises(config_lib.ConfigError, match="gamma"):
    config_lib.load_config(os.path.join(ROOT, "configs", "cifar10_table2.py"),
                           [("schemes.2.gamma", "0.4")])


def test_table2_script_end_to_end_on_official_format_data(tmp_path, monkeypatch):
  """The GPU experiment (experiments/cifar10_table2.py with configs/cifar10_table2.py) on a
  generated tarball in the official format: loader -> micro-batches -> every scheme kind
  (GD/Gaussian share a program, MPGD eq. 8, eq. 11) -> report beside the paper's numbers; a
  second invocation finds the checkpoints and reproduces the metrics exactly (CPU)."""
  exp = _table2_script()
  from chaosopt.train import config as config_lib

  rng = np.random.default_rng(1)
  sizes = {n: 4 for n in cifar10.TRAIN_BATCHES}  # 20 training images
  sizes["test_batch"] = 10
  images = {n: rng.integers(0, 256, (k, 32, 32, 3), dtype=np.uint8) for n, k in sizes.items()}
  labels = {n: rng.integers(0, 10, k) for n, k in sizes.items()}
  md5 = cifar10.write_fixture(str(tmp_path / cifar10.FILENAME), images, labels)
  real_loader = cifar10.load_cifar10
  monkeypatch.setattr(cifar10, "load_cifar10",
                      lambda split, data_dir=None: real_loader(split, data_dir, md5=md5,
                                                               download=False))
  config = config_lib.load_config(
      os.path.join(ROOT, "configs", "cifar10_table2.py"),
      [("task.data_dir", str(tmp_path)), ("task.microbatch_size", "10"), ("model.width", "2"),
       ("num_steps", "2"), ("chunk_size", "1"), ("num_seeds", "2"), ("seed_mode", "vmap"),
       ("only", "gd,gaussian,mpgd_0.6,eq11_0.7"), ("workdir", str(tmp_path / "run"))])
  config.unlock()
  config.model.stage_sizes = (1,)
  config.lock()
  res = exp.run(config, progress=False, log=lambda s: None)
  assert list(res) == ["gd", "gaussian", "mpgd_0.6", "eq11_0.7"]
  for name, e in res.items():
    assert e["seeds"] == [0, 1]
    assert e["evals"]["val_accuracy"].shape == (3, 2)  # steps 0, 1, 2 x seeds
    assert np.all(np.isfinite(e["history"]["train_loss_aug"]))
  md, out, figs = exp.make_report(config, res, 1.0)
  assert "| mpgd_0.6 |" in md and "75.78" in md and "This is not the Table 2 run" in md
  assert not out["is_paper_protocol"] and "curves.png" in figs
  again = exp.run(config, progress=False, log=lambda s: None)  # resumes from the checkpoints
  for name in res:
    assert again[name]["timings"][0]["resumed_from"] == 2
    for k in res[name]["evals"]:
      np.testing.assert_array_equal(res[name]["evals"][k], again[name]["evals"][k])
