"""Shared argument checks (chaosopt._validation): a non-numeric hyper-parameter (a string from a
config file, None) is refused at construction with the parameter named, not deep inside a
compiled step with a TypeError."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import chaosopt
from chaosopt import _validation


@pytest.mark.parametrize("value", ["0.7", b"0.7", None, {"gamma": 0.7}, ["0.6", "0.7"],
                                   object()])
def test_non_numeric_values_are_refused_naming_the_parameter(value):
  with pytest.raises(ValueError, match="gamma must be a number"):
    _validation.check_numeric("gamma", value)
  with pytest.raises(ValueError, match="^gamma must be a number"):
    _validation.check_in_range("gamma", value, 0.5, 1.0, lo_open=True, hi_open=True)
  with pytest.raises(ValueError, match="^sigma must be a number"):
    _validation.check_nonnegative("sigma", value)
  with pytest.raises(ValueError, match="^learning_rate must be a number"):
    _validation.check_positive("learning_rate", value)


@pytest.mark.parametrize("value", [0.7, np.float32(0.7), np.array([0.6, 0.7]),
                                   jnp.asarray([0.6, 0.7]), [0.6, 0.7]])
def test_numbers_and_arrays_of_numbers_pass(value):
  _validation.check_numeric("gamma", value)
  _validation.check_in_range("gamma", value, 0.5, 1.0, lo_open=True, hi_open=True)
  _validation.check_numeric("num_steps", 3)  # ints and bools are numbers too
  _validation.check_numeric("flag", True)


def test_tracers_and_schedules_pass_unchecked():
  jax.jit(lambda g: _validation.check_numeric("gamma", g) or g)(0.7)
  _validation.check_positive("learning_rate", lambda step: 0.1)
  with pytest.raises(ValueError, match="learning_rate schedule at step 0 must be a number"):
    _validation.check_positive("learning_rate", lambda step: "0.1")


@pytest.mark.parametrize("name,kw", [("gamma", dict(gamma="0.7")), ("beta", dict(beta="0.5")),
                                     ("mu", dict(mu="0.01")), ("sigma", dict(sigma="0.01"))])
def test_mpgd_string_hyper_parameter_names_it(name, kw):
  args = dict(gamma=0.7, beta=0.5, mu=0.01, sigma=0.01, key=0)
  args.update(kw)
  with pytest.raises(ValueError, match=f"^{name} must be a number, got the string"):
    chaosopt.mpgd(0.1, **args)
  with pytest.raises(ValueError, match="^learning_rate must be a number"):
    chaosopt.mpgd("0.1", gamma=0.7, key=0)
