"""Unsupervised features of every classification arm, and the classifiers put on them.

A feature source is fitted on **all** training series without their labels (sslts
encoders, MiniRocket, MultiRocket; catch22 and the raw series need no fit) and maps
the training and test series to feature arrays once per (dataset, seed); every label
fraction and every probe then reuses them.  Each source records its fit and
transform seconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sslts.evaluation import NearestNeighborBaseline, fit_svm

from .common import changed_params, plain_params, warm_up_torch

__all__ = ["Features", "RIDGE_CV_ALPHAS", "block_ridge", "catch22_features",
           "encoder_features", "fill_missing", "linear_probe", "nearest_neighbour",
           "random_forest", "raw_features", "rbf_probe", "rocket_features", "rocket_ridge",
           "warm_up"]

RIDGE_CV_ALPHAS = np.logspace(-3, 3, 10)
"""Penalties of every ridge classifier: MiniRocket's (and aeon's) grid, chosen by
leave-one-out cross-validation (``RidgeClassifierCV``), which works down to one
labelled series per class."""
# aeon's MiniRocket and MultiRocket reject series shorter than this.
MIN_ROCKET_LENGTH = 9


@dataclass
class Features:
    """Features of the training and test series from one fitted source.

    Attributes
    ----------
    train, test : ndarray
        ``(n_train, n_features)`` and ``(n_test, n_features)``; raw series for the
        1-NN arms, ``(n, n_timestamps, n_channels)``.
    fit_seconds, transform_seconds : float
        Unsupervised fit of the source; mapping train and test series.
    n_iter : int or None
        Optimiser steps of an sslts encoder.
    params : dict
        The source's parameters, recorded with every row.
    """

    train: np.ndarray
    test: np.ndarray
    fit_seconds: float = 0.0
    transform_seconds: float = 0.0
    n_iter: int | None = None
    params: dict = field(default_factory=dict)


def fill_missing(X: np.ndarray, min_length: int = MIN_ROCKET_LENGTH) -> np.ndarray:
    """Series without NaN for the arms that cannot take them (rockets, catch22, 1-NN).

    Inner gaps are interpolated linearly; leading and trailing NaN (variable-length
    padding) repeat the nearest observed value; series shorter than ``min_length``
    are extended the same way.  An all-NaN channel becomes zeros.

    Parameters
    ----------
    X : ndarray of shape (n_series, n_timestamps, n_channels)
    min_length : int, default=9
        aeon's rockets need at least 9 time steps.

    Returns
    -------
    ndarray of shape (n_series, max(n_timestamps, min_length), n_channels), float64

    Examples
    --------
    >>> fill_missing(np.array([[[np.nan], [1.0], [np.nan], [3.0], [np.nan]]]), 6)[0, :, 0]
    array([1., 1., 2., 3., 3., 3.])
    """
    X = np.asarray(X, dtype=np.float64)
    length = max(X.shape[1], min_length)
    out = np.zeros((X.shape[0], length, X.shape[2]))
    steps = np.arange(length)
    for i, c in np.ndindex(X.shape[0], X.shape[2]):
        values = X[i, :, c]
        seen = np.flatnonzero(~np.isnan(values))
        if len(seen):  # np.interp holds the end values beyond the observed range
            out[i, :, c] = np.interp(steps, seen, values[seen])
    return out


def encoder_features(cls, params: dict, X_train, X_test) -> Features:
    """Fit an sslts encoder on every training series; instance embeddings of both sets."""
    encoder = cls(**params)
    start = time.perf_counter()
    encoder.fit(X_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    train = encoder.encode(X_train, level="instance")
    test = encoder.encode(X_test, level="instance")
    return Features(train, test, fit_seconds, time.perf_counter() - start,
                    int(encoder.n_iter_), changed_params(encoder))


def rocket_features(kind: str, X_train, X_test, seed: int, **params) -> Features:
    """aeon's MiniRocket or MultiRocket transform, fitted on every training series.

    Parameters
    ----------
    kind : {"minirocket", "multirocket"}
    X_train, X_test : ndarray of shape (n, n_timestamps, n_channels)
        Without NaN (:func:`fill_missing`); aeon takes (n, n_channels, n_timestamps).
    seed : int
        The transform's ``random_state``.
    **params
        Its other parameters (default: the papers' kernel counts as aeon sets them).
    """
    from aeon.transformations.collection.convolution_based import MiniRocket, MultiRocket

    cls = {"minirocket": MiniRocket, "multirocket": MultiRocket}[kind]
    transform = cls(random_state=seed, **params)
    Xtr, Xte = (np.ascontiguousarray(X.transpose(0, 2, 1)) for X in (X_train, X_test))
    start = time.perf_counter()
    transform.fit(Xtr)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    train, test = transform.transform(Xtr), transform.transform(Xte)
    return Features(train, test, fit_seconds, time.perf_counter() - start,
                    params=plain_params(transform.get_params()))


def catch22_features(X_train, X_test) -> Features:
    """catch24 (the 22 catch22 features, mean and std) of every channel, by aeon.

    The features of aeon's ``Catch22Classifier`` defaults (``catch24=True``,
    ``replace_nans=True``: NaN features become 0), channel after channel.
    Deterministic, no fit.
    """
    from aeon.transformations.collection.feature_based import Catch22

    def table(X):
        features = Catch22(catch24=True, replace_nans=True).fit_transform(
            np.ascontiguousarray(np.transpose(X, (0, 2, 1)), dtype=np.float64))
        return np.nan_to_num(np.asarray(features, dtype=np.float64), nan=0.0, posinf=0.0,
                             neginf=0.0)

    start = time.perf_counter()
    train, test = table(X_train), table(X_test)
    return Features(train, test, 0.0, time.perf_counter() - start,
                    params={"catch24": True, "replace_nans": True})


def raw_features(X_train, X_test) -> Features:
    """The NaN-filled series themselves, for the 1-NN arms."""
    return Features(X_train, X_test)


def warm_up() -> None:
    """Run aeon's numba kernels, tslearn's DTW and torch once before any timed fit.

    The first call of each compiles or initialises (seconds to tens of seconds);
    without this the first dataset's times would include it.
    """
    warm_up_torch()
    X = np.random.default_rng(0).normal(size=(4, 16, 1))
    for kind in ("minirocket", "multirocket"):
        for channels in (1, 2):
            data = np.repeat(X, channels, axis=2)
            rocket_features(kind, data, data, 0, n_kernels=84)
    NearestNeighborBaseline(metric="dtw_d").fit(X, [0, 0, 1, 1]).predict(X)
    catch22_features(X, X)


# ------------------------------------------------------------------ probes
def linear_probe(features, y):
    """Standardised features, ridge classifier with the penalty chosen by LOO CV."""
    model = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=RIDGE_CV_ALPHAS))
    return model.fit(features, y)


def rbf_probe(features, y):
    """TS2Vec's protocol (:func:`sslts.evaluation.fit_svm`): RBF SVM, C by 5-fold CV."""
    return fit_svm(features, y)


def rocket_ridge(features, y):
    """aeon's MiniRocketClassifier head: ``StandardScaler(with_mean=False)`` + ridge CV."""
    model = make_pipeline(StandardScaler(with_mean=False),
                          RidgeClassifierCV(alphas=RIDGE_CV_ALPHAS))
    return model.fit(features, y)


def block_ridge(widths, *, balance: bool = True):
    """A ridge classifier on concatenated feature blocks, each standardised on its own.

    Parameters
    ----------
    widths : sequence of int
        Column counts of the blocks, in order.
    balance : bool, default=True
        Weight each standardised block by ``1 / sqrt(width)`` so that every block has
        the same total variance; otherwise MiniRocket's ~10,000 columns would outweigh
        an embedding's few hundred in the ridge penalty.

    Returns
    -------
    callable
        ``fit(features, y)`` returning the fitted pipeline.
    """
    bounds = np.concatenate([[0], np.cumsum(widths)])
    blocks = [(f"block{i}", StandardScaler(), list(range(a, b)))
              for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]
    weights = ({name: 1 / np.sqrt(len(cols)) for name, _, cols in blocks} if balance
               else None)

    def fit(features, y):
        union = ColumnTransformer(blocks, transformer_weights=weights)
        return make_pipeline(union, RidgeClassifierCV(alphas=RIDGE_CV_ALPHAS)).fit(features, y)

    return fit


def random_forest(seed: int):
    """aeon's Catch22Classifier head: a 200-tree random forest."""
    def fit(features, y):
        return RandomForestClassifier(n_estimators=200, random_state=seed,
                                      n_jobs=1).fit(features, y)
    return fit


def nearest_neighbour(metric: str):
    """1-NN on the raw series (``"euclidean"`` or ``"dtw_d"``, full warping window)."""
    def fit(series, y):
        return NearestNeighborBaseline(metric=metric).fit(series, y)
    return fit


def params_text(params: dict) -> str:
    """A source's parameters as sorted JSON, for the CSV."""
    return json.dumps(params, sort_keys=True)
