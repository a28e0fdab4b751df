"""Lookup of the estimator classes (for ``load`` and the common tests)."""

from __future__ import annotations

__all__ = ["all_estimators", "estimator_class"]


def all_estimators() -> list[type]:
    """Every public, concrete sslts estimator class, sorted by name.

    Returns
    -------
    list of type
    """
    from . import methods  # noqa: F401  (registers the subclasses)
    from .base import BaseSSLTransformer

    found, stack = set(), [BaseSSLTransformer]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if not sub.__name__.startswith("_"):
                found.add(sub)
    return sorted(found, key=lambda c: c.__name__)


def estimator_class(name: str) -> type:
    """The estimator class called ``name``.

    Parameters
    ----------
    name : str
        Class name, e.g. ``"TS2VecTransformer"``.

    Returns
    -------
    type
    """
    for cls in all_estimators():
        if cls.__name__ == name:
            return cls
    raise ValueError(f"Unknown sslts estimator class {name!r}.")
