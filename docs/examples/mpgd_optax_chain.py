"""MPGD as one link of an optax chain, on a small flax model (P0 eq. 8).

Adam drives the optimisation; the MPGD perturbation ``-μ η^γ v1 ⊙ x + σ η^γ v2`` (Thaler-map
observables, one chain per coordinate) is added to the updates of the Dense kernels only, through
``optax.masked``. Biases get plain Adam updates. Runs in a few seconds on a CPU:

    python docs/examples/mpgd_optax_chain.py
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import chaosopt


class MLP(nn.Module):
  """A 2-32-1 regression network."""

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Dense(32)(x))
    return nn.Dense(1)(x)[..., 0]


def main() -> float:
  kx, kn, kp = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(kx, (256, 2))
  y = jnp.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.05 * jax.random.normal(kn, (256,))

  model = MLP()
  params = model.init(kp, x[:1])

  def loss(p):
    return jnp.mean((model.apply(p, x) - y) ** 2)

  lr = 1e-2
  # True on the leaves to perturb (the Dense kernels), False elsewhere.
  mask = jax.tree_util.tree_map_with_path(
      lambda path, _: getattr(path[-1], "key", None) == "kernel", params)
  tx = optax.chain(
      optax.adam(lr),
      optax.masked(chaosopt.mpgd_perturbation(lr, gamma=0.6, beta=0.5, mu=0.01, sigma=0.01,
                                              key=1), mask),
  )
  state = tx.init(params)

  @jax.jit
  def step(p, s):
    value, grads = jax.value_and_grad(loss)(p)
    updates, s = tx.update(grads, s, p)  # params are needed by the multiplicative (μ) term
    return optax.apply_updates(p, updates), s, value

  first = float(loss(params))
  for _ in range(500):
    params, state, value = step(params, state)
  final = float(loss(params))
  print(f"MSE {first:.4f} -> {final:.4f} after 500 Adam + MPGD steps")
  assert final < first, "training did not reduce the loss"
  return final


if __name__ == "__main__":
  main()
