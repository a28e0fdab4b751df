"""Distance-based baselines users compare representations against.

1-NN with the Euclidean distance (ED) and with dynamic time warping, multivariate
either *dependent* (DTW-D: one warping path shared by all channels) or *independent*
(DTW-I: a separate path per channel, distances summed), as in the IARS paper's
Table III and Shokoohi-Yekta et al., "Generalizing DTW to the multi-dimensional case
requires an adaptive approach", DMKD 2017.  The DTW kernels are tslearn's.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..utils.validation import check_series_pair, check_time_series

__all__ = ["NearestNeighborBaseline", "pairwise_distances"]


def pairwise_distances(X, Y, metric: str = "euclidean", *, sakoe_chiba_radius=None,
                       n_jobs=None) -> np.ndarray:
    """Squared distances between every series of ``X`` and every series of ``Y``.

    Parameters
    ----------
    X : ndarray of shape (n_x, n_timestamps, n_channels)
    Y : ndarray of shape (n_y, n_timestamps, n_channels)
        NaN right-padding (variable length) is allowed for the DTW metrics only.
    metric : {"euclidean", "dtw_d", "dtw_i"}, default="euclidean"
        ``"euclidean"``: sum of squared differences over time and channels;
        ``"dtw_d"``: DTW cost with the squared Euclidean distance between the channel
        vectors of two timestamps; ``"dtw_i"``: sum over channels of the univariate
        DTW costs.  For one channel DTW-D and DTW-I coincide.
    sakoe_chiba_radius : int, default=None
        Warping window of DTW; None allows any warping (full window).
    n_jobs : int, default=None
        Parallel jobs of tslearn's ``cdist_dtw``.

    Returns
    -------
    ndarray of shape (n_x, n_y), float64
        Squared distances (monotone in the distances, so the nearest neighbours are
        the same).
    """
    X, Y = check_series_pair(X, Y)
    if metric == "euclidean":
        if np.isnan(X).any() or np.isnan(Y).any():
            raise ValueError(
                "The Euclidean distance needs equal-length series without missing values; "
                "use metric='dtw_d' or 'dtw_i' for NaN-padded variable-length data."
            )
        if X.shape[1] != Y.shape[1]:
            raise ValueError(
                f"The Euclidean distance needs series of one length; X has {X.shape[1]} "
                f"timestamps and Y {Y.shape[1]}. Use metric='dtw_d' or 'dtw_i'."
            )
        return cdist(X.reshape(len(X), -1), Y.reshape(len(Y), -1), metric="sqeuclidean")
    from tslearn.metrics import cdist_dtw  # here: it loads numba, ~1 s, only for DTW

    def dtw(A, B):
        constraint = None if sakoe_chiba_radius is None else "sakoe_chiba"
        # tslearn returns the square root of the accumulated squared cost.
        return cdist_dtw(A, B, global_constraint=constraint,
                         sakoe_chiba_radius=sakoe_chiba_radius, n_jobs=n_jobs) ** 2

    if metric == "dtw_d":
        return dtw(X, Y)
    if metric == "dtw_i":
        return sum(dtw(X[:, :, [c]], Y[:, :, [c]]) for c in range(X.shape[2]))
    raise ValueError(f"Unknown metric {metric!r}; use 'euclidean', 'dtw_d' or 'dtw_i'.")


class NearestNeighborBaseline(ClassifierMixin, BaseEstimator):
    """1-nearest-neighbour classifier on raw series (1-NN-ED, 1-NN-DTW-D, 1-NN-DTW-I).

    Parameters
    ----------
    metric : {"euclidean", "dtw_d", "dtw_i"}, default="euclidean"
        See :func:`pairwise_distances`.
    sakoe_chiba_radius : int, default=None
        DTW warping window in time steps; None = unconstrained.
    n_jobs : int, default=None
        Parallel jobs of the DTW computation.

    Attributes
    ----------
    X_fit_ : ndarray of shape (n_train, n_timestamps, n_channels)
        The training series.
    y_fit_ : ndarray of shape (n_train,)
        Their labels.
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels.

    Notes
    -----
    Ties go to the training series that comes first, as in the UCR archive's
    reference 1-NN code.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0, 1.0], [5.0, 5.0, 6.0]])
    >>> clf = NearestNeighborBaseline().fit(X, ["low", "high"])
    >>> clf.predict(np.array([[0.0, 1.0, 1.0], [4.0, 4.0, 4.0]]))
    array(['low', 'high'], dtype='<U4')
    """

    _parameter_constraints: dict = {
        "metric": [StrOptions({"euclidean", "dtw_d", "dtw_i"})],
        "sakoe_chiba_radius": [Interval(Integral, 0, None, closed="left"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(self, *, metric="euclidean", sakoe_chiba_radius=None, n_jobs=None):
        self.metric = metric
        self.sakoe_chiba_radius = sakoe_chiba_radius
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Store the training series.

        Parameters
        ----------
        X : array-like of shape (n_train, n_timestamps[, n_channels])
        y : array-like of shape (n_train,)

        Returns
        -------
        self : NearestNeighborBaseline
        """
        self._validate_params()
        self.X_fit_ = check_time_series(X, estimator=self, dtype=np.float64)
        self.y_fit_ = np.asarray(y)
        if len(self.y_fit_) != len(self.X_fit_):
            raise ValueError(f"X has {len(self.X_fit_)} series but y has {len(self.y_fit_)}.")
        self.classes_ = np.unique(self.y_fit_)
        return self

    def predict(self, X):
        """Label of the nearest training series.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels])

        Returns
        -------
        ndarray of shape (n_series,)
        """
        check_is_fitted(self, "X_fit_")
        X = check_time_series(X, n_channels=self.X_fit_.shape[2], estimator=self,
                              dtype=np.float64)
        X, X_fit = _common_length(X, self.X_fit_)
        dist = pairwise_distances(X, X_fit, self.metric,
                                  sakoe_chiba_radius=self.sakoe_chiba_radius,
                                  n_jobs=self.n_jobs)
        return self.y_fit_[np.argmin(dist, axis=1)]  # argmin keeps the first of ties

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.metric != "euclidean"
        tags.input_tags.three_d_array = True
        return tags


def _common_length(A: np.ndarray, B: np.ndarray):
    """NaN-pad the shorter of two datasets so that both have the same length."""
    length = max(A.shape[1], B.shape[1])

    def pad(Z):
        return np.pad(Z, ((0, 0), (0, length - Z.shape[1]), (0, 0)), constant_values=np.nan)

    return pad(A), pad(B)
