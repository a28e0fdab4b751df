"""The estimator classes by name, filled by the classes themselves.

:class:`~sslts.base.BaseSSLEstimator` registers every concrete subclass when it is
defined (``__init_subclass__``), so this module imports nothing from sslts: loading a
saved model (:func:`sslts.load`) finds its class here without importing the methods,
and a method written outside sslts becomes loadable as soon as its module is imported.
"""

from __future__ import annotations

import inspect

__all__ = ["all_estimators", "estimator_class", "register"]

_CLASSES: dict[str, type] = {}
# Loadable by name but not listed: estimators built around a method (ChannelIndependent).
_UNLISTED: dict[str, type] = {}


def register(cls: type, *, listed: bool = True) -> type:
    """Add ``cls`` under its name, unless it is private (``_Name``) or abstract.

    A later class of the same name replaces the earlier one (a module reloaded in a
    notebook defines its classes again).

    Parameters
    ----------
    cls : type
        An estimator class.
    listed : bool, default=True
        Whether :func:`all_estimators` lists it; an unlisted class (a wrapper around
        a method, which loads itself) is only found by :func:`estimator_class`.

    Returns
    -------
    type
        ``cls`` itself, so that this can be used as a decorator.
    """
    if not cls.__name__.startswith("_") and not inspect.isabstract(cls):
        (_CLASSES if listed else _UNLISTED)[cls.__name__] = cls
    return cls


# What each type_filter value selects, read from the methods a class has (the
# registry imports nothing from sslts, so it cannot test for the base classes).
_TYPES = {
    "transformer": lambda cls: callable(getattr(cls, "transform", None)),
    "generator": lambda cls: callable(getattr(cls, "sample", None)),
}


def all_estimators(*, include_external: bool = False, type_filter=None) -> list[type]:
    """Every public, concrete sslts estimator class, sorted by name.

    Parameters
    ----------
    include_external : bool, default=False
        Also list the registered subclasses defined outside the sslts package (your
        own methods, once their module is imported).
    type_filter : {"transformer", "generator"}, list of them or None, default=None
        Only the estimators of these kinds, as in scikit-learn's ``all_estimators``:
        "transformer" the ones with ``transform`` (the self-supervised methods),
        "generator" the ones with ``sample``; None lists every estimator.

    Returns
    -------
    list of type

    Examples
    --------
    >>> from sslts import all_estimators
    >>> [cls.__name__ for cls in all_estimators()][:2]
    ['BarlowTwinsTransformer', 'IARSTransformer']
    >>> [cls.__name__ for cls in all_estimators(type_filter="generator")]
    ['NCVQVAEGenerator']
    """
    kinds = [type_filter] if isinstance(type_filter, str) else list(type_filter or [])
    unknown = [k for k in kinds if k not in _TYPES]
    if unknown:
        raise ValueError(f"type_filter must be None or among {sorted(_TYPES)}; got "
                         f"{type_filter!r}.")
    classes = [
        cls for cls in _CLASSES.values()
        if (include_external or cls.__module__.split(".")[0] == "sslts")
        and (not kinds or any(_TYPES[k](cls) for k in kinds))
    ]
    return sorted(classes, key=lambda c: c.__name__)


def estimator_class(name: str) -> type:
    """The registered estimator class called ``name``.

    Parameters
    ----------
    name : str
        Class name, e.g. ``"TS2VecTransformer"``.

    Returns
    -------
    type

    Raises
    ------
    ValueError
        No class of that name is registered (for a method defined outside sslts:
        its module has not been imported).
    """
    try:
        return _CLASSES[name] if name in _CLASSES else _UNLISTED[name]
    except KeyError:
        raise ValueError(
            f"Unknown sslts estimator class {name!r}. If it is a method defined outside "
            "sslts, import the module that defines it first. Known classes: "
            f"{sorted({**_CLASSES, **_UNLISTED})}."
        ) from None
