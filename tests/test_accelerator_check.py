"""benchmarks/accelerator_check.py --dry-run: every section runs (tiny sizes, CPU) with
ml_collections made unimportable (the accelerator machine has none), and the JSON and the
markdown summary carry every section's result."""
import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "accelerator_check.py")

_BLOCKED_RUN = textwrap.dedent("""
    import runpy, sys

    class _NoMlCollections:
      def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ml_collections":
          raise ImportError("ml_collections is blocked in this test")

    sys.meta_path.insert(0, _NoMlCollections())
    sys.argv = [{script!r}, "--dry-run", "--out", {out!r}]
    runpy.run_path({script!r}, run_name="__main__")
    """)


def test_dry_run_without_ml_collections(tmp_path):
  out = str(tmp_path / "acc")
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
  env.pop("XLA_FLAGS", None)
  p = subprocess.run([sys.executable, "-c", _BLOCKED_RUN.format(script=SCRIPT, out=out)],
                     env=env, capture_output=True, text=True, timeout=900)
  assert p.returncode == 0, p.stderr[-4000:]
  with open(os.path.join(out, "accelerator_check.json")) as f:
    res = json.load(f)
  meta = res["meta"]
  assert meta["dry_run"] and meta["backend"] == "cpu"
  assert meta["ml_collections_loaded"] is False
  for name in ("resnet_step", "perturbation", "seeds", "airfoil_table1", "p4_fig1a"):
    assert res[name]["status"] == "ok", (name, res[name].get("traceback"))
    assert res[name]["section_s"] > 0
  rs = res["resnet_step"]["result"]
  for dtype in ("bfloat16", "float32"):
    r = rs[dtype]
    for key in ("step_s", "images_per_s", "xla_flops_per_step", "achieved_tflops", "mfu"):
      assert key in r, (dtype, key)
    assert r["step_s"] > 0 and r["xla_flops_per_step"] > 0
    assert r["mfu"] is None  # no known peak for a CPU
  pr = res["perturbation"]["result"]["ratio_to_gd"]
  assert set(pr) == {"mpgd_first_conv", "gaussian_first_conv", "mpgd_all_params",
                     "gaussian_all_params"} and all(v > 0 for v in pr.values())
  sd = res["seeds"]["result"]
  assert sd["vmap_step_s"] > 0 and sd["sequential_step_s"] > 0
  af = res["airfoil_table1"]["result"]
  assert af["wall_s"] > 0 and af["config_impl"] == "stand-in" and af["schemes"] == 1
  p4 = res["p4_fig1a"]["result"]
  assert p4["gd"]["iterations_per_s"] > 0 and p4["msgd_cov"]["iterations_per_s"] > 0
  md = open(os.path.join(out, "accelerator_check.md")).read()
  assert "DRY RUN" in md and "Airfoil Table 1" in md and "**error**" not in md


def test_peak_table():
  sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
  try:
    import accelerator_check as ac
  finally:
    sys.path.pop(0)
  assert ac.chip_peaks("NVIDIA H100 80GB HBM3")[0] == "H100 SXM"
  assert ac.chip_peaks("NVIDIA H100 PCIe")[0] == "H100 PCIe"
  name, peaks = ac.chip_peaks("NVIDIA H200")
  assert name == "H200" and peaks["bfloat16"] == 989.0 and peaks["float32"] == 67.0
  assert ac.chip_peaks("cpu") == (None, None)
