"""``python -m chaosopt``: the same as the ``chaosopt`` command (:mod:`chaosopt.cli`)."""
from chaosopt.cli import entry

entry()
