"""Sphinx configuration of the sslts documentation.

Build the site with one command from the repository root (needs ``pip install -e ".[docs]"``)::

    python -m sphinx -W -b html docs docs/_build/html

Environment variables (all optional):

``SSLTS_GALLERY_PATTERN``
    Regular expression of the gallery examples to *execute* (sphinx-gallery's
    ``filename_pattern``); the others are rendered without output.  Default: every
    ``examples/*/plot_*.py``.  ``tests/test_docs.py`` uses it for its fast subset.
``SSLTS_DOCS_OFFLINE``
    ``1`` skips the intersphinx inventories (no network access); by default each one is
    fetched once and used only when it can be reached, so an offline build still works.
``SSLTS_DATA``
    Where :func:`sslts.load_dataset` looks first (the examples need none of it: they
    read only data bundled with sslts).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))  # the local extension (API lists, generated pages)
sys.path.append(str(ROOT))  # benchmarks.make_results_page (an installed sslts comes first)

import class_pages  # noqa: E402
import sslts_docs  # noqa: E402
from sphinx_gallery.sorting import ExplicitOrder  # noqa: E402
from sslts_docs import intersphinx_inventories  # noqa: E402

import sslts  # noqa: E402

project = "sslts"
author = "The sslts developers"
copyright = "The sslts developers"  # noqa: A001  (Sphinx's name for it)
release = sslts.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "sphinx_design",
    "sphinx_copybutton",
    "sslts_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    # The GitHub copy of the results page; the site generates its own (_generated/).
    "results.md",
    # sphinx-gallery's timing summary of all galleries (auto_examples/ has its own).
    "sg_execution_times.rst",
    # Fragments that docs/citing.md includes (not pages of their own).
    "_generated/references.md",
    "_generated/software_citation.md",
    "_generated/model_cards.md",  # docs/pretrained.md includes it
]
# The benchmark result pages jump heading levels ("#" then "###"); harmless.
suppress_warnings = ["myst.header"]
myst_enable_extensions = ["colon_fence"]  # ::: fences for sphinx-design's cards
myst_heading_anchors = 3  # links such as page.md#section work as on GitHub

# -- API reference -------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
# No default members: the API index shows each module's docstring only; the class
# template asks for the members (docs/_templates/autosummary/class.rst).
autodoc_default_options = {}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_member_order = "groupwise"
numpydoc_show_class_members = False  # the class template lists the members itself
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# For the class template: the base classes' hooks, hidden on the estimators' pages.
autosummary_context = {
    "sslts_hooks": class_pages.hook_names(),
    "sslts_hook_owners": class_pages.HOOK_OWNERS,
}

intersphinx_mapping = intersphinx_inventories(
    {
        "python": "https://docs.python.org/3/",
        "numpy": "https://numpy.org/doc/stable/",
        "sklearn": "https://scikit-learn.org/stable/",
        "torch": "https://docs.pytorch.org/docs/stable/",
        "tslearn": "https://tslearn.readthedocs.io/en/stable/",
    },
    cache=DOCS / "_build" / "intersphinx",
    offline=os.environ.get("SSLTS_DOCS_OFFLINE") == "1",
)
intersphinx_timeout = 10

# -- Gallery -------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Sections in reading order (each folder has a README.rst with its title).
    # (sphinx-gallery names them relative to this folder).
    "subsection_order": ExplicitOrder(
        [f"../examples/{name}" for name in sslts_docs.GALLERY_SECTIONS]
    ),
    "filename_pattern": os.environ.get("SSLTS_GALLERY_PATTERN", r"/plot_"),
    "within_subsection_order": "sslts_docs.ExampleOrder",
    "doc_module": ("sslts",),
    "backreferences_dir": "api/generated/backreferences",
    "exclude_implicit_doc": {r"sslts\.load_dataset"},  # used by nearly every example
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_signature": False,
    # A failing example fails the build at once instead of after all the others.
    "abort_on_example_error": True,
}

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sslts {release}"
html_static_path = ["_static"]
html_css_files = ["sslts.css"]
# Copy buttons leave out prompts and the gallery's output blocks' ">>>" and "$ ".
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_exclude = ".linenos, .gp, .go"
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "getting_started": [], "auto_examples/index": []}
