"""Unit tests of ``sslts.utils.validation`` against hand-written expectations."""

from __future__ import annotations

import numpy as np
import pytest

from sslts.utils.validation import (
    check_finite_embeddings,
    check_time_series,
    pad_series_list,
    series_lengths,
    valid_timestamp_mask,
)


def test_2d_input_becomes_univariate_float32_copy():
    X = np.arange(6, dtype=np.float64).reshape(2, 3)
    out = check_time_series(X)
    assert out.shape == (2, 3, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 0], X)
    out[0, 0, 0] = 99
    assert X[0, 0] == 0  # never aliased


def test_float32_input_is_copied_too():
    X = np.ones((2, 3, 2), dtype=np.float32)
    out = check_time_series(X)
    assert not np.shares_memory(out, X)


def test_list_of_variable_length_series_is_nan_padded():
    out = check_time_series([[1, 2, 3], [4, 5]])
    expected = np.array([[1, 2, 3], [4, 5, np.nan]], dtype=np.float32)[..., None]
    np.testing.assert_array_equal(out, expected)


def test_pad_series_list_keeps_channels():
    out = pad_series_list([np.ones((2, 2)), 2 * np.ones((3, 2))])
    assert out.shape == (2, 3, 2)
    assert np.isnan(out[0, 2]).all() and (out[1] == 2).all()


@pytest.mark.parametrize(
    ("X", "message"),
    [
        ([[1.0, 2.0], [3.0, np.nan]], None),
        ([np.ones((3, 1)), np.ones((2, 2))], "X\\[0\\] has 1 channels but X\\[1\\] has 2"),
        ([], "at least one|0 sample"),
        ([1.0, 2.0, 3.0], "flat list of 3 numbers"),
        (np.ones(4), "Reshape your data"),
        (np.ones((2, 3, 1, 1)), "got 4 dimensions with shape \\(2, 3, 1, 1\\)"),
        (np.ones((2, 3, 0)), "0 channels"),
    ],
)
def test_shapes(X, message):
    if message is None:
        check_time_series(X)
    else:
        with pytest.raises(ValueError, match=message):
            check_time_series(X)


def test_min_timestamps_names_the_minimum_for_2d_and_3d_input():
    with pytest.raises(ValueError, match=r"3 feature\(s\) \(shape=\(2, 3\)\) while a minimum of 4"):
        check_time_series(np.ones((2, 3)), min_timestamps=4)
    with pytest.raises(ValueError, match=r"3 timestamp\(s\) .*minimum of 4 is required by sslts"):
        check_time_series(np.ones((2, 3, 2)), min_timestamps=4)
    with pytest.raises(ValueError, match="minimum of 4"):
        check_time_series([[1, 2, 3], [1, 2]], min_timestamps=4)
    assert check_time_series(np.ones((2, 4)), min_timestamps=4).shape == (2, 4, 1)


def test_channel_count_must_match():
    with pytest.raises(ValueError, match="X has 2 channel\\(s\\) but sslts was fitted on .* 3"):
        check_time_series(np.ones((2, 5, 2)), n_channels=3)


def test_all_nan_series_are_listed():
    X = np.ones((15, 4))
    X[[1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]] = np.nan
    shown = r"\[1, 3, 4, 5, 6, 7, 8, 9, 10, 11, \.\.\.\]"
    with pytest.raises(ValueError, match=r"11 series .* " + shown):
        check_time_series(X)


def test_values_beyond_float32_are_rejected_but_1e30_passes():
    assert np.isfinite(check_time_series(np.full((2, 3), 1e30))).all()
    with pytest.raises(ValueError, match="overflow float32"):
        check_time_series(np.full((2, 3), -1e39))
    with pytest.raises(ValueError, match="infinity"):
        check_time_series(np.array([[1.0, np.inf]]))


def test_non_numeric_input():
    with pytest.raises(TypeError, match="numeric series but X has dtype <U1"):
        check_time_series(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="must contain numbers"):
        check_time_series([["a", "b"]])
    obj = np.array([[1.0, 2.0]], dtype=object)
    np.testing.assert_array_equal(check_time_series(obj)[..., 0], [[1.0, 2.0]])
    obj[0, 0] = {"a": 1}  # scikit-learn's check_dtype_object expects this wording
    with pytest.raises(TypeError, match="argument must be a string.* number"):
        check_time_series(obj)


def test_finite_embeddings_check():
    X = np.ones((3, 4, 1), dtype=np.float32)
    X[1, 2:] = np.nan
    Z = np.ones((3, 4, 2), dtype=np.float32)
    Z[1, 3] = np.nan  # a missing timestamp may have a NaN embedding
    check_finite_embeddings(X, Z)
    Z[2, 0, 1] = np.inf
    with pytest.raises(ValueError, match=r"for 1 series \(first: X\[2\]\).*Rescale"):
        check_finite_embeddings(X, Z)
    with pytest.raises(ValueError, match=r"for 2 series \(first: X\[0\]\)"):
        check_finite_embeddings(X, np.array([[np.nan], [1.0], [np.inf]]))


def test_masks_and_lengths_match_a_loop():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 9, 2))
    X[rng.random(X.shape) < 0.3] = np.nan
    X[3] = np.nan
    mask = valid_timestamp_mask(X)
    lengths = series_lengths(X)
    for i in range(len(X)):
        observed_any = [not np.isnan(X[i, t]).all() for t in range(9)]
        expected_len = max([t + 1 for t in range(9) if observed_any[t]], default=0)
        assert lengths[i] == expected_len
        for t in range(9):
            assert mask[i, t] == (not np.isnan(X[i, t]).any())
