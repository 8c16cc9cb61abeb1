"""Tiny image-training setup shared by the full-batch / checkpoint / sharding tests."""
import jax
import jax.numpy as jnp
import numpy as np

from chaosopt.tasks import models
from chaosopt.train import fullbatch as fb


def tiny_problem(n=32, microbatch=8, size=8, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
  y = rng.integers(0, 10, n).astype(np.int32)
  data = fb.to_microbatches(x, y, microbatch)
  clf = fb.Classifier(models.ResNet18(width=2, stage_sizes=(1,)), mean=(0.5,) * 3,
                      std=(0.25,) * 3, pad=2)
  return clf, data


def mpgd_hparams(num_runs):
  from chaosopt.dynamics.thaler import thaler_constants
  gammas = np.linspace(0.6, 0.7, num_runs)
  return {"learning_rate": jnp.full((num_runs,), 0.1), "mu": jnp.full((num_runs,), 0.03),
          "sigma": jnp.full((num_runs,), 0.01), "gamma": thaler_constants(gammas)}


def run(clf, data, num_runs=2, **kw):
  keys = jax.vmap(jax.random.key)(jnp.arange(num_runs))
  args = dict(classifier=clf, kind="mpgd", static={"beta": 0.5}, hparams=mpgd_hparams(num_runs),
              run_keys=keys, train=data, evals={"train": data}, num_steps=4, chunk_size=1,
              mask_fn=models.first_conv_mask, example_shape=data.images.shape[2:])
  args.update(kw)
  return fb.train_runs(**args)
