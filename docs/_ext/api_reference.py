"""The API reference, generated from the ``__all__`` lists of sslts's public modules.

The reference is grouped like scikit-learn's: :data:`PAGES` lists its pages (one per
sidebar entry), each made of :class:`Group` s.  Where an object goes:

1. a path in a group's ``extra`` goes to that group (names that only the top-level
   package exports, e.g. ``sslts.load``);
2. a registered estimator goes to the first group that claims its type (the
   ``type_filter`` values of :func:`sslts.all_estimators`: ``"transformer"``,
   ``"generator"``), wherever it is defined: a new self-supervised method lands among the
   estimators, a new generator beside :class:`sslts.NCVQVAEGenerator`, with no change
   here;
3. anything else goes to the group listing the module users import it from, else the
   module that defines it, else another module exporting it (a module's public
   sub-modules belong to its group unless a group lists them itself).

So a new public *name* needs no change here; a new public *top-level module* whose names
are not estimators needs one entry in a group's ``modules``, and until it has one the
build fails with a message that says so (:func:`coverage_errors`).  Every object is
documented once, under the path users import it from: ``sslts.<name>`` when the
top-level package exports it, else the shortest public module path.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass

PACKAGE = "sslts"


@dataclass(frozen=True)
class Group:
    """One table of the API reference, under its own heading.

    Parameters
    ----------
    title : str
        Heading of the group.
    intro : str
        One or two sentences shown under the heading.
    modules : tuple of str, default=()
        Modules whose ``__all__`` (and whose public sub-modules' ``__all__``) the group
        documents; their docstrings are shown on the page.
    types : tuple of str, default=()
        Estimator types (``type_filter`` values of :func:`sslts.all_estimators`) whose
        registered estimators the group documents, wherever they are defined.
    extra : tuple of str, default=()
        Dotted paths of names that only the top-level package exports, defined in a
        private module (e.g. ``"sslts.TrainContext"``).
    by_module : bool, default=False
        Split the table by the sub-module that defines each object, each part under the
        first line of that sub-module's docstring.
    """

    title: str
    intro: str
    modules: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    by_module: bool = False


@dataclass(frozen=True)
class Page:
    """One page of the API reference (one entry of its sidebar)."""

    slug: str
    title: str
    intro: str
    groups: tuple[Group, ...]


PAGES = (
    Page("estimators", "Estimators",
         "The self-supervised methods as scikit-learn transformers: ``fit`` trains the "
         "encoder without labels, ``transform`` embeds. See the :doc:`/capabilities` table "
         "and, to choose one, :doc:`/choosing`.", (
             Group("Self-supervised methods",
                   "Every registered estimator with a ``transform``.",
                   modules=("sslts.methods",), types=("transformer",)),
             Group("Wrappers and pretrained encoders",
                   "One univariate encoder for series of any channel count, and encoders "
                   "that ship already fitted.",
                   modules=("sslts.channel_independent", "sslts.pretrained")),
         )),
    Page("downstream", "Downstream tasks",
         "Putting embeddings to work: forecasting, anomaly detection, generation, and "
         "encoding long series.", (
             Group("Forecasting and anomaly detection",
                   "Estimators that put any fitted encoder to work on a task, with the "
                   "papers' protocols.",
                   modules=("sslts.forecaster", "sslts.anomaly_detector")),
             Group("Generation",
                   "Estimators that generate new series; score them with "
                   ":func:`sslts.evaluation.evaluate_generation`.",
                   modules=("sslts.generator",), types=("generator",)),
             Group("Encoding modes",
                   "Causal, sliding-window and multi-scale encoding of long series with "
                   "any fitted estimator.",
                   modules=("sslts.encoding",)),
         )),
    Page("training", "Callbacks and schedules",
         "Code that runs at named moments of ``fit``, what it receives, and the "
         "learning-rate schedules.", (
             Group("Callbacks",
                   "Logging, early stopping, learning-rate schedules, gradient accumulation "
                   "and clipping, checkpoints; :class:`~sslts.TrainContext` is what the "
                   "callbacks and the method hooks receive.",
                   modules=("sslts.callbacks",), extra=("sslts.TrainContext",)),
             Group("Learning-rate schedules",
                   "The one learning-rate schedule of a fit: its configuration, the cosine "
                   "decay and the epoch-wise factors of the official TimeDRL code.",
                   modules=("sslts.schedules",)),
         )),
    Page("augment", "Augmentations",
         "Batched time-series augmentations on any device, with an explicit generator, and "
         "the named view pipelines the two-view methods build from them.", (
             Group("Augmentations and views", "", modules=("sslts.augment",),
                   by_module=True),
         )),
    Page("evaluation", "Evaluation",
         "The papers' evaluation protocols (classification, forecasting, anomaly detection, "
         "generation) and distance baselines.", (
             Group("Protocols and baselines", "", modules=("sslts.evaluation",),
                   by_module=True),
         )),
    Page("datasets", "Datasets",
         "The UCR/UEA archives with their official splits, the example forecasting and "
         "anomaly data, and converters from other libraries' layouts. The benchmarks' ETT "
         "and UCR-anomaly loaders are with the protocols: "
         ":func:`sslts.evaluation.load_ett`, :func:`sslts.evaluation.load_ucr_anomaly`.", (
             Group("Loading data", "", modules=("sslts.datasets",)),
             Group("Data layouts", "", modules=("sslts.utils.layouts",)),
         )),
    Page("utilities", "Utilities",
         "Persistence, plotting, distributed training, input validation, devices and the "
         "exceptions sslts raises.", (
             Group("Persistence and the estimator registry",
                   "``est.save(path)`` writes a fitted estimator; these read it back and "
                   "list the estimator classes.",
                   extra=("sslts.load", "sslts.all_estimators")),
             Group("Plotting", "Matplotlib figures of embeddings, forecasts and training "
                   "curves.", modules=("sslts.plotting",)),
             Group("Distributed training", "Data-parallel training under ``torchrun``.",
                   modules=("sslts.distributed",)),
             Group("Validation, devices and series", "", modules=("sslts.utils",),
                   by_module=True),
             Group("Exceptions and warnings", "", modules=("sslts.exceptions",)),
         )),
    Page("building_blocks", "Building blocks for method authors",
         "What a new method is written with: the base classes and their hooks (see "
         ":doc:`/new_method`), the encoders and the losses.", (
             Group("Base classes", "Parameters, the training loop and persistence "
                   "(:class:`~sslts.base.BaseSSLEstimator`), embeddings "
                   "(:class:`~sslts.BaseSSLTransformer`), and the shared pieces of method "
                   "families.",
                   modules=("sslts.base", "sslts.methods.two_view_base",
                            "sslts.methods.vq_tokens")),
             Group("Encoders", "The networks (``torch.nn.Module``) the methods train; "
                   "usable on their own.", modules=("sslts.encoders",), by_module=True),
             Group("Losses", "The self-supervised objectives, as pure functions of tensors.",
                   modules=("sslts.losses",), by_module=True),
             Group("Forecasting and anomaly-score building blocks",
                   "What the forecaster and the anomaly detector are made of.",
                   modules=("sslts.forecast_head", "sslts.forecast_selection",
                            "sslts.anomaly_scores")),
         )),
    Page("adapters", "aeon and sktime",
         "Every estimator as an aeon collection transformer and as an sktime transformer, "
         "and the forecaster as an sktime forecaster (optional extras ``[aeon]`` and "
         "``[sktime]``).", (
             Group("aeon", "", modules=("sslts.aeon",)),
             Group("sktime", "", modules=("sslts.sktime",)),
         )),
)


def groups() -> list[Group]:
    """Every group of every page, in page order."""
    return [group for page in PAGES for group in page.groups]


@dataclass
class Entry:
    """One documented object: its documented path and ``"class"``/``"function"``/``"data"``.

    ``module`` is the public sslts module that defines it, else the one it is documented
    under (for :attr:`Group.by_module`).
    """

    path: str
    kind: str
    module: str = ""


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


def _exports(module_name: str) -> list[str]:
    """Names in ``__all__`` that are objects to document (not dunders or modules)."""
    module = importlib.import_module(module_name)
    return [
        name
        for name in getattr(module, "__all__", ())
        if not name.startswith("__") and not inspect.ismodule(getattr(module, name))
    ]


KIND_ORDER = ("class", "function", "data")


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def group_of(module_name: str) -> Group | None:
    """The group listing ``module_name`` or its closest parent package, if any."""
    best, depth = None, -1
    for group in groups():
        for owner in group.modules:
            inside = module_name == owner or module_name.startswith(owner + ".")
            if inside and owner.count(".") > depth:
                best, depth = group, owner.count(".")
    return best


def _typed_estimators(package: str) -> dict[int, Group]:
    """``id(class)`` to its group, for the registered estimators of a claimed type."""
    all_estimators = importlib.import_module(package).all_estimators
    placed: dict[int, Group] = {}
    for group in groups():
        for kind in group.types:
            for cls in all_estimators(type_filter=kind):
                placed.setdefault(id(cls), group)
    return placed


def _exported_objects(package: str) -> tuple[dict[int, object], dict[int, str], dict[int, list]]:
    """Every exported object, its documented path and the modules exporting it."""
    top = importlib.import_module(package)
    top_level = {id(getattr(top, name)): name for name in _exports(package)}
    objects: dict[int, object] = {}
    paths: dict[int, str] = {}
    exporters: dict[int, list[str]] = {}
    for module_name in public_modules(package):
        module = importlib.import_module(module_name)
        for name in _exports(module_name):
            obj = getattr(module, name)
            key = id(obj)
            objects[key] = obj
            exporters.setdefault(key, []).append(module_name)
            candidate = (f"{package}.{top_level[key]}" if key in top_level
                         else f"{module_name}.{name}")
            if key not in paths or len(candidate) < len(paths[key]):
                paths[key] = candidate
    return objects, paths, exporters


def _home(obj, path: str, exporters: list[str], package: str) -> Group | None:
    """The group of an object that no ``extra`` and no estimator type places."""
    documented_in = path.rsplit(".", 1)[0]
    candidates = [documented_in] if documented_in != package else []
    candidates.append(getattr(obj, "__module__", None) or "")
    candidates += sorted(exporters, key=len)
    for module_name in candidates:
        group = group_of(module_name)
        if group is not None:
            return group
    return None


def _defined_in(obj, path: str) -> str:
    """The public sslts module that defines ``obj`` (its documented module if none)."""
    package, name = path.split(".", 1)[0], path.rsplit(".", 1)[1]
    if _kind(obj) == "data":  # no __module__: the deepest module that binds the name
        binding = [m for m in public_modules(package)
                   if vars(importlib.import_module(m)).get(name) is obj]
        return max(binding, key=lambda m: m.count("."), default=path.rsplit(".", 1)[0])
    module = getattr(obj, "__module__", None) or ""
    if module.split(".")[0] == package and _is_public(module):
        return module
    return path.rsplit(".", 1)[0]


def place(package: str = PACKAGE) -> tuple[dict[str, list[Entry]], list[str]]:
    """Every exported object's group, and the paths of those that have none.

    Parameters
    ----------
    package : str, default="sslts"
        Import name of the package.

    Returns
    -------
    grouped : dict of str to list of Entry
        Group title to its entries, sorted by kind then path.
    unplaced : list of str
        Documented paths of the exported objects that no group takes.
    """
    objects, paths, exporters = _exported_objects(package)
    placed: dict[int, Group] = {}
    for group in groups():
        for path in group.extra:
            obj = _resolve(path)
            objects[id(obj)] = obj
            paths.setdefault(id(obj), path)
            placed.setdefault(id(obj), group)
    for key, group in _typed_estimators(package).items():
        if key in objects:
            placed.setdefault(key, group)
    grouped: dict[str, list[Entry]] = {group.title: [] for group in groups()}
    unplaced = []
    for key, obj in objects.items():
        group = placed.get(key) or _home(obj, paths[key], exporters.get(key, []), package)
        if group is None:
            unplaced.append(paths[key])
            continue
        grouped[group.title].append(Entry(paths[key], _kind(obj), _defined_in(obj, paths[key])))
    for items in grouped.values():
        items.sort(key=lambda e: (KIND_ORDER.index(e.kind), e.path.lower()))
    return grouped, sorted(unplaced)


def collect(package: str = PACKAGE) -> dict[str, list[Entry]]:
    """The documented objects of every group, by group title, sorted by kind and path.

    Parameters
    ----------
    package : str, default="sslts"
        Import name of the package.

    Returns
    -------
    dict of str to list of Entry
    """
    return place(package)[0]


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
        One message per exported name that no group takes, naming the public modules
        that export it; empty when the reference is complete.
    """
    _, paths, exporters = _exported_objects(package)
    by_path = {path: exporters.get(key, []) for key, path in paths.items()}
    return [
        f"{path} (exported by {', '.join(by_path.get(path, [])) or package}) is in no API "
        "group: add its module to a Group's modules in PAGES in docs/_ext/api_reference.py"
        for path in place(package)[1]
    ]


def _resolve(path: str):
    module_name, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), name)
