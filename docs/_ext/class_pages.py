"""What each class page of the API reference shows besides autodoc's entries.

- :func:`method_rows`: the *Methods* summary table, the methods a user calls, including
  those inherited from scikit-learn (``fit_transform``, ``get_params``, ``set_params``,
  ``set_output``, ...), which link to scikit-learn's reference through intersphinx;
- :func:`hook_names`: the hooks of the base classes, which matter to method authors and
  are documented once, on :class:`sslts.base.BaseSSLEstimator` and
  :class:`sslts.BaseSSLTransformer`, not on every estimator's page;
- :data:`GUIDES`: the user-guide page of each estimator, shown at the top of its page
  with a link to the gallery examples that use it.

The directives ``sslts-methods``, ``sslts-guide`` (registered by ``sslts_docs``) render
them; ``docs/_templates/autosummary/class.rst`` places them.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

# Estimator class name -> its page of the user guide (a docs/<name>.md). Every estimator
# that sslts.all_estimators() lists must have one (tests/test_docs.py).
GUIDES = {
    "TS2VecTransformer": "ts2vec",
    "IARSTransformer": "iars",
    "TimeDRLTransformer": "timedrl",
    "SelfTimeTransformer": "selftime",
    "InfoNCETransformer": "two_view",
    "BarlowTwinsTransformer": "two_view",
    "VIbCRegTransformer": "two_view",
    "NCVQVAETransformer": "ncvqvae",
    "NCVQVAEGenerator": "ncvqvae",
    "SoftCLTTransformer": "softclt",
    "ChannelIndependent": "pretrained",
    "EmbeddingForecaster": "ts2vec",
    "EmbeddingAnomalyDetector": "ts2vec",
}

# Methods of the base classes that users call; every other public name the base classes
# define is a hook for method authors.
USER_API = frozenset({"fit", "transform", "encode", "save", "load", "get_feature_names_out"})
# The base classes whose pages document the hooks.
HOOK_OWNERS = ("BaseSSLEstimator", "BaseSSLTransformer")
# Methods inherited from another project (scikit-learn, aeon, sktime) that the summary
# lists, linked to that project's reference; the others (torch.nn.Module's, aeon's tag
# machinery) belong to those projects' pages.
FOREIGN_API = ("fit", "fit_transform", "fit_predict", "transform", "inverse_transform",
               "predict", "score", "score_samples", "decision_function", "get_params",
               "set_params", "set_output", "get_feature_names_out", "update")


def _is_public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _is_routing(name: str) -> bool:
    # scikit-learn's metadata-routing setters (set_fit_request, ...), generated per class.
    return name.startswith("set_") and name.endswith("_request")


def hook_names() -> list[str]:
    """The public names that the base classes define for method authors.

    Returns
    -------
    list of str
        Sorted names (methods such as ``build_module`` and class attributes such as
        ``valid_levels``).
    """
    base = importlib.import_module("sslts.base")
    names: set[str] = set()
    for owner in HOOK_OWNERS:
        names |= {n for n in vars(getattr(base, owner))
                  if not n.startswith("_") and not _is_routing(n)}
    return sorted(names - USER_API)


def _owner(cls: type, name: str) -> type:
    return next(klass for klass in cls.__mro__ if name in vars(klass))


def _foreign_path(cls: type, name: str, project: str) -> str | None:
    """The public class of ``project`` that users find ``name`` documented on."""
    for klass in cls.__mro__:
        module = klass.__module__
        if module.split(".")[0] == project and _is_public(module) and hasattr(klass, name):
            return f"{module}.{klass.__qualname__}.{name}"
    return None


def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def _plain_roles(text: str) -> str:
    # Another project's cross-references (scikit-learn's ``:ref:`accuracy <accuracy_score>```)
    # name labels that exist only on its own site; their words are kept.
    def words(match: re.Match) -> str:
        title = re.match(r"(.*?)\s*<.*>$", match.group(1))
        return title.group(1) if title else f"``{match.group(1).lstrip('~')}``"

    return re.sub(r":[\w:]+:`([^`]+)`", words, text)


def method_rows(cls: type, path: str) -> list[tuple[str, str]]:
    """The rows of a class's *Methods* table: a reference and a one-line summary.

    Parameters
    ----------
    cls : type
        The documented class.
    path : str
        Its documented dotted path (e.g. ``"sslts.TS2VecTransformer"``).

    Returns
    -------
    list of tuple of str
        ``(reST reference, summary)`` per method, sorted by name.  A method sslts
        defines links to its entry on the page; one inherited from another project
        links to that project's reference (intersphinx), with the project named.
    """
    base = importlib.import_module("sslts.base")
    estimator = issubclass(cls, base.BaseSSLEstimator) and cls.__name__ not in HOOK_OWNERS
    hidden = set(hook_names()) if estimator else set()
    rows = []
    for name in sorted(dir(cls)):
        if name.startswith("_") or name in hidden or _is_routing(name):
            continue
        static = inspect.getattr_static(cls, name)
        if isinstance(static, property) or not callable(getattr(cls, name)):
            continue
        project = (_owner(cls, name).__module__ or "").split(".")[0]
        summary = _summary(getattr(cls, name))
        if project == "sslts":
            rows.append((f":meth:`~{path}.{name}`", summary))
        elif name in FOREIGN_API:
            target = _foreign_path(cls, name, project)
            reference = f":meth:`{name} <{target}>`" if target else f"``{name}``"
            owner = _PROJECTS.get(project, project)
            rows.append((reference, f"{_plain_roles(summary)} (from {owner})"))
    return rows


_PROJECTS = {"sklearn": "scikit-learn"}


def _import(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


class MethodsSummary(SphinxDirective):
    """``.. sslts-methods:: sslts.TS2VecTransformer``: the *Methods* table of a class."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        rows = method_rows(_import(self.arguments[0]), self.arguments[0])
        if not rows:
            return []
        lines = [".. rubric:: Methods", "", ".. list-table::",
                 "   :class: autosummary longtable", "   :widths: 35 65", ""]
        for reference, summary in rows:
            lines += [f"   * - {reference}", f"     - {summary}"]
        return self._parse(lines)

    def _parse(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.arguments[0]),
                                self.content_offset, container)
        return container.children


def gallery_examples(srcdir: str | Path, path: str, backreferences_dir: str) -> int:
    """How many gallery examples use the object at ``path`` (sphinx-gallery's record)."""
    record = Path(srcdir, backreferences_dir, "backreferences_all.json")
    if not record.is_file():
        return 0
    return len(json.loads(record.read_text(encoding="utf-8")).get(path) or [])


class GuideLinks(MethodsSummary):
    """``.. sslts-guide:: sslts.TS2VecTransformer``: its guide page and gallery examples.

    The guide link appears when :data:`GUIDES` names a page that exists; the examples
    link points to the *Gallery examples* heading that ``minigallery`` writes below.
    """

    option_spec = {"heading": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        path = self.arguments[0]
        parts = []
        guide = GUIDES.get(path.rsplit(".", 1)[1])
        if guide and guide in self.env.found_docs:
            parts.append(f"User guide: :doc:`/{guide}`.")
        conf = self.config.sphinx_gallery_conf
        count = gallery_examples(self.env.srcdir, path, conf["backreferences_dir"])
        if count:
            anchor = nodes.make_id(self.options.get("heading", ""))
            noun = "example uses" if count == 1 else "examples use"
            parts.append(f"`{count} gallery {noun} it <#{anchor}>`__.")
        if not parts:
            return []
        return self._parse([".. seealso::", "", "   " + " ".join(parts)])
