"""1-NN baselines: the UCR archive's published errors and a slow DTW reference."""

from __future__ import annotations

import numpy as np
import pytest

from sslts import load_dataset
from sslts.evaluation import NearestNeighborBaseline, pairwise_distances


def dtw_cost(a: np.ndarray, b: np.ndarray) -> float:
    """Textbook O(n*m) DTW with squared Euclidean local cost, (T, C) inputs."""
    a, b = a[~np.isnan(a).any(axis=1)], b[~np.isnan(b).any(axis=1)]
    D = np.full((len(a) + 1, len(b) + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = float(((a[i - 1] - b[j - 1]) ** 2).sum())
            D[i, j] = cost + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return D[-1, -1]


# The UCR archive's published 1-NN-ED test error (Dau et al., 2018).
@pytest.mark.parametrize("name, error", [("GunPoint", 0.0867), ("ECG200", 0.1200),
                                         ("CBF", 0.1478)])
def test_1nn_ed_reproduces_the_published_ucr_error(shared_data, name, error):
    X_train, y_train, X_test, y_test = load_dataset(name, data_home=shared_data)
    accuracy = NearestNeighborBaseline().fit(X_train, y_train).score(X_test, y_test)
    assert round(1 - accuracy, 4) == error


def test_dtw_d_and_dtw_i_match_the_textbook_recursion(shared_data):
    X, _, Y, _ = load_dataset("RacketSports", data_home=shared_data)  # 6 channels, 30 steps
    X, Y = X[:4], Y[:3]
    dep = pairwise_distances(X, Y, "dtw_d")
    ind = pairwise_distances(X, Y, "dtw_i")
    for i in range(len(X)):
        for j in range(len(Y)):
            assert dep[i, j] == pytest.approx(dtw_cost(X[i], Y[j]), rel=1e-9)
            per_channel = sum(dtw_cost(X[i][:, [c]], Y[j][:, [c]]) for c in range(6))
            assert ind[i, j] == pytest.approx(per_channel, rel=1e-9)
    # Independent warping can only lower the cost.
    assert (ind <= dep + 1e-9).all()


def test_dtw_handles_variable_length_series(shared_data):
    X, _, Y, _ = load_dataset("JapaneseVowels", data_home=shared_data)  # 7-29 steps
    X, Y = X[:3], Y[:3]
    got = pairwise_distances(X, Y, "dtw_d")
    for i in range(3):
        for j in range(3):
            assert got[i, j] == pytest.approx(dtw_cost(X[i], Y[j]), rel=1e-9)


def test_zero_warping_window_is_the_euclidean_distance(shared_data):
    X, y, Y, _ = load_dataset("ItalyPowerDemand", data_home=shared_data)
    np.testing.assert_allclose(
        pairwise_distances(X[:10], Y[:10], "dtw_d", sakoe_chiba_radius=0),
        pairwise_distances(X[:10], Y[:10], "euclidean"), rtol=1e-10,
    )


def test_ties_go_to_the_first_training_series(shared_data):
    X, y, _, _ = load_dataset("ECG200", data_home=shared_data)  # labels -1 / 1
    X_tie = np.concatenate([X[:1], X[:1], X[1:]])
    for first, second in ((y[0], -y[0]), (-y[0], y[0])):
        y_tie = np.concatenate([[first], [second], y[1:]])
        for metric in ("euclidean", "dtw_d"):
            clf = NearestNeighborBaseline(metric=metric).fit(X_tie, y_tie)
            assert clf.predict(X[:1])[0] == first
    assert clf.classes_.tolist() == [-1, 1]


def test_euclidean_refuses_missing_values(shared_data):
    X, y, Y, _ = load_dataset("DodgerLoopDay", data_home=shared_data)
    with pytest.raises(ValueError, match="dtw_d"):
        NearestNeighborBaseline().fit(X, y).predict(Y)


@pytest.mark.parametrize(
    "X, Y, match",
    [
        (np.zeros(5), np.zeros((2, 5, 1)), "n_channels"),
        (np.zeros((2, 5, 1)), np.zeros((2, 5, 2)), "channels"),
        (np.zeros((2, 5, 1)), np.zeros((2, 6, 1)), "one length"),
    ],
    ids=["1-D", "channels", "lengths"],
)
def test_pairwise_distances_rejects_bad_shapes(X, Y, match):
    with pytest.raises(ValueError, match=match):
        pairwise_distances(X, Y)
