"""Sphinx configuration of the chaosopt documentation (build: ``sphinx-build -W -b html docs OUT``).

The build needs no network: MathJax comes from the ``sphinx-mathjax-offline`` wheel (a docs
extra) and is copied into ``_static/mathjax``; the tutorial notebooks (MyST markdown, myst-nb)
are executed on the CPU during the build; cross-references to jax/optax/flax/numpy are not
resolved (no intersphinx: their inventories would have to be fetched).
"""
from __future__ import annotations

import importlib.util
import os
import sys

sys.path.insert(0, os.path.abspath(".."))  # document the checkout, not an installed copy
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # the notebooks' kernels inherit it

import chaosopt  # noqa: E402

project = "chaosopt"
author = "chaosopt contributors"
copyright = "2025, chaosopt contributors"
release = chaosopt.__version__
version = release

extensions = [
  "myst_nb",  # MyST markdown pages and executed notebooks (includes myst_parser)
  "sphinx.ext.autodoc",
  "sphinx.ext.napoleon",
  "sphinx.ext.mathjax",
  "sphinx.ext.viewcode",
]
exclude_patterns = ["_build", "examples", "screenshots", "Thumbs.db", ".DS_Store", "jupyter_execute"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# ---- math: a MathJax 3 that ships with the build (no CDN)
_mathjax = importlib.util.find_spec("sphinx-mathjax-offline")
if _mathjax is None or _mathjax.origin is None:
  raise RuntimeError("the docs need MathJax from the 'sphinx-mathjax-offline' package: "
                     "pip install -e '.[docs]'")
# its static/ holds one folder, mathjax/, copied to _static/mathjax/
html_static_path = [os.path.join(os.path.dirname(_mathjax.origin), "static")]
mathjax_path = "mathjax/tex-chtml.js"

# ---- notebooks: executed at every build, on the CPU; an error fails the build
nb_execution_mode = "force"
nb_execution_timeout = 180
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# ---- API pages
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
# Short names for the long unions the annotations expand to (annotations are strings: every
# module has `from __future__ import annotations`).
autodoc_type_aliases = {
  "ArrayLike": "ArrayLike",
  "optax.ScalarOrSchedule": "optax.ScalarOrSchedule",
  "ScalarOrSchedule": "ScalarOrSchedule",
  "_base.ScalarOrSchedule": "ScalarOrSchedule",
  "chex.PRNGKey": "chex.PRNGKey",
}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Type hints name jax/optax aliases that Sphinx cannot resolve without intersphinx (offline build).
nitpicky = False

html_theme = "sphinx_book_theme"
html_title = f"chaosopt {release}"
html_theme_options = {
  "show_toc_level": 2,
  "navigation_with_keys": False,
  "use_download_button": False,
  "use_fullscreen_button": False,
  "use_repository_button": False,
}



def _short_type_aliases(app, domain, objtype, contentnode):
  """Sphinx records an alias inside a union as ``TypeAliasForwardRef('ArrayLike')``: keep the
  name (runs before autodoc turns the recorded hints into the parameter list)."""
  import re
  pattern = re.compile(r"TypeAliasForwardRef\('([^']*)'\)")
  for hints in app.env.current_document.autodoc_annotations.values():
    for k, v in hints.items():
      if "TypeAliasForwardRef(" in v:
        hints[k] = pattern.sub(r"\1", v)


def setup(app):
  app.connect("object-description-transform", _short_type_aliases, priority=100)
