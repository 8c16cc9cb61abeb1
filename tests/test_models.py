"""Models of P4 (SmallCNN) and P0 Table 2 (ResNet-18 for 32x32): architecture facts."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from chaosopt.tasks import models


def test_small_cnn_matches_authors_architecture():
  m = models.SmallCNN()
  v = models.init_variables(m, jax.random.key(0), jnp.zeros((2, 28, 28)))
  p = v["params"]
  # authors' ConvSmall: n_weights = 11330 (conv 1->10 5x5, conv 10->10 5x5, fc 160->50, 50->10)
  assert models.num_params(p) == 11330
  assert p["conv1"]["kernel"].shape == (5, 5, 1, 10)
  assert p["conv2"]["kernel"].shape == (5, 5, 10, 10)
  assert p["fc1"]["kernel"].shape == (160, 50)
  assert p["fc2"]["kernel"].shape == (50, 10)
  # N(0, 0.02^2) on every leaf, biases included: 11330 draws, std estimate good to ~1%
  flat = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(p)])
  assert abs(flat.std() - 0.02) < 0.001
  out = jax.jit(m.apply)(v, jnp.ones((3, 28, 28, 1)))
  assert out.shape == (3, 10) and out.dtype == jnp.float32


def test_resnet18_full_size_shapes():
  m = models.ResNet18()
  v = jax.eval_shape(lambda: m.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3))))
  # standard CIFAR ResNet-18 (3x3 stem, no max-pool): 11,173,962 parameters
  assert models.num_params(v["params"]) == 11_173_962
  assert v["params"]["stem_conv"]["kernel"].shape == (3, 3, 3, 64)
  assert "batch_stats" in v


def test_resnet_zero_init_last_bn_and_identity_blocks():
  m = models.ResNet18(width=4, stage_sizes=(1, 1))  # tiny: compile time dominates on CPU
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))
  v = models.init_variables(m, jax.random.key(0), x)
  p = v["params"]
  for name, blk in p.items():
    if name.startswith("stage"):
      np.testing.assert_array_equal(blk["bn2"]["scale"], 0.0)
      np.testing.assert_array_equal(blk["bn1"]["scale"], 1.0)
  logits, upd = jax.jit(lambda v, x: m.apply(v, x, train=True, mutable=["batch_stats"]))(v, x)
  assert logits.shape == (2, 10)
  # running stats moved in train mode, not in eval mode
  assert not np.allclose(upd["batch_stats"]["stem_bn"]["mean"], 0.0)
  out = jax.jit(m.apply)(v, x)  # eval: uses running stats, no mutation needed
  assert out.shape == (2, 10)


def test_resnet_bf16_compute_keeps_fp32_params():
  m = models.ResNet18(width=4, stage_sizes=(1,), dtype=jnp.bfloat16)
  x = jnp.zeros((2, 8, 8, 3))
  v = jax.eval_shape(m.init, jax.random.key(0), x)
  chex.assert_type(jax.tree_util.tree_leaves(v), jnp.float32)
  assert jax.eval_shape(m.apply, v, x).dtype == jnp.float32


def test_first_conv_mask_with_optax_masked():
  m = models.ResNet18(width=4, stage_sizes=(1,))
  p = jax.eval_shape(m.init, jax.random.key(0), jnp.zeros((1, 8, 8, 3)))["params"]
  mask = models.first_conv_mask(p)
  assert mask["stem_conv"]["kernel"] is True
  assert sum(jax.tree_util.tree_leaves(mask)) == 1
  tx = optax.masked(optax.scale(2.0), mask)
  upd, _ = tx.update(jax.tree_util.tree_map(jnp.ones_like, p), tx.init(p))
  np.testing.assert_array_equal(upd["stem_conv"]["kernel"], 2.0)
  np.testing.assert_array_equal(upd["head"]["kernel"], 1.0)
  pc = jax.eval_shape(models.SmallCNN().init, jax.random.key(0), jnp.zeros((1, 28, 28)))["params"]
  mc = models.first_conv_mask(pc)
  assert mc["conv1"]["kernel"] and not mc["conv2"]["kernel"]
  with pytest.raises(ValueError, match="first"):
    models.first_conv_mask(pc, first="nope")


def test_stem_mask_selects_the_first_two_pytorch_tensors():
  """The authors' CIFAR-10 code perturbs the first two PyTorch parameter tensors of its ResNet:
  the stem conv weight (no bias) and the stem BatchNorm weight. stem_mask must select exactly
  their flax counterparts, nothing else (not the stem BN bias, not any block's conv)."""
  m = models.ResNet18(width=4, stage_sizes=(1, 1))
  p = jax.eval_shape(m.init, jax.random.key(0), jnp.zeros((1, 8, 8, 3)))["params"]
  mask = models.stem_mask(p)
  chex.assert_trees_all_equal_structs(mask, p)
  hits = [jax.tree_util.keystr(path) for path, v in
          jax.tree_util.tree_flatten_with_path(mask)[0] if v]
  assert sorted(hits) == ["['stem_bn']['scale']", "['stem_conv']['kernel']"]
  assert p["stem_conv"]["kernel"].shape == (3, 3, 3, 4) and p["stem_bn"]["scale"].shape == (4,)
  tx = optax.masked(optax.scale(2.0), mask)
  upd, _ = tx.update(jax.tree_util.tree_map(jnp.ones_like, p), tx.init(p))
  np.testing.assert_array_equal(upd["stem_bn"]["scale"], 2.0)
  np.testing.assert_array_equal(upd["stem_bn"]["bias"], 1.0)
  np.testing.assert_array_equal(upd["stage1_block1"]["conv1"]["kernel"], 1.0)
  pc = jax.eval_shape(models.SmallCNN().init, jax.random.key(0), jnp.zeros((1, 28, 28)))["params"]
  with pytest.raises(ValueError, match="stem_mask needs"):
    models.stem_mask(pc)
