"""Orbax checkpoints: a run stopped after k chunks and resumed in a fresh call ends with the
same metrics and state as the uninterrupted run, bit for bit on CPU (P0 Table 2 runs are
1000 full-batch steps; they must survive being killed)."""
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.train.checkpoint import Checkpointer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_roundtrip_with_typed_keys(tmp_path):
  carry = {"w": jnp.arange(6.0).reshape(2, 3), "key": jax.random.split(jax.random.key(3), 2),
           "count": jnp.int32(7)}
  with Checkpointer(str(tmp_path), max_to_keep=1) as ck:
    assert ck.latest_step() is None
    ck.save(4, carry, {"history": [1.5, 2.25]})
    ck.save(8, jax.tree_util.tree_map(lambda x: x, carry), {"history": [3.0]})
    step, back, doc = ck.restore(carry)
  assert step == 8 and doc == {"history": [3.0]}
  assert sorted(os.listdir(tmp_path)) == ["8"]  # max_to_keep=1
  np.testing.assert_array_equal(back["w"], carry["w"])
  np.testing.assert_array_equal(jax.random.key_data(back["key"]),
                                jax.random.key_data(carry["key"]))
  assert back["count"].dtype == jnp.int32


def test_old_flat_mpgd_state_is_refused_with_a_clear_message(tmp_path):
  """A checkpoint holding MPGD's state in the flat layout (noise = one [2, n] array, as written
  before the state was shaped like the parameters) is refused, naming the cause and --restart."""
  import pytest

  import chaosopt
  from chaosopt.core.errors import DataError
  from chaosopt.transforms import PerturbationState

  params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
  tx = chaosopt.mpgd(0.1, gamma=0.7, mu=0.1, sigma=0.1, key=0)
  new = tx.init(params)
  old = (new[0], PerturbationState(count=new[1].count, key=new[1].key,
                                   noise=jnp.full((2, 8), 0.25, jnp.float32)))
  with Checkpointer(str(tmp_path), max_to_keep=1) as ck:
    ck.save(3, {"params": params, "opt": old}, {})
    with pytest.raises(DataError, match=r"(?s)another training-state layout.*flat \[chains, "
                                        r"coordinates\].*--restart"):
      ck.restore({"params": params, "opt": new})
    step, back, _ = ck.restore({"params": params, "opt": old})  # the old template still loads
  assert step == 3
  np.testing.assert_array_equal(back["opt"][1].noise, old[1].noise)


_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    import jax, numpy as np
    from _image_helpers import tiny_problem, run
    from chaosopt.train.checkpoint import Checkpointer

    def flat(carry):
      leaves = jax.tree_util.tree_leaves(carry)
      return [np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(
          x.dtype, jax.dtypes.prng_key) else x) for x in leaves]

    clf, data = tiny_problem()
    full = run(clf, data)                       # uninterrupted, 4 steps in chunks of 1
    part = run(clf, data, checkpointer=Checkpointer({ck!r}), stop_after_chunks={k})  # "killed"
    res = run(clf, data, checkpointer=Checkpointer({ck!r}))   # fresh call: resumes
    out = {{
        "part_steps": part["steps_done"], "resumed_from": res["timings"]["resumed_from"],
        "state_equal": all(np.array_equal(a, b) for a, b in zip(flat(full["carry"]),
                                                               flat(res["carry"]))),
        "evals_equal": all(np.array_equal(full["evals"][s][m], res["evals"][s][m])
                           for s in full["evals"] for m in full["evals"][s]),
        "history_equal": all(np.array_equal(full["history"][m], res["history"][m])
                             for m in full["history"]),
        "eval_steps": res["eval_steps"].tolist(),
        "differs_from_init": not np.array_equal(flat(full["carry"])[0], flat(part["carry"])[0]),
    }}
    print("RESULT" + json.dumps(out))
    """)


def test_kill_and_resume_is_bit_identical(tmp_path):
  # three runs of the same program: a persistent compilation cache makes runs 2 and 3 cheap
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu",
             JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax_cache"),
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
  script = _SCRIPT.format(tests=os.path.join(ROOT, "tests"), ck=str(tmp_path / "ckpt"), k=2)
  proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")][-1]
  out = json.loads(line[len("RESULT"):])
  assert out["part_steps"] == 2 and out["resumed_from"] == 2
  assert out["eval_steps"] == [0, 1, 2, 3, 4]
  assert out["state_equal"] and out["evals_equal"] and out["history_equal"]
  assert out["differs_from_init"]
