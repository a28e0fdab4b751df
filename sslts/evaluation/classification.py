"""Classification protocols on instance embeddings.

Every protocol takes training embeddings and labels and returns a fitted scikit-learn
classifier; :func:`evaluate_classification` runs one end to end on an sslts encoder.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from ..utils.validation import check_series_pair

__all__ = [
    "CLASSIFICATION_PROTOCOLS",
    "UCR_NOT_NORMALISED",
    "evaluate_classification",
    "fit_knn",
    "fit_linear_svm",
    "fit_logistic",
    "fit_svm",
    "ts2vec_normalise",
]

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
"""UCR datasets the archive ships without z-normalisation; :func:`ts2vec_normalise`
standardises them with one training mean and std, as the official TS2Vec loader does."""

_C_GRID = [1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000, 10000, np.inf]
# TS2Vec subsamples larger training sets before the grid search.
_SVM_MAX_SAMPLES = 10_000
# Solver iterations of every SVC fit (the official grid search's bound).
_SVM_MAX_ITER = 10_000_000


def ts2vec_normalise(name: str, X_train: np.ndarray, X_test: np.ndarray):
    """Normalise a dataset as TS2Vec's data loaders do.

    Multivariate (UEA) data gets a per-channel standardisation fitted on all training
    timestamps; the UCR datasets in :data:`UCR_NOT_NORMALISED` get one global mean
    and std from the training set; other UCR datasets are used as shipped.

    Parameters
    ----------
    name : str
        Dataset name.
    X_train, X_test : ndarray of shape (n_series, n_timestamps, n_channels)
        NaN marks missing values and padding; they are ignored by the statistics.

    Returns
    -------
    X_train, X_test : ndarray of the same shapes
        New arrays (inputs are not modified).
    """
    X_train, X_test = check_series_pair(X_train, X_test, ("X_train", "X_test"))
    if X_train.shape[2] > 1:
        mean = np.nanmean(X_train, axis=(0, 1))
        std = np.nanstd(X_train, axis=(0, 1))
    elif name in UCR_NOT_NORMALISED:
        mean, std = np.nanmean(X_train), np.nanstd(X_train)
    else:
        return X_train.copy(), X_test.copy()
    std = np.where(std > 0, std, 1.0)
    return (X_train - mean) / std, (X_test - mean) / std


def fit_svm(features: np.ndarray, y: np.ndarray, *, n_jobs: int | None = None,
            max_iter: int = _SVM_MAX_ITER):
    """TS2Vec's SVM protocol on instance embeddings, with a bounded solver.

    An RBF SVC with ``gamma="scale"``; C is chosen by 5-fold grid search over
    ``{1e-4, ..., 1e4, inf}`` and the best model is refitted on the whole training
    set.  When the training set is too small for 5 folds (fewer than 5 series per
    class on average, or fewer than 50 series) the hard-margin ``C = inf`` is used
    without search.  Training sets above 10,000 series are first subsampled
    (stratified, ``random_state=0``), as in the official code.

    Every SVC stops after ``max_iter`` solver iterations.  The official code bounds
    only the grid search (at the same 10 million); its hard-margin fit has no bound
    and never ends when the embeddings of a small training set are not separable
    (two identical embeddings with different labels suffice).  Bounded, that fit
    takes seconds (about 2 s for 30 series) and scikit-learn warns with a
    ``ConvergenceWarning``; the returned model is then the solver's last iterate.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
        Training embeddings.
    y : ndarray of shape (n_samples,)
        Labels.
    n_jobs : int, default=None
        Parallel jobs of the grid search (the official code uses 5).
    max_iter : int, default=10_000_000
        Solver iterations of each SVC fit; -1 removes the bound (the official
        hard-margin behaviour, which can run for hours).

    Returns
    -------
    SVC
        The fitted classifier.

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]])
    >>> fit_svm(X, [0, 0, 1, 1]).predict([[0.05], [1.05]])
    array([0, 1])
    """
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or (
        max_iter < 1 and max_iter != -1
    ):
        raise ValueError(f"max_iter must be a positive integer or -1, got {max_iter!r}.")
    y = np.asarray(y)
    n_classes = len(np.unique(y))
    if len(y) // n_classes < 5 or len(y) < 50:
        return SVC(C=np.inf, gamma="scale", max_iter=max_iter).fit(features, y)
    if len(y) > _SVM_MAX_SAMPLES:
        features, _, y, _ = train_test_split(
            features, y, train_size=_SVM_MAX_SAMPLES, random_state=0, stratify=y
        )
    search = GridSearchCV(
        SVC(kernel="rbf", gamma="scale", max_iter=max_iter),
        {"C": _C_GRID},
        cv=5,
        n_jobs=n_jobs,
    )
    search.fit(features, y)
    return search.best_estimator_


def fit_knn(features: np.ndarray, y: np.ndarray, *, n_neighbors: int = 5):
    """k-nearest-neighbour probe on standardised embeddings.

    ``StandardScaler`` followed by a Euclidean k-NN vote.  k = 5 follows the NC-VQVAE
    thesis; TS2Vec's own ``fit_knn`` is the ``n_neighbors=1`` case.  k is capped at
    the number of training series.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
        Training embeddings.
    y : ndarray of shape (n_samples,)
        Labels.
    n_neighbors : int, default=5
        Neighbours that vote.

    Returns
    -------
    Pipeline
        The fitted scaler + classifier.
    """
    knn = KNeighborsClassifier(n_neighbors=min(n_neighbors, len(y)))
    return make_pipeline(StandardScaler(), knn).fit(features, y)


def fit_linear_svm(features: np.ndarray, y: np.ndarray, *, C: float = 1.0):
    """Linear SVM probe (one-vs-rest ``LinearSVC``) on standardised embeddings.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
        Training embeddings.
    y : ndarray of shape (n_samples,)
        Labels.
    C : float, default=1.0
        Inverse regularisation strength.

    Returns
    -------
    Pipeline
        The fitted scaler + classifier.
    """
    svm = LinearSVC(C=C, max_iter=100_000, random_state=0)
    return make_pipeline(StandardScaler(), svm).fit(features, y)


def fit_logistic(features: np.ndarray, y: np.ndarray):
    """Logistic-regression probe of TS2Vec's ``fit_lr`` and IARS's classifier.

    ``StandardScaler`` followed by one-vs-rest logistic regression (L2, C = 1,
    ``max_iter=1_000_000``, ``random_state=0``), as both official implementations do.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
        Training embeddings.
    y : ndarray of shape (n_samples,)
        Labels.

    Returns
    -------
    Pipeline
        The fitted scaler + classifier.
    """
    lr = LogisticRegression(max_iter=1_000_000, random_state=0)
    return make_pipeline(StandardScaler(), OneVsRestClassifier(lr)).fit(features, y)


CLASSIFICATION_PROTOCOLS = {
    "svm": fit_svm,
    "knn": fit_knn,
    "linear_svm": fit_linear_svm,
    "logistic": fit_logistic,
}
"""Protocol name -> ``fit(features, y)`` returning a fitted classifier."""


def evaluate_classification(
    encoder, X_train, y_train, X_test, y_test, *, protocols=("svm",), fit=True
) -> dict[str, float]:
    """Fit an encoder without labels, then classifiers on its instance embeddings.

    Parameters
    ----------
    encoder : sslts estimator
        Any :class:`~sslts.base.BaseSSLTransformer`.
    X_train, X_test : array-like of shape (n_series, n_timestamps[, n_channels])
        Series of the official split (normalise them first, e.g. with
        :func:`ts2vec_normalise`).
    y_train, y_test : array-like of shape (n_series,)
        Labels; ``y_train`` is used only by the classifiers.
    protocols : sequence of str, default=("svm",)
        Keys of :data:`CLASSIFICATION_PROTOCOLS`.
    fit : bool, default=True
        Fit ``encoder`` on ``X_train`` first; False evaluates it as it is.

    Returns
    -------
    dict of str to float
        Test accuracy of each protocol.
    """
    unknown = set(protocols) - set(CLASSIFICATION_PROTOCOLS)
    if unknown:
        raise ValueError(
            f"Unknown protocol(s) {sorted(unknown)}; choose from "
            f"{sorted(CLASSIFICATION_PROTOCOLS)}."
        )
    if fit:
        encoder.fit(X_train)
    train_features = encoder.encode(X_train, level="instance")
    test_features = encoder.encode(X_test, level="instance")
    y_test = np.asarray(y_test)
    return {
        name: float(np.mean(
            CLASSIFICATION_PROTOCOLS[name](train_features, y_train).predict(test_features)
            == y_test
        ))
        for name in protocols
    }
