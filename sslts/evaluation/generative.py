"""Scores of generated time series: FID, IS and CAS with a supervised FCN.

The protocol of TimeVQVAE (Lee et al., 2023) and NC-VQVAE (Mathisen, 2024), whose
metrics are computed with an :class:`~sslts.evaluation.fcn.FCNClassifier` trained
on the dataset's TRAIN split:

* **FID** (:func:`fid`): the Fréchet distance between Gaussians fitted to the FCN's
  pooled features of real and of generated series,
  ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``.  The real set is the
  TEST split after the tokenizer's STFT -> inverse STFT round trip; the generated
  set is ``max(n_test, 256)`` unconditional samples.
* **IS** (:func:`inception_score`): ``exp(E_x KL(p(y|x) || p(y)))`` of the FCN's
  class probabilities on the same samples, averaged over 10 splits.  It lies in
  ``[1, n_classes]``; the real set's IS is reported beside it as a ceiling.
* **CAS** (:func:`cas`), classification accuracy score: a fresh FCN trained on
  class-conditional samples (TRAIN's class counts, scaled up to about 1000 series
  when TRAIN is smaller; :func:`synthetic_class_counts`) and scored on the real TEST
  split.

:func:`evaluate_generation` runs all three against any object with a ``sample``
method (see its docstring for the contract).
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import torch
from scipy.linalg import LinAlgWarning, sqrtm
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from ..encoders.vqvae import STFT, InverseSTFT
from .fcn import FCNClassifier, draw_seed

__all__ = [
    "frechet_distance",
    "fid",
    "inception_score",
    "synthetic_class_counts",
    "accuracy_ema",
    "cas",
    "stft_round_trip",
    "evaluate_generation",
]

_MIN_GENERATED = 256  # the reference draws at least one batch of 256 samples


def frechet_distance(mu1, sigma1, mu2, sigma2, *, eps: float = 1e-6) -> float:
    """Fréchet (2-Wasserstein) distance between two Gaussians, squared.

    ``|mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``, with the matrix
    square root of :func:`scipy.linalg.sqrtm` (its real part, as the reference takes).

    Parameters
    ----------
    mu1, mu2 : array-like of shape (d,) or scalar
    sigma1, sigma2 : array-like of shape (d, d) or scalar
        Covariances (variances for d = 1).
    eps : float, default=1e-6
        Added to both diagonals when the product is singular or its square root is
        not finite (as pytorch-fid does), e.g. with fewer samples than features.

    Returns
    -------
    float

    Examples
    --------
    >>> round(frechet_distance(0.0, 1.0, 3.0, 4.0), 6)    # (0 - 3)^2 + (1 - 2)^2
    10.0
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(
        np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) \
            or sigma2.shape != (d, d):
        raise ValueError(f"Inconsistent shapes: mu {mu1.shape} and {mu2.shape}, sigma "
                         f"{sigma1.shape} and {sigma2.shape}; need (d,) and (d, d).")
    covmean = _sqrtm_or_none(sigma1 @ sigma2)
    if covmean is None:  # singular product (e.g. fewer samples than features)
        offset = eps * np.eye(d)
        covmean = sqrtm((sigma1 + offset) @ (sigma2 + offset))
    diff = mu1 - mu2
    trace = np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(np.real(covmean))
    return float(diff @ diff + trace)


def _sqrtm_or_none(A: np.ndarray):
    """``sqrtm(A)``, or None if it is not finite or scipy finds ``A`` singular."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", LinAlgWarning)
        try:
            root = sqrtm(A)
        except LinAlgWarning:
            return None
    return root if np.isfinite(root).all() else None


def fid(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    Parameters
    ----------
    features_a, features_b : array-like of shape (n_a, d) and (n_b, d)
        E.g. :meth:`FCNClassifier.transform` of real and of generated series; at
        least 2 rows each.  The covariances are ``numpy.cov(rowvar=False)`` (ddof 1).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> F = np.random.default_rng(0).normal(size=(50, 3))
    >>> abs(fid(F, F)) < 1e-8
    True
    """
    moments = []
    for name, F in (("features_a", features_a), ("features_b", features_b)):
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2 or len(F) < 2 or not np.isfinite(F).all():
            raise ValueError(f"{name} must be a finite 2-D array with at least 2 rows; got "
                             f"shape {F.shape}.")
        moments.append((F.mean(axis=0), np.cov(F, rowvar=False)))
    if moments[0][0].shape != moments[1][0].shape:
        raise ValueError(f"The feature widths differ: {moments[0][0].shape[0]} and "
                         f"{moments[1][0].shape[0]}.")
    return frechet_distance(*moments[0], *moments[1])


def inception_score(probs, n_splits: int = 10, *, shuffle: bool = True, random_state=None,
                    eps: float = 1e-16) -> tuple[float, float]:
    """Inception score of class probabilities: mean and standard deviation over splits.

    The rows are (optionally) shuffled and cut into ``n_splits`` parts of
    ``floor(n / n_splits)`` rows (the remainder is left out); each part scores
    ``exp(mean_i sum_y p(y|x_i) (log p(y|x_i) - log p_bar(y)))`` with ``p_bar`` the
    part's mean row and ``eps`` inside the logarithms.

    Parameters
    ----------
    probs : array-like of shape (n_samples, n_classes)
        Rows of class probabilities (e.g. :meth:`FCNClassifier.predict_proba`).
    n_splits : int, default=10
    shuffle : bool, default=True
    random_state : int, numpy Generator or None, default=None
        The shuffle.
    eps : float, default=1e-16

    Returns
    -------
    mean, std : float
        Over the splits (std with ddof 0).

    Examples
    --------
    >>> import numpy as np
    >>> mean, std = inception_score(np.eye(4), n_splits=1)   # confident, balanced: IS = C
    >>> round(mean, 6), std
    (4.0, 0.0)
    """
    P = np.array(probs, dtype=np.float64)  # a copy: the shuffle must not touch probs
    if P.ndim != 2 or (P < 0).any() or not np.allclose(P.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("probs must be a 2-D array of rows of probabilities summing to 1.")
    if not isinstance(n_splits, Integral) or not 1 <= n_splits <= len(P):
        raise ValueError(f"n_splits={n_splits} must be an integer in [1, n_samples="
                         f"{len(P)}].")
    if shuffle:
        np.random.default_rng(random_state).shuffle(P)
    size = len(P) // n_splits
    scores = []
    for k in range(n_splits):
        part = P[k * size : (k + 1) * size]
        kl = (part * (np.log(part + eps) - np.log(part.mean(axis=0) + eps))).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def synthetic_class_counts(y_train, min_samples: int = 1000):
    """Class counts of the CAS training set: TRAIN's, scaled up if TRAIN is small.

    If TRAIN has ``n < min_samples`` series, every class count is multiplied by
    ``min_samples / n`` and rounded (Python's round, half to even), as in NC-VQVAE;
    the total is then ``min_samples`` up to rounding (e.g. 3 classes of 7 give 333
    each, 999 in all).

    Parameters
    ----------
    y_train : array-like of shape (n,)
    min_samples : int, default=1000

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        Sorted labels.
    counts : ndarray of shape (n_classes,), int64

    Examples
    --------
    >>> synthetic_class_counts([0, 0, 0, 1], min_samples=10)
    (array([0, 1]), array([8, 2]))
    """
    classes, counts = np.unique(np.asarray(y_train), return_counts=True)
    if len(classes) == 0:
        raise ValueError("y_train is empty.")
    total = int(counts.sum())
    if total < min_samples:
        counts = np.array([round(int(c) * min_samples / total) for c in counts])
    return classes, counts.astype(np.int64)


def accuracy_ema(batch_accuracies, rate: float = 0.01) -> float:
    """Exponential moving average of accuracies, started at 0 (NC-VQVAE's ``val_acc_ema``).

    ``a <- (1 - rate) a + rate acc_k`` over the accuracies in order.  Started at 0
    and not bias-corrected, it approaches the accuracy only after a few times
    ``1 / rate`` updates (the reference makes 1000 epochs of updates).

    Parameters
    ----------
    batch_accuracies : array-like
        Flattened in C order (epochs, then batches).
    rate : float, default=0.01

    Returns
    -------
    float

    Examples
    --------
    >>> accuracy_ema([1.0, 1.0], rate=0.5)
    0.75
    """
    ema = 0.0
    for acc in np.ravel(batch_accuracies):
        ema = (1.0 - rate) * ema + rate * float(acc)
    return ema


def cas(X_synthetic, y_synthetic, X_test, y_test, *, classifier=None, score: str = "final",
        ema_rate: float = 0.01) -> float:
    """Classification accuracy score: train on synthetic series, test on real ones.

    Parameters
    ----------
    X_synthetic : array-like of shape (n_synthetic, n_timestamps[, n_channels])
    y_synthetic : array-like of shape (n_synthetic,)
    X_test : array-like of shape (n_test, n_timestamps[, n_channels])
        Real series (channels last).
    y_test : array-like of shape (n_test,)
    classifier : FCNClassifier, default=None
        Cloned and fitted on the synthetic set; None uses ``FCNClassifier()`` (the
        reference's 1000 epochs).
    score : {"final", "ema"}, default="final"
        "final": the accuracy of the trained classifier on the test set (TimeVQVAE).
        "ema": NC-VQVAE's ``val_acc_ema``, :func:`accuracy_ema` of the per-batch test
        accuracies after every epoch (needs many epochs to approach the accuracy).
    ema_rate : float, default=0.01

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.evaluation import FCNClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 10)
    >>> X_synthetic = rng.normal(size=(20, 30)) + 3.0 * y[:, None]  # e.g. generated series
    >>> X_test = rng.normal(size=(20, 30)) + 3.0 * y[:, None]       # real ones
    >>> fcn = FCNClassifier(n_filters=(8, 8, 8), n_epochs=20, batch_size=8, random_state=0)
    >>> cas(X_synthetic, y, X_test, y, classifier=fcn) > 0.9
    True
    """
    clf = clone(FCNClassifier() if classifier is None else classifier)
    if score == "final":
        return float(clf.fit(X_synthetic, y_synthetic).score(X_test, y_test))
    if score == "ema":
        clf.fit(X_synthetic, y_synthetic, eval_set=(X_test, y_test))
        return accuracy_ema(clf.eval_batch_accuracy_, ema_rate)
    raise ValueError(f"score={score!r} must be 'final' or 'ema'.")


def stft_round_trip(X, n_fft: int = 8) -> np.ndarray:
    """Series after an STFT -> inverse STFT round trip (the tokenizer's transforms).

    Hann window, hop ``n_fft // 4``, cropped back to the input length (as
    :class:`~sslts.encoders.vqvae.STFT` and :class:`~sslts.encoders.vqvae.InverseSTFT`
    do), so up to rounding it is the identity; the reference applies it to the real
    series so that they pass through the same transform as generated ones.
    Missing values are zero-filled for the transform and stay missing.

    Parameters
    ----------
    X : array-like of shape (n_series, n_timestamps) or (n_series, n_timestamps, n_channels)
    n_fft : int, default=8

    Returns
    -------
    ndarray of the input's shape, float32

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(3, 40))
    >>> np.allclose(stft_round_trip(X), X, atol=1e-5)
    True
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim not in (2, 3):
        raise ValueError(f"X must have shape (n, T) or (n, T, C); got {X.shape}.")
    x = torch.from_numpy(X if X.ndim == 3 else X[:, :, None])
    missing = torch.isnan(x)
    with torch.no_grad():
        out = InverseSTFT(n_fft)(STFT(n_fft)(x.nan_to_num(0.0)), x.shape[1])
    out = out.masked_fill(missing, float("nan")).numpy()
    return out if X.ndim == 3 else out[:, :, 0]


def evaluate_generation(generator, X_train, y_train, X_test, y_test, *, classifier=None,
                        cas_classifier=None, round_trip="stft", n_fft: int = 8,
                        n_samples=None, min_synthetic: int = 1000, cas_score: str = "final",
                        n_splits: int = 10, random_state=None) -> dict:
    """FID, IS and CAS of a generator, with the TimeVQVAE / NC-VQVAE protocol.

    1. An FCN is trained on TRAIN (or ``classifier`` is used) and scored on TEST.
    2. Real set: TEST after ``round_trip``.  Generated set: ``n_samples``
       unconditional samples.  FID between their FCN features; IS of the generated
       set and, for reference, of the real set.
    3. CAS: ``synthetic_class_counts(y_train, min_synthetic)`` class-conditional
       samples train a fresh FCN, scored on the (unmodified) TEST split.

    Parameters
    ----------
    generator : object
        Any object with ``sample(n_samples, y=None, random_state=None)`` that returns
        an array of shape ``(n_samples, n_timestamps[, n_channels])`` (channels last,
        in the units of ``X_train``).  ``y=None`` samples unconditionally; ``y`` an
        array of ``n_samples`` labels (from ``y_train``) samples each series from its
        class; ``random_state`` is an int.
    X_train, X_test : array-like of shape (n, n_timestamps[, n_channels])
        Channels last.
    y_train, y_test : array-like of shape (n,)
    classifier : FCNClassifier or FrozenEstimator, default=None
        The scoring FCN: cloned and fitted on TRAIN, or used as it is when wrapped in
        :class:`sklearn.frozen.FrozenEstimator` (already fitted).  None uses
        ``FCNClassifier()``, the reference's 1000 epochs.
    cas_classifier : FCNClassifier, default=None
        Template of the CAS classifier (cloned); None uses ``classifier``'s
        parameters (or ``FCNClassifier()``).
    round_trip : "stft", callable or None, default="stft"
        Applied to ``X_test`` to form the real set: "stft" is :func:`stft_round_trip`
        with ``n_fft``; a callable maps ``X_test`` to an array of the same shape
        and units (e.g. a tokenizer's reconstruction; ``(n, T, 1)`` for an
        ``(n, T)`` input is accepted too); None uses TEST as it is.
    n_fft : int, default=8
        STFT size of the "stft" round trip (the tokenizer's).
    n_samples : int, default=None
        Unconditional samples; None is ``max(n_test, 256)``.
    min_synthetic : int, default=1000
        Size the CAS training set is scaled up to.
    cas_score : {"final", "ema"}, default="final"
        See :func:`cas`.
    n_splits : int, default=10
        Splits of the inception scores.
    random_state : int, numpy Generator or None, default=None
        Seeds the FCNs whose ``random_state`` is None, the samples and the IS shuffles.

    Returns
    -------
    dict
        ``fid``, ``is_mean``, ``is_std``, ``real_is_mean``, ``real_is_std``, ``cas``,
        ``fcn_test_accuracy``, ``n_generated``, ``n_synthetic``.

    Examples
    --------
    A stand-in generator whose class ``c`` is noise around ``3 c``, scored with
    tiny FCNs (the protocol's defaults train each for 1000 epochs):

    >>> import numpy as np
    >>> from sslts.evaluation import FCNClassifier
    >>> class Noise:
    ...     def sample(self, n_samples, y=None, random_state=None):
    ...         rng = np.random.default_rng(random_state)
    ...         y = rng.integers(2, size=n_samples) if y is None else np.asarray(y)
    ...         return rng.normal(size=(n_samples, 30)) + 3.0 * y[:, None]
    >>> y = np.repeat([0, 1], 10)
    >>> X_train, X_test = Noise().sample(20, y, 1), Noise().sample(20, y, 2)
    >>> fcn = FCNClassifier(n_filters=(8, 8, 8), n_epochs=20, batch_size=8)
    >>> scores = evaluate_generation(Noise(), X_train, y, X_test, y, classifier=fcn,
    ...                              n_samples=40, min_synthetic=40, random_state=0)
    >>> scores["n_generated"], scores["n_synthetic"], scores["cas"] > 0.9
    (40, 40, True)
    """
    seeds = np.random.default_rng(draw_seed(random_state)).integers(2**31 - 1, size=6)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    X_test = np.asarray(X_test, dtype=np.float64)
    fcn = _fitted_classifier(classifier, X_train, y_train, int(seeds[0]))
    result = {"fcn_test_accuracy": float(fcn.score(X_test, y_test))}

    real = _real_set(X_test, round_trip, n_fft)
    n_generated = max(len(X_test), _MIN_GENERATED) if n_samples is None else int(n_samples)
    generated = _draw(generator, n_generated, None, int(seeds[1]))
    result["fid"] = fid(fcn.transform(real), fcn.transform(generated))
    result["is_mean"], result["is_std"] = inception_score(
        fcn.predict_proba(generated), n_splits, random_state=int(seeds[2]))
    result["real_is_mean"], result["real_is_std"] = inception_score(
        fcn.predict_proba(real), n_splits, random_state=int(seeds[3]))

    classes, counts = synthetic_class_counts(y_train, min_synthetic)
    y_synthetic = np.repeat(classes, counts)
    X_synthetic = _draw(generator, len(y_synthetic), y_synthetic, int(seeds[4]))
    template = cas_classifier if cas_classifier is not None else _template(classifier)
    result["cas"] = cas(X_synthetic, y_synthetic, X_test, y_test,
                        classifier=_seeded(template, int(seeds[5])), score=cas_score)
    result.update(n_generated=n_generated, n_synthetic=len(y_synthetic))
    return result


def _template(classifier):
    if classifier is None:
        return FCNClassifier()
    if isinstance(classifier, FrozenEstimator):
        return clone(classifier.estimator)
    return classifier


def _seeded(classifier, seed: int):
    """A clone of ``classifier`` with ``random_state=seed`` if it had None."""
    classifier = clone(classifier)
    if "random_state" in classifier.get_params() and classifier.random_state is None:
        classifier.set_params(random_state=seed)
    return classifier


def _fitted_classifier(classifier, X_train, y_train, seed: int):
    if isinstance(classifier, FrozenEstimator):
        return classifier
    return _seeded(_template(classifier), seed).fit(X_train, y_train)


def _real_set(X_test: np.ndarray, round_trip, n_fft: int) -> np.ndarray:
    if round_trip is None:
        return X_test
    if isinstance(round_trip, str) and round_trip == "stft":
        return stft_round_trip(X_test, n_fft)
    if callable(round_trip):
        real = np.asarray(round_trip(X_test))
        if real.shape != X_test.shape and real.size == X_test.size:
            real = real.reshape(X_test.shape)  # e.g. (n, T, 1) for (n, T) input
        return real
    raise ValueError(f"round_trip={round_trip!r} must be 'stft', a callable or None.")


def _draw(generator, n: int, y, seed: int) -> np.ndarray:
    """``generator.sample`` with its output checked."""
    if not callable(getattr(generator, "sample", None)):
        raise TypeError(f"{type(generator).__name__} has no sample(n_samples, y=None, "
                        "random_state=None) method.")
    X = np.asarray(generator.sample(n, y=y, random_state=seed))
    if X.ndim not in (2, 3) or len(X) != n:
        raise ValueError(f"{type(generator).__name__}.sample({n}) returned shape {X.shape}; "
                         f"expected ({n}, n_timestamps[, n_channels]).")
    return X
