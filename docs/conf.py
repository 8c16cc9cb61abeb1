"""Sphinx configuration of the chaosopt documentation (build: ``sphinx-build -W -b html docs OUT``)."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))  # document the checkout, not an installed copy

import chaosopt  # noqa: E402

project = "chaosopt"
author = "chaosopt contributors"
copyright = "2025, chaosopt contributors"
release = chaosopt.__version__
version = release

extensions = [
  "myst_parser",
  "sphinx.ext.autodoc",
  "sphinx.ext.napoleon",
  "sphinx.ext.mathjax",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Type hints name jax/optax aliases that Sphinx cannot resolve without intersphinx (offline build).
nitpicky = False

html_theme = "alabaster"
html_title = f"chaosopt {release}"
