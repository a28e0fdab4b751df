"""Local Sphinx extension of the sslts documentation.

Before Sphinx lists the sources it generates, into ``docs/api/`` and ``docs/_generated/``:

- the API reference pages from the modules' ``__all__`` (:mod:`api_reference`,
  :mod:`api_pages`), failing the build when a public name would be missing from them;
- the capability table of every registered estimator (:func:`capability_rows`);
- the results tables and plots from ``benchmarks/results/`` (:mod:`results_page`).

It also hides members that sslts classes inherit from scikit-learn or PyTorch (their
docstrings belong to those projects' references; the class pages' *Methods* tables link
there, :mod:`class_pages`), orders the gallery
(:class:`ExampleOrder`) and chooses the intersphinx inventories that can be reached
(:func:`intersphinx_inventories`).
"""

from __future__ import annotations

import inspect
import urllib.request
from pathlib import Path

import api_pages
import api_reference
import results_page
from class_pages import GuideLinks, MethodsSummary

DOCS = Path(__file__).resolve().parents[1]

# The gallery's sections (folders of examples/), in reading order.
GALLERY_SECTIONS = ("start", "methods", "downstream", "scaling", "extending")
# Order inside a section: the tasks a new user meets first, then depth. Files not listed
# (new examples) follow in file-name order, so adding an example needs no change here.
EXAMPLE_ORDER = (
    "plot_grid_search_cache.py",
    "plot_compare_methods.py",
    "plot_variable_length.py",
    "plot_forecasting.py",  # timestamp embeddings for ETTh1 forecasting
    "plot_anomaly.py",  # anomaly detection
    "plot_augmentations.py",
    "plot_save_load.py",
    "plot_long_recordings.py",
    "plot_new_method.py",  # writing a new method on the hooks
)


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: :data:`EXAMPLE_ORDER`.

    Parameters
    ----------
    src_dir : str
        The gallery's source folder (sphinx-gallery passes it; unused).

    Examples
    --------
    >>> key = ExampleOrder("examples")
    >>> sorted(["plot_zebra.py", "plot_save_load.py", "plot_grid_search_cache.py"], key=key)
    ['plot_grid_search_cache.py', 'plot_save_load.py', 'plot_zebra.py']
    """

    def __init__(self, src_dir: str):
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        name = Path(filename).name
        rank = EXAMPLE_ORDER.index(name) if name in EXAMPLE_ORDER else len(EXAMPLE_ORDER)
        return rank, name

    def __repr__(self) -> str:  # sphinx-gallery hashes the config through repr
        return "ExampleOrder"


def intersphinx_inventories(urls: dict[str, str], *, cache: Path, offline: bool) -> dict:
    """Intersphinx mapping of the inventories that can be read, each cached on disk.

    Without network access intersphinx would warn once per project and ``-W`` would
    fail the build; projects whose inventory is neither reachable nor cached are left
    out instead (their names then render as plain text).

    Parameters
    ----------
    urls : dict of str to str
        Project name to documentation root URL.
    cache : pathlib.Path
        Folder for the downloaded ``objects.inv`` files (reused by later builds).
    offline : bool
        Use cached inventories only.

    Returns
    -------
    dict
        ``{name: (url, local_inventory_path)}`` for Sphinx's ``intersphinx_mapping``.
    """
    mapping = {}
    cache.mkdir(parents=True, exist_ok=True)
    for name, url in urls.items():
        local = cache / f"{name}.inv"
        if not offline and not local.exists():
            try:
                with urllib.request.urlopen(url + "objects.inv", timeout=5) as response:
                    local.write_bytes(response.read())
            except OSError:
                continue
        if local.exists():
            mapping[name] = (url, str(local))
    return mapping


def _mark(value: bool) -> str:
    return "✓" if value else "–"


def capability_rows() -> list[dict[str, str]]:
    """One row per registered estimator, read from its tags and parameters.

    - multivariate: scikit-learn's ``three_d_array`` input tag;
    - variable length / missing values: the ``allow_nan`` input tag (NaN right-padding
      marks the end of a shorter series, NaN inside a series a missing value);
    - levels: what ``transform``/``encode`` can return with the default parameters;
    - GPU, mixed precision, ``torch.compile``: the ``device``, ``precision`` and
      ``compile`` parameters;
    - DDP: every subclass of :class:`sslts.base.BaseSSLEstimator` trains data-parallel
      under ``torchrun`` through the shared loop.

    Returns
    -------
    list of dict
        Column name to cell text.
    """
    from sslts import all_estimators
    from sslts.base import BaseSSLEstimator

    paths = api_reference.documented_paths()
    rows = []
    for cls in all_estimators():
        est = cls()  # levels may depend on parameters (e.g. the encoder): the defaults'
        tags = est.__sklearn_tags__()
        params = est.get_params()
        rows.append(
            {
                "estimator": f"{{class}}`~{paths[id(cls)]}`",
                "multivariate": _mark(tags.input_tags.three_d_array),
                "variable length": _mark(tags.input_tags.allow_nan),
                "missing values": _mark(tags.input_tags.allow_nan),
                "levels": ", ".join(getattr(est, "valid_levels", ())) or "(generates series)",
                "GPU": _mark("device" in params),
                "bf16 / tf32": _mark("precision" in params),
                "torch.compile": _mark("compile" in params),
                "DDP (torchrun)": _mark(issubclass(cls, BaseSSLEstimator)),
            }
        )
    return rows


def render_capabilities() -> str:
    """The capability table as MyST markdown.

    Returns
    -------
    str
    """
    rows = capability_rows()
    header = list(rows[0])
    lines = [
        "<!-- Generated by docs/_ext/sslts_docs.py from the estimator registry. -->",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def docstring_references(obj) -> list[str]:
    """The entries of the ``References`` section of ``obj``'s numpydoc docstring.

    Parameters
    ----------
    obj : class or function

    Returns
    -------
    list of str
        One string per ``.. [n]`` entry, its lines joined, without the label.

    Examples
    --------
    >>> class A:
    ...     '''Doc.
    ...
    ...     References
    ...     ----------
    ...     .. [1] A. Author, "A Title",
    ...        Venue 2020.
    ...
    ...     Examples
    ...     --------
    ...     '''
    >>> docstring_references(A)
    ['A. Author, "A Title", Venue 2020.']
    """
    lines = (inspect.getdoc(obj) or "").splitlines()
    try:
        start = next(i for i in range(len(lines) - 1)
                     if lines[i].strip() == "References" and set(lines[i + 1].strip()) == {"-"})
    except StopIteration:
        return []
    entries: list[str] = []
    for i in range(start + 2, len(lines)):
        line = lines[i].strip()
        if i + 1 < len(lines) and line and set(lines[i + 1].strip()) == {"-"}:
            break  # the next section's title
        if line.startswith(".. ["):
            entries.append(line.split("]", 1)[1].strip())
        elif line and entries:
            entries[-1] += " " + line
    return entries


def render_references() -> str:
    """The papers each estimator implements, from its docstring, as MyST markdown.

    Returns
    -------
    str
    """
    from sslts import EmbeddingAnomalyDetector, EmbeddingForecaster, all_estimators

    paths = api_reference.documented_paths()
    lines = ["<!-- Generated by docs/_ext/sslts_docs.py from the estimators' docstrings. -->", ""]
    for cls in [*all_estimators(), EmbeddingForecaster, EmbeddingAnomalyDetector]:
        lines += [f"### {cls.__name__}", "", f"The papers behind {{class}}`~{paths[id(cls)]}`:", ""]
        lines += [f"- {entry}" for entry in docstring_references(cls)] + [""]
    return "\n".join(lines)


def render_software_citation(cff: Path) -> str:
    """A BibTeX entry for sslts, read from ``CITATION.cff``.

    Parameters
    ----------
    cff : pathlib.Path

    Returns
    -------
    str
        A ``bibtex`` code block in MyST markdown.
    """
    import yaml

    meta = yaml.safe_load(cff.read_text(encoding="utf-8"))
    authors = " and ".join(f"{{{a['name']}}}" if "name" in a else
                           f"{a['family-names']}, {a['given-names']}" for a in meta["authors"])
    fields = {"title": meta["title"], "author": authors, "version": meta["version"],
              "license": meta["license"]}
    body = ",\n".join(f"  {key} = {{{value}}}" for key, value in fields.items())
    return f"```bibtex\n@software{{sslts,\n{body},\n}}\n```\n"


def render_model_cards() -> str:
    """The model card of every shipped pretrained model, one heading level down.

    Returns
    -------
    str
        MyST markdown for the pretrained-encoder page (the cards' ``#`` titles become
        ``###`` under its "Model cards" section).
    """
    from sslts.pretrained import list_pretrained, model_card

    lines = ["<!-- Generated by docs/_ext/sslts_docs.py from sslts/pretrained/*.md. -->", ""]
    for name in list_pretrained():
        fenced = False
        for line in model_card(name).splitlines():
            fenced ^= line.startswith("```")
            lines.append(f"##{line}" if line.startswith("#") and not fenced else line)
        lines.append("")
    return "\n".join(lines)


def _write_if_changed(path: Path, text: str) -> None:
    # An unchanged file keeps its timestamp, so incremental builds stay incremental.
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def generate_pages(app, config) -> None:
    """``config-inited`` handler: write the generated pages.

    Early enough that Sphinx finds them when it lists the sources, and that autosummary
    generates the API stubs from the generated index, even in a fresh checkout.
    """
    from sphinx.errors import ExtensionError

    missing = api_reference.missing_dependencies()
    if missing:
        needs = ", ".join(f"{module} needs {dep}" for module, dep in missing.items())
        raise ExtensionError(f"{needs}: install the docs extra, pip install -e '.[docs]'.")
    errors = api_reference.coverage_errors()
    if errors:
        raise ExtensionError("The API reference is incomplete:\n  " + "\n  ".join(errors))
    api = api_pages.render_pages()
    for name, text in api.items():
        _write_if_changed(DOCS / "api" / f"{name}.rst", text)
    for stale in set((DOCS / "api").glob("*.rst")) - {DOCS / "api" / f"{n}.rst" for n in api}:
        stale.unlink()  # a page whose groups are empty now
    generated = DOCS / "_generated"
    _write_if_changed(generated / "capabilities.md", render_capabilities())
    _write_if_changed(generated / "references.md", render_references())
    _write_if_changed(generated / "software_citation.md",
                      render_software_citation(DOCS.parent / "CITATION.cff"))
    _write_if_changed(generated / "model_cards.md", render_model_cards())
    target = generated / "results"
    pages = results_page.build(DOCS.parent / "benchmarks" / "results", target)
    for name, text in pages.items():
        _write_if_changed(target / f"{name}.md", text)
    for stale in set(target.glob("*.md")) - {target / f"{name}.md" for name in pages}:
        stale.unlink()  # its results file was removed


def skip_foreign_members(app, what, name, obj, skip, options):
    """``autodoc-skip-member`` handler: hide members defined outside sslts.

    Estimators inherit ``get_params``, ``set_output`` ... from scikit-learn and encoders
    inherit all of ``torch.nn.Module``; their own references document those.
    """
    if what != "class":
        return None
    target = obj.fget if isinstance(obj, property) else obj
    module = getattr(target, "__module__", None) or ""
    if callable(target) and not module.startswith("sslts"):
        return True
    return None


def setup(app) -> dict:
    """Register the handlers (Sphinx's extension entry point)."""
    app.connect("config-inited", generate_pages)
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.add_directive("sslts-methods", MethodsSummary)
    app.add_directive("sslts-guide", GuideLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
