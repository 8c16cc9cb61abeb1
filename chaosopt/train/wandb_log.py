"""An optional Weights & Biases hook: a finished run's scalar metrics logged to a wandb project
(execution layer, no paper equation).

``chaosopt run ... --wandb PROJECT`` (and ``chaosopt ablate ... --wandb PROJECT``) calls
:func:`log_run` once the results are written: one wandb run named ``<experiment>[:variant]``
with the resolved config as its config, per step the median and quartiles over seeds of every
scheme's metrics (``<scheme>/<metric>/median``, the same numbers as the TensorBoard events,
:func:`chaosopt.train.tensorboard.scalars`) and the final medians in its summary. wandb's
local files go to ``<workdir>/wandb/`` (an entry of the manifest). Without the ``wandb``
package the run logs one line and goes on; wandb's own settings (``WANDB_MODE=offline``,
``WANDB_ENTITY``, an API key) apply as usual.
"""
from __future__ import annotations

import logging
from typing import Optional

from chaosopt.train import tensorboard

logger = logging.getLogger("chaosopt")


def _wandb():
  try:
    import wandb
  except ImportError:
    return None
  return wandb


def log_run(wd, doc: dict, project: str) -> Optional[str]:
  """Logs the results document ``doc`` to wandb ``project``; returns the wandb run's id, or
  None (one log line) when wandb is not installed."""
  wandb = _wandb()
  if wandb is None:
    logger.info("wandb: the wandb package is not installed (pip install wandb); nothing "
                "logged")
    return None
  variant = doc.get("variant") or ""
  run = wandb.init(project=project, name=f"{doc.get('experiment', '?')}"
                   + (f":{variant}" if variant else ""), config=doc.get("settings") or {},
                   dir=wd.sub("wandb"), reinit=True)
  try:
    by_step: dict = {}
    summary = {}
    for name, entry in tensorboard.scalars(doc).items():
      for tag, step, value in entry["points"]:
        by_step.setdefault(step, {})[f"{name}/{tag}"] = value
      summary.update({f"{name}/{k}": v for k, v in entry["final"].items()})
    for step in sorted(by_step):
      run.log(by_step[step], step=step)
    run.summary.update(summary)
    return getattr(run, "id", None)
  finally:
    run.finish()
