"""The estimator classes by name, filled by the classes themselves.

:class:`~sslts.base.BaseSSLTransformer` registers every concrete subclass when it is
defined (``__init_subclass__``), so this module imports nothing from sslts: loading a
saved model (:func:`sslts.load`) finds its class here without importing the methods,
and a method written outside sslts becomes loadable as soon as its module is imported.
"""

from __future__ import annotations

import inspect

__all__ = ["all_estimators", "estimator_class", "register"]

_CLASSES: dict[str, type] = {}


def register(cls: type) -> type:
    """Add ``cls`` under its name, unless it is private (``_Name``) or abstract.

    A later class of the same name replaces the earlier one (a module reloaded in a
    notebook defines its classes again).

    Parameters
    ----------
    cls : type
        An estimator class.

    Returns
    -------
    type
        ``cls`` itself, so that this can be used as a decorator.
    """
    if not cls.__name__.startswith("_") and not inspect.isabstract(cls):
        _CLASSES[cls.__name__] = cls
    return cls


def all_estimators(*, include_external: bool = False) -> list[type]:
    """Every public, concrete sslts estimator class, sorted by name.

    Parameters
    ----------
    include_external : bool, default=False
        Also list the registered subclasses defined outside the sslts package (your
        own methods, once their module is imported).

    Returns
    -------
    list of type

    Examples
    --------
    >>> from sslts import all_estimators
    >>> [cls.__name__ for cls in all_estimators()][:2]
    ['BarlowTwinsTransformer', 'IARSTransformer']
    """
    classes = [
        cls for cls in _CLASSES.values()
        if include_external or cls.__module__.split(".")[0] == "sslts"
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
        return _CLASSES[name]
    except KeyError:
        raise ValueError(
            f"Unknown sslts estimator class {name!r}. If it is a method defined outside "
            "sslts, import the module that defines it first. Known classes: "
            f"{sorted(_CLASSES)}."
        ) from None
