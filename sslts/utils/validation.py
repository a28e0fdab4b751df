"""Input validation for time-series collections.

sslts follows the tslearn convention: a dataset is a 3-D array of shape
``(n_series, n_timestamps, n_channels)``.  A 2-D array ``(n_series, n_timestamps)``
is read as univariate.  Series of different lengths are right-padded with ``NaN``
(as :func:`tslearn.utils.to_time_series_dataset` does) or given as a list of arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array

__all__ = [
    "check_finite_embeddings",
    "check_series_pair",
    "check_time_series",
    "pad_series_list",
    "series_lengths",
    "valid_timestamp_mask",
]


def pad_series_list(series: Sequence) -> np.ndarray:
    """Stack series of possibly different lengths into a NaN-padded 3-D array.

    Parameters
    ----------
    series : sequence of array-like
        Each element is one series of shape ``(n_timestamps_i,)`` or
        ``(n_timestamps_i, n_channels)``.  All series must have the same number of
        channels.

    Returns
    -------
    X : ndarray of shape (n_series, max_i n_timestamps_i, n_channels), dtype float64
        Series right-padded with ``NaN``.

    Examples
    --------
    >>> pad_series_list([[1, 2, 3], [4, 5]])[..., 0]
    array([[ 1.,  2.,  3.],
           [ 4.,  5., nan]])
    """
    arrays = []
    for i, s in enumerate(series):
        a = _as_numeric_array(s, f"X[{i}]")
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ValueError(
                f"X[{i}] has {a.ndim} dimensions; each series in a list must be 1-D "
                "(n_timestamps,) or 2-D (n_timestamps, n_channels)."
            )
        if arrays and a.shape[1] != arrays[0].shape[1]:
            raise ValueError(
                f"Inconsistent channel counts in the list of series: X[0] has "
                f"{arrays[0].shape[1]} channels but X[{i}] has {a.shape[1]}."
            )
        arrays.append(a)
    if not arrays:
        raise ValueError("Found an empty list of series; at least one series is required.")
    length = max(a.shape[0] for a in arrays)
    out = np.full((len(arrays), length, arrays[0].shape[1]), np.nan)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


def _as_numeric_array(obj, name: str) -> np.ndarray:
    try:
        a = np.asarray(obj)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if a.dtype.kind in "OUSV":
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must contain numbers; got dtype {a.dtype} whose values cannot be "
                f"converted to float ({exc})."
            ) from exc
    if a.dtype.kind == "c":
        raise ValueError(f"Complex data not supported; {name} has dtype {a.dtype}.")
    return a.astype(np.float64, copy=False)


def _numeric_input(X, name: str):
    """Convert lists and object arrays to float; reject string arrays with a TypeError."""
    if sp.issparse(X):
        return X  # check_array rejects it with its own message
    dtype = getattr(X, "dtype", None)
    kind = getattr(dtype, "kind", "")
    if dtype is None or kind == "O":
        return _as_numeric_array(X, "X")
    if kind in ("U", "S", "V"):
        raise TypeError(f"{name} needs numeric series but X has dtype {dtype}; convert to float.")
    return X


def _is_ragged_list(X) -> bool:
    if not isinstance(X, (list, tuple)) or len(X) == 0:
        return False
    shapes = set()
    for s in X:
        if np.isscalar(s):
            return False
        shapes.add(np.shape(s))
    return len(shapes) > 1


def check_time_series(
    X,
    *,
    n_channels: int | None = None,
    estimator=None,
    dtype=np.float32,
    min_timestamps: int = 1,
) -> np.ndarray:
    """Validate a time-series dataset and return a fresh 3-D float array.

    Parameters
    ----------
    X : array-like of shape (n_series, n_timestamps) or (n_series, n_timestamps, n_channels), \
            or list of array-like
        The series.  ``NaN`` marks missing values or right-padding.  A list of arrays
        of different lengths is NaN-padded to the longest.
    n_channels : int, default=None
        If given, the number of channels ``X`` must have (the one seen in ``fit``).
    estimator : estimator instance, default=None
        Used only to name the estimator in error messages.
    dtype : numpy dtype, default=np.float32
        Output dtype.
    min_timestamps : int, default=1
        Fewest time steps the (padded) array must have, e.g. an estimator's patch
        length.  The error names this minimum.

    Returns
    -------
    X_out : ndarray of shape (n_series, n_timestamps, n_channels)
        A new array (the input is never modified or aliased).

    Raises
    ------
    ValueError
        Empty input, wrong number of dimensions, infinite values, series that are
        entirely missing, fewer than ``min_timestamps`` time steps, or a channel count
        that differs from ``n_channels``.
    TypeError
        Non-numeric input (strings, objects) or sparse matrices.
    """
    name = type(estimator).__name__ if estimator is not None else "sslts"
    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError(f"Found an empty list of series (0 sample(s)); {name} needs at least one.")
    if _is_ragged_list(X):
        X = pad_series_list(X)
    elif isinstance(X, (list, tuple)) and len(X) > 0 and np.ndim(X[0]) == 0:
        raise ValueError(
            f"{name} expects a collection of series but got a flat list of {len(X)} numbers. "
            "Wrap a single series as [series] or reshape it to (1, n_timestamps)."
        )
    if hasattr(X, "ndim") and X.ndim == 1 or (isinstance(X, (list, tuple)) and np.ndim(X) == 1):
        raise ValueError(
            f"{name} expects X of shape (n_series, n_timestamps) or "
            f"(n_series, n_timestamps, n_channels) but got a 1-D array. Reshape your data: "
            "a single series as X.reshape(1, -1)."
        )
    X = check_array(
        _numeric_input(X, name),
        accept_sparse=False,
        dtype=(np.float64, np.float32),
        ensure_all_finite="allow-nan",
        allow_nd=True,
        ensure_2d=True,
        ensure_min_features=min_timestamps,  # applies to 2-D input only
        estimator=estimator,
        input_name="X",
    )
    if X.ndim == 2:
        X = X[:, :, None]
    elif X.ndim != 3:
        raise ValueError(
            f"{name} expects X with 2 or 3 dimensions (n_series, n_timestamps[, n_channels]) "
            f"but got {X.ndim} dimensions with shape {X.shape}."
        )
    if X.shape[2] == 0:
        raise ValueError(f"{name} got X with 0 channels (shape {X.shape}).")
    _check_min_timestamps(X, min_timestamps, name)
    if n_channels is not None and X.shape[2] != n_channels:
        raise ValueError(
            f"X has {X.shape[2]} channel(s) but {name} was fitted on series with "
            f"{n_channels} channel(s)."
        )
    finfo = np.finfo(dtype)
    if np.nanmax(np.abs(X), initial=0.0) > finfo.max:
        raise ValueError(
            f"X has values of magnitude above {finfo.max:.3g}, which overflow {np.dtype(dtype)}; "
            "rescale the data (e.g. z-normalise each series)."
        )
    empty = np.isnan(X).all(axis=(1, 2))
    if empty.any():
        idx = np.flatnonzero(empty)
        shown = ", ".join(map(str, idx[:10])) + (", ..." if len(idx) > 10 else "")
        raise ValueError(
            f"{len(idx)} series in X are entirely missing (all NaN) at indices [{shown}]; "
            "drop them before calling fit/transform."
        )
    return np.array(X, dtype=dtype, copy=True)


def _check_min_timestamps(X: np.ndarray, min_timestamps: int, name: str) -> None:
    # The wording contains scikit-learn's "Found array with ... while a minimum of ..."
    # so that generic tooling recognises it; for time series the features are steps.
    if X.shape[1] < min_timestamps:
        raise ValueError(
            f"Found array with {X.shape[1]} timestamp(s) (shape={X.shape}) while a minimum "
            f"of {min_timestamps} is required by {name}: every series must have at least "
            f"{min_timestamps} time steps with these parameters."
        )


def check_finite_embeddings(X: np.ndarray, Z: np.ndarray, *, estimator=None) -> None:
    """Refuse NaN or infinite embeddings of observed data (e.g. float32 overflow).

    Parameters
    ----------
    X : ndarray of shape (n_series, n_timestamps, n_channels)
        The validated input.
    Z : ndarray of shape (n_series, ...)
        Its embeddings.  When ``Z`` has one row per timestamp, rows of missing
        timestamps may be non-finite.
    estimator : estimator instance, default=None
        Used only to name the estimator in the error.

    Raises
    ------
    ValueError
        Naming the first offending series and suggesting to rescale the data.
    """
    bad = ~np.isfinite(Z)
    if bad.any() and Z.ndim == 3 and Z.shape[1] == X.shape[1]:
        bad &= valid_timestamp_mask(X)[:, :, None]
    if bad.any():
        name = type(estimator).__name__ if estimator is not None else "sslts"
        rows = np.flatnonzero(bad.reshape(len(Z), -1).any(axis=1))
        raise ValueError(
            f"{name} produced non-finite embeddings for {len(rows)} series (first: "
            f"X[{rows[0]}]); values up to {np.nanmax(np.abs(X)):.3g} overflow float32 inside "
            "the network. Rescale the data, e.g. z-normalise each series."
        )


def check_series_pair(A, B, names: tuple[str, str] = ("X", "Y")) -> tuple[np.ndarray, np.ndarray]:
    """Two (n, T, C) float arrays with the same number of channels, or a clear error.

    For helpers that take a ready train/test (or query/reference) pair of padded
    arrays; NaN is left to them (it marks padding), only the shapes are checked.

    Parameters
    ----------
    A, B : array-like of shape (n_series, n_timestamps, n_channels)
    names : tuple of two str, default=("X", "Y")
        Names used in the error messages.

    Returns
    -------
    A, B : ndarray
        The inputs as arrays (float ones keep their dtype, others become float64).
    """
    arrays = []
    for name, arr in zip(names, (A, B)):
        if not (isinstance(arr, np.ndarray) and arr.dtype.kind == "f"):
            arr = _as_numeric_array(arr, name)
        if arr.ndim != 3 or 0 in arr.shape:
            raise ValueError(
                f"{name} must have shape (n_series, n_timestamps, n_channels) with no empty "
                f"axis, got {arr.shape}."
            )
        arrays.append(arr)
    if arrays[0].shape[2] != arrays[1].shape[2]:
        raise ValueError(
            f"{names[0]} has {arrays[0].shape[2]} channels but {names[1]} has "
            f"{arrays[1].shape[2]}."
        )
    return arrays[0], arrays[1]


def valid_timestamp_mask(X: np.ndarray) -> np.ndarray:
    """Boolean mask of observed timestamps (no channel is ``NaN``).

    Parameters
    ----------
    X : ndarray of shape (n_series, n_timestamps, n_channels)

    Returns
    -------
    mask : ndarray of shape (n_series, n_timestamps), dtype bool
    """
    return ~np.isnan(X).any(axis=2)


def series_lengths(X: np.ndarray) -> np.ndarray:
    """Length of each series, i.e. index of the last observed timestamp plus one.

    Parameters
    ----------
    X : ndarray of shape (n_series, n_timestamps, n_channels)

    Returns
    -------
    lengths : ndarray of shape (n_series,), dtype int

    Examples
    --------
    >>> import numpy as np
    >>> series_lengths(np.array([[1.0, 2.0, np.nan], [1.0, np.nan, 3.0]])[..., None])
    array([2, 3])
    """
    observed = ~np.isnan(X).all(axis=2)
    last = observed.shape[1] - np.argmax(observed[:, ::-1], axis=1)
    return np.where(observed.any(axis=1), last, 0)
