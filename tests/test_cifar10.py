"""CIFAR-10 loader (official python tarball format) and the on-device augmentation of P0
Table 2 (random crop after 4-pixel padding + horizontal flip)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.core.errors import DataError
from chaosopt.tasks import _download, cifar10, datasets, synthetic
from chaosopt.tasks.augment import random_crop_flip


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
  # data errors are DataError (the command prints them in one line) with the file named
  d, _, _, _ = fixture_tarball
  with pytest.raises(DataError, match="md5 mismatch") as e:
    cifar10.load_cifar10("train", data_dir=str(d), download=False)  # official md5
  assert e.value.path == str(d / cifar10.FILENAME) and e.value.path in str(e.value)
  with pytest.raises(DataError) as e:
    cifar10.load_cifar10("train", data_dir=str(tmp_path), download=False)
  assert os.path.join(str(tmp_path), cifar10.FILENAME) in str(e.value)
  assert e.value.path == os.path.join(str(tmp_path), cifar10.FILENAME)
  monkeypatch.setenv("CHAOSOPT_DATA", str(tmp_path / "env"))
  with pytest.raises(DataError, match=str(tmp_path / "env")):
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
  from chaosopt import experiments
  from chaosopt.experiments import cifar10_table2 as exp
  from chaosopt.train import config as config_lib
  _, c, _ = experiments.load("cifar10_table2")
  assert (c.learning_rate, c.num_steps, c.num_seeds) == (0.1, 1000, 5)
  names = [s["name"] for s in c.schemes]
  assert names == list(exp.PAPER)  # every Table 2 row, paper numbers beside ours
  for s in c.schemes:
    if s["kind"] != "gd":
      assert (s["mu"], s["sigma"]) == (0.03, 0.01)
    if s["kind"] == "mpgd":
      assert s["beta"] == 0.5
  experiments.load("fmnist_fullbatch")
  with pytest.raises(config_lib.ConfigError, match="seed_strategy"):
    experiments.load("fmnist_fullbatch", [("seed_strategy", "threads")])
  # the old knob seed_mode: accepted for one release, read as seed_strategy
  config_lib._warned_aliases.discard("seed_mode")  # warned once per process
  with pytest.warns(DeprecationWarning, match="seed_mode"):
    _, c, _ = experiments.load("fmnist_fullbatch", [("seed_mode", "vmap")])
  assert c.seed_strategy == "vmap"
  with pytest.raises(config_lib.ConfigError, match="seed_strategy"):
    experiments.load("fmnist_fullbatch", [("seed_mode", "threads")])
  with pytest.raises(config_lib.ConfigError, match="gamma"):
    experiments.load("cifar10_table2", [("schemes.2.gamma", "0.4")])


def _official_format_fixture(tmp_path, monkeypatch, *, per_batch: int, test: int, seed: int):
  """A random CIFAR-10 tarball in the official format in ``tmp_path`` (``per_batch`` images
  per training batch, ``test`` test images); the loader is pointed at it (its md5, no
  download)."""
  rng = np.random.default_rng(seed)
  sizes = {n: per_batch for n in cifar10.TRAIN_BATCHES}
  sizes["test_batch"] = test
  images = {n: rng.integers(0, 256, (k, 32, 32, 3), dtype=np.uint8) for n, k in sizes.items()}
  labels = {n: rng.integers(0, 10, k) for n, k in sizes.items()}
  md5 = cifar10.write_fixture(str(tmp_path / cifar10.FILENAME), images, labels)
  real_loader = cifar10.load_cifar10
  monkeypatch.setattr(cifar10, "load_cifar10",
                      lambda split, data_dir=None, **kw: real_loader(split, data_dir, md5=md5,
                                                                     download=False))


def test_table2_end_to_end_on_official_format_data(tmp_path, monkeypatch):
  """The GPU experiment (``chaosopt --config cifar10_table2``) on a generated tarball in the
  official format, through the command: loader -> micro-batches -> every scheme kind ->
  report beside the paper's numbers; a second invocation after a simulated kill resumes from
  the checkpoints and reproduces the metrics exactly (CPU); a changed config is refused (the
  old checkpoints are never reused for another config)."""
  from chaosopt import cli
  from chaosopt.experiments import cifar10_table2 as exp
  from chaosopt.train import results as results_lib
  from chaosopt.train import workdir as workdir_lib

  _official_format_fixture(tmp_path, monkeypatch, per_batch=4, test=10, seed=1)  # 20 images
  args = ["--config", "cifar10_table2", f"--config.task.data_dir={tmp_path}",
          "--config.task.microbatch_size=10", "--config.model.width=2",
          "--config.model.stage_sizes=(1,)", "--config.num_steps=2", "--config.chunk_size=1",
          "--config.num_seeds=2", "--config.seed_mode=vmap",
          "--config.only=gd,gaussian,mpgd_0.6,eq11_0.7", "-q", "--no-plots"]
  wd = tmp_path / "run"
  assert cli.main(args + ["--workdir", str(wd)]) == 0
  doc = results_lib.load(str(wd))
  res = doc["results"]["schemes"]
  assert list(res) == ["gd", "gaussian", "mpgd_0.6", "eq11_0.7"]
  for name, e in res.items():
    assert e["seeds"] == [0, 1]
    assert np.asarray(e["evals"]["val_accuracy"]).shape == (2, 3)  # seeds x steps 0, 1, 2
  md = (wd / "report.md").read_text()
  # a custom (reduced) config: the paper's numbers are not put beside it
  assert "| mpgd_0.6 |" in md and "75.78" not in md and "Custom config" in md
  assert not doc["results"]["is_paper_protocol"]
  # simulate a kill after the training: drop the results, keep the checkpoints -> resume
  os.remove(wd / "results.json")
  assert cli.main(args + ["--workdir", str(wd)]) == 0
  again = results_lib.load(str(wd))["results"]["schemes"]
  for name in res:
    assert {t["resumed_from"] for t in again[name]["timings"]} == {2}
    assert again[name]["evals"] == res[name]["evals"]
  # the wrong-results bug: a re-run with another config must not reuse these checkpoints
  assert cli.main(args + ["--workdir", str(wd), "--config.learning_rate=0.05"]) == 2
  with pytest.raises(workdir_lib.WorkdirError, match="learning_rate"):
    from chaosopt import experiments
    _, cfg, _ = experiments.load("cifar10_table2", [("learning_rate", "0.05")])
    workdir_lib.Workdir(str(wd), cfg.to_dict())
  del exp


def test_table2_freezes_and_reports_a_diverged_seed(tmp_path, monkeypatch):
  """The CIFAR table path (:func:`chaosopt.train.fullbatch.train_groups`) on the official-format
  fixture with a huge learning rate for one scheme: its seeds' losses become non-finite, each is
  frozen at its last finite parameters (they no longer move), reported by step in
  ``results["diverged"]`` and the messages, and excluded from the summary; the sound scheme runs
  on untouched. Seeds run one at a time (``seed_strategy='sequential'``): a block whose run is
  frozen stops early and its evaluations are padded."""
  from chaosopt import experiments
  from chaosopt.experiments import cifar10_table2 as exp
  from chaosopt.train import results as results_lib

  _official_format_fixture(tmp_path, monkeypatch, per_batch=2, test=5, seed=3)  # 10 images
  _, config, _ = experiments.load("cifar10_table2", [
      ("task.data_dir", str(tmp_path)), ("task.microbatch_size", "5"), ("model.width", "2"),
      ("model.stage_sizes", "(1,)"), ("num_steps", "4"), ("chunk_size", "1"),
      ("num_seeds", "2"), ("seed_strategy", "sequential"), ("only", "gd,mpgd_0.6")])
  with config.unlocked():
    config.schemes[0] = {"name": "gd", "kind": "gd", "learning_rate": 1e38}
  exp.validate(config)
  out = exp.run(config, str(tmp_path / "run"))
  gd, mpgd = out["schemes"]["gd"], out["schemes"]["mpgd_0.6"]
  assert gd["hparams"]["learning_rate"] == 1e38
  div = np.asarray(gd["diverged_at"])
  assert np.all(div >= 0) and np.all(div < 4), div
  assert [(d["scheme"], d["seed"], d["step"]) for d in out["diverged"]] == [
      ("gd", s, int(k)) for s, k in zip([0, 1], div)]
  assert len([m for m in out["messages"] if "scheme 'gd' seed" in m]) == 2
  # frozen at the state after diverged_at steps (the last finite parameters: the step from them
  # gave a non-finite loss or parameters), which no longer moves, so the next evaluation and the
  # final metrics repeat it. At lr 1e38 those parameters are ~1e37, so the loss there may
  # overflow: jax 0.10 evaluates it to ~8e36, jax 0.12 to NaN (the test once required it finite,
  # which only held on jax 0.10); accuracy is finite either way. Padded evaluations are NaN.
  ev = {m: np.asarray(v) for m, v in gd["evals"].items()}
  for s, k in enumerate(div):  # evaluation column j: the state after j steps
    for m, v in ev.items():
      np.testing.assert_array_equal(v[s, k], v[s, k + 1], err_msg=m)
    for m, v in gd["final"].items():  # final: the last evaluation (accuracies, gap in %)
      np.testing.assert_allclose(v[s], ev[m][s, k + 1] * (100 if "acc" in m else 1),
                                 rtol=1e-6, err_msg=m)
    assert np.isfinite(gd["final"]["val_accuracy"][s])
  assert out["summary"]["gd"]["val_accuracy"]["n"] == 0
  # the block stopped when its run was frozen: evaluations padded with NaN to the full length
  assert np.asarray(gd["evals"]["val_accuracy"]).shape == (2, 5)
  assert np.asarray(mpgd["diverged_at"]).tolist() == [-1, -1]
  assert np.all(np.isfinite(mpgd["evals"]["val_accuracy"]))
  assert out["summary"]["mpgd_0.6"]["val_accuracy"]["n"] == 2
  rows = results_lib.final_table({"results": out})
  assert {r["scheme"] for r in rows} == {"gd", "mpgd_0.6"} and len(rows) == 4


def test_table2_authors_variant_end_to_end(tmp_path, monkeypatch):
  """``chaosopt --config cifar10_table2:authors`` (the MPGD authors' CIFAR-10 process) on a
  generated official-format tarball: seeds 1..2 run one at a time, the rows keep the paper's
  numbers beside them and the report names the authors' process; both seeds share one host
  table per (γ, variant) (the whole seed range is the static range of every run)."""
  from chaosopt import cli
  from chaosopt.train import results as results_lib
  from chaosopt.transforms.contrib import authors

  _official_format_fixture(tmp_path, monkeypatch, per_batch=2, test=5, seed=2)  # 10 images
  authors.authors_table.cache_clear()
  wd = tmp_path / "run"
  args = ["--config", "cifar10_table2:authors", f"--config.task.data_dir={tmp_path}",
          "--config.task.microbatch_size=5", "--config.model.width=2",
          "--config.model.stage_sizes=(1,)", "--config.num_steps=2", "--config.chunk_size=2",
          "--config.num_seeds=2", "--config.only=gaussian,mpgd_0.6,eq11_0.7", "-q",
          "--no-plots", "--workdir", str(wd)]
  assert cli.main(args) == 0
  doc = results_lib.load(str(wd))
  res = doc["results"]["schemes"]
  assert list(res) == ["gaussian", "mpgd_0.6", "eq11_0.7"]
  assert [res[n]["kind"] for n in res] == ["gaussian", "mpgd_authors", "eq11_authors"]
  for e in res.values():
    assert e["seeds"] == [1, 2]
    assert e["hparams"]["mu"] == 0.0
  assert res["gaussian"]["hparams"]["exponent"] == 0.0
  # one table per (γ, variant), built for seeds 1..2 together
  assert authors.authors_table.cache_info().currsize == 2
  md = (wd / "report.md").read_text()
  assert "the MPGD authors' CIFAR-10 process" in md and "stem BatchNorm scale" in md
  assert "| mpgd_0.6 |" in md and "75.78" not in md and "Custom config" in md
  from chaosopt import experiments
  from chaosopt.train import config as config_lib
  with pytest.raises(config_lib.ConfigError, match="config.perturb"):
    experiments.load("cifar10_table2:authors", [("perturb", "all")])


def test_loader_rejects_bad_labels_and_truncated_files_naming_the_file(tmp_path):
  rng = np.random.default_rng(0)
  sizes = {n: 2 for n in cifar10.TRAIN_BATCHES}
  sizes["test_batch"] = 2
  images = {n: rng.integers(0, 256, (k, 32, 32, 3), dtype=np.uint8) for n, k in sizes.items()}
  labels = {n: rng.integers(0, 10, k) for n, k in sizes.items()}
  labels["data_batch_3"] = np.array([3, 200])  # a label out of range
  path = str(tmp_path / cifar10.FILENAME)
  cifar10.write_fixture(path, images, labels)
  with pytest.raises(DataError, match=r"cifar-10-python.tar.gz.*data_batch_3.*outside 0\.\.9"):
    cifar10.load_cifar10("train", str(tmp_path), md5=None, download=False)
  blob = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(blob[: len(blob) // 2])  # truncated download
  with pytest.raises(DataError, match="cifar-10-python.tar.gz.*truncated or corrupt") as e:
    cifar10.load_cifar10("test", str(tmp_path), md5=None, download=False)
  assert e.value.path == path


def _no_download(monkeypatch):
  def refuse(url, dest, timeout=30.0):
    raise AssertionError(f"a smoke run must not download ({url})")
  monkeypatch.setattr(_download, "download", refuse)


def test_generated_stand_in_when_allowed_and_absent(tmp_path, monkeypatch):
  """allow_synthetic: no real tarball -> the generated set in the official format, no download;
  without the flag the same call is the DataError naming the missing file."""
  _no_download(monkeypatch)
  x, y = cifar10.load_cifar10("train", str(tmp_path), allow_synthetic=True)
  xt, yt = cifar10.load_cifar10("test", str(tmp_path), allow_synthetic=True)
  assert x.shape == (synthetic.CIFAR10_SIZES["train"], 32, 32, 3) and x.dtype == np.uint8
  assert xt.shape == (synthetic.CIFAR10_SIZES["test"], 32, 32, 3) and yt.dtype == np.int32
  np.testing.assert_array_equal(np.bincount(y), np.full(10, len(y) // 10))  # balanced
  x2, _ = cifar10.load_cifar10("train", str(tmp_path), allow_synthetic=True)
  np.testing.assert_array_equal(x, x2)  # deterministic
  # the official format, read by the same parser: the written tarball gives the same arrays
  path = cifar10.write_generated(str(tmp_path / "written"))
  xw, yw = cifar10.load_cifar10("train", str(tmp_path / "written"), md5=None, download=False)
  np.testing.assert_array_equal(xw, x)
  np.testing.assert_array_equal(yw, y)
  assert os.path.basename(path) == cifar10.FILENAME
  assert not os.path.exists(tmp_path / cifar10.FILENAME)  # nothing written to the cache dir
  with pytest.raises(DataError, match="not found"):
    cifar10.load_cifar10("train", str(tmp_path), download=False)


def test_present_real_tarball_is_checked_even_when_synthetic_is_allowed(fixture_tarball,
                                                                        monkeypatch):
  # a present but damaged/unofficial tarball is never silently replaced by generated data
  _no_download(monkeypatch)
  d, _, _, _ = fixture_tarball
  with pytest.raises(DataError, match="md5 mismatch"):
    cifar10.load_cifar10("train", str(d), allow_synthetic=True)


def test_data_source_record_and_report_line(fixture_tarball, tmp_path):
  import ml_collections
  quick = ml_collections.ConfigDict({"data": {"allow_synthetic": True}})
  full = ml_collections.ConfigDict({"task": {"name": "cifar10"}})
  assert datasets.allow_synthetic(quick) and not datasets.allow_synthetic(full)
  assert not datasets.allow_synthetic(None)
  gen = datasets.source("cifar10", quick, str(tmp_path))
  assert gen["source"] == "generated" and gen["sizes"] == synthetic.CIFAR10_SIZES
  assert str(tmp_path / cifar10.FILENAME) in gen["reason"]
  line = datasets.report_line({"data": gen})
  assert "**Data: generated, not CIFAR-10.**" in line and "5000 training and 500 test" in line
  d = fixture_tarball[0]
  real = datasets.source("cifar10", quick, str(d))
  assert real["source"] == "real" and real["files"] == [str(d / cifar10.FILENAME)]
  assert "Data: CIFAR-10, the real files" in datasets.report_line({"data": real})
  assert datasets.report_line({}) == ""  # results written before the record existed
