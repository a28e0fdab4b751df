"""Evaluation protocols of the papers, applied to sslts embeddings."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.svm import SVC

__all__ = ["fit_svm", "ts2vec_normalise", "UCR_NOT_NORMALISED"]

# UCR-2018 datasets that are not z-normalised per series in the archive; TS2Vec's
# protocol normalises them globally with the training mean and std.
UCR_NOT_NORMALISED = frozenset(
    """AllGestureWiimoteX AllGestureWiimoteY AllGestureWiimoteZ BME Chinatown Crop
    EOGHorizontalSignal EOGVerticalSignal Fungi GestureMidAirD1 GestureMidAirD2 GestureMidAirD3
    GesturePebbleZ1 GesturePebbleZ2 GunPointAgeSpan GunPointMaleVersusFemale
    GunPointOldVersusYoung HouseTwenty InsectEPGRegularTrain InsectEPGSmallTrain
    MelbournePedestrian PickupGestureWiimoteZ PigAirwayPressure PigArtPressure PigCVP PLAID
    PowerCons Rock SemgHandGenderCh2 SemgHandMovementCh2 SemgHandSubjectCh2
    ShakeGestureWiimoteZ SmoothSubspace UMD""".split()
)

_C_GRID = [1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000, 10000, np.inf]


def ts2vec_normalise(name: str, X_train: np.ndarray, X_test: np.ndarray):
    """Normalise a dataset as TS2Vec's data loaders do.

    Multivariate (UEA) data gets a per-channel standardisation fitted on all training
    timestamps; the UCR datasets in :data:`UCR_NOT_NORMALISED` get one global mean
    and std from the training set; other UCR datasets are used as shipped.

    Parameters
    ----------
    name : str
        Dataset name.
    X_train, X_test : ndarray of shape (n, T, C)

    Returns
    -------
    X_train, X_test : ndarray
        New arrays (inputs are not modified).
    """
    if X_train.shape[2] > 1:
        mean = np.nanmean(X_train, axis=(0, 1))
        std = np.nanstd(X_train, axis=(0, 1))
    elif name in UCR_NOT_NORMALISED:
        mean, std = np.nanmean(X_train), np.nanstd(X_train)
    else:
        return X_train.copy(), X_test.copy()
    std = np.where(std > 0, std, 1.0)
    return (X_train - mean) / std, (X_test - mean) / std


def fit_svm(features: np.ndarray, y: np.ndarray, *, n_jobs: int | None = None):
    """TS2Vec's SVM protocol on instance embeddings.

    An RBF SVC with ``gamma="scale"``; C is chosen by 5-fold grid search over
    ``{1e-4, ..., 1e4, inf}``, except when the training set is too small
    (fewer than 5 series per class on average, or fewer than 50 series), where the
    hard-margin ``C = inf`` is used without search.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
        Training embeddings.
    y : ndarray of shape (n_samples,)
        Labels.
    n_jobs : int, default=None
        Parallel jobs of the grid search.

    Returns
    -------
    SVC
        The fitted classifier.
    """
    n_classes = len(np.unique(y))
    svm = SVC(C=np.inf, gamma="scale")
    if len(y) // n_classes < 5 or len(y) < 50:
        return svm.fit(features, y)
    if len(y) > 10_000:
        features, _, y, _ = train_test_split(
            features, y, train_size=10_000, random_state=0, stratify=y
        )
    search = GridSearchCV(
        SVC(kernel="rbf", gamma="scale", max_iter=10_000_000),
        {"C": _C_GRID},
        cv=5,
        n_jobs=n_jobs,
    )
    search.fit(features, y)
    return search.best_estimator_
