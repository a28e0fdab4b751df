"""Pairwise DTW distances between training series, for soft instance-wise targets.

SoftCLT (Lee, Park & Lee, ICLR 2024) weighs every pair of training series by their
distance in the data space.  The official code fixes the conventions reproduced here:

1. each series is min-max scaled per channel, ``(x - min) / (max - min + 1e-6)``;
2. the distance is plain dynamic time warping: no window, squared Euclidean local
   cost summed over channels (dependent multivariate DTW), square root of the
   optimal path cost (tslearn's ``dtw``);
3. the (n, n) matrix gets its diagonal set to the smallest off-diagonal distance and
   each column is min-max scaled to [0, 1] (scikit-learn's ``MinMaxScaler`` applied to
   the matrix), so entry ``(i, j)`` becomes ``(d_ij - min) / (max_k d_kj - min)``.

Missing values: time steps where every channel is NaN (right or left padding of
variable-length series, or missing steps) are removed, so series of different lengths
are warped onto each other; a NaN in some channels of an otherwise observed step
counts as that channel's minimum (0 after scaling).

The full matrix costs ``n (n - 1) / 2`` DTWs of ``T**2`` cells and ``n**2`` floats.
:class:`DTWDistances` computes it once when that is affordable and otherwise
computes the distances within each mini-batch on the fly (``mode="batch"``), scaled
by a global range estimated from random pairs: memory O(batch**2) and a fixed cost
per training step instead of a quadratic one.

The DTW itself comes from aeon (``dtw_pairwise_distance``) when it is installed
(``pip install sslts[aeon]``): it is faster than tslearn on univariate, short and
variable-length series.  Otherwise tslearn's ``cdist_dtw`` (a core dependency) is
used; both give the same values to rounding.
"""

from __future__ import annotations

import contextlib
import warnings
from numbers import Integral

import numpy as np
import torch

from .validation import check_time_series

__all__ = ["pairwise_dtw", "normalise_distance_matrix", "DTWDistances"]

_BACKENDS = ("auto", "aeon", "tslearn")


def _prepare(X) -> list[np.ndarray]:
    """Per-series, per-channel min-max scaled float64 series (T_i, C), NaN steps removed."""
    # (n, T, C), a fresh array; it rejects series that are entirely NaN.
    X = check_time_series(X, dtype=np.float64)
    series = []
    for x in X:
        x = x[~np.isnan(x).all(axis=1)]
        with np.errstate(invalid="ignore"):  # an all-NaN channel: its NaNs become 0
            low, high = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        x = np.nan_to_num((x - low) / (high - low + 1e-6), nan=0.0)
        series.append(np.ascontiguousarray(x))
    return series


def _resolve_backend(backend: str) -> str:
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}.")
    if backend == "tslearn":
        return backend
    try:
        import aeon.distances  # noqa: F401
    except ImportError as exc:
        if backend == "aeon":
            raise ImportError("backend='aeon' needs aeon: pip install sslts[aeon] "
                              "(or use backend='tslearn').") from exc
        return "tslearn"
    return "aeon"


def _pairwise(series: list[np.ndarray], backend: str, n_jobs: int) -> np.ndarray:
    """(n, n) DTW distances of prepared series (the square root of the path cost)."""
    if backend == "aeon":
        from aeon.distances import dtw_pairwise_distance

        equal = len({len(x) for x in series}) == 1
        # aeon takes (n, C, T), or a list of (C, T_i) for unequal lengths.
        data = np.stack([x.T for x in series]) if equal else [np.ascontiguousarray(x.T)
                                                               for x in series]
        with warnings.catch_warnings(), _torch_threads_kept():
            # a harmless numba cast notice at compile time
            warnings.filterwarnings("ignore", message="unsafe cast from uint64 to int64")
            squared = dtw_pairwise_distance(data, window=None, n_jobs=n_jobs)
        return np.sqrt(squared, out=squared)  # aeon returns the path cost itself
    from tslearn.metrics import cdist_dtw
    from tslearn.utils import to_time_series_dataset

    return cdist_dtw(to_time_series_dataset(series), n_jobs=n_jobs)


@contextlib.contextmanager
def _torch_threads_kept():
    """Give torch back its thread count after a parallel numba call.

    numba's OpenMP threading layer shares the OpenMP runtime with torch, and its
    parallel loops set that runtime's thread count to numba's (every core): torch
    would then run on more threads than it was given, which slowed a one-thread
    training loop pinned to one core tenfold.
    """
    before = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _paired(first: list[np.ndarray], second: list[np.ndarray], backend: str) -> np.ndarray:
    """DTW distance of each pair ``(first[k], second[k])``: shape (len(first),)."""
    if backend == "aeon":
        from aeon.distances import dtw_distance

        return np.sqrt([dtw_distance(a.T, b.T) for a, b in zip(first, second)])
    from tslearn.metrics import dtw

    return np.array([dtw(a, b) for a, b in zip(first, second)])


def pairwise_dtw(X, *, backend: str = "auto", n_jobs: int = 1) -> np.ndarray:
    """DTW distances between all pairs of series, with SoftCLT's conventions.

    Each series is min-max scaled per channel first; the distance is unconstrained,
    dependent DTW with squared Euclidean local cost, square-rooted (module docstring).

    Parameters
    ----------
    X : array-like of shape (n_series, n_timestamps) or (n_series, n_timestamps, \
n_channels), or list of arrays
        The series; NaN marks missing values or padding (all-NaN steps are removed,
        so series of different lengths are compared by warping).
    backend : {"auto", "aeon", "tslearn"}, default="auto"
        "auto" uses aeon when it is installed, else tslearn.
    n_jobs : int, default=1
        Worker threads of the backend.

    Returns
    -------
    ndarray of shape (n_series, n_series)
        Symmetric float64 distances, 0 on the diagonal.

    Examples
    --------
    >>> from sslts.utils.dtw import pairwise_dtw
    >>> X = [[0.0, 1.0, 2.0, 1.0], [0.0, 0.0, 1.0, 2.0], [2.0, 1.0, 0.0, 1.0]]
    >>> pairwise_dtw(X).round(3)
    array([[0.   , 0.5  , 1.225],
           [0.5  , 0.   , 1.225],
           [1.225, 1.225, 0.   ]])
    """
    if not isinstance(n_jobs, Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer, got {n_jobs!r}.")
    return _pairwise(_prepare(X), _resolve_backend(backend), int(n_jobs))


def normalise_distance_matrix(distances) -> np.ndarray:
    """SoftCLT's normalisation of a pairwise distance matrix.

    The diagonal is set to the smallest off-diagonal distance, then every column is
    min-max scaled to [0, 1]: ``(d_ij - m) / (max_k d_kj - m)`` with ``m`` that
    smallest distance (a column with no spread becomes 0).  This is the official
    code's ``MinMaxScaler().fit_transform`` of the matrix, so the result is in general
    not symmetric; its diagonal is 0.

    Parameters
    ----------
    distances : array-like of shape (n, n)
        Symmetric distances, ``n >= 2``.

    Returns
    -------
    ndarray of shape (n, n)
        float64 values in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.utils.dtw import normalise_distance_matrix
    >>> normalise_distance_matrix(np.array([[0, 1, 3], [1, 0, 2], [3, 2, 0]]))
    array([[0. , 0. , 1. ],
           [0. , 0. , 0.5],
           [1. , 1. , 0. ]])
    """
    d = np.array(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] < 2:
        raise ValueError(f"distances must be a square (n, n) matrix with n >= 2, "
                         f"got shape {d.shape}.")
    return _normalise_in_place(d)


def _normalise_in_place(d: np.ndarray) -> np.ndarray:
    """:func:`normalise_distance_matrix` overwriting ``d`` (no (n, n) temporaries)."""
    np.fill_diagonal(d, np.inf)
    low = d.min()  # the smallest off-diagonal distance
    np.fill_diagonal(d, low)
    spread = d.max(axis=0) - low
    spread[spread == 0] = 1.0  # MinMaxScaler's convention for constant columns
    d -= low
    d /= spread
    return d


class DTWDistances:
    """Normalised DTW distances between training series, served per mini-batch.

    Built once per fit.  ``mode="full"`` computes the whole matrix with
    :func:`pairwise_dtw` and :func:`normalise_distance_matrix` (the official
    conventions exactly) and keeps it in float32; ``mode="batch"`` keeps only the
    scaled series and computes each mini-batch's ``b (b - 1) / 2`` distances when
    asked, min-max scaled by the smallest and largest distance among
    ``n_scale_pairs`` random pairs of training series (an estimate of the official
    scaling, which needs every pair; values are clipped to [0, 1]).

    Parameters
    ----------
    X : array-like of shape (n_series, n_timestamps) or (n_series, n_timestamps, \
n_channels)
        The training series, in the order the mini-batch indices refer to.
    mode : {"auto", "full", "batch"}, default="auto"
        "auto" picks "full" when ``n_series <= max_full_series`` and the full matrix
        needs at most ``max_full_cells`` DTW cells (``sum_{i<j} T_i T_j``), else
        "batch".
    max_full_series : int, default=4096
        Largest training set for the full matrix (4096 series: a 64 MiB float32
        matrix, about 200 MiB at its peak while it is built).
    max_full_cells : float, default=3e10
        Largest DTW work for the full matrix, in cells: about two to three minutes on
        one CPU core (a mini-batch of 8 series of 500 steps takes tens of
        milliseconds in "batch" mode).
    n_scale_pairs : int, default=1024
        Random pairs that estimate the distance range in "batch" mode; every pair is
        used when there are no more than this.
    backend : {"auto", "aeon", "tslearn"}, default="auto"
        DTW implementation (see :func:`pairwise_dtw`).
    n_jobs : int, default=1
        Worker threads of the backend for the full matrix.
    random_state : int, numpy Generator or None, default=None
        Draws the scale pairs.

    Attributes
    ----------
    mode_ : str
        "full" or "batch".
    n_series_ : int
    matrix_ : ndarray of shape (n_series, n_series) or None
        The normalised matrix ("full" mode).
    scale_ : tuple of float or None
        ``(low, high)`` distances that map to 0 and 1 ("batch" mode).

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.utils.dtw import DTWDistances
    >>> X = np.sin(np.linspace(0, 6, 40) + np.arange(5)[:, None])  # 5 shifted sines
    >>> full = DTWDistances(X)  # column-wise scaling: not symmetric
    >>> full.mode_
    'full'
    >>> full([0, 3, 1]).round(2)
    array([[0.  , 1.  , 0.23],
           [1.  , 0.  , 0.33],
           [0.3 , 0.43, 0.  ]])
    >>> batch = DTWDistances(X, mode="batch")  # 10 pairs: the exact global range
    >>> batch([0, 3, 1]).round(2)
    array([[0.  , 0.78, 0.23],
           [0.78, 0.  , 0.33],
           [0.23, 0.33, 0.  ]])
    """

    def __init__(self, X, *, mode: str = "auto", max_full_series: int = 4096,
                 max_full_cells: float = 3e10, n_scale_pairs: int = 1024,
                 backend: str = "auto", n_jobs: int = 1, random_state=None):
        if mode not in ("auto", "full", "batch"):
            raise ValueError(f"mode must be 'auto', 'full' or 'batch', got {mode!r}.")
        if not isinstance(n_scale_pairs, Integral) or n_scale_pairs < 1:
            raise ValueError(f"n_scale_pairs must be a positive integer, got {n_scale_pairs!r}.")
        self._backend = _resolve_backend(backend)
        series = _prepare(X)
        if len(series) < 2:
            raise ValueError("DTWDistances needs at least 2 series.")
        self.n_series_ = len(series)
        if mode == "auto":
            lengths = np.array([len(x) for x in series], dtype=np.float64)
            cells = (lengths.sum() ** 2 - (lengths**2).sum()) / 2
            fits = self.n_series_ <= max_full_series and cells <= max_full_cells
            mode = "full" if fits else "batch"
        self.mode_ = mode
        self.matrix_, self.scale_, self._series = None, None, None
        if mode == "full":
            raw = _pairwise(series, self._backend, n_jobs)  # float64, its own buffer
            self.matrix_ = _normalise_in_place(raw).astype(np.float32)
        else:
            self._series = series
            self.scale_ = self._estimate_scale(n_scale_pairs, np.random.default_rng(random_state))

    def _estimate_scale(self, n_pairs: int, rng: np.random.Generator) -> tuple[float, float]:
        n = self.n_series_
        if n * (n - 1) // 2 <= n_pairs:
            first, second = np.triu_indices(n, k=1)
        else:
            first = rng.integers(0, n, size=n_pairs)
            second = (first + rng.integers(1, n, size=n_pairs)) % n  # never equal to first
        d = _paired([self._series[i] for i in first], [self._series[j] for j in second],
                    self._backend)
        return float(d.min()), float(d.max())

    def __call__(self, indices) -> np.ndarray:
        """Normalised distances among the series ``indices`` of the training set.

        Parameters
        ----------
        indices : array-like of int, shape (b,)
            Rows of the training set (a mini-batch).

        Returns
        -------
        ndarray of shape (b, b)
            float64 in [0, 1], 0 on the diagonal; row ``i`` is the anchor.
        """
        idx = np.asarray(indices)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"indices must be a 1-D array of integers, got {idx!r}.")
        if idx.size and (idx.min() < -self.n_series_ or idx.max() >= self.n_series_):
            raise IndexError(f"indices out of range for {self.n_series_} series.")
        if self.mode_ == "full":
            return self.matrix_[np.ix_(idx, idx)].astype(np.float64)
        if idx.size < 2:
            return np.zeros((idx.size, idx.size))
        raw = _pairwise([self._series[i] for i in idx], self._backend, 1)
        low, high = self.scale_
        d = np.clip((raw - low) / (high - low if high > low else 1.0), 0.0, 1.0)
        np.fill_diagonal(d, 0.0)
        return d

    @property
    def nbytes(self) -> int:
        """Memory held: the float32 matrix ("full") or the scaled series ("batch")."""
        if self.mode_ == "full":
            return self.matrix_.nbytes
        return sum(x.nbytes for x in self._series)
