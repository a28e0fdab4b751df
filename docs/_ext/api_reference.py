"""The API reference, generated from the ``__all__`` lists of sslts's public modules.

The reference is grouped like scikit-learn's.  :data:`SECTIONS` names, for each group,
the modules whose ``__all__`` it documents; a module's public sub-modules belong to its
group too.  So a new public *name* needs no change here (add it to its module's
``__all__``); a new public *top-level module* needs one line in :data:`SECTIONS`, and
until it has one the build fails with a message that says so (:func:`coverage_errors`).

Every object is documented once, under the path users import it from: ``sslts.<name>``
when the top-level package exports it, else the shortest public module path.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass

PACKAGE = "sslts"


@dataclass(frozen=True)
class Section:
    """One group of the API reference.

    Parameters
    ----------
    title : str
        Heading of the group.
    modules : tuple of str
        Modules whose ``__all__`` (and whose public sub-modules' ``__all__``) the group
        documents.
    intro : str
        One or two sentences shown under the heading.
    extra : tuple of str, default=()
        Dotted paths of names that only the top-level package exports, defined in a
        private module (e.g. ``"sslts.TrainContext"``).
    """

    title: str
    modules: tuple[str, ...]
    intro: str
    extra: tuple[str, ...] = ()


SECTIONS = (
    Section(
        "Estimators",
        ("sslts.methods",),
        "Self-supervised methods as scikit-learn transformers: ``fit`` trains the encoder "
        "without labels, ``transform`` embeds. See the :doc:`/capabilities` table.",
    ),
    Section(
        "Forecasting and anomaly detection",
        ("sslts.forecaster", "sslts.anomaly_detector"),
        "Estimators that put any fitted encoder to work on a task, with the papers' protocols.",
    ),
    Section(
        "Base class and persistence",
        ("sslts.base",),
        "What every estimator inherits (parameters, the training loop, ``save``/``load``) "
        "and the context its hooks and callbacks receive.",
        extra=("sslts.TrainContext", "sslts.all_estimators"),
    ),
    Section(
        "Callbacks",
        ("sslts.callbacks",),
        "Code that runs at named moments of ``fit``: logging, early stopping, learning-rate "
        "schedules, gradient accumulation, checkpoints.",
    ),
    Section(
        "Encoders",
        ("sslts.encoders",),
        "The networks (``torch.nn.Module``) the methods train; usable on their own.",
    ),
    Section(
        "Losses",
        ("sslts.losses",),
        "The self-supervised objectives, as pure functions of tensors.",
    ),
    Section(
        "Augmentations and views",
        ("sslts.augment",),
        "Batched time-series augmentations on any device, with an explicit generator, and "
        "the named view pipelines the two-view methods build from them.",
    ),
    Section(
        "Forecasting and anomaly scores",
        ("sslts.forecast_head", "sslts.anomaly_scores"),
        "The building blocks of the forecaster and the anomaly detector: the ridge head on "
        "causal embeddings and TS2Vec's masked-representation anomaly scores.",
    ),
    Section(
        "Encoding modes",
        ("sslts.encoding",),
        "Causal, sliding-window and multi-scale encoding of long series with any fitted estimator.",
    ),
    Section(
        "Learning-rate schedules",
        ("sslts.schedules",),
        "The one learning-rate schedule of a fit: its configuration, the cosine decay and "
        "the epoch-wise factors of the official TimeDRL code.",
    ),
    Section(
        "Evaluation",
        ("sslts.evaluation",),
        "The papers' evaluation protocols (classification, forecasting, anomaly "
        "detection) and distance baselines.",
    ),
    Section(
        "Datasets and data layouts",
        ("sslts.datasets", "sslts.utils.layouts"),
        "UCR/UEA loading with the archives' official splits, and converters from other "
        "libraries' layouts.",
    ),
    Section(
        "Plotting",
        ("sslts.plotting",),
        "Matplotlib figures of embeddings, forecasts and training curves.",
    ),
    Section(
        "Distributed training",
        ("sslts.distributed",),
        "Data-parallel training under ``torchrun``.",
    ),
    Section(
        "aeon and sktime",
        ("sslts.aeon", "sslts.sktime"),
        "Every estimator as an aeon collection transformer and as an sktime transformer, "
        "and the forecaster as an sktime forecaster (optional extras ``[aeon]`` and "
        "``[sktime]``).",
    ),
    Section(
        "Utilities and exceptions",
        ("sslts.utils", "sslts.exceptions"),
        "Input validation, padding helpers and the exceptions sslts raises.",
    ),
)


# Names that a module's ``__all__`` still exports for sslts's own use (decorators and
# text that build the estimators' docstrings): not part of the API, so neither documented
# nor required by the coverage check. Paths that no longer resolve are ignored.
INTERNAL = frozenset(
    {
        "sslts.methods.two_view_base.SHARED_PARAMETERS_DOC",
        "sslts.methods.two_view_base.store_init_arguments",
        "sslts.methods.two_view_base.with_shared_docs",
    }
)


@dataclass
class Entry:
    """One documented object: its documented path and ``"class"``/``"function"``/``"data"``."""

    path: str
    kind: str


def _is_public(module_name: str) -> bool:
    return not any(part.startswith("_") for part in module_name.split("."))


def _module_names(package: str) -> list[str]:
    root = importlib.import_module(package)
    found = [
        info.name
        for info in pkgutil.walk_packages(root.__path__, package + ".")
        if _is_public(info.name)
    ]
    return [package] + sorted(found)


def missing_dependencies(package: str = PACKAGE) -> dict[str, str]:
    """Public modules that cannot be imported because an optional dependency is missing.

    Parameters
    ----------
    package : str, default="sslts"
        Import name of the package.

    Returns
    -------
    dict of str to str
        Module name to the name of the missing dependency (e.g. ``{"sslts.aeon":
        "aeon"}``); empty when everything imports.
    """
    missing = {}
    for name in _module_names(package):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] == package:
                raise  # a broken sslts import, not an optional dependency
            missing[name] = exc.name
    return missing


def public_modules(package: str = PACKAGE) -> list[str]:
    """Every importable public module of ``package`` (no component starting with ``_``).

    Modules whose optional dependency is missing (:func:`missing_dependencies`) are
    left out.

    Parameters
    ----------
    package : str, default="sslts"
        Import name of the package.

    Returns
    -------
    list of str
        Dotted module names, sorted, ``package`` first.
    """
    missing = missing_dependencies(package)
    return [name for name in _module_names(package) if name not in missing]


def _internal_ids() -> set[int]:
    found = set()
    for path in INTERNAL:
        try:
            found.add(id(_resolve(path)))
        except (ImportError, AttributeError):
            continue  # made private since: nothing to hide
    return found


def _exports(module_name: str) -> list[str]:
    """Names in ``__all__`` that are objects to document (not dunders, modules or INTERNAL)."""
    module = importlib.import_module(module_name)
    internal = _internal_ids()
    return [
        name
        for name in getattr(module, "__all__", ())
        if not name.startswith("__")
        and not inspect.ismodule(getattr(module, name))
        and id(getattr(module, name)) not in internal
    ]


_KIND_ORDER = ("class", "function", "data")


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def section_of(module_name: str) -> Section | None:
    """The section listing ``module_name`` or its closest parent package, if any."""
    best, depth = None, -1
    for section in SECTIONS:
        for owner in section.modules:
            inside = module_name == owner or module_name.startswith(owner + ".")
            if inside and owner.count(".") > depth:
                best, depth = section, owner.count(".")
    return best


def collect(package: str = PACKAGE) -> dict[str, list[Entry]]:
    """The documented objects of every section, by section title, sorted by path.

    An object's section is that of the module defining it when a section covers that
    module, else that of the shortest module path exporting it.

    Parameters
    ----------
    package : str, default="sslts"
        Import name of the package.

    Returns
    -------
    dict of str to list of Entry
    """
    top = importlib.import_module(package)
    top_level = {id(getattr(top, name)): name for name in _exports(package)}
    entries: dict[int, tuple[Section, Entry]] = {}
    for module_name in public_modules(package):
        section = section_of(module_name)
        if section is None:
            continue
        module = importlib.import_module(module_name)
        for name in _exports(module_name):
            obj = getattr(module, name)
            candidate = f"{module_name}.{name}"
            if id(obj) in top_level:
                candidate = f"{package}.{top_level[id(obj)]}"
            if id(obj) not in entries:
                home = section_of(getattr(obj, "__module__", None) or "") or section
                entries[id(obj)] = (home, Entry(candidate, _kind(obj)))
            _, entry = entries[id(obj)]
            if len(candidate) < len(entry.path):
                entry.path = candidate
    for section in SECTIONS:
        for path in section.extra:
            obj = _resolve(path)
            entries.setdefault(id(obj), (section, Entry(path, _kind(obj))))
    grouped: dict[str, list[Entry]] = {section.title: [] for section in SECTIONS}
    for section, entry in entries.values():
        grouped[section.title].append(entry)
    for items in grouped.values():
        items.sort(key=lambda e: (_KIND_ORDER.index(e.kind), e.path.lower()))
    return grouped


def documented_paths(package: str = PACKAGE) -> dict[int, str]:
    """Where each documented object's page is: ``id(object)`` to its dotted path.

    Parameters
    ----------
    package : str, default="sslts"
        Import name of the package.

    Returns
    -------
    dict of int to str
        E.g. ``{id(sslts.TS2VecTransformer): "sslts.TS2VecTransformer", ...}``.
    """
    return {
        id(_resolve(entry.path)): entry.path
        for entries in collect(package).values()
        for entry in entries
    }


def coverage_errors(package: str = PACKAGE) -> list[str]:
    """What keeps the reference from documenting every name in every ``__all__``.

    Parameters
    ----------
    package : str, default="sslts"
        Import name of the package.

    Returns
    -------
    list of str
        One message per public module that no section covers and per exported name
        that would be missing from the reference; empty when the reference is complete.
    """
    errors = []
    documented = {id(_resolve(e.path)) for items in collect(package).values() for e in items}
    for module_name in public_modules(package):
        names = _exports(module_name)
        if module_name != package and names and section_of(module_name) is None:
            errors.append(
                f"public module {module_name} (exports {', '.join(names[:3])}...) is in no "
                "API section: add it to SECTIONS in docs/_ext/api_reference.py"
            )
            continue
        module = importlib.import_module(module_name)
        for name in names:
            if id(getattr(module, name)) not in documented:
                errors.append(
                    f"{module_name}.{name} is exported but not documented: export it from a "
                    "module that SECTIONS lists in docs/_ext/api_reference.py"
                )
    return errors


def _resolve(path: str):
    module_name, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), name)


def render_index(package: str = PACKAGE) -> str:
    """The reStructuredText of the API reference page (``api/index.rst``).

    Parameters
    ----------
    package : str, default="sslts"
        Import name of the package.

    Returns
    -------
    str
    """
    grouped = collect(package)
    modules = set(public_modules(package))
    lines = [
        ".. Generated by docs/_ext/api_reference.py from the modules' __all__; do not edit.",
        "",
        ".. _api:",
        "",
        "API reference",
        "=============",
        "",
        "Every public name of sslts, generated from the docstrings. Import the estimators, "
        "``load``, ``load_dataset`` and ``list_datasets`` from ``sslts`` itself, the rest "
        "from the module shown.",
        "",
    ]
    for section in SECTIONS:
        items = grouped[section.title]
        if not items:
            continue
        lines += [section.title, "-" * len(section.title), "", section.intro, ""]
        for module_name in section.modules:
            if module_name in modules:
                # The module's docstring (its contract) and a target for :mod: references.
                lines += [f".. automodule:: {module_name}", ""]
        # Entries relative to the package: autosummary's page generator does not
        # understand "currentmodule:: None", and the automodules above moved it.
        lines += [f".. currentmodule:: {package}", ""]
        lines += [".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
        lines += [f"   {entry.path.removeprefix(package + '.')}" for entry in items]
        lines.append("")
    return "\n".join(lines)
