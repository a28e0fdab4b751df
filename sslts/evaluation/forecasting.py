"""TS2Vec's forecasting protocol: ridge regression on causal timestamp embeddings.

Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022,
Section 4.2 and appendix C.4.  The encoder is trained on the training months only;
every timestamp ``t`` is then represented by the embedding of the last step of the
window ``[t - padding, t]`` (so the representation never sees the future), and a
ridge regression maps it to the next ``H`` values of the target channels.
"""

from __future__ import annotations

import csv
import datetime
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._wrapping import split_for_fit
from ..encoding import causal_encode
from ..forecast_head import RIDGE_ALPHAS, fit_ridge, forecast_samples

__all__ = [
    "ForecastData",
    "RIDGE_ALPHAS",
    "calendar_features",
    "causal_encode",
    "evaluate_forecasting",
    "evaluate_window_forecasting",
    "fit_ridge",
    "forecast_samples",
    "load_ett",
    "split_for_fit",
]

# Months of 30 days: TS2Vec/Informer split ETT into 12/4/4 months.
_ETT_STEPS_PER_MONTH = {"h": 30 * 24, "m": 30 * 24 * 4}
_HORIZONS = {"h": (24, 48, 168, 336, 720), "m": (24, 48, 96, 288, 672)}


@dataclass
class ForecastData:
    """A forecasting dataset prepared as in TS2Vec.

    Attributes
    ----------
    data : ndarray of shape (1, n_timestamps, n_covariates + n_targets), float32
        Standardised calendar covariates followed by the standardised target channels.
    n_covariates : int
        Number of leading covariate channels (not predicted).
    train, valid, test : slice
        Time ranges of the three splits.
    horizons : tuple of int
        Forecast horizons of the paper for this dataset.
    columns : list of str
        Names of the target channels.
    """

    data: np.ndarray
    n_covariates: int
    train: slice
    valid: slice
    test: slice
    horizons: tuple
    columns: list


def calendar_features(dates: np.ndarray) -> np.ndarray:
    """TS2Vec's 7 calendar covariates of each timestamp.

    Parameters
    ----------
    dates : ndarray of datetime64, shape (n_timestamps,)

    Returns
    -------
    ndarray of shape (n_timestamps, 7), float64
        Minute, hour, day of week (Monday = 0), day of month, day of year, month and
        ISO week of year, unscaled.

    Examples
    --------
    >>> calendar_features(np.array(["2016-07-01T13:45"], dtype="datetime64[m]"))
    array([[ 45.,  13.,   4.,   1., 183.,   7.,  26.]])
    """
    minutes = dates.astype("datetime64[m]")
    hours, days = minutes.astype("datetime64[h]"), minutes.astype("datetime64[D]")
    months, years = days.astype("datetime64[M]"), days.astype("datetime64[Y]")
    # 1970-01-01 was a Thursday (weekday 3 when Monday is 0).
    weekday = (days.astype(np.int64) + 3) % 7
    unique_days, inverse = np.unique(days, return_inverse=True)
    iso_week = np.array([d.isocalendar()[1] for d in unique_days.astype(datetime.date)])
    return np.stack(
        [
            (minutes - hours).astype(np.int64),
            (hours - days).astype(np.int64),
            weekday,
            (days - months).astype(np.int64) + 1,
            (days - years).astype(np.int64) + 1,
            (months - years).astype(np.int64) + 1,
            iso_week[inverse.ravel()],
        ],
        axis=1,
    ).astype(np.float64)


def _standardise(values: np.ndarray, train: slice) -> np.ndarray:
    mean = values[train].mean(axis=0)
    std = values[train].std(axis=0)
    return (values - mean) / np.where(std > 0, std, 1.0)


def load_ett(name: str, data_home=None, *, univariate: bool = False) -> ForecastData:
    """Load an ETT dataset with TS2Vec's split, scaling and covariates.

    Parameters
    ----------
    name : {"ETTh1", "ETTh2", "ETTm1", "ETTm2"}
        Dataset name; the file ``<data_home>/forecast/<name>.csv`` (or
        ``<data_home>/<name>.csv``) is read.
    data_home : str or path-like, default=None
        Data directory; defaults to ``$SSLTS_DATA``.
    univariate : bool, default=False
        Predict only the oil temperature ``OT`` (the paper's univariate setting);
        otherwise all 7 channels.

    Returns
    -------
    ForecastData
        Train = first 12 months, validation = next 4, test = next 4 (30-day months;
        hourly rows 0-8639 / 8640-11519 / 11520-14399, four times that for ETTm).
        Targets and covariates are standardised with training statistics.
    """
    freq = name[3:4]
    if not name.startswith("ETT") or freq not in _ETT_STEPS_PER_MONTH:
        raise ValueError(f"{name!r} is not an ETT dataset (ETTh1, ETTh2, ETTm1, ETTm2).")
    dates, columns, values = _read_csv(_find_csv(name, data_home))
    if univariate:
        values, columns = values[:, [columns.index("OT")]], ["OT"]
    month = _ETT_STEPS_PER_MONTH[freq]
    train, valid, test = slice(0, 12 * month), slice(12 * month, 16 * month), slice(
        16 * month, 20 * month
    )
    covariates = _standardise(calendar_features(dates), train)
    data = np.concatenate([covariates, _standardise(values, train)], axis=1)
    return ForecastData(
        data=data[None, : test.stop].astype(np.float32),
        n_covariates=covariates.shape[1],
        train=train,
        valid=valid,
        test=test,
        horizons=_HORIZONS[freq],
        columns=columns,
    )


def _find_csv(name: str, data_home) -> Path:
    home = data_home if data_home is not None else os.environ.get("SSLTS_DATA", ".")
    for path in (Path(home) / "forecast" / f"{name}.csv", Path(home) / f"{name}.csv"):
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{name}.csv was not found in {home}/forecast or {home}; pass data_home or set "
        "$SSLTS_DATA to the directory holding the ETT files."
    )


def _read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [row for row in reader if row]
    dates = np.array([row[0].replace(" ", "T") for row in rows], dtype="datetime64[m]")
    values = np.array([row[1:] for row in rows], dtype=np.float64)
    return dates, header[1:], values


def evaluate_forecasting(
    encoder,
    dataset: ForecastData,
    *,
    horizons=None,
    padding: int = 200,
    fit: bool = True,
    fit_window: int | None = None,
) -> dict:
    """Run TS2Vec's forecasting protocol.

    Parameters
    ----------
    encoder : sslts estimator
        Must support ``encode(X, level="timestamp")``.
    dataset : ForecastData
        E.g. from :func:`load_ett`.
    horizons : sequence of int, default=None
        Defaults to ``dataset.horizons``.
    padding : int, default=200
        Causal window length minus one.
    fit : bool, default=True
        Fit ``encoder`` on the training split first.
    fit_window : int, default=None
        Fit on the training split cut into windows of this length
        (:func:`split_for_fit`), for methods that learn from many short series;
        None fits on the whole split (TS2Vec sections it itself).

    Returns
    -------
    dict
        ``{"fit_seconds", "encode_seconds", "horizons": {H: {"mse", "mae", "alpha",
        "ridge_seconds"}}}``; MSE and MAE on the standardised scale.
    """
    data, k = dataset.data, dataset.n_covariates
    start = time.perf_counter()
    if fit:
        encoder.fit(split_for_fit(data[:, dataset.train], fit_window))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    features = causal_encode(encoder, data, padding=padding)
    result = {"fit_seconds": fit_seconds, "encode_seconds": time.perf_counter() - start}
    result["horizons"] = {
        h: _evaluate_horizon(features, data[..., k:], dataset, h, padding)
        for h in (horizons or dataset.horizons)
    }
    return result


def _evaluate_horizon(features, targets, dataset, horizon, padding) -> dict:
    start = time.perf_counter()
    splits = {
        name: forecast_samples(
            features[:, part], targets[:, part], horizon, drop=padding if name == "train" else 0
        )
        for name, part in (("train", dataset.train), ("valid", dataset.valid),
                           ("test", dataset.test))
    }
    model = fit_ridge(*splits["train"], *splits["valid"])
    X_test, Y_test = splits["test"]
    err = model.predict(X_test).reshape(Y_test.shape) - Y_test
    return {
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "alpha": float(model.alpha),
        "ridge_seconds": time.perf_counter() - start,
    }


def _windows(values: np.ndarray, part: slice, lookback: int, horizon: int, stride: int):
    """Input windows ending before each target range inside ``part``, and their futures.

    As in the Informer/TimeDRL loaders, a window may start before ``part``; its
    ``horizon`` targets lie inside it.  Returns (n, lookback, C) and (n, horizon, C).
    """
    starts = np.arange(max(0, part.start - lookback), part.stop - lookback - horizon + 1, stride)
    if len(starts) == 0:
        raise ValueError(
            f"No window of lookback={lookback} + horizon={horizon} fits in the split "
            f"{part.start}:{part.stop}; use a shorter lookback or horizon."
        )
    view = sliding_window_view(values, lookback + horizon, axis=0).transpose(0, 2, 1)
    both = view[starts]
    return both[:, :lookback], both[:, lookback:]


def evaluate_window_forecasting(
    encoder,
    dataset: ForecastData,
    *,
    lookback: int = 336,
    horizons=None,
    fit: bool = True,
    fit_stride: int = 8,
    probe_stride: int = 4,
    test_stride: int = 1,
) -> dict:
    """Windowed forecasting with a ridge probe on normalised-window embeddings.

    The protocol for encoders that normalise each input window (RevIN), such as
    TimeDRL: a window of ``lookback`` steps of the target channels is embedded
    (the embedding of its last timestamp), and a ridge regression maps it to the
    next ``H`` values of every channel *expressed in the window's own normalisation*
    (``(y - mean) / std`` of the input window); predictions are mapped back with the
    same statistics.  Without that step a probe on level-invariant embeddings could
    not forecast the level.  The ridge penalty is chosen on the validation windows
    (:func:`fit_ridge`); errors are on the standardised scale, over all channels.

    Parameters
    ----------
    encoder : sslts estimator
        Must support ``encode(X, level="timestamp")``.
    dataset : ForecastData
        E.g. ``load_ett("ETTh1")``; its covariate channels are not used.
    lookback : int, default=336
        Input window length.
    horizons : sequence of int, default=None
        Defaults to ``dataset.horizons``.
    fit : bool, default=True
        Pre-train ``encoder`` on training windows taken every ``fit_stride`` steps.
    fit_stride, probe_stride, test_stride : int
        Steps between consecutive pre-training, ridge-training/validation and test
        windows.

    Returns
    -------
    dict
        ``{"fit_seconds", "horizons": {H: {"mse", "mae", "alpha", "n_test"}}}``.
    """
    for name, value in (("lookback", lookback), ("fit_stride", fit_stride),
                        ("probe_stride", probe_stride), ("test_stride", test_stride)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    values = dataset.data[0, :, dataset.n_covariates:]
    start = time.perf_counter()
    if fit:
        encoder.fit(_windows(values, dataset.train, lookback, 0, fit_stride)[0])
    result = {"fit_seconds": time.perf_counter() - start, "horizons": {}}
    for h in horizons or dataset.horizons:
        splits = {}
        for name, part, stride in (("train", dataset.train, probe_stride),
                                   ("valid", dataset.valid, probe_stride),
                                   ("test", dataset.test, test_stride)):
            past, future = _windows(values, part, lookback, h, stride)
            mean = past.mean(axis=1, keepdims=True)
            std = np.sqrt(past.var(axis=1, keepdims=True) + 1e-5)
            feats = encoder.encode(past, level="timestamp", mask_padding=False)[:, -1]
            splits[name] = (feats, ((future - mean) / std).reshape(len(past), -1), mean, std,
                            future)
        model = fit_ridge(*splits["train"][:2], *splits["valid"][:2])
        feats, _, mean, std, future = splits["test"]
        pred = model.predict(feats).reshape(future.shape) * std + mean
        err = pred - future
        result["horizons"][h] = {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err))),
                                 "alpha": float(model.alpha), "n_test": len(future)}
    return result
