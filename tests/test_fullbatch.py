"""Micro-batched full-batch gradient (P0 Table 2 protocol: full batch via accumulation)."""
import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from chaosopt.tasks import models
from chaosopt.train import fullbatch as fb


def test_microbatch_gradient_equals_full_batch_gradient_without_batchnorm():
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(24, 28, 28, 1)) * 50, jnp.float32)
  y = jnp.asarray(rng.integers(0, 10, 24), jnp.int32)
  model = models.SmallCNN()
  params = models.init_variables(model, jax.random.key(0), x[:1])["params"]

  def loss_on(p, xb, yb):
    logits = model.apply({"params": p}, xb)
    return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

  def loss_fn(p, state, mb, key):
    return loss_on(p, *mb), ({"n": jnp.float32(mb[1].shape[0])}, state)

  @jax.jit
  def both(p):
    full_loss, full_grad = jax.value_and_grad(loss_on)(p, x, y)
    (loss, metrics, _), grad = fb.microbatch_value_and_grad(
        loss_fn, p, {}, (x.reshape(4, 6, 28, 28, 1), y.reshape(4, 6)))
    return full_loss, full_grad, loss, metrics, grad

  full_loss, full_grad, loss, metrics, grad = both(params)
  np.testing.assert_allclose(loss, full_loss, rtol=1e-5)
  assert float(metrics["n"]) == 6.0  # metrics are averaged over micro-batches
  # float32 sums in a different order: relative error ~1e-6 per leaf
  for g, h in zip(jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(full_grad)):
    np.testing.assert_allclose(g, h, rtol=1e-4, atol=1e-6 * float(jnp.max(jnp.abs(h))))


class _BNNet(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
    return nn.Dense(3)(x)


def test_batchnorm_statistics_are_per_microbatch_and_running_stats_sequential():
  x = jax.random.normal(jax.random.key(1), (12, 5)) * 3 + 1
  y = jnp.arange(12) % 3
  m = _BNNet()
  v = models.init_variables(m, jax.random.key(0), x[:1])

  def loss_fn(p, bs, mb, key):
    logits, upd = m.apply({"params": p, "batch_stats": bs}, mb[0], train=True,
                          mutable=["batch_stats"])
    return optax.softmax_cross_entropy_with_integer_labels(logits, mb[1]).mean(), (
        {}, upd["batch_stats"])

  @jax.jit
  def both(v):
    out = fb.microbatch_value_and_grad(
        loss_fn, v["params"], v["batch_stats"], (x.reshape(3, 4, 5), y.reshape(3, 4)))
    # reference: the three micro-batches one after another, each normalized by its own stats
    bs_ref, losses, grads = v["batch_stats"], [], []
    for i in range(3):
      (l, (_, bs_ref)), g = jax.value_and_grad(loss_fn, has_aux=True)(
          v["params"], bs_ref, (x[4 * i:4 * i + 4], y[4 * i:4 * i + 4]), None)
      losses.append(l)
      grads.append(g)
    return out, bs_ref, losses, grads

  ((loss, _, bs), grad), bs_ref, losses, grads = both(v)
  np.testing.assert_allclose(loss, np.mean(losses), rtol=1e-6)
  chex.assert_trees_all_close(bs, bs_ref, rtol=1e-6)
  mean_g = jax.tree_util.tree_map(lambda *g: sum(g) / 3, *grads)
  chex.assert_trees_all_close(grad, mean_g, rtol=1e-5, atol=1e-7)


def test_to_microbatches_checks_divisibility():
  x = np.zeros((10, 4, 4), np.uint8)
  d = fb.to_microbatches(x, np.zeros(10), 5)
  assert d.images.shape == (2, 5, 4, 4, 1) and d.labels.shape == (2, 5) and d.size == 10
  with pytest.raises(ValueError, match="multiple of microbatch_size"):
    fb.to_microbatches(x, np.zeros(10), 3)


def test_first_conv_only_perturbation():
  # the Gaussian perturbation (sigma > 0) must touch the first conv only; GD elsewhere
  p = {"conv1": {"kernel": jnp.ones((2, 2))}, "fc": {"kernel": jnp.ones((3,))}}
  mask = models.first_conv_mask(p)
  hp = {"learning_rate": 0.1, "mu": 0.0, "sigma": 1.0, "exponent": 0.5}
  tx = fb.perturbed_gd("gaussian", {}, hp, jax.random.key(0), mask)
  g = jax.tree_util.tree_map(jnp.ones_like, p)
  upd, _ = tx.update(g, tx.init(p), p)
  np.testing.assert_allclose(upd["fc"]["kernel"], -0.1)
  assert not np.allclose(upd["conv1"]["kernel"], -0.1)


def test_cpu_loops_take_the_same_steps_as_the_scanned_loops():
  """``cpu_loops`` (unrolled micro-batches, host-dispatched steps; the CPU default) only moves
  the loops: 3 steps of the tiny BatchNorm ResNet agree with the scanned program to float32
  rounding (XLA may fuse the two programs differently, so not bit for bit; a changed step --
  e.g. a lost micro-batch or a reused augmentation key -- moves the loss by > 1e-2)."""
  from _image_helpers import run, tiny_problem
  clf, data = tiny_problem()
  a = run(clf, data, num_steps=3, chunk_size=2, cpu_loops=True)
  b = run(clf, data, num_steps=3, chunk_size=2, cpu_loops=False)
  np.testing.assert_allclose(a["history"]["train_loss_aug"], b["history"]["train_loss_aug"],
                             rtol=1e-5)
  chex.assert_trees_all_close(a["carry"].params, b["carry"].params, rtol=1e-4, atol=1e-6)
  np.testing.assert_array_equal(a["eval_steps"], b["eval_steps"])


@pytest.mark.parametrize("cpu_loops", [True, False])
def test_a_diverging_run_is_frozen_and_the_others_run_on(cpu_loops):
  """A run whose loss or parameters become non-finite (η = 1e38) keeps its last finite state
  and its step is reported, in both loop forms; the other run is untouched (equal to the same
  run without the diverging one beside it)."""
  from _image_helpers import mpgd_hparams, run, tiny_problem
  clf, data = tiny_problem()
  hp = mpgd_hparams(2)
  hp["learning_rate"] = jnp.asarray([0.1, 1e38], jnp.float32)
  res = run(clf, data, hparams=hp, cpu_loops=cpu_loops)
  assert res["diverged_at"][0] == -1 and 0 <= res["diverged_at"][1] < 4
  for leaf in jax.tree_util.tree_leaves(res["carry"].params):
    assert np.all(np.isfinite(np.asarray(leaf)))
  assert np.all(np.isnan(res["history"]["train_loss_aug"][res["diverged_at"][1] + 1:, 1]))
  alone = run(clf, data, num_runs=1, hparams=jax.tree_util.tree_map(lambda v: v[:1], hp),
              cpu_loops=cpu_loops)
  np.testing.assert_allclose(res["evals"]["train"]["loss"][:, 0],
                             alone["evals"]["train"]["loss"][:, 0], rtol=1e-5)
