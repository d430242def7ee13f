"""Sphinx configuration of the sklearn-implicit documentation.

Build with ``docs/build.sh`` (warnings are errors). The gallery executes the
``examples/plot_*.py`` scripts; ``examples/quickstart.py`` is shown, not run.
"""

import os
import sys
import warnings
from pathlib import Path

from sphinx.ext import autosummary as _autosummary

# Document the checkout being built, also where the environment has another
# checkout of the package installed (worktrees sharing one environment).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sklearn_implicit  # noqa: E402

project = "sklearn-implicit"
author = "sklearn-implicit developers"
copyright = "sklearn-implicit developers"
release = sklearn_implicit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "figures"]
templates_path = ["_templates"]

# API reference: one page per public object, from the docstrings.
autosummary_generate = True
# The class template (``_templates/autosummary/class.rst``) leaves out the
# members inherited from scikit-learn (get_params, score, metadata routing):
# scikit-learn documents them, and their docstrings refer to its own pages.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
def _summary_without_split_literals(doc, document):
    """The first sentence of a docstring, as autosummary extracts it, unless
    that cuts an inline literal (``x_i . beta``): then the first paragraph."""
    summary = _extract_summary(doc, document)
    if summary.count("``") % 2 == 0:
        return summary
    paragraph = []
    for line in doc:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    return " ".join(paragraph)


_extract_summary = _autosummary.extract_summary
_autosummary.extract_summary = _summary_without_split_literals


def _literal_shapes(app, what, name, obj, options, lines):
    """Shapes such as ``(n_features_in_,)`` in numpydoc type fields are plain
    reST, where a trailing underscore makes a link target: quote them."""
    for k, line in enumerate(lines):
        lines[k] = line.replace("(n_features_in_,)", "(``n_features_in_``,)")


def setup(app):
    app.connect("autodoc-process-docstring", _literal_shapes)


# The docstrings refer to scikit-learn's glossary and classes, which live in
# scikit-learn's own documentation; without intersphinx (the build must work
# offline) those references are left as plain text.
suppress_warnings = ["ref.term"]

myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # The quickstart is a plain script; the getting-started page shows it.
    "ignore_pattern": r"quickstart\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_implicit",),
    "abort_on_example_error": True,
    # No timing page in the source tree (each example page shows its time).
    "write_computation_times": False,
    "plot_gallery": os.environ.get("SPHINX_GALLERY_PLOT", "True"),
}

html_theme = "pydata_sphinx_theme"
html_title = "sklearn-implicit"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    # Four links and "More" leave room for the search field at 1280 px; the
    # other pages are in the left sidebar.
    "header_links_before_dropdown": 4,
}
# The theme's default left sidebar lists the subpages of the current
# top-level page, and most pages here have none (it would be empty): show
# the whole site instead, with the current page's subpages (the examples,
# the API pages) open. The landing page has its own table of contents.
html_sidebars = {
    "**": ["sidebar-site-nav"],
    "index": [],
}
html_static_path = []

# Deprecation warnings of sphinx-gallery are shown, so that docs/build.sh,
# which fails on any "deprecat" in the build log, catches them (Python hides
# them by default). Its deprecated options are reported through its logger.
warnings.filterwarnings("default", category=DeprecationWarning,
                        module="sphinx_gallery")

# Matplotlib's non-interactive backend warns on plt.show() in the gallery.
warnings.filterwarnings("ignore", message=".*non-interactive.*",
                        category=UserWarning)
