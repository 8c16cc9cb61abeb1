"""Workdir safety (chaosopt.train.workdir): a run deletes only what it wrote, refuses folders
that are not runs, is the only writer, and never loads a unit of another run, name or config
(execution layer; no paper equation)."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

from chaosopt import cli
from chaosopt.train import seeds as seeds_lib
from chaosopt.train import ensemble
from chaosopt.train import workdir as workdir_lib

CFG = {"experiment": "x", "seed": 0}
VALLEY_Q = ["--config", "widening_valley:quick", "--config.num_steps=50", "--config.num_seeds=2",
            "--config.only=gd,mpgd", "-q", "--no-plots"]


def _user_files(folder):
  files = {"holiday.png": "sun", "thesis.pdf": "pdf", "figures/fig1.png": "fig",
           "units/mydata.csv": "1,2", "report.md": "my notes", "log.txt": "mine"}
  for rel, text in files.items():
    p = folder / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
  return files


def _snapshot(folder):
  return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_restart_with_same_config_clears_the_finished_run(tmp_path):
  wd = workdir_lib.Workdir(str(tmp_path), CFG)
  wd.unit("u", lambda: 1)
  with open(wd.file(workdir_lib.RESULTS_FILE), "w") as f:
    json.dump({"status": "finished"}, f)
  with open(wd.file("fig.png"), "w") as f:
    f.write("ours")
  (tmp_path / "notes.txt").write_text("the user's, added to the run folder later")
  assert workdir_lib.Workdir(str(tmp_path), CFG).finished
  wd2 = workdir_lib.Workdir(str(tmp_path), CFG, restart=True)
  assert not wd2.finished
  assert not (tmp_path / "units").exists() and not (tmp_path / "fig.png").exists()
  assert (tmp_path / "notes.txt").read_text().startswith("the user's")
  assert wd2.unit("u", lambda: 2) == 2  # recomputed, not loaded


@pytest.mark.parametrize("flags", [["--restart"], [], ["--report"]])
def test_a_folder_of_user_files_is_refused_and_untouched(tmp_path, capsys, flags):
  folder = tmp_path / "scratch"
  _user_files(folder)
  before = _snapshot(folder)
  assert cli.main(VALLEY_Q + ["--workdir", str(folder)] + flags) == 2
  err = capsys.readouterr().err
  assert ("not a chaosopt run" in err or "no results.json" in err) and "Traceback" not in err
  assert _snapshot(folder) == before
  assert sorted(os.listdir(folder)) == sorted({r.split("/")[0] for r in before})


def test_home_root_and_current_folder_are_refused(tmp_path, monkeypatch, capsys):
  home = tmp_path / "home"
  home.mkdir()
  monkeypatch.setenv("HOME", str(home))
  assert cli.main(VALLEY_Q + ["--workdir", str(home)]) == 2
  assert "home" in capsys.readouterr().err
  assert cli.main(VALLEY_Q + ["--workdir", "/"]) == 2
  cwd = tmp_path / "cwd"
  cwd.mkdir()
  monkeypatch.chdir(cwd)
  assert cli.main(VALLEY_Q + ["--workdir", "."]) == 2
  assert "current folder" in capsys.readouterr().err
  assert os.listdir(home) == [] and os.listdir(cwd) == []


def test_restart_with_report_is_rejected_and_keeps_the_run(tmp_path, capsys):
  wd = tmp_path / "run"
  assert cli.main(VALLEY_Q + ["--workdir", str(wd)]) == 0
  before = _snapshot(wd)
  capsys.readouterr()
  assert cli.main(VALLEY_Q + ["--workdir", str(wd), "--restart", "--report"]) == 2
  assert "--restart" in capsys.readouterr().err
  assert _snapshot(wd) == before


def test_the_manifest_names_every_entry_a_run_writes(tmp_path):
  wd = tmp_path / "run"
  assert cli.main(VALLEY_Q[:-1] + ["--workdir", str(wd)]) == 0  # with figures
  manifest = workdir_lib.read_manifest(str(wd))
  on_disk = set(os.listdir(wd)) - {workdir_lib.MANIFEST_FILE, workdir_lib.LOCK_FILE}
  # everything on disk is in the manifest (which may name a file the run did not need, e.g.
  # results.npz when no array was large)
  assert on_disk <= set(manifest["entries"])
  assert set(manifest["entries"]) - on_disk <= {"results.npz"}
  assert {"config.json", "results.json", "report.md", "log.txt"} <= on_disk
  assert any(n.endswith(".png") for n in on_disk)
  # a user's file added to the run folder survives --restart; the run's own files do not
  (wd / "my_analysis.ipynb").write_text("{}")
  assert cli.main(VALLEY_Q + ["--workdir", str(wd), "--restart"]) == 0
  assert (wd / "my_analysis.ipynb").read_text() == "{}"
  assert not any(n.endswith(".png") for n in os.listdir(wd))  # --no-plots this time


def test_a_run_written_before_manifests_is_migrated(tmp_path):
  """Committed reports predate manifests: their config.json marks them as runs; the entries a
  run of that time wrote are adopted, other files are not."""
  wd = tmp_path / "old"
  wd.mkdir()
  (wd / "config.json").write_text(json.dumps({"config": CFG}))
  (wd / "results.json").write_text(json.dumps({"status": "finished", "figures": ["a.png"]}))
  (wd / "a.png").write_text("fig")
  (wd / "b.png").write_text("a user's figure")
  (wd / "units").mkdir()
  w = workdir_lib.Workdir(str(wd), CFG)
  assert w.finished
  assert set(w.entries) == {"config.json", "results.json", "a.png", "units"}
  w.close()
  workdir_lib.Workdir(str(wd), CFG, restart=True).close()
  assert sorted(os.listdir(wd)) == sorted(["b.png", "config.json", workdir_lib.MANIFEST_FILE,
                                           workdir_lib.LOCK_FILE])


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path):
  path = tmp_path / "run"
  holder = subprocess.Popen(
      [sys.executable, "-c",
       "import sys, time; from chaosopt.train import workdir as w; "
       f"x = w.Workdir({str(path)!r}, {CFG!r}); print('locked', flush=True); time.sleep(60)"],
      stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(workdir_lib.WorkdirError, match=f"pid {holder.pid}"):
      workdir_lib.Workdir(str(path), CFG)
    with pytest.raises(workdir_lib.WorkdirError, match="in use"):
      workdir_lib.Workdir(str(path), dict(CFG, seed=1), restart=True)  # cannot clear it either
    assert (path / "config.json").exists()
  finally:
    holder.kill()
    holder.wait()
  # the OS released the lock with the process: the folder is usable again
  workdir_lib.Workdir(str(path), CFG).close()


def test_colliding_names_never_share_a_unit_or_checkpoint(tmp_path):
  wd = workdir_lib.Workdir(str(tmp_path), CFG)
  assert wd.unit("m b", lambda: "space") == "space"
  assert wd.unit("m_b", lambda: "underscore") == "underscore"
  assert wd.unit("m b", lambda: "recomputed") == "space"
  assert wd.unit("m/b", lambda: "slash") == "slash"
  assert len({wd.checkpoint_dir(n) for n in ("m b", "m_b", "m/b", "m%20b", ".", "..")}) == 6
  names = ["m b", "m_b", "m%20b", "a" * 400, "a" * 399 + "b", "é", "e"]
  assert len({workdir_lib.safe_name(n) for n in names}) == len(names)
  assert all(len(workdir_lib.safe_name(n)) <= 150 for n in names)


def test_units_of_another_run_or_key_and_damaged_units_are_recomputed(tmp_path):
  wd = workdir_lib.Workdir(str(tmp_path), CFG)
  assert wd.unit("u", lambda: 1, key={"lr": 0.1}) == 1
  assert wd.unit("u", lambda: 2, key={"lr": 0.1}) == 1
  assert wd.unit("u", lambda: 3, key={"lr": 0.2}) == 3  # another key
  path = tmp_path / "units" / "u.pkl"
  stale = path.read_bytes()
  wd.clear()  # a new run: the old run's unit must not be loaded even if it reappears
  path.parent.mkdir(exist_ok=True)
  path.write_bytes(stale)
  assert wd.unit("u", lambda: 4, key={"lr": 0.2}) == 4
  path.write_bytes(path.read_bytes()[:10])  # truncated
  assert wd.unit("u", lambda: 5, key={"lr": 0.2}) == 5
  with open(path, "rb") as f:
    assert pickle.load(f)["value"] == 5


def test_checkpoints_of_another_key_are_started_afresh(tmp_path):
  wd = workdir_lib.Workdir(str(tmp_path), CFG)
  d = wd.checkpoint_dir("g", key={"seeds": [0, 1]})
  (tmp_path / "checkpoints" / "g" / "100").mkdir()
  assert wd.checkpoint_dir("g", key={"seeds": [0, 1]}) == d
  assert (tmp_path / "checkpoints" / "g" / "100").exists()
  wd.checkpoint_dir("g", key={"seeds": [0, 1, 2]})
  assert not (tmp_path / "checkpoints" / "g" / "100").exists()


def test_a_damaged_block_result_or_checkpoint_is_recomputed_to_the_same_numbers(tmp_path,
                                                                                monkeypatch):
  from chaosopt.train import ensemble as ensemble_mod
  monkeypatch.setenv(ensemble_mod.ENV_CHECKPOINT_SECONDS, "0")  # an orbax checkpoint per chunk
  def init(key, hp):
    import jax
    return {"x": jax.random.normal(key, (3,))}

  def step(c, k, key, hp):
    import jax
    import jax.numpy as jnp
    x = 0.9 * c["x"] + 0.1 * jax.random.normal(key, (3,))
    return {"x": x}, {"loss": jnp.sum(x ** 2)}

  keys = seeds_lib.seed_keys(3, 2)
  ref = ensemble.run_ensemble(init, step, 30, keys=keys, chunk_size=10)
  ck = tmp_path / "ck"
  ensemble.run_ensemble(init, step, 30, keys=keys, chunk_size=10, checkpoint_dir=str(ck))
  result = ck / "block0" / "result.pkl"
  result.write_bytes(result.read_bytes()[:20])  # truncated
  again = ensemble.run_ensemble(init, step, 30, keys=keys, chunk_size=10,
                                checkpoint_dir=str(ck))
  np.testing.assert_array_equal(again.carry["x"], ref.carry["x"])
  # damage the orbax checkpoint itself (every file in the step folder) and drop the result
  result.unlink()
  steps = [p for p in (ck / "block0").iterdir() if p.is_dir() and p.name.isdigit()]
  assert steps
  for p in steps[0].rglob("*"):
    if p.is_file():
      p.write_bytes(b"garbage")
  again = ensemble.run_ensemble(init, step, 30, keys=keys, chunk_size=10,
                                checkpoint_dir=str(ck))
  np.testing.assert_array_equal(again.carry["x"], ref.carry["x"])
  np.testing.assert_array_equal(again.history["loss"], ref.history["loss"])


def test_non_writer_view_creates_nothing_and_reads_the_writers_units(tmp_path):
  """Processes > 0 of a jax.distributed run get ``writer=False``: no folder, config.json or
  unit is created; a unit the writer stored is loaded, a missing one is computed, not stored."""
  path = tmp_path / "run"
  ro = workdir_lib.Workdir(str(path), CFG, writer=False)
  assert ro.unit("a", lambda: 1) == 1
  ro.checkpoint_dir("scheme")
  assert not path.exists()
  wd = workdir_lib.Workdir(str(path), CFG)
  wd.unit("b", lambda: 2)
  assert workdir_lib.Workdir(str(path), CFG, writer=False).unit("b", lambda: 3) == 2
  assert sorted(p.name for p in (path / "units").iterdir()) == ["b.pkl"]


def test_ctrl_c_prints_one_line_and_leaves_a_resumable_run(tmp_path):
  wd = tmp_path / "run"
  # 2e6 steps (≈ 1 min): the run must still be going when the signal comes, however late a
  # loaded machine schedules this test (1e5 steps, 3 s warm, once finished first under xdist)
  args = [sys.executable, "-m", "chaosopt", "--config", "widening_valley:quick",
          "--config.num_steps=2000000", "--config.chunk_size=500", "--config.only=mpgd",
          "--config.num_seeds=1", "--no-plots", "--workdir", str(wd)]
  proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 300
  while time.time() < deadline and proc.poll() is None:
    if (wd / "checkpoints").exists() and list((wd / "checkpoints").rglob("identity.json")):
      break
    time.sleep(0.2)
  time.sleep(1.0)
  proc.send_signal(2)  # SIGINT
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == 130, err
  assert "interrupted" in err and "Traceback" not in err
  assert workdir_lib.holds_run(str(wd))
  workdir_lib.Workdir(str(wd), json.loads((wd / "config.json").read_text())["config"]).close()


def test_a_ctrl_c_that_library_code_swallowed_still_stops_the_loop():
  """Ctrl-C landing inside code that catches and drops KeyboardInterrupt (orbax's save threads
  do) is remembered by the command's handler; the loop stops after its chunk."""
  import jax.numpy as jnp
  from chaosopt.core import loop
  calls = []

  def on_chunk(carry, metrics, step):
    calls.append(step)
    try:
      cli._on_sigint(2, None)  # the signal arrives here ...
    except KeyboardInterrupt:
      pass  # ... and is dropped
  try:
    with pytest.raises(KeyboardInterrupt):
      loop.scan_chunks(lambda c, k: (c + 1, None), jnp.zeros(()), 10, chunk_size=2,
                       on_chunk=on_chunk)
  finally:
    loop.clear_interrupt()
  assert calls == [2]


def test_a_ctrl_c_during_a_gc_callback_is_not_raised_there_and_stops_the_loop():
  """Python prints and drops an exception raised in a garbage-collector callback (JAX has one)
  or a ``__del__``, with a traceback ("Exception ignored in ..."): the handler does not raise
  there; the interrupt is remembered and the loop stops after its chunk. Elsewhere it raises."""
  import gc
  import sys as sys_
  from chaosopt.core import loop
  raised = []

  def callback(phase, info):
    try:
      cli._on_sigint(2, sys_._getframe())
    except KeyboardInterrupt:
      raised.append(phase)
  gc.callbacks.append(callback)
  try:
    gc.collect()
    assert raised == [] and loop.interrupted()

    class Dropped:
      def __del__(self):
        try:
          cli._on_sigint(2, sys_._getframe())
        except KeyboardInterrupt:
          raised.append("__del__")
    Dropped()
    assert raised == []
    with pytest.raises(KeyboardInterrupt):
      cli._on_sigint(2, sys_._getframe())
  finally:
    gc.callbacks.remove(callback)
    loop.clear_interrupt()


@pytest.mark.parametrize("spec", [
    ["--config", "widening_valley:quick", "--config.only=gd,mpgd",
     "--config.schemes.3.sigma=1e30"],
    ["--config", "widening_valley:quick", "--config.only=gd"],  # one scheme, one panel
])
def test_a_scheme_whose_seeds_all_diverge_still_renders(tmp_path, capsys, spec):
  """Report, figures, --no-plots and --report all render (the diverged scheme is marked)."""
  wd = tmp_path / "run"
  args = spec + ["--config.num_steps=60", "--config.chunk_size=20", "--workdir", str(wd), "-q"]
  assert cli.main(args) == 0
  assert (wd / "report.md").exists() and any(n.endswith(".png") for n in os.listdir(wd))
  assert cli.main(args + ["--report", "--no-plots"]) == 0
  assert cli.main(args + ["--report"]) == 0
  assert "Traceback" not in capsys.readouterr().err


FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
sys.argv = ["chaosopt"] + sys.argv[2:]
from chaosopt.cli import entry
entry()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE stand-in")
@pytest.mark.parametrize("limit", [2_000, 40_000])
def test_a_full_disk_is_one_line_and_the_run_resumes(tmp_path, limit):
  """Writes that fail the way a full disk fails them (a file-size limit: every write past it
  raises, in orbax's background checkpoint thread or in a figure) end the run with one line
  naming the workdir, exit 1, no traceback; the same command without the limit then finishes.
  2 kB fails the first checkpoint, 40 kB the figure (62 kB)."""
  cmd = ["--config", "widening_valley:quick", "--config.num_steps=20", "--config.chunk_size=10",
         "--config.only=gd,mpgd", "--workdir", str(tmp_path / "run"), "-q"]
  out = subprocess.run([sys.executable, "-c", FULL_DISK, str(limit), *cmd],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
  assert out.returncode == 1, out.stderr[-3000:]
  assert out.stderr.strip() == (f"chaosopt: cannot write ({tmp_path / 'run'}): File too large; "
                                f"a re-run resumes from the last checkpoint"), out.stderr[-3000:]
  again = subprocess.run([sys.executable, "-m", "chaosopt", *cmd], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
  assert again.returncode == 0, again.stderr[-3000:]
  assert json.loads((tmp_path / "run" / "results.json").read_text())["status"] == "finished"


def test_threads_owning_entries_at_once_keep_one_valid_manifest(tmp_path):
  """Scheme groups run in threads (chaosopt.train.runner) and each registers its checkpoint
  folder: concurrent ``own`` calls record every entry once and leave a readable manifest."""
  import threading
  wd = workdir_lib.Workdir(str(tmp_path / "run"), CFG)
  names = [f"entry{i}" for i in range(40)]
  start = threading.Barrier(8)

  def work(part):
    start.wait()
    for n in part:
      wd.own(n)
      wd.own("checkpoints")

  threads = [threading.Thread(target=work, args=(names[i::8],)) for i in range(8)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  with open(tmp_path / "run" / workdir_lib.MANIFEST_FILE) as f:
    stored = json.load(f)["entries"]
  assert sorted(stored) == sorted(wd.entries) == sorted(names + ["checkpoints", "config.json"])
  wd.close()
