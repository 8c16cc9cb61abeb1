"""Multiplicative SGD (P4 Alg. 1) and SVAG (P3 eq. 3) on a small logistic-regression classifier.

The estimators in ``chaosopt.estimators`` take a per-example loss ``(params, batch) -> [n]`` and
return ``(grads, aux)``; the gradients go to any optax optimizer. MSGD uses the gradient of the
randomised loss ``𝓛(θ)·(1/n + V)`` with a sampling noise ``V`` (here Gaussian-Cov, matching the
covariance of batch-``b`` SGD); SVAG with amplification ``l`` takes steps of ``η/l`` and ``l``
times as many of them. Runs in a few seconds on a CPU:

    python docs/examples/msgd_svag_classifier.py
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from chaosopt import estimators


def main() -> dict:
  kx, kw = jax.random.split(jax.random.key(0))
  n, d, b = 512, 10, 32
  x = jax.random.normal(kx, (n, d))
  labels = (x @ jax.random.normal(kw, (d,)) > 0).astype(jnp.float32)
  data = (x, labels)

  def loss_one(params, xi, yi):  # binary cross-entropy of one example
    logit = xi @ params["w"] + params["b"]
    return optax.sigmoid_binary_cross_entropy(logit, yi)

  per_example = estimators.vmap_per_example(loss_one)
  init = {"w": jnp.zeros(d), "b": jnp.zeros(())}

  def accuracy(p):
    return float(jnp.mean(((x @ p["w"] + p["b"]) > 0) == (labels > 0.5)))

  def train(grad_fn, lr, num_steps):
    tx = optax.sgd(lr)
    params, state = init, tx.init(init)

    @jax.jit
    def step(p, s, key):
      grads, _ = grad_fn(p, key)
      updates, s = tx.update(grads, s)
      return optax.apply_updates(p, updates), s

    for k in jax.random.split(jax.random.key(1), num_steps):
      params, state = step(params, state, k)
    return params

  lr, steps = 0.5, 300
  noise = estimators.make_sampling_noise("gaussian_cov", n, b)
  msgd = train(lambda p, k: estimators.msgd_gradient(per_example, p, data, k, noise), lr, steps)

  l = 4  # SVAG: l times more steps of size η/l, the same SDE limit as SGD
  svag = train(lambda p, k: estimators.svag_gradient(per_example, p, data, k, batch_size=b, l=l),
               estimators.svag_learning_rate(lr, l), estimators.svag_num_steps(steps, l))

  acc = {"msgd_gaussian_cov": accuracy(msgd), "svag_l4": accuracy(svag)}
  print("training accuracy:", {k: round(v, 3) for k, v in acc.items()})
  assert min(acc.values()) > 0.8, "a linearly separable problem should be learned"
  return acc


if __name__ == "__main__":
  main()
