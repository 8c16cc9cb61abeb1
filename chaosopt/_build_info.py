"""Where an installed chaosopt was built from (provenance of non-editable installs).

In the source tree both values are ``None``: a checkout's commit is read from git at run time
(:func:`chaosopt.train.experiment.code_state`). When a wheel or sdist is built, ``setup.py``
writes a copy of this module holding the commit of the checkout it was built from (and whether
tracked files differed from it) into the build, never into the source tree; a wheel built from
such an sdist keeps the sdist's copy. A build without git (or outside a checkout) keeps ``None``.
"""
COMMIT = None  # the git commit (40 hex digits) the package was built from, if known
DIRTY = None   # True if tracked files differed from COMMIT at build time, None if unknown
