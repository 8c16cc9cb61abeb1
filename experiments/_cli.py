"""Shared command line of the experiment scripts in ``experiments/``.

Each script is run from the repository root as ``python experiments/<name>.py [--quick]
[--out DIR]``; after putting the repository root on ``sys.path`` it does

  from experiments import _cli
  args, cfg = _cli.setup(__file__, get_config, doc=__doc__, argv=argv)
  ...
  plt = _cli.pyplot()
"""
import argparse
import os


def setup(script, get_config=None, doc=None, extra=None, variants=None, argv=None):
  """Parses the command line of an experiment script; returns ``(args, cfg)``.

  Flags: ``--quick``, one ``--<variant>`` switch per entry of ``variants`` (a dict mapping the
  variant name to its help text), ``--out`` (default ``experiments/reports/<script stem>``),
  then whatever ``extra(parser)`` adds. ``cfg = get_config(v)`` where ``v`` is ``"quick"``
  with ``--quick``, else the first variant switched on, else ``""``; ``cfg`` is None when no
  ``get_config`` is given.
  """
  ap = argparse.ArgumentParser(description=doc,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--quick", action="store_true")
  variants = dict(variants or {})
  for name, help_text in variants.items():
    ap.add_argument("--" + name, action="store_true", help=help_text)
  stem = os.path.splitext(os.path.basename(script))[0]
  ap.add_argument("--out", default="experiments/reports/" + stem)
  if extra is not None:
    extra(ap)
  args = ap.parse_args(argv)
  if get_config is None:
    return args, None
  chosen = ["quick"] if args.quick else [v for v in variants if getattr(args, v)]
  return args, get_config(chosen[0] if chosen else "")


def pyplot():
  """Returns ``matplotlib.pyplot`` with the non-interactive Agg backend selected."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt
