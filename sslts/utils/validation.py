"""Input validation for time-series collections.

sslts follows the tslearn convention: a dataset is a 3-D array of shape
``(n_series, n_timestamps, n_channels)`` ("channels-last").  A 2-D array
``(n_series, n_timestamps)`` is read as univariate.  Series of different lengths are
right-padded with ``NaN`` (as :func:`tslearn.utils.to_time_series_dataset` does) or
given as a list of arrays.  aeon, sktime and tsai store collections channels-first,
``(n_series, n_channels, n_timestamps)``; ``layout="channels_first"`` reads those, and
a channels-last read of an array with fewer time steps than channels warns
(:class:`LayoutWarning`).  pandas frames in the ``pd-multiindex`` and ``nested_univ``
layouts of aeon and sktime are read through :mod:`sslts.utils.layouts`.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_array, validate_data

from . import layouts
from .series import (
    LayoutWarning,
    as_numeric_array,
    check_layout,
    pad_series_list,
    valid_timestamp_mask,
)

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "check_finite_embeddings",
    "check_series_pair",
    "check_time_series",
    "validate_arguments",
    "StrictParamsMixin",
]

# ``Interval``, ``StrOptions``, ``Options`` and ``HasMethods``: scikit-learn's vocabulary
# of parameter constraints, which a method declares in its ``parameter_constraints``
# (scikit-learn keeps it in a private module).


def validate_arguments(constraints: dict, arguments: dict, caller: str) -> None:
    """Check ``arguments`` against scikit-learn-style ``constraints``, booleans included.

    scikit-learn's validation, plus one rule it lacks: a boolean is refused where a
    number is expected (``True`` is an ``int`` to Python, so ``output_dims=True`` would
    otherwise pass and fail deep inside torch).  Every parameter of every sslts
    estimator, callback and ``encode`` call goes through here.

    Parameters
    ----------
    constraints : dict
        ``name: list of constraints`` (see :class:`Interval`, :class:`StrOptions`).
    arguments : dict
        ``name: value``; names without constraints are not checked.
    caller : str
        Named in the error, e.g. ``"TS2VecTransformer"``.

    Raises
    ------
    InvalidParameterError
        A ``ValueError`` (and ``TypeError``) that names the parameter, what it must be
        and what it got.

    Examples
    --------
    >>> from numbers import Integral
    >>> size = {"n": [Interval(Integral, 1, None, closed="left")]}
    >>> validate_arguments(size, {"n": 3}, "demo")
    >>> try:
    ...     validate_arguments(size, {"n": True}, "demo")
    ... except ValueError as exc:
    ...     print(exc)
    The 'n' parameter of demo must be a number, not a boolean; got True.
    """
    validate_parameter_constraints(constraints, arguments, caller_name=caller)
    for name, value in arguments.items():
        allowed = constraints.get(name, [])
        numeric = any(isinstance(c, Interval) for c in allowed)
        if (isinstance(value, (bool, np.bool_)) and numeric
                and "boolean" not in allowed and bool not in allowed):
            raise InvalidParameterError(
                f"The {name!r} parameter of {caller} must be a number, not a boolean; "
                f"got {value!r}."
            )

class StrictParamsMixin:
    """Validate an estimator's parameters with :func:`validate_arguments` (booleans refused).

    Put it before :class:`sklearn.base.BaseEstimator` among the bases; ``fit`` calls
    ``self._validate_params()`` as scikit-learn's estimators do.

    Examples
    --------
    >>> from numbers import Integral
    >>> from sklearn.base import BaseEstimator
    >>> class Demo(StrictParamsMixin, BaseEstimator):
    ...     _parameter_constraints = {"n": [Interval(Integral, 1, None, closed="left")]}
    ...     def __init__(self, n=1):
    ...         self.n = n
    >>> Demo(n=True)._validate_params()
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'n' parameter of Demo ...
    """

    def _validate_params(self) -> None:
        validate_arguments(self._parameter_constraints, self.get_params(deep=False),
                           type(self).__name__)


def _numeric_input(X, name: str):
    """Convert lists and object arrays to float; reject string arrays with a TypeError."""
    if sp.issparse(X):
        return X  # check_array rejects it with its own message
    dtype = getattr(X, "dtype", None)
    kind = getattr(dtype, "kind", "")
    if dtype is None or kind == "O":
        return as_numeric_array(X, "X")
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
    min_timestamps_source: str | None = None,
    layout: str = "channels_last",
    reset: bool | None = None,
) -> np.ndarray:
    """Validate a time-series dataset and return a fresh 3-D float array.

    Parameters
    ----------
    X : array-like of shape (n_series, n_timestamps) or (n_series, n_timestamps, n_channels), \
            list of array-like, or pandas DataFrame
        The series.  ``NaN`` marks missing values or right-padding.  A list of arrays
        of different lengths is NaN-padded to the longest.  With
        ``layout="channels_first"`` a 3-D array is ``(n_series, n_channels,
        n_timestamps)`` and list elements are ``(n_channels, n_timestamps_i)``.  A
        DataFrame is read as aeon/sktime do: with an ``(instance, timepoint)``
        MultiIndex and one column per channel (``pd-multiindex``), with one
        ``pd.Series`` per cell (sktime's ``nested_univ``), or else as a 2-D array
        (one row per series, one column per time step).
    n_channels : int, default=None
        If given, the number of channels ``X`` must have (the one seen in ``fit``).
    estimator : estimator instance, default=None
        Named in error messages; with ``reset``, it gets ``feature_names_in_``.
    dtype : numpy dtype, default=np.float32
        Output dtype.
    min_timestamps : int, default=1
        Fewest time steps the (padded) array must have, e.g. an estimator's patch
        length.  The error names this minimum, in time steps for 2-D input too.
    min_timestamps_source : str, default=None
        The parameter setting that imposes ``min_timestamps``, e.g. ``"views='warp'"``;
        the error names it (``"min_timestamps=<n>"`` when None and the minimum is above
        one step).
    layout : {"channels_last", "channels_first"}, default="channels_last"
        Axis order of 3-D arrays and of 2-D list elements (2-D arrays are always
        ``(n_series, n_timestamps)``, DataFrames carry their own layout).
    reset : bool or None, default=None
        Feature names, as scikit-learn's ``validate_data`` handles them (needs
        ``estimator``): ``True`` (in ``fit``) stores the column names of a DataFrame
        as ``estimator.feature_names_in_`` (and removes a stale one otherwise);
        ``False`` (in ``transform``) warns when only one of the fit and transform
        inputs had names and raises a ``ValueError`` when they differ.  ``None``
        leaves feature names alone.  The :class:`LayoutWarning` is given only when
        ``reset`` is not ``False``: at ``transform`` a misread layout fails the
        channel-count check instead.

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

    Warns
    -----
    LayoutWarning
        A 3-D array read with fewer time steps than channels (see ``layout``).

    Examples
    --------
    >>> X = np.zeros((5, 2, 30))  # aeon/sktime: 5 series, 2 channels, 30 steps
    >>> check_time_series(X, layout="channels_first").shape
    (5, 30, 2)
    """
    check_layout(layout, "layout")
    name = type(estimator).__name__ if estimator is not None else "sslts"
    if estimator is not None and reset is not None:
        # scikit-learn's rule for feature names (a DataFrame's string column names);
        # ensure_2d=False keeps it from also checking n_features_in_, which for series
        # is the training length, not a constraint on transform.
        validate_data(estimator, X, reset=reset, skip_check_array=True, ensure_2d=False)
    X, ambiguous = _as_collection(X, name, layout)
    X = check_array(
        _numeric_input(X, name),
        accept_sparse=False,
        dtype=(np.float64, np.float32),
        ensure_all_finite="allow-nan",
        allow_nd=True,
        ensure_2d=True,
        estimator=estimator,
        input_name="X",
    )
    two_d = X.ndim == 2
    if two_d:
        X = X[:, :, None]
    elif X.ndim != 3:
        raise ValueError(
            f"{name} expects X with 2 or 3 dimensions (n_series, n_timestamps[, n_channels]) "
            f"but got {X.ndim} dimensions with shape {X.shape}."
        )
    if X.shape[2] == 0:
        raise ValueError(f"{name} got X with 0 channels (shape {X.shape}).")
    if ambiguous and reset is not False and X.shape[1] < X.shape[2]:
        _warn_layout(X.shape, layout, name)
    _check_min_timestamps(X[:, :, 0] if two_d else X, min_timestamps, min_timestamps_source,
                          name)
    _check_n_channels(X, n_channels, layout, name)
    _check_values(X, dtype)
    return np.array(X, dtype=dtype, copy=True, order="C")


def _as_collection(X, name: str, layout: str):
    """``X`` as something ``check_array`` reads channels-last, and whether its layout
    could be misread (a 3-D array or a list of equally long series)."""
    pandas = sys.modules.get("pandas")  # a DataFrame implies pandas is imported
    if pandas is not None and isinstance(X, pandas.DataFrame):
        if isinstance(X.index, pandas.MultiIndex):
            return layouts.from_pd_multiindex(X), False
        if layouts.is_nested_univ(X):
            return layouts.from_nested_univ(X), False
        return X, False  # one row per series, one column per time step
    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError(f"Found an empty list of series (0 sample(s)); {name} needs at least one.")
    ragged = _is_ragged_list(X)
    if isinstance(X, (list, tuple)) and np.isscalar(X[0]):
        raise ValueError(
            f"{name} expects a collection of series but got a flat list of {len(X)} numbers. "
            "Wrap a single series as [series] or reshape it to (1, n_timestamps)."
        )
    if ragged or (layout == "channels_first" and isinstance(X, (list, tuple))):
        return pad_series_list(X, layout=layout), not ragged
    if hasattr(X, "ndim") and X.ndim == 1 or (isinstance(X, (list, tuple)) and np.ndim(X) == 1):
        raise ValueError(
            f"{name} expects X of shape (n_series, n_timestamps) or "
            f"(n_series, n_timestamps, n_channels) but got a 1-D array. Reshape your data: "
            "a single series as X.reshape(1, -1)."
        )
    if layout == "channels_first" and getattr(X, "ndim", None) == 3:
        X = np.swapaxes(X, 1, 2)  # a view; the result is copied at the end
    return X, True


def _warn_layout(shape: tuple, layout: str, name: str) -> None:
    advice = (
        "If X is channels-first, (n_series, n_channels, n_timestamps) as in aeon, sktime and "
        "tsai, pass input_layout='channels_first' to the estimator (layout='channels_first' "
        "to check_time_series), or use the estimators of sslts.aeon / sslts.sktime."
        if layout == "channels_last"
        else "If X is channels-last, (n_series, n_timestamps, n_channels), leave input_layout "
        "at its default 'channels_last'."
    )
    warnings.warn(
        f"{name} reads X {layout.replace('_', '-')} as {shape[1]} time step(s) of "
        f"{shape[2]} channel(s) (shape after reading {shape}). {advice}",
        LayoutWarning,
        stacklevel=4,
    )


def _check_n_channels(X: np.ndarray, n_channels: int | None, layout: str, name: str) -> None:
    if n_channels is None or X.shape[2] == n_channels:
        return
    hint = ""
    if X.shape[1] == n_channels:  # the two axes swapped would fit
        other = "channels_first" if layout == "channels_last" else "channels_last"
        hint = (
            f" X has {n_channels} time step(s): is it {other.replace('_', '-')}? The "
            f"estimator reads it {layout.replace('_', '-')} (input_layout={layout!r} "
            "in fit)."
        )
    elif n_channels == 1:  # a univariate encoder can still embed them, channel by channel
        hint = (" To embed each channel with this univariate encoder and pool them, use "
                "sslts.ChannelIndependent(FrozenEstimator(encoder)).fit(X) (no training).")
    raise ValueError(
        f"X has {X.shape[2]} channel(s) but {name} was fitted on series with "
        f"{n_channels} channel(s).{hint}"
    )


def _check_values(X: np.ndarray, dtype) -> None:
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


def _check_min_timestamps(X: np.ndarray, min_timestamps: int, source: str | None,
                          name: str) -> None:
    # The wording contains scikit-learn's "Found array with ... while a minimum of ..."
    # so that generic tooling recognises it; for time series the features are steps,
    # and a 2-D X (one series per row) keeps scikit-learn's "feature(s)" beside them.
    if X.shape[1] >= min_timestamps:
        return
    steps = X.shape[1]
    columns = f": its {steps} feature(s) are time steps" if X.ndim == 2 else ""
    if source is None and min_timestamps > 1:
        source = f"min_timestamps={min_timestamps}"
    advice = f" with {source}. Use longer series or change that setting." if source else "."
    raise ValueError(
        f"Found array with {steps} timestamp(s) (shape={X.shape}{columns}) while a minimum "
        f"of {min_timestamps} is required by {name}: every series must have at least "
        f"{min_timestamps} time step(s){advice}"
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

    Examples
    --------
    >>> X = np.ones((2, 3, 1))
    >>> check_finite_embeddings(X, np.ones((2, 4)))  # finite: returns None
    >>> check_finite_embeddings(X, np.array([[1.0], [np.inf]]))
    Traceback (most recent call last):
    ...
    ValueError: sslts produced non-finite embeddings for 1 series (first: X[1]); ...
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

    Examples
    --------
    >>> A, B = check_series_pair(np.zeros((2, 5, 3)), [[[1, 2, 3]]])
    >>> B.shape, B.dtype
    ((1, 1, 3), dtype('float64'))
    >>> check_series_pair(np.zeros((2, 5, 3)), np.zeros((2, 5, 1)))
    Traceback (most recent call last):
    ...
    ValueError: X has 3 channels but Y has 1.
    """
    arrays = []
    for name, arr in zip(names, (A, B)):
        if not (isinstance(arr, np.ndarray) and arr.dtype.kind == "f"):
            arr = as_numeric_array(arr, name)
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
