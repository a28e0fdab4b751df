"""Shared by the estimators that wrap an sslts encoder (forecaster, anomaly detector).

Their input convention: unlike the transformers, whose 2-D input is ``(n_series,
n_timestamps)``, these estimators follow forecasting libraries: one series is 1-D
``(n_timestamps,)`` or 2-D ``(n_timestamps, n_channels)``; several are a 3-D array
``(n_series, n_timestamps, n_channels)`` (NaN right-padding for shorter ones) or a
list of 1-D/2-D arrays.  And the fitting of the wrapped encoder (:func:`fit_encoder`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_array

from .methods.ts2vec import TS2VecTransformer
from .utils.series import pad_series_list

__all__ = ["as_series_list", "fit_encoder", "restore_shape", "split_for_fit"]


def as_series_list(data, name: str, *, n_channels: int | None = None, owner=None):
    """Validate ``data`` as one or several series.

    Parameters
    ----------
    data : array-like of 1, 2 or 3 dimensions, or list of 1-D/2-D array-like
        See the module description.  NaN marks missing values.
    name : str
        Argument name used in error messages.
    n_channels : int, default=None
        Channel count every series must have.
    owner : estimator instance, default=None
        Named in error messages.

    Returns
    -------
    series : list of ndarray of shape (n_timestamps_i, n_channels), float64
        New arrays; the trailing all-NaN steps of 3-D input (its padding) are cut.
    kind : {"1d", "2d", "3d", "list"}
        The input form, to give outputs the same form (:func:`restore_shape`).

    Examples
    --------
    >>> series, kind = as_series_list([1.0, 2.0, 3.0], "y")
    >>> series[0].shape, kind
    ((3, 1), '1d')
    """
    if isinstance(data, (list, tuple)) and len(data) > 0 and np.ndim(data[0]) > 0:
        kind, items = "list", list(data)
    else:
        arr = np.asarray(data) if not hasattr(data, "ndim") else data
        ndim = np.ndim(arr)
        if ndim not in (1, 2, 3):
            raise ValueError(
                f"{name} must be one series of shape (n_timestamps,) or (n_timestamps, "
                f"n_channels), several of shape (n_series, n_timestamps, n_channels), or a "
                f"list of series; got an array of shape {np.shape(arr)}."
            )
        kind = f"{ndim}d"
        items = list(arr) if ndim == 3 else [arr]
    series = []
    for i, item in enumerate(items):
        label = name if kind in ("1d", "2d") else f"{name}[{i}]"
        values = np.asarray(item) if not hasattr(item, "ndim") else item
        if np.ndim(values) == 1:
            values = np.reshape(values, (-1, 1))
        values = check_array(values, dtype=np.float64, ensure_all_finite="allow-nan",
                             input_name=label, copy=True)
        if kind == "3d":  # cut the NaN padding after the last observed step
            observed = np.flatnonzero(~np.isnan(values).all(axis=1))
            values = values[: observed[-1] + 1] if len(observed) else values
        if np.isnan(values).all():
            raise ValueError(f"{label} is entirely missing (all NaN); drop it.")
        if n_channels is not None and values.shape[1] != n_channels:
            hint = " Reshape your data to (n_timestamps, n_channels)." if np.ndim(item) == 1 \
                else ""
            raise ValueError(
                f"{label} has {values.shape[1]} features, but {type(owner).__name__} is "
                f"expecting {n_channels} features as input (the channels seen in fit).{hint}"
            )
        series.append(values)
    channels = {s.shape[1] for s in series}
    if len(channels) > 1:
        raise ValueError(f"The series of {name} must all have one channel count, got "
                         f"{sorted(channels)}.")
    return series, kind


def restore_shape(outputs: list[np.ndarray], kind: str, squeeze: bool, length: int = 0):
    """Give per-series outputs the form of the input.

    Parameters
    ----------
    outputs : list of ndarray of shape (n_timestamps_i, ...)
        One array per series.
    kind : {"1d", "2d", "3d", "list"}
        From :func:`as_series_list`.
    squeeze : bool
        Drop a trailing axis of size 1 (univariate input gives univariate output).
    length : int, default=0
        Least length of the stack of 3-D input (its padded length).

    Returns
    -------
    ndarray or list of ndarray
        The single array for one series; a NaN-padded stack for 3-D input; a list for
        list input.
    """
    if squeeze:
        outputs = [o[..., 0] if o.shape[-1:] == (1,) else o for o in outputs]
    if kind in ("1d", "2d"):
        return outputs[0]
    if kind == "list":
        return outputs
    longest = max([length] + [len(o) for o in outputs])
    out = np.full((len(outputs), longest) + outputs[0].shape[1:], np.nan)
    for i, o in enumerate(outputs):
        out[i, : len(o)] = o
    return out


def fit_encoder(encoder, series: list[np.ndarray], *, window: int | None = None):
    """Fit a clone of ``encoder`` on channels-last series.

    Parameters
    ----------
    encoder : sslts estimator or None
        None means ``TS2VecTransformer()``.  A fitted encoder wrapped in
        :class:`sklearn.frozen.FrozenEstimator` is used as it is.
    series : list of ndarray of shape (n_timestamps_i, n_channels)
        Training series, NaN-padded into one array.
    window : int, default=None
        Cut them into non-overlapping windows of this length first
        (:func:`~sslts.evaluation.split_for_fit`).

    Returns
    -------
    The fitted clone (or the frozen encoder).
    """
    encoder = clone(encoder) if encoder is not None else TS2VecTransformer()
    if "input_layout" in encoder.get_params():  # the array below is channels-last
        encoder.set_params(input_layout="channels_last")
    X = split_for_fit(pad_series_list(series).astype(np.float32), window)
    fitted = encoder.fit(X, None)
    if getattr(fitted, "input_layout_", "channels_last") != "channels_last":
        raise ValueError(
            "A frozen encoder must have been fitted with input_layout='channels_last': the "
            "series are passed to it channels-last."
        )
    return fitted


def split_for_fit(X: np.ndarray, window: int | None) -> np.ndarray:
    """Cut long series into non-overlapping windows that become separate series.

    Parameters
    ----------
    X : ndarray of shape (n_series, n_timestamps, n_channels)
    window : int or None
        Window length; None (or series shorter than two windows) returns ``X``.

    Returns
    -------
    ndarray of shape (n_series * (n_timestamps // window), window, n_channels)
        The trailing ``n_timestamps % window`` steps are dropped.

    Examples
    --------
    >>> split_for_fit(np.arange(10.0).reshape(1, 10, 1), 4)[..., 0]
    array([[0., 1., 2., 3.],
           [4., 5., 6., 7.]])
    """
    if window is None or X.shape[1] < 2 * window:
        return X
    n = X.shape[1] // window
    return X[:, : n * window].reshape(len(X) * n, window, X.shape[2])
