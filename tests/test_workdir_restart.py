"""Workdir ``restart``: a re-run of the *same* config with restart=True starts clean (it used to
be a no-op that kept the finished run)."""
from __future__ import annotations

import json

from chaosopt.train import workdir as workdir_lib


def test_restart_with_same_config_clears_the_finished_run(tmp_path):
  cfg = {"experiment": "x", "seed": 0}
  wd = workdir_lib.Workdir(str(tmp_path), cfg)
  wd.unit("u", lambda: 1)
  (tmp_path / workdir_lib.RESULTS_FILE).write_text(json.dumps({"status": "finished"}))
  (tmp_path / "fig.png").write_text("old")
  assert workdir_lib.Workdir(str(tmp_path), cfg).finished
  wd2 = workdir_lib.Workdir(str(tmp_path), cfg, restart=True)
  assert not wd2.finished
  assert not (tmp_path / "units").exists() and not (tmp_path / "fig.png").exists()
  assert wd2.unit("u", lambda: 2) == 2  # recomputed, not loaded


def test_non_writer_view_creates_nothing_and_reads_the_writers_units(tmp_path):
  """Processes > 0 of a jax.distributed run get ``writer=False``: no folder, config.json or
  unit is created; a unit the writer stored is loaded, a missing one is computed, not stored."""
  cfg = {"experiment": "x", "seed": 0}
  path = tmp_path / "run"
  ro = workdir_lib.Workdir(str(path), cfg, writer=False)
  assert ro.unit("a", lambda: 1) == 1
  ro.checkpoint_dir("scheme")
  assert not path.exists()
  wd = workdir_lib.Workdir(str(path), cfg)
  wd.unit("b", lambda: 2)
  assert workdir_lib.Workdir(str(path), cfg, writer=False).unit("b", lambda: 3) == 2
  assert sorted(p.name for p in (path / "units").iterdir()) == ["b.pkl"]
