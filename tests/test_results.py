"""Results files: ``results.json`` + ``results.npz`` give back exactly the plain-JSON data
(floats bit for bit, ``None``, ints, bools, ragged lists), old plain files still load, every
committed report round-trips and stays under 1 MB of JSON. Execution layer; no paper
equation."""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

from chaosopt.core.errors import DataError
from chaosopt.train import report, results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORTS = sorted(glob.glob(os.path.join(ROOT, "reports", "*", "results.json")))
N = results.INLINE_MAX + 1


def _plain(doc) -> str:
  # JSON text tells 1 from 1.0, -0.0 from 0.0 and True from 1: equal text = the same data
  return json.dumps(doc)


def _doc():
  rng = np.random.default_rng(0)
  floats = rng.standard_normal((3, N)).tolist()
  floats[1][5] = None
  floats[2][0] = -0.0
  return {"schema": "chaosopt.results/1", "status": "finished", "settings": {"x": list(range(N))},
          "results": {
              "curves": {"loss": floats, "steps": list(range(N)), "ok": [True, False] * N},
              "finals": [0.5] * 10,  # small: stays in JSON
              "ragged": [[1.0] * N, [2.0] * (N + 1)],  # each row is an array, the whole is not
              "int_none": [1, None] * N, "int_float": [1, 2.5] * N, "words": ["a"] * N,
              "nones": [None] * N, "huge_int": [2**70] * N, "nested": [{"a": [0.25] * N}]}}


def test_write_moves_large_arrays_and_load_gives_back_the_same_data(tmp_path):
  doc = _doc()
  written = results.write(str(tmp_path), doc)
  assert written == [str(tmp_path / "results.npz"), str(tmp_path / "results.json")]
  light = results.load(str(tmp_path), arrays=False)
  assert light["schema"] == results.SCHEMA
  r = light["results"]
  assert r["curves"]["loss"] == {"$array": "results/curves/loss", "shape": [3, N],
                                 "dtype": "float64"}
  assert r["curves"]["steps"]["dtype"] == "int64" and r["curves"]["ok"]["dtype"] == "bool"
  assert r["ragged"][1]["shape"] == [N + 1] and r["nested"][0]["a"]["$array"]
  for key in ("finals", "int_none", "int_float", "words", "nones", "huge_int"):
    assert isinstance(r[key], list), key  # not storable losslessly, or small: left in JSON
  assert light["settings"] == doc["settings"]  # only the results block moves
  full = results.load(str(tmp_path))
  assert full.pop("schema") == results.SCHEMA and doc.pop("schema")
  assert _plain(full) == _plain(doc)


def test_arrays_only_when_needed_and_the_same_bytes_twice(tmp_path):
  results.write(str(tmp_path), _doc())
  first = (tmp_path / "results.npz").read_bytes()
  results.write(str(tmp_path), results.load(str(tmp_path)))
  assert (tmp_path / "results.npz").read_bytes() == first  # a re-render changes nothing
  assert results.write(str(tmp_path), {"results": {"x": [1.0] * 3}}) == [
      str(tmp_path / "results.json")]
  assert not (tmp_path / "results.npz").exists()  # the stale arrays are gone
  assert sorted(os.listdir(tmp_path)) == ["results.json"]


def test_old_plain_json_loads_and_converts(tmp_path):
  doc = _doc()
  report.write_json(str(tmp_path / "results.json"), doc)
  assert results.load(str(tmp_path)) == doc
  assert results.convert(str(tmp_path))
  new = results.load(str(tmp_path))
  assert new.pop("schema") == results.SCHEMA and doc.pop("schema")
  assert _plain(new) == _plain(doc)


def test_missing_or_damaged_arrays_raise_data_error(tmp_path):
  results.write(str(tmp_path), _doc())
  (tmp_path / "results.npz").write_bytes(b"not a zip")
  with pytest.raises(DataError, match="results.npz"):
    results.load(str(tmp_path))
  os.remove(tmp_path / "results.npz")
  with pytest.raises(DataError, match="lacks the array"):
    results.load(str(tmp_path))
  assert results.load(str(tmp_path), arrays=False)["status"] == "finished"


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_committed_report_round_trips_and_is_light(path, tmp_path):
  """The committed (converted) report, written back as plain JSON and converted again, loads
  as the same data; its results.json is at most 1 MB."""
  assert os.path.getsize(path) <= 1_000_000
  doc = results.load(os.path.dirname(path))
  report.write_json(str(tmp_path / "results.json"), dict(doc, schema="chaosopt.results/1"))
  results.convert(str(tmp_path))
  again = results.load(str(tmp_path))
  assert _plain(dict(again, schema=None)) == _plain(dict(doc, schema=None))
