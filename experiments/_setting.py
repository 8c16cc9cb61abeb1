"""What ran, against the paper's setting (not an experiment; no paper equation).

A report describes the run it renders: :func:`of` compares the resolved config with the shipped
config of its variant (``configs/<name>.py`` ``get_config(variant)``), ignoring the keys in
:data:`IGNORED` that change how a run is executed or stored but not what it computes. A run is
*in the paper's setting* when it equals that shipped config and its variant is not a reduced one
(:data:`REDUCED`: ``quick`` smoke runs, ``cpu`` shortened runs, ``bf16`` precision). Only then
does a report print the paper's numbers beside ours and the words "as in the paper"; otherwise it
says "custom config" and lists the differing keys. A ``quick`` variant is a smoke test: the
report opens with :data:`BANNER` and every verdict is ``"not tested"``.

The variant is what :func:`chaosopt.train.experiment.execute` stored (``doc["variant"]``); it
reaches ``report(config, results)`` as ``results[RUN_KEY]`` (:data:`RUN_KEY`).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.train import config as config_lib
from chaosopt.train.experiment import BANNER, RUN_KEY, is_quick

# keys that change how a run executes or what it stores, not the numbers it computes
IGNORED = frozenset({"checkpoint_every", "chunk_size", "seed_strategy", "seed_mode", "headline",
                     "history_points", "per_step_metrics"})
# variants that are not the paper's setting
REDUCED = frozenset({"quick", "cpu", "bf16"})
__all__ = ["BANNER", "RUN_KEY", "IGNORED", "REDUCED", "Setting", "of", "in_paper_setting",
           "header", "finish", "config_diff", "shipped_schemes"]


@dataclasses.dataclass(frozen=True)
class Setting:
  """``variant`` as run; ``paper``: the paper's setting; ``quick``: a smoke test; ``diff``:
  the keys that differ from the shipped config of the variant (``"key: shipped → run"``);
  ``note``: why the run is not in the paper's setting (a reduced variant, a custom config)."""
  experiment: str
  variant: str
  paper: bool
  quick: bool
  diff: tuple = ()
  note: str = ""


def _flatten(d, prefix="") -> dict:
  out = {}
  if isinstance(d, dict):
    for k, v in d.items():
      out.update(_flatten(v, f"{prefix}{k}."))
    return out
  if isinstance(d, (list, tuple)):
    if any(isinstance(x, (dict, list, tuple)) for x in d):
      for i, v in enumerate(d):
        out.update(_flatten(v, f"{prefix}{i}."))
      return out
    return {prefix[:-1]: list(d)}
  return {prefix[:-1]: d}


def config_diff(run: dict, shipped: dict, ignored=IGNORED) -> list[str]:
  """``["key: shipped → run", ...]`` over the leaves that differ (dotted keys), except those
  whose last component is in ``ignored``."""
  a, b = _flatten(shipped), _flatten(run)
  out = []
  for k in sorted(set(a) | set(b)):
    if k.rsplit(".", 1)[-1] in ignored or k.split(".", 1)[0] in ignored:
      continue
    if a.get(k, "<absent>") != b.get(k, "<absent>"):
      out.append(f"{k}: {_short(a.get(k, '<absent>'))} → {_short(b.get(k, '<absent>'))}")
  return out


def _short(x) -> str:
  s = repr(x)
  return s if len(s) <= 40 else s[:37] + "..."


def of(config, results: Optional[dict] = None, variant: Optional[str] = None) -> Setting:
  """The setting of a run of ``config`` (variant from ``results[RUN_KEY]`` unless given; a
  report called without it, e.g. from a test, is compared with the default variant)."""
  from chaosopt import experiments
  run = (results or {}).get(RUN_KEY) or {}
  if variant is None:
    variant = run.get("variant") or ""
  name = config.get("experiment") or run.get("experiment") or ""
  quick = is_quick(variant)
  try:
    module = experiments.get_config_module(name)
    names = config_lib.parse_variants(variant, getattr(module, "VARIANTS", {}))
    shipped = module.get_config(variant).to_dict()
  except (config_lib.ConfigError, ValueError) as e:
    return Setting(name, variant, paper=False, quick=quick,
                   note=f"no shipped config to compare with ({e})")
  diff = tuple(config_diff(config.to_dict(), shipped))
  reduced = sorted(names & REDUCED)
  note = ""
  if reduced:
    note = f"variant {', '.join(reduced)} is a reduced run, not the paper's setting"
  return Setting(name, variant, paper=not diff and not reduced, quick=quick, diff=diff,
                 note=note)


def shipped_schemes(config, results: Optional[dict] = None) -> set:
  """Names of the schemes of a scheme-table run that ran exactly as the shipped config of its
  variant defines them, in a run that differs from that config at most in ``only`` (the
  schemes selected) and in the other schemes: the rows the paper's numbers speak for. Empty for
  a reduced variant or any other difference."""
  from chaosopt import experiments
  s = of(config, results)
  if s.note or s.quick:
    return set()
  if any(not d.startswith(("only:", "schemes.")) for d in s.diff):
    return set()
  try:
    shipped = experiments.get_config_module(s.experiment).get_config(s.variant)
  except (config_lib.ConfigError, ValueError):
    return set()
  ship = {dict(x)["name"]: dict(x) for x in shipped.get("schemes", [])}
  return {dict(x)["name"] for x in config.get("schemes", [])
          if ship.get(dict(x)["name"]) == dict(x)}


def in_paper_setting(config, variant: str = "") -> bool:
  """True when ``config`` is the shipped config of a paper (not reduced) ``variant``."""
  return of(config, variant=variant).paper


def header(setting: Setting) -> str:
  """The lines that open a report: the smoke-test banner, or what makes the run differ from
  the paper's setting; empty in the paper's setting."""
  lines = []
  if setting.quick:
    lines.append(BANNER)
  label = f"`{setting.experiment}" + (f":{setting.variant}`" if setting.variant else "`")
  if setting.diff:
    shown = "; ".join(setting.diff[:12]) + ("; ..." if len(setting.diff) > 12 else "")
    lines.append(f"> **Custom config** (differs from the shipped {label} in {len(setting.diff)} "
                 f"key(s): {shown}). The paper's numbers are not shown beside it.")
  elif setting.note and not setting.quick:
    lines.append(f"> **Not the paper's setting**: {setting.note}. The paper's numbers are not "
                 f"shown beside it.")
  return "\n\n".join(lines) + ("\n\n" if lines else "")


def finish(setting: Setting, verdicts) -> list[dict]:
  """The verdicts as contract dicts; a smoke test's all ``"not tested"``."""
  if setting.quick:
    return verdict_lib.not_tested(verdicts, "smoke test (quick variant)")
  return verdict_lib.as_dicts(verdicts)
