"""Error types the command turns into one-line messages (lowest layer, no paper equation).

Every layer may raise these; ``chaosopt.cli`` prints ``chaosopt: <message>`` and exits with
status 2 (bad input: a key, a file) or 1 (the environment failed: disk full, out of memory),
without a traceback (``-v`` shows it).
"""
from __future__ import annotations


class DataError(RuntimeError):
  """A data file is missing, damaged or does not match its checksum. The message names the
  file and says how to obtain it."""

  def __init__(self, message: str, path: "str | None" = None):
    super().__init__(message)
    self.path = path
