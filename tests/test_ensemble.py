"""The ensemble driver (chaosopt.train.ensemble): seed rule, seed-axis strategies, divergence
freezing, early stopping and checkpoint/resume (execution layer; no paper equation)."""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.train import seeds as seeds_lib
from chaosopt.train import ensemble


def _noisy_walk():
  """x_{k+1} = x_k - 0.1 x_k + 0.1 * N(0,1) per step (a key-driven recursion)."""
  def init(key, hp):
    return {"x": jax.random.normal(jax.random.fold_in(key, 0), (3,))}

  def step(c, k, key, hp):
    scale = 0.1 if hp is None else hp
    x = c["x"] - 0.1 * c["x"] + scale * jax.random.normal(key, (3,))
    return {"x": x}, {"loss": jnp.sum(x ** 2)}

  return init, step


def test_seed_keys_follow_one_rule():
  keys = seeds_lib.seed_keys(3, 4, first=2)
  base = jax.random.key(3)
  for i in range(4):
    np.testing.assert_array_equal(jax.random.key_data(keys[i]),
                                  jax.random.key_data(jax.random.fold_in(base, 2 + i)))


def test_sequential_members_are_bit_identical_alone_and_in_a_batch():
  # "sequential" runs the same compiled program for every member: member i's numbers do not
  # depend on the other members (the statement the runner's docstring makes).
  init, step = _noisy_walk()
  keys = seeds_lib.seed_keys(0, 4)
  all4 = ensemble.run_ensemble(init, step, 20, keys=keys, chunk_size=7, strategy="sequential")
  alone = ensemble.run_ensemble(init, step, 20, keys=keys[2:3], chunk_size=7,
                                strategy="sequential")
  np.testing.assert_array_equal(all4.carry["x"][2], alone.carry["x"][0])
  np.testing.assert_array_equal(all4.history["loss"][2], alone.history["loss"][0])


@pytest.mark.parametrize("strategy", ["vmap", 3])
def test_vmapped_strategies_agree_with_sequential(strategy):
  # vmapped programs may round differently (not guaranteed bit-identical); this recursion is
  # contracting, so the runs agree to float32 rounding (rtol 1e-5).
  init, step = _noisy_walk()
  keys = seeds_lib.seed_keys(1, 5)
  hp = jnp.linspace(0.05, 0.2, 5)
  seq = ensemble.run_ensemble(init, step, 30, keys=keys, hparams=hp, chunk_size=10,
                              strategy="sequential")
  other = ensemble.run_ensemble(init, step, 30, keys=keys, hparams=hp, chunk_size=10,
                                strategy=strategy)
  np.testing.assert_allclose(other.carry["x"], seq.carry["x"], rtol=1e-5, atol=1e-6)
  assert other.history["loss"].shape == (5, 30)


def test_divergent_member_is_frozen_and_reported():
  def init(key, hp):
    return {"x": hp}

  def step(c, k, key, hp):
    x = c["x"] ** 2  # blows up (to inf) iff |x0| > 1
    return {"x": x}, {"loss": x}

  hp = jnp.array([0.5, 3.0, 0.9])
  res = ensemble.run_ensemble(init, step, 40, keys=seeds_lib.seed_keys(0, 3), hparams=hp,
                              chunk_size=8)
  assert res.diverged_at[0] == -1 and res.diverged_at[2] == -1
  assert res.diverged_at[1] >= 0
  assert np.isfinite(res.carry["x"][1])  # frozen at its last finite value
  assert np.isnan(res.history["loss"][1, -1]) and np.all(np.isfinite(res.history["loss"][0]))


def test_done_stops_early():
  def init(key, hp):
    return {"t": jnp.int32(0)}

  def step(c, k, key, hp):
    return {"t": c["t"] + 1}, {}

  res = ensemble.run_ensemble(init, step, 1000, keys=seeds_lib.seed_keys(0, 2), chunk_size=10,
                              done=lambda c: c["t"] >= 25)
  assert res.steps_done == 30  # the chunk in which every member was done, then stop
  np.testing.assert_array_equal(res.carry["t"], [30, 30])


@pytest.mark.parametrize("strategy", ["vmap", "sequential"])
def test_checkpoint_resume_is_bit_identical(tmp_path, strategy, monkeypatch):
  monkeypatch.setenv(ensemble.ENV_CHECKPOINT_SECONDS, "0")  # a checkpoint after every chunk
  init, step = _noisy_walk()
  keys = seeds_lib.seed_keys(7, 3)
  evaluate = lambda c, hp: {"norm": jnp.sum(c["x"] ** 2)}  # noqa: E731
  full = ensemble.run_ensemble(init, step, 40, keys=keys, chunk_size=10, strategy=strategy,
                               evaluate=evaluate)
  ck = str(tmp_path / "ck")

  class Killed(Exception):
    pass

  def kill_after_two(step_done, metrics, idx):
    if step_done == 20:
      raise Killed  # as if the process died right after the checkpoint at step 20

  with pytest.raises(Killed):
    ensemble.run_ensemble(init, step, 40, keys=keys, chunk_size=10, strategy=strategy,
                          evaluate=evaluate, checkpoint_dir=ck, on_eval=kill_after_two)
  resumed = ensemble.run_ensemble(init, step, 40, keys=keys, chunk_size=10, strategy=strategy,
                                  evaluate=evaluate, checkpoint_dir=ck)
  np.testing.assert_array_equal(resumed.carry["x"], full.carry["x"])
  np.testing.assert_array_equal(resumed.history["loss"], full.history["loss"])
  np.testing.assert_array_equal(resumed.evals["norm"], full.evals["norm"])
  np.testing.assert_array_equal(resumed.eval_steps, full.eval_steps)
  # a finished block is stored whole: a third call loads it
  again = ensemble.run_ensemble(init, step, 40, keys=keys, chunk_size=10, strategy=strategy,
                                evaluate=evaluate, checkpoint_dir=ck)
  np.testing.assert_array_equal(again.carry["x"], full.carry["x"])


def test_short_blocks_write_no_orbax_checkpoint(tmp_path, monkeypatch):
  """Chunk checkpoints wait for ``CHECKPOINT_SECONDS`` since the block started or was last
  saved: a block shorter than that writes no orbax checkpoint (the finished block is stored as
  result.pkl, which a re-run loads); with the cutoff at 0 every chunk is saved. The numbers are
  the same either way."""
  from chaosopt.train import checkpoint as ck_lib
  init, step = _noisy_walk()
  keys = seeds_lib.seed_keys(7, 2)
  saved = []
  real_save = ck_lib.Checkpointer.save

  def spy(self, step_done, carry, doc):
    saved.append(step_done)
    return real_save(self, step_done, carry, doc)

  monkeypatch.setattr(ck_lib.Checkpointer, "save", spy)
  monkeypatch.setenv(ensemble.ENV_CHECKPOINT_SECONDS, "")
  assert ensemble.checkpoint_seconds() == ensemble.CHECKPOINT_SECONDS >= 1
  a = ensemble.run_ensemble(init, step, 40, keys=keys, chunk_size=10,
                            checkpoint_dir=str(tmp_path / "a"))
  assert saved == [] and (tmp_path / "a" / "block0" / "result.pkl").exists()
  again = ensemble.run_ensemble(init, step, 40, keys=keys, chunk_size=10,
                                checkpoint_dir=str(tmp_path / "a"))
  np.testing.assert_array_equal(again.carry["x"], a.carry["x"])
  monkeypatch.setenv(ensemble.ENV_CHECKPOINT_SECONDS, "0")
  b = ensemble.run_ensemble(init, step, 40, keys=keys, chunk_size=10,
                            checkpoint_dir=str(tmp_path / "b"))
  assert saved == [10, 20, 30, 40]
  np.testing.assert_array_equal(a.carry["x"], b.carry["x"])
  np.testing.assert_array_equal(a.history["loss"], b.history["loss"])


def test_checkpoints_hold_the_state_not_the_hyper_parameters(tmp_path, monkeypatch):
  """A member's hyper-parameters may be a large table (the authors' valley pre-draws its noise):
  checkpoints keep only the carry, and a resumed run rebuilds the hyper-parameters from the
  call and continues bit-identically."""
  monkeypatch.setenv(ensemble.ENV_CHECKPOINT_SECONDS, "0")  # a checkpoint after every chunk
  n, steps = 2, 40
  table = jax.random.normal(jax.random.key(0), (n, steps, 20_000))  # 6.4 MB of hp

  def init(key, hp):
    return {"x": jnp.zeros(())}

  def step(c, k, key, hp):
    x = c["x"] + jnp.mean(hp["noise"][k])
    return {"x": x}, {"x": x}

  hp = {"noise": table}
  keys = seeds_lib.seed_keys(0, n)
  full = ensemble.run_ensemble(init, step, steps, keys=keys, hparams=hp, chunk_size=10)
  ck = str(tmp_path / "ck")

  class Killed(Exception):
    pass

  def kill(step_done, metrics, idx):
    if step_done == 20:
      raise Killed

  with pytest.raises(Killed):
    ensemble.run_ensemble(init, step, steps, keys=keys, hparams=hp, chunk_size=10,
                          checkpoint_dir=ck, evaluate=lambda c, h: {"x": c["x"]}, on_eval=kill)
  size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ck) for f in fs)
  assert size < 1_000_000, size  # the 6.4 MB table is not in the checkpoint
  resumed = ensemble.run_ensemble(init, step, steps, keys=keys, hparams=hp, chunk_size=10,
                                  checkpoint_dir=ck, evaluate=lambda c, h: {"x": c["x"]})
  np.testing.assert_array_equal(resumed.carry["x"], full.carry["x"])
  np.testing.assert_array_equal(resumed.history["x"], full.history["x"])


def test_bad_strategy_is_rejected():
  init, step = _noisy_walk()
  with pytest.raises(ValueError, match="strategy"):
    ensemble.run_ensemble(init, step, 5, keys=seeds_lib.seed_keys(0, 2), strategy="threads")


def test_sequential_members_share_one_compiled_program():
  traces = []
  init, step = _noisy_walk()

  def counted(c, k, key, hp):
    traces.append(1)  # runs once per trace, not per step
    return step(c, k, key, hp)

  ensemble.run_ensemble(init, counted, 20, keys=seeds_lib.seed_keys(0, 5), chunk_size=10,
                        strategy="sequential")
  assert len(traces) == 1


@pytest.mark.parametrize("strategy", ["vmap", 2, "sequential"])
def test_init_args_reach_init_member_by_member_and_stay_out_of_the_carry(strategy):
  """``init_args`` (a leading member axis) is sliced with the members' blocks and given to init
  only; the evaluation inside the init and chunk programs sees the carry it evaluates."""
  def init(key, hp, x):
    return {"x": x}

  def step(c, k, key, hp):
    return {"x": c["x"] + hp}, {}

  x0 = jnp.arange(5.0)[:, None] * jnp.ones((5, 2))
  hp = jnp.arange(5.0) / 10
  res = ensemble.run_ensemble(init, step, 6, keys=seeds_lib.seed_keys(0, 5), hparams=hp,
                              chunk_size=3, strategy=strategy, init_args=x0,
                              evaluate=lambda c, h: {"first": c["x"][0]})
  np.testing.assert_allclose(res.carry["x"], x0 + 6 * hp[:, None], rtol=1e-6)
  assert set(res.carry) == {"x"}
  np.testing.assert_array_equal(res.eval_steps, [0, 3, 6])
  np.testing.assert_allclose(res.evals["first"],
                             np.arange(5.0)[:, None] + np.outer(hp, [0, 3, 6]), rtol=1e-6)
