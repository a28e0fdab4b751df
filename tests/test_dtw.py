"""DTW distances for SoftCLT against slow, obviously-correct references.

- ``loop_dtw``: the DTW recursion written as two Python loops over a cumulative cost
  table (squared Euclidean local cost summed over channels, square root at the end);
- ``official_normalise``: the official recipe re-stated (diagonal set to the smallest
  off-diagonal distance, then scikit-learn's ``MinMaxScaler`` on the matrix).
"""

import importlib.util
import sys

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler

from sslts.losses import soft_instance_weights
from sslts.utils.dtw import DTWDistances, normalise_distance_matrix, pairwise_dtw

BACKENDS = ["tslearn", pytest.param("aeon", marks=pytest.mark.skipif(
    importlib.util.find_spec("aeon") is None, reason="aeon is not installed"))]


def loop_dtw(a, b):
    n, m = len(a), len(b)
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = float(((a[i - 1] - b[j - 1]) ** 2).sum())
            acc[i, j] = cost + min(acc[i - 1, j], acc[i, j - 1], acc[i - 1, j - 1])
    return float(np.sqrt(acc[n, m]))


def minmax(x):
    """The official per-series, per-channel scaling of one (T, C) series."""
    return (x - x.min(0)) / (x.max(0) - x.min(0) + 1e-6)


def loop_pairwise(series):
    scaled = [minmax(np.asarray(x, dtype=float)) for x in series]
    return np.array([[loop_dtw(a, b) for b in scaled] for a in scaled])


def official_normalise(d):
    d = np.array(d, dtype=float)
    n = len(d)
    mask = ~np.eye(n, dtype=bool)
    d[np.diag_indices(n)] = d[mask].reshape(n, n - 1).min()
    return MinMaxScaler(feature_range=(0, 1)).fit_transform(d)


def walks(n, t, c=1, seed=0):
    return np.random.default_rng(seed).standard_normal((n, t, c)).cumsum(1)


# ------------------------------------------------------------ pairwise_dtw
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("c", [1, 3])
def test_pairwise_dtw_matches_the_loop(backend, c):
    X = walks(5, 11, c, seed=c)
    np.testing.assert_allclose(pairwise_dtw(X, backend=backend), loop_pairwise(X),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_length_series_are_warped_without_their_padding(backend):
    rng = np.random.default_rng(1)
    series = [rng.standard_normal((L, 2)).cumsum(0) for L in (7, 12, 9, 12)]
    padded = np.full((4, 14, 2), np.nan)
    for i, x in enumerate(series):
        start = 2 if i == 2 else 0  # left padding too (TS2Vec centres such series)
        padded[i, start:start + len(x)] = x
    np.testing.assert_allclose(pairwise_dtw(padded, backend=backend), loop_pairwise(series),
                               rtol=1e-12, atol=1e-12)


def test_backends_agree_and_auto_runs():
    X = walks(6, 20, 2, seed=4)
    expected = pairwise_dtw(X, backend="tslearn")
    np.testing.assert_allclose(pairwise_dtw(X), expected, rtol=1e-12)


def test_distances_ignore_each_series_offset_and_scale():
    X = walks(4, 15, 2, seed=2)
    moved = X * np.array([3.0, 0.5, 2.0, 10.0])[:, None, None] - 7.0
    # Up to the 1e-6 the official scaling adds to each range.
    np.testing.assert_allclose(pairwise_dtw(moved), pairwise_dtw(X), rtol=1e-5)


def test_missing_channel_values_count_as_the_channel_minimum():
    X = walks(3, 8, 2, seed=5)
    holed = X.copy()
    holed[0, 3, 1] = np.nan  # step 3 still has channel 0
    filled = [minmax(x) for x in X]
    lo, hi = np.delete(X[0, :, 1], 3).min(), np.delete(X[0, :, 1], 3).max()
    filled[0][:, 1] = (X[0, :, 1] - lo) / (hi - lo + 1e-6)
    filled[0][3, 1] = 0.0
    expected = np.array([[loop_dtw(a, b) for b in filled] for a in filled])
    np.testing.assert_allclose(pairwise_dtw(holed), expected, rtol=1e-9, atol=1e-12)


def test_univariate_2d_input_and_lists_are_accepted():
    X = walks(3, 9, 1, seed=6)
    np.testing.assert_allclose(pairwise_dtw(X[..., 0]), pairwise_dtw(X))
    np.testing.assert_allclose(pairwise_dtw(list(X[..., 0])), pairwise_dtw(X))


def test_bad_input_is_rejected():
    X = walks(3, 9, seed=7)
    X[1] = np.nan
    with pytest.raises(ValueError, match="entirely missing"):
        pairwise_dtw(X)
    with pytest.raises(ValueError, match="backend must be one of"):
        pairwise_dtw(walks(3, 9), backend="dtaidistance")
    with pytest.raises(ValueError, match="n_jobs"):
        pairwise_dtw(walks(3, 9), n_jobs=0)


def test_auto_falls_back_to_tslearn_without_aeon(monkeypatch):
    X = walks(4, 10, seed=8)
    expected = pairwise_dtw(X, backend="tslearn")
    monkeypatch.setitem(sys.modules, "aeon.distances", None)  # makes the import fail
    np.testing.assert_array_equal(pairwise_dtw(X), expected)
    with pytest.raises(ImportError, match=r"pip install sslts\[aeon\]"):
        pairwise_dtw(X, backend="aeon")


# ------------------------------------------------- normalise_distance_matrix
def test_normalisation_equals_the_official_recipe():
    D = pairwise_dtw(walks(7, 12, seed=9))
    expected = official_normalise(D)
    out = normalise_distance_matrix(D)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)
    assert np.all(np.diag(out) == 0) and out.min() == 0 and out.max() == 1
    assert not np.allclose(out, out.T)  # column-wise scaling is not symmetric


def test_normalisation_of_a_column_without_spread_is_zero():
    D = np.array([[0.0, 2.0], [2.0, 0.0]])  # n = 2: each column is constant after step 1
    np.testing.assert_array_equal(normalise_distance_matrix(D), official_normalise(D))
    np.testing.assert_array_equal(normalise_distance_matrix(D), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="square"):
        normalise_distance_matrix(np.zeros((1, 1)))


def test_soft_weights_of_a_batch_equal_the_official_sub_matrix():
    X = walks(9, 10, seed=10)
    tau, a = 3.0, 0.5
    official = 1 - official_normalise(loop_pairwise(X))  # the official "sim_mat"
    official = 2 * a / (1 + np.exp(tau * (1 - official))) + (1 - a) * np.eye(9)
    idx = np.array([4, 0, 7, 2])
    weights = soft_instance_weights(DTWDistances(X)(idx), tau, a).numpy()
    np.testing.assert_allclose(weights, official[np.ix_(idx, idx)], rtol=1e-6)


# ------------------------------------------------------------ DTWDistances
def test_full_mode_serves_sub_matrices_of_the_normalised_matrix():
    X = walks(8, 12, 2, seed=11)
    dist = DTWDistances(X)
    assert dist.mode_ == "full" and dist.matrix_.dtype == np.float32
    expected = normalise_distance_matrix(pairwise_dtw(X))
    idx = [3, 1, 6]
    np.testing.assert_allclose(dist(idx), expected[np.ix_(idx, idx)], rtol=1e-6)
    assert dist.nbytes == 8 * 8 * 4


def test_batch_mode_with_every_pair_uses_the_exact_global_range():
    X = walks(6, 10, seed=12)
    D = pairwise_dtw(X)
    low, high = D[~np.eye(6, dtype=bool)].min(), D.max()
    dist = DTWDistances(X, mode="batch")  # 15 pairs <= n_scale_pairs
    assert dist.mode_ == "batch" and dist.matrix_ is None
    np.testing.assert_allclose(dist.scale_, (low, high), rtol=1e-12)
    idx = [5, 2, 0]
    expected = (D[np.ix_(idx, idx)] - low) / (high - low)
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(dist(idx), expected, rtol=1e-9, atol=1e-12)


def test_batch_mode_with_sampled_pairs_is_bounded_and_reproducible():
    X = walks(40, 12, seed=13)
    D = pairwise_dtw(X)
    a = DTWDistances(X, mode="batch", n_scale_pairs=30, random_state=0)
    b = DTWDistances(X, mode="batch", n_scale_pairs=30, random_state=0)
    assert a.scale_ == b.scale_
    off = D[~np.eye(40, dtype=bool)]
    assert off.min() <= a.scale_[0] < a.scale_[1] <= off.max()
    out = a(np.arange(10))
    assert out.shape == (10, 10) and np.all((out >= 0) & (out <= 1))
    np.testing.assert_array_equal(out, out.T)
    assert np.all(np.diag(out) == 0)
    assert a.nbytes == 40 * 12 * 8  # the scaled series only, no (n, n) matrix


def test_auto_mode_switches_to_batch_past_either_threshold():
    X = walks(10, 20, seed=14)
    assert DTWDistances(X).mode_ == "full"
    assert DTWDistances(X, max_full_series=9).mode_ == "batch"
    cells = 45 * 20 * 20  # sum over pairs of T_i * T_j
    assert DTWDistances(X, max_full_cells=cells).mode_ == "full"
    assert DTWDistances(X, max_full_cells=cells - 1).mode_ == "batch"


def test_distances_reject_bad_arguments():
    X = walks(5, 8, seed=15)
    with pytest.raises(ValueError, match="mode must be"):
        DTWDistances(X, mode="sparse")
    with pytest.raises(ValueError, match="n_scale_pairs"):
        DTWDistances(X, n_scale_pairs=0)
    with pytest.raises(ValueError, match="at least 2 series"):
        DTWDistances(X[:1])
    dist = DTWDistances(X)
    with pytest.raises(IndexError, match="out of range"):
        dist([0, 5])
    with pytest.raises(ValueError, match="1-D array of integers"):
        dist([[0, 1]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_torch_keeps_its_thread_count(backend):
    # numba's OpenMP layer shares the runtime with torch and would leave it at
    # numba's thread count, oversubscribing a one-thread fit.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        conv = torch.nn.Conv1d(8, 8, 3)
        conv(torch.randn(4, 8, 64)).sum().backward()  # torch's OpenMP runtime is up
        pairwise_dtw(walks(6, 12), backend=backend)
        DTWDistances(walks(6, 12), mode="batch", backend=backend)([0, 1, 2])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
