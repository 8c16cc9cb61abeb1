"""``python -m chaosopt``: the same as the ``chaosopt`` command (:mod:`chaosopt.cli`)."""
import sys

from chaosopt.cli import main

sys.exit(main())
