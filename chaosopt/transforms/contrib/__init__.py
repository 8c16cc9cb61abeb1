"""Contributed noise processes: re-implementations of other people's code (no new equation).

The P0 eq. 8 recursion as someone's public code runs it, kept apart from the library's own
transforms as optax keeps such code in ``optax.contrib``: :mod:`.authors` is the MPGD authors'
airfoil / CIFAR-10 process and its controls (docs/authors_code.md).

Every module in this folder is imported with the package (and so with ``import chaosopt``):
a noise module dropped here registers its kinds (``register_noise`` at module level) and
configs can name them, with no other edit (docs/extending.md). Names starting with ``_`` are
not imported.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from chaosopt.transforms.contrib import authors as authors  # (the loop imports it too)

for _m in sorted(m.name for m in _pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
  _importlib.import_module(f"{__name__}.{_m}")
