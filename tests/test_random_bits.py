"""The counter-based bits used by the Thaler chains (chaosopt.dynamics.random_bits)."""
import jax
import numpy as np

from chaosopt.dynamics import random_bits

N = 1 << 20


def test_uniform_and_uncorrelated():
  b = np.asarray(random_bits.bits(jax.random.key(0), (N,)))
  b2 = np.asarray(random_bits.bits(jax.random.key(1), (N,)))
  u, u2 = b / 2.0**32, b2 / 2.0**32
  # chi-square over 256 equiprobable bins (df 255): the 0.1% critical value is 330.
  counts = np.bincount((b >> 24).astype(np.int64), minlength=256)
  chi2 = ((counts - N / 256) ** 2 / (N / 256)).sum()
  assert chi2 < 330, chi2
  # every bit is fair: |mean - 1/2| < 4 / (2 sqrt(N))
  for k in range(32):
    assert abs(((b >> k) & 1).mean() - 0.5) < 2 / np.sqrt(N), k
  # correlations between neighbours, between draws (steps) and a sign frequency, each within
  # 4 standard errors (1/sqrt(N) for a correlation of independent uniforms).
  c = lambda x, y: np.corrcoef(x, y)[0, 1]
  assert abs(c(u[1:], u[:-1])) < 4 / np.sqrt(N)
  assert abs(c(u, u2)) < 4 / np.sqrt(N)
  p = 0.75
  assert abs((u < p).mean() - p) < 4 * np.sqrt(p * (1 - p) / N)


def test_counter_bits_streams():
  key = jax.random.key(3)
  a = np.asarray(random_bits.counter_bits(key, 0, (N,))) / 2.0**32
  b = np.asarray(random_bits.counter_bits(key, 1, (N,))) / 2.0**32
  c = np.asarray(random_bits.counter_bits(jax.random.key(4), 0, (N,))) / 2.0**32
  np.testing.assert_array_equal(a, np.asarray(random_bits.counter_bits(key, 0, (N,))) / 2.0**32)
  raw = np.asarray(random_bits.counter_bits(jax.random.key_data(key), 0, (N,))) / 2.0**32
  np.testing.assert_array_equal(a, raw)  # typed and raw uint32 keys give the same stream
  # consecutive steps and different keys: uncorrelated within 4 standard errors; uniform means.
  for x, y in [(a, b), (a, c), (b, c)]:
    assert abs(np.corrcoef(x, y)[0, 1]) < 4 / np.sqrt(N)
  for x in (a, b, c):
    assert abs(x.mean() - 0.5) < 4 * np.sqrt(1 / 12 / N)
