"""Helpers of every task: the resumable results CSV, parameter strings, warm-up.

:class:`ResultStore` is a results CSV that a run appends to row by row and an
interrupted run resumes from.  Each row is identified by its key fields (e.g. dataset,
seed, label fraction, arm); a run asks :meth:`ResultStore.done` before computing a row
and appends it as soon as it is measured, so that killing a long run loses at most the
fit in progress.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

__all__ = ["ResultStore", "changed_params", "parse_params", "plain_params",
           "warm_up_torch"]




def parse_params(text: str) -> dict:
    """``"a=1,b=x,c=(1, 2)"`` -> ``{"a": 1, "b": "x", "c": (1, 2)}``.

    Values are Python literals where they parse as one, plain strings otherwise.
    Commas inside brackets do not split.

    Examples
    --------
    >>> parse_params("n_iters=5,encoder__depth=2,mode=fast,h=[24, 48]")
    {'n_iters': 5, 'encoder__depth': 2, 'mode': 'fast', 'h': [24, 48]}
    """
    params, depth, item = {}, 0, ""
    for char in text + ",":
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            if item.strip():
                key, sep, value = item.partition("=")
                if not sep or not key.strip():
                    raise ValueError(f"expected NAME=VALUE, got {item.strip()!r}")
                try:
                    params[key.strip()] = ast.literal_eval(value.strip())
                except (ValueError, SyntaxError):
                    params[key.strip()] = value.strip()
            item = ""
        else:
            item += char
    return params


def warm_up_torch() -> None:
    """Fit a tiny encoder once: torch's first fit in a process pays its set-up costs."""
    import numpy as np

    from sslts import TS2VecTransformer

    X = np.random.default_rng(0).normal(size=(4, 16, 1))
    TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_iters=1, device="cpu",
                      random_state=0).fit(X)


def plain_params(params: dict) -> dict:
    """Parameters with every value that is not a plain scalar written as its ``str``."""
    return {k: v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
            for k, v in params.items()}


def changed_params(estimator) -> dict:
    """The estimator's parameters that differ from its class defaults, nested ones too.

    A nested estimator parameter (``encoder``) is described by its own changed
    parameters, prefixed ``encoder__``.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> changed_params(Ridge(alpha=2.0))
    {'alpha': 2.0}
    """
    defaults = type(estimator)().get_params(deep=False)
    out = {}
    for key, value in estimator.get_params(deep=False).items():
        if hasattr(value, "get_params"):
            out[f"{key}__class"] = type(value).__name__
            out.update({f"{key}__{k}": v for k, v in changed_params(value).items()})
        elif key not in defaults or repr(defaults[key]) != repr(value):
            out[key] = value
    return plain_params(out)


class ResultStore:
    """Rows of one CSV, keyed by some of its fields; new rows are appended at once.

    Parameters
    ----------
    path : path-like
        The CSV; created with a header on the first row, read if it exists.
    fields : sequence of str
        Columns, in order.  An existing file must have exactly these.
    key : sequence of str
        The fields that identify a row (a subset of ``fields``).

    Attributes
    ----------
    rows : list of dict
        Every row, read back as strings (the file's content) or as added.

    Notes
    -----
    A row whose ``error`` column is not empty records a failure: it does not count
    as done, so the next run tries it again (and appends the new outcome).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> store = ResultStore(path, ["dataset", "seed", "accuracy"], ["dataset", "seed"])
    >>> store.add({"dataset": "GunPoint", "seed": 0, "accuracy": 0.9})
    >>> ResultStore(path, ["dataset", "seed", "accuracy"], ["dataset", "seed"]).done(
    ...     dataset="GunPoint", seed=0)
    True
    """

    def __init__(self, path, fields, key):
        self.path, self.fields, self.key = Path(path), list(fields), list(key)
        missing = set(self.key) - set(self.fields)
        if missing:
            raise ValueError(f"key fields {sorted(missing)} are not columns")
        self.rows: list[dict] = []
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if reader.fieldnames != self.fields:
                    raise ValueError(
                        f"{self.path} has columns {reader.fieldnames}, this version writes "
                        f"{self.fields}; move the old file away or pass another --out.")
                self.rows = list(reader)
        self._keys = {self._key(r) for r in self.rows if not r.get("error")}

    def _key(self, row: dict) -> tuple:
        return tuple(_text(row[k]) for k in self.key)

    def done(self, **key) -> bool:
        """Whether a row with these key values is stored."""
        return self._key(key) in self._keys

    def add(self, row: dict) -> None:
        """Append one row to the file (and to :attr:`rows`)."""
        unknown = set(row) - set(self.fields)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}")
        new = not (self.path.is_file() and self.path.stat().st_size)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, self.fields, lineterminator="\n")
            if new:
                writer.writeheader()
            writer.writerow({k: _text(row.get(k)) for k in self.fields})
        self.rows.append({k: _text(row.get(k)) for k in self.fields})
        if not row.get("error"):
            self._keys.add(self._key(row))


def _text(value) -> str:
    """The CSV form of a value, so that keys compare equal before and after a reload."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if value == value else "nan"
    return str(value)
