"""Collections of series as arrays: the layouts, NaN padding, lengths and masks.

sslts follows the tslearn convention: a dataset is a 3-D array of shape
``(n_series, n_timestamps, n_channels)`` ("channels-last"), shorter series right-padded
with ``NaN``.  aeon, sktime and tsai store collections channels-first, ``(n_series,
n_channels, n_timestamps)``.  This module is the bottom of :mod:`sslts.utils`:
validation (:mod:`sslts.utils.validation`) and the pandas layouts
(:mod:`sslts.utils.layouts`) build on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "CHANNELS_FIRST_HINT",
    "LAYOUTS",
    "LayoutWarning",
    "as_numeric_array",
    "check_layout",
    "mark_padding",
    "pad_series_list",
    "series_lengths",
    "valid_timestamp_mask",
]

#: The values of ``layout`` (and of every estimator's ``input_layout``).
LAYOUTS = ("channels_last", "channels_first")


class LayoutWarning(UserWarning):
    """A 3-D array was read channels-last although its time axis is the shorter one.

    Raised by :func:`check_time_series` (hence by every estimator's ``fit``) for an
    array of shape ``(n_series, a, b)`` with ``a < b`` read as ``a`` time steps of
    ``b`` channels: that is how a channels-first ``(n_series, n_channels,
    n_timestamps)`` array, the layout of aeon, sktime and tsai, looks when it is
    misread.  Pass ``input_layout="channels_first"`` to read it as such; silence the
    warning with ``warnings.simplefilter("ignore", LayoutWarning)`` when the data
    really has more channels than time steps.

    Examples
    --------
    >>> import warnings
    >>> from sslts.utils import check_time_series
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = check_time_series(np.zeros((2, 3, 50)))  # 3 steps of 50 channels?
    >>> caught[0].category.__name__
    'LayoutWarning'
    """


def pad_series_list(series: Sequence, *, layout: str = "channels_last") -> np.ndarray:
    """Stack series of possibly different lengths into a NaN-padded 3-D array.

    Parameters
    ----------
    series : sequence of array-like
        Each element is one series of shape ``(n_timestamps_i,)`` or, with
        ``layout="channels_last"``, ``(n_timestamps_i, n_channels)``; with
        ``layout="channels_first"`` (aeon's ``np-list``), ``(n_channels,
        n_timestamps_i)``.  All series must have the same number of channels.
    layout : {"channels_last", "channels_first"}, default="channels_last"
        Axis order of the 2-D elements.

    Returns
    -------
    X : ndarray of shape (n_series, max_i n_timestamps_i, n_channels), dtype float64
        Series right-padded with ``NaN``.

    Notes
    -----
    :func:`tslearn.utils.to_time_series_dataset` pads too, but it trims trailing
    all-NaN steps (the padded length would then depend on missing values) and its
    errors do not name the offending element, so sslts pads itself.

    Examples
    --------
    >>> pad_series_list([[1, 2, 3], [4, 5]])[..., 0]
    array([[ 1.,  2.,  3.],
           [ 4.,  5., nan]])
    >>> pad_series_list([[[1, 2, 3], [4, 5, 6]]], layout="channels_first")[0]
    array([[1., 4.],
           [2., 5.],
           [3., 6.]])
    """
    check_layout(layout, "layout")
    arrays = []
    for i, s in enumerate(series):
        a = as_numeric_array(s, f"X[{i}]")
        if a.ndim == 2 and layout == "channels_first":
            a = a.T
        elif a.ndim == 1:
            a = a[:, None]
        elif a.ndim != 2:
            raise ValueError(
                f"X[{i}] has {a.ndim} dimensions; each series in a list must be 1-D "
                f"(n_timestamps,) or 2-D {_ITEM_AXES[layout]}."
            )
        if arrays and a.shape[1] != arrays[0].shape[1]:
            raise ValueError(
                f"Inconsistent channel counts in the list of series: X[0] has "
                f"{arrays[0].shape[1]} channels but X[{i}] has {a.shape[1]}."
                + (CHANNELS_FIRST_HINT if layout == "channels_last" else "")
            )
        arrays.append(a)
    if not arrays:
        raise ValueError("Found an empty list of series; at least one series is required.")
    length = max(a.shape[0] for a in arrays)
    out = np.full((len(arrays), length, arrays[0].shape[1]), np.nan)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


_ITEM_AXES = {
    "channels_last": "(n_timestamps, n_channels)",
    "channels_first": "(n_channels, n_timestamps)",
}
CHANNELS_FIRST_HINT = (
    " Each array is read channels-last, (n_timestamps, n_channels); if yours are "
    "channels-first, (n_channels, n_timestamps) like aeon's unequal-length collections, "
    "pass input_layout='channels_first' to the estimator (layout='channels_first' to "
    "check_time_series)."
)


def check_layout(layout, name: str) -> None:
    """Refuse a ``layout`` that is not one of :data:`LAYOUTS`, naming the argument ``name``.

    Examples
    --------
    >>> check_layout("channels_first", "input_layout")
    """
    if layout not in LAYOUTS:
        raise ValueError(
            f"{name} must be one of {LAYOUTS}, got {layout!r}: 'channels_last' for "
            "(n_series, n_timestamps, n_channels) data, 'channels_first' for aeon/sktime's "
            "(n_series, n_channels, n_timestamps)."
        )


def as_numeric_array(obj, name: str) -> np.ndarray:
    """``obj`` as a float64 array; strings that are not numbers and complex values refused.

    Examples
    --------
    >>> as_numeric_array([["1", "2"]], "X").dtype
    dtype('float64')
    """
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


def valid_timestamp_mask(X: np.ndarray) -> np.ndarray:
    """Boolean mask of observed timestamps (no channel is ``NaN``).

    Parameters
    ----------
    X : ndarray of shape (n_series, n_timestamps, n_channels)

    Returns
    -------
    mask : ndarray of shape (n_series, n_timestamps), dtype bool

    Examples
    --------
    >>> X = np.array([[[1.0, 2.0], [np.nan, 3.0], [np.nan, np.nan]]])
    >>> valid_timestamp_mask(X)
    array([[ True, False, False]])
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


def mark_padding(Z: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Set the timestamp embeddings of padded steps to NaN.

    A step is padding when it comes after the last observed step of its series (the
    NaN right-padding of shorter series); missing values inside a series keep their
    embeddings, which the encoder computed from the context.

    Parameters
    ----------
    Z : ndarray of shape (n_series, n_timestamps, n_features)
        Timestamp embeddings of ``X``.
    X : ndarray of shape (n_series, n_timestamps, n_channels)
        The series they embed.

    Returns
    -------
    ndarray
        ``Z`` itself, changed in place.

    Examples
    --------
    >>> X = np.array([[1.0, np.nan, 2.0, np.nan]])[..., None]
    >>> mark_padding(np.ones((1, 4, 1)), X)[0, :, 0]
    array([ 1.,  1.,  1., nan])
    """
    after_end = np.arange(Z.shape[1])[None, :] >= series_lengths(X)[:, None]
    Z[after_end] = np.nan
    return Z

