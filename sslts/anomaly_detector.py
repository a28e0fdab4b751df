"""Anomaly detection with self-supervised timestamp embeddings (TS2Vec's protocol)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._wrapping import as_series_list, fit_encoder, restore_shape
from .anomaly_scores import (
    adf_differences,
    adjusted_errors,
    flag_anomalies,
    masked_errors,
    point_adjust,
    standardised_differences,
    ts2vec_threshold,
)
from .base import store_init_arguments
from .utils.validation import StrictParamsMixin

__all__ = ["EmbeddingAnomalyDetector"]


class EmbeddingAnomalyDetector(StrictParamsMixin, OutlierMixin, BaseEstimator):
    """Flag the timestamps whose embedding changes when they are hidden.

    TS2Vec's streaming protocol: every timestamp ``t`` is embedded from its causal
    window ``[t - padding, t]`` twice, once as it is and once with ``t`` masked; the
    L1 distance ``e_t`` between the two is large when the value at ``t`` is
    surprising given its past.  The score is ``(e_t - m_t) / m_t``, ``m_t`` being the
    mean of the ``ma_window`` previous errors, so that the score is relative to the
    recent level of the errors.  ``fit`` trains the encoder on (mostly normal)
    training series and sets the threshold from their scores.

    Parameters
    ----------
    encoder : sslts estimator, default=None
        The self-supervised encoder; a clone is fitted on the training series.  A
        fitted encoder wrapped in :class:`sklearn.frozen.FrozenEstimator` is used as
        it is.  It must encode at ``level="timestamp"``.  None uses
        ``TS2VecTransformer()``.
    padding : int, default=200
        Past steps of each causal window.
    ma_window : int, default=21
        Errors in the moving mean ``m_t`` (TS2Vec's ``Z``).  The first steps of a
        series average fewer errors; the very first step scores 0.
    n_diffs : int or "adf", default=2
        Differences taken before standardising.  Differencing makes a change of
        shape stand out from a slow drift of the level: on a UCR anomaly archive series
        the raw values rank the anomaly below normal steps, one difference ranks it
        first and two rank more of its steps above the normal ones (ROC AUC 0.14,
        0.69 and 0.86; see the user guide's "When to use sslts").  Each difference
        also amplifies high-frequency noise: on noisy signals try ``1``.  ``0``
        encodes the raw values; ``"adf"`` is the official preprocessing: difference
        while an augmented Dickey-Fuller test finds a unit root in the training
        series (needs statsmodels; the largest count over the training series and
        channels is used).  The first ``n_diffs`` steps of a series score 0.
    contamination : "auto" or float in (0, 0.5], default="auto"
        How the threshold is set from the training scores (the first
        ``ma_window + 1`` of each series left out): "auto" is TS2Vec's
        ``mean + beta * std``; a float is the ``1 - contamination`` quantile.
    beta : float, default=4.0
        Width of the "auto" rule, in standard deviations.
    threshold : float, default=None
        A fixed threshold on :meth:`score_samples`; overrides ``contamination``.
    delay : int, default=7
        Detection delay: :meth:`predict` keeps only the first positive of every
        ``delay + 1`` steps, and :meth:`score` is the point-adjusted F1 with this
        delay (TS2Vec: 7 for minutely KPI, 3 for hourly Yahoo).
    fit_window : int, default=None
        Fit the encoder on the training series cut into non-overlapping windows of
        this length, for methods that learn from many short series; None passes whole
        series (TS2Vec sections long series itself).
    batch_size : int, default=None
        Windows per forward pass.

    Attributes
    ----------
    encoder_ : sslts estimator
        The fitted encoder.
    n_diffs_ : int
        Differences applied.
    mean_, scale_ : ndarray of shape (n_channels,)
        Statistics of the differenced training series used to standardise.
    threshold_ : float
        Scores above it are anomalous.
    n_features_in_ : int
        Number of channels.

    See Also
    --------
    sslts.evaluation.evaluate_anomaly_detection : The paper's protocol on one series.

    Notes
    -----
    Input: one series is 1-D ``(n_timestamps,)`` or 2-D ``(n_timestamps,
    n_channels)``; several are 3-D ``(n_series, n_timestamps, n_channels)``
    (NaN-padded) or a list.  Outputs per timestamp have the same form.

    :meth:`score_samples` returns anomaly scores, **higher = more anomalous** (the
    sign of the paper's score); :meth:`decision_function` and :meth:`predict` follow
    scikit-learn's outlier detectors (negative / -1 = anomalous).

    References
    ----------
    .. [1] Z. Yue, Y. Wang, J. Duan, T. Yang, C. Huang, Y. Tong and B. Xu, "TS2Vec:
       Towards Universal Representation of Time Series", AAAI 2022, Section 4.3.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TS2VecTransformer
    >>> t = np.arange(400)
    >>> x = np.sin(2 * np.pi * t / 25) + 0.05 * np.random.default_rng(0).normal(size=400)
    >>> x[300:306] += 0.8 * np.array([1, -1, 1, -1, 1, -1])  # a burst of jitter
    >>> enc = TS2VecTransformer(output_dims=8, hidden_dims=8, depth=2, n_iters=10,
    ...                         device="cpu", random_state=0)
    >>> det = EmbeddingAnomalyDetector(enc, padding=30).fit(x[:200])
    >>> det.score_samples(x).shape
    (400,)
    >>> int(np.argmax(det.score_samples(x)))  # inside the burst
    301
    >>> flagged = np.flatnonzero(det.predict(x) == -1)
    >>> flagged[flagged >= 200]  # the steps flagged after the training part
    array([300])
    """

    _parameter_constraints: dict = {
        "encoder": [HasMethods(["fit", "encode"]), None],
        "padding": [Interval(Integral, 0, None, closed="left")],
        "ma_window": [Interval(Integral, 1, None, closed="left")],
        "n_diffs": [Interval(Integral, 0, None, closed="left"), StrOptions({"adf"})],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "threshold": [Interval(Real, None, None, closed="neither"), None],
        "delay": [Interval(Integral, 0, None, closed="left")],
        "fit_window": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        encoder=None,
        *,
        padding=200,
        ma_window=21,
        n_diffs=2,
        contamination="auto",
        beta=4.0,
        threshold=None,
        delay=7,
        fit_window=None,
        batch_size=None,
    ):
        store_init_arguments(self, locals())

    def fit(self, X, y=None):
        """Fit the encoder on normal series and set the threshold from their scores.

        Parameters
        ----------
        X : array-like or list of array-like
            Training series (see Notes); NaN marks missing values.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._validate_params()
        series, _ = as_series_list(X, "X", owner=self)
        self.n_features_in_ = series[0].shape[1]
        self.n_diffs_ = self._count_diffs(series)
        shortest = min(len(s) for s in series)
        if shortest <= self.n_diffs_:
            raise ValueError(
                f"A training series of X has {shortest} sample(s) (time steps), no more "
                f"than n_diffs={self.n_diffs_}; pass longer series or a smaller n_diffs."
            )
        prepared, self.mean_, self.scale_ = standardised_differences(series, self.n_diffs_)
        self.encoder_ = fit_encoder(self.encoder, prepared, window=self.fit_window)
        scores = [self._scores(p)[self.ma_window + 1 :] for p in prepared]
        self.threshold_ = self._threshold(np.concatenate(scores), max(len(x) for x in series))
        return self

    def score_samples(self, X):
        """Anomaly score of every timestamp (higher = more anomalous).

        Parameters
        ----------
        X : array-like or list of array-like
            Series (see Notes); each timestamp is scored from its own past inside its
            series, so pass the history before the part of interest.

        Returns
        -------
        ndarray of shape (n_timestamps,), (n_series, n_timestamps) or list
            NaN after the end of shorter series of 3-D input.
        """
        check_is_fitted(self, "encoder_")
        series, kind = as_series_list(X, "X", n_channels=self.n_features_in_, owner=self)
        outputs = []
        for s in series:
            scores = np.zeros(len(s))
            (diffed,), _, _ = standardised_differences([s], self.n_diffs_, mean=self.mean_,
                                                       scale=self.scale_)
            if len(diffed):
                scores[self.n_diffs_ :] = self._scores(diffed)
            outputs.append(scores[:, None])
        return restore_shape(outputs, kind, squeeze=True, length=np.shape(X)[1] if kind == "3d"
                             else 0)

    def decision_function(self, X):
        """``threshold_ - score_samples(X)``: negative for anomalies (scikit-learn's sign).

        Parameters
        ----------
        X : array-like or list of array-like

        Returns
        -------
        ndarray, same form as :meth:`score_samples`
        """
        scores = self.score_samples(X)
        if isinstance(scores, list):
            return [self.threshold_ - s for s in scores]
        return self.threshold_ - scores

    def predict(self, X):
        """-1 for anomalous timestamps, 1 for normal ones.

        A positive is dropped when another kept positive lies in the ``delay`` steps
        before it (TS2Vec), so a burst of high scores raises one alarm.

        Parameters
        ----------
        X : array-like or list of array-like

        Returns
        -------
        ndarray of int, same form as :meth:`score_samples`
        """
        return self._map_rows(self.score_samples(X), lambda s: np.where(
            flag_anomalies(s, self.threshold_, self.delay) == 1, -1, 1))

    def score(self, X, y):
        """Point-adjusted F1 of :meth:`predict` against labels (TS2Vec's metric).

        Every anomalous segment of ``y`` counts as detected when a positive falls in
        its first ``delay + 1`` steps, as missed otherwise.

        Parameters
        ----------
        X : array-like or list of array-like
            Series.
        y : array-like or list of array-like
            1 on anomalous timestamps, 0 elsewhere, in the form of ``X``'s scores.

        Returns
        -------
        float
        """
        predictions = self.predict(X)
        if isinstance(predictions, np.ndarray) and predictions.ndim == 1:
            predictions, y = [predictions], [y]
        tp = n_pred = n_true = 0
        for pred, labels in zip(predictions, y):
            labels = np.asarray(labels, dtype=float)
            keep = ~np.isnan(labels)  # the padding of shorter series
            labels = labels[keep].astype(int)
            adjusted = point_adjust((pred[keep] == -1).astype(int), labels, self.delay)
            tp += int(np.sum(adjusted * labels))
            n_pred, n_true = n_pred + int(adjusted.sum()), n_true + int(labels.sum())
        precision, recall = tp / max(n_pred, 1), tp / max(n_true, 1)
        return 2 * precision * recall / (precision + recall) if tp else 0.0

    # ---------------------------------------------------------------- helpers
    def _count_diffs(self, series) -> int:
        if self.n_diffs != "adf":
            return int(self.n_diffs)
        return max(adf_differences(s[:, c]) for s in series for c in range(s.shape[1]))

    def _scores(self, prepared: np.ndarray) -> np.ndarray:
        """Adjusted masked errors of one preprocessed (T, C) series; 0 without history."""
        errors = masked_errors(self.encoder_, prepared, padding=self.padding,
                               batch_size=self.batch_size)
        return np.nan_to_num(adjusted_errors(errors, self.ma_window, min_periods=1), nan=0.0)

    def _threshold(self, reference: np.ndarray, longest: int) -> float:
        if self.threshold is not None:
            return float(self.threshold)
        if len(reference) == 0:
            raise ValueError(
                f"The training series are too short to set a threshold: the longest has "
                f"{longest} sample(s) (time steps), and the scores of the first "
                f"n_diffs + ma_window + 1 = {self.n_diffs_ + self.ma_window + 1} are left "
                "out; pass longer series or a fixed threshold."
            )
        if self.contamination == "auto":
            return ts2vec_threshold(reference, self.beta, skip=0)
        return float(np.quantile(reference, 1 - self.contamination))

    @staticmethod
    def _map_rows(scores, func):
        """Apply ``func`` to each series' scores (NaN padding stays normal)."""
        if isinstance(scores, list):
            return [func(s) for s in scores]
        if scores.ndim == 1:
            return func(scores)
        return np.stack([func(s) for s in scores])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        return tags
