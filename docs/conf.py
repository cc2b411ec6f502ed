"""Sphinx configuration of the skmlp documentation.

Build from the repository root (warnings are errors; no network is used)::

    .venv/bin/pip install -e ".[docs]"
    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

Every ``examples/plot_*.py`` script is executed by sphinx-gallery and rendered
with its output and figures; other scripts there (``digits_study.py``) are
shown but not run.
"""

import importlib.util
import os
import re
import sys
from pathlib import Path

import skmlp

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))  # gallery_order
os.environ.setdefault("MPLBACKEND", "Agg")  # gallery figures, no display needed

# -- project ----------------------------------------------------------------
project = "skmlp"
author = "the skmlp developers"
copyright = "the skmlp developers, BSD-3-Clause"  # noqa: A001
release = skmlp.__version__
version = ".".join(release.split(".")[:2])

# -- extensions --------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",  # performance.md, written by benchmarks/run.py's tables
]
# MathJax shipped with the docs (no CDN): pages render math offline too.
if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
    extensions.append("sphinx-mathjax-offline")

# No intersphinx: the build must not touch the network. References to
# scikit-learn, NumPy or SciPy objects render as plain (unlinked) names.

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
]
templates_path = ["_templates"]
default_role = "literal"
pygments_style = "sphinx"
nitpicky = False

# -- autodoc / autosummary / numpydoc ------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"  # types are in the numpydoc sections
autoclass_content = "class"
numpydoc_show_class_members = False  # the autosummary class template lists them
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # execute every plot_*.py; other scripts (digits_study.py, a command-line
    # study of ~1.5 min whose docstring has no reST title) are left out
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"^(?!plot_).*\.py$",  # matched against the file name
    "within_subsection_order": "gallery_order.ScalingOutLast",
    "doc_module": ("skmlp",),
    "reference_url": {"skmlp": None},  # link to our own API pages, locally
    "backreferences_dir": "generated/backreferences",
    "image_scrapers": ("matplotlib",),
    "plot_gallery": "True",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,  # a failing example fails the build
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
    "download_all_examples": False,
    "write_computation_times": False,  # that page loads scripts from CDNs
    "matplotlib_animations": False,
}

# -- myst (markdown pages) -----------------------------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- HTML ----------------------------------------------------------------------
if importlib.util.find_spec("pydata_sphinx_theme") is not None:
    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_prev_next": True,
        "navbar_align": "left",
        "header_links_before_dropdown": 8,
        "secondary_sidebar_items": ["page-toc"],
        "footer_start": ["copyright"],
        "footer_end": ["sphinx-version"],
    }
    # no left sidebar on single pages; the gallery and the API keep theirs
    html_sidebars = {
        page: []
        for page in (
            "index",
            "getting_started",
            "user_guide",
            "persistence",
            "performance",
            "scaling_out",
            "export_onnx",
        )
    }
else:  # the built-in theme still builds the same site
    html_theme = "alabaster"
html_title = f"skmlp {release}"
# In the in-page table of contents, list a class's methods as
# decision_function() under BackpropClassifier rather than repeating the class
# (BackpropClassifier.decision_function()): the names then fit the right-hand
# sidebar and are wrapped (_static/skmlp.css) only on narrow screens.
toc_object_entries_show_parents = "hide"
html_static_path = ["_static"]
# long API names wrap in the right-hand sidebar instead of being cut
html_css_files = ["skmlp.css"]
html_show_sourcelink = False
html_copy_source = False


# -- docstring fix-ups -------------------------------------------------------
# Methods inherited from scikit-learn (score, get_params, set_*_request, ...)
# cross-reference scikit-learn's own user guide and glossary. Without
# intersphinx those targets do not exist here, so their :ref:/:term: roles are
# turned into plain text; references in skmlp's own docstrings are untouched.
_SKLEARN_XREF = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^>]*>)?`")


def _defined_in_sklearn(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    if not module and isinstance(obj, property):
        module = getattr(obj.fget, "__module__", "") or ""
    return module.split(".")[0] == "sklearn"


def _unlink_sklearn_refs(app, what, name, obj, options, lines):
    if _defined_in_sklearn(obj):
        lines[:] = [_SKLEARN_XREF.sub(lambda m: m.group(1) or "", ln) for ln in lines]


def setup(app):
    # before numpydoc (priority 500) sees the lines
    app.connect("autodoc-process-docstring", _unlink_sklearn_refs, priority=400)
