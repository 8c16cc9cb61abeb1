"""The task interface shared by every experiment (no paper equation: the objective contract).

A task bundles an initializer, a full-batch objective and evaluation metrics, e.g. the widening
valley of P0 Sec. 5.1 or the airfoil regression of P0 Sec. 5.2. The runner
(:mod:`chaosopt.train.runner`) only needs these callables; they must be pure jax functions so
that a whole run can be jitted and vmapped over seeds and hyper-parameters.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax


class Task(NamedTuple):
  """``init(key) -> params``; ``loss(params) -> scalar``; ``metrics(params) -> {name: scalar}``.

  A *stochastic* task (``stochastic=True``: mini-batch or otherwise noisy objectives, P2-P4)
  has ``loss(params, key) -> scalar``; the runner passes the step's key (a pure function of the
  seed and the step, so runs stay reproducible and resumable).

  ``metrics`` should be cheap (it is evaluated between chunks, and every step if the config asks
  for per-step metrics); ``final_metrics`` (optional) may add expensive ones (e.g. an exact
  Hessian trace) and is evaluated once at the end of a run. ``info`` is a JSON-able description
  recorded with the results.
  """
  name: str
  init: Callable[[jax.Array], Any]
  loss: Callable[[Any], jax.Array]
  metrics: Callable[[Any], dict]
  final_metrics: Optional[Callable[[Any], dict]] = None
  info: Optional[dict] = None
  stochastic: bool = False

  def all_final_metrics(self, params) -> dict:
    """``metrics`` merged with ``final_metrics``."""
    out = dict(self.metrics(params))
    if self.final_metrics is not None:
      out.update(self.final_metrics(params))
    return out
