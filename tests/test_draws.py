"""chaosopt.core.draws.flat: a multi-dimensional draw made flat gives exactly the numbers of
the draw as asked (threefry's row-major counters), in both of JAX's counter layouts, for one
key and under vmap; other key implementations are drawn as asked."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chaosopt.core import draws
from chaosopt.core.precision import x64_scope

SHAPES = [(2, 113), (3, 4, 5), (7, 1), (0, 3), (5,)]
VMAPPED = [(2, 113), (7, 1)]  # as the chains' draws are made (one key per ensemble member)
SAMPLERS = {
    "uniform": lambda k, s, f: f(jax.random.uniform, k, s, jnp.float32, 1e-30, 1.0),
    "normal": lambda k, s, f: f(jax.random.normal, k, s, jnp.float32),
}


def _direct(sampler, key, shape, *args, **kwargs):
  return sampler(key, shape, *args, **kwargs)


@pytest.mark.parametrize("partitionable", [True, False])
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_flat_draw_is_the_draw(name, partitionable):
  sample = SAMPLERS[name]
  keys = jax.random.split(jax.random.key(3), 4)

  def both(k, shapes):  # flat and as asked, in one program (the direct draws compile slowly)
    return [(sample(k, s, draws.flat), sample(k, s, _direct)) for s in shapes]
  with jax.threefry_partitionable(partitionable):
    one = jax.jit(lambda k: both(k, SHAPES))(keys[0])
    many = jax.jit(jax.vmap(lambda k: both(k, VMAPPED)))(keys)
  for shape, (a, b) in zip(SHAPES, one):
    assert a.shape == b.shape == shape and a.dtype == b.dtype
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=str(shape))
  for shape, (a, b) in zip(VMAPPED, many):
    assert a.shape == b.shape == (len(keys),) + shape
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"vmap {shape}")


def test_float64_and_raw_keys():
  with x64_scope(True):
    k = jax.random.key(0)
    np.testing.assert_array_equal(
        np.asarray(draws.flat(jax.random.normal, k, (6, 9), jnp.float64)),
        np.asarray(jax.random.normal(k, (6, 9), jnp.float64)))
  raw = jax.random.PRNGKey(1)  # a uint32[2] key: the default implementation, threefry
  assert draws._row_major(raw)
  np.testing.assert_array_equal(np.asarray(draws.flat(jax.random.uniform, raw, (4, 3))),
                                np.asarray(jax.random.uniform(raw, (4, 3))))


def test_other_implementations_are_drawn_as_asked():
  k = jax.random.key(0, impl="rbg")
  assert not draws._row_major(k)
  np.testing.assert_array_equal(np.asarray(draws.flat(jax.random.uniform, k, (4, 3))),
                                np.asarray(jax.random.uniform(k, (4, 3))))
