"""Unit tests of ``sslts.utils.validation`` against hand-written expectations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from sslts.utils.series import LayoutWarning, pad_series_list, series_lengths, valid_timestamp_mask
from sslts.utils.validation import check_finite_embeddings, check_time_series


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
    # 2-D input keeps scikit-learn's "feature(s)" (its common checks look for it) but
    # says that they are time steps.
    with pytest.raises(ValueError, match=r"3 timestamp\(s\) \(shape=\(2, 3\): its 3 feature\(s\) "
                       r"are time steps\) while a minimum of 4 is required by sslts"):
        check_time_series(np.ones((2, 3)), min_timestamps=4)
    with pytest.raises(ValueError, match=r"3 timestamp\(s\) .*minimum of 4 is required by sslts"):
        check_time_series(np.ones((2, 3, 2)), min_timestamps=4)
    with pytest.raises(ValueError, match="minimum of 4"):
        check_time_series([[1, 2, 3], [1, 2]], min_timestamps=4)
    assert check_time_series(np.ones((2, 4)), min_timestamps=4).shape == (2, 4, 1)


@pytest.mark.parametrize("X", [np.ones((2, 3)), np.ones((2, 3, 1))], ids=["2d", "3d"])
def test_min_timestamps_error_names_time_steps_and_the_parameter(X):
    with pytest.raises(ValueError, match=r"at least 4 time step\(s\) with min_timestamps=4\."):
        check_time_series(X, min_timestamps=4)
    with pytest.raises(ValueError, match=r"at least 4 time step\(s\) with patch_len=4\. Use "):
        check_time_series(X, min_timestamps=4, min_timestamps_source="patch_len=4")


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


# ------------------------------------------------------------------ layouts
def _channels_first_reference(series_list):
    """Slow reference: one (C, T_i) series at a time into a NaN-padded (n, T, C)."""
    n_channels = np.shape(series_list[0])[0]
    length = max(np.shape(s)[1] for s in series_list)
    out = np.full((len(series_list), length, n_channels), np.nan)
    for i, s in enumerate(series_list):
        for c in range(n_channels):
            for t in range(np.shape(s)[1]):
                out[i, t, c] = s[c][t]
    return out


def test_channels_first_array_is_transposed_into_a_fresh_copy():
    X = np.random.default_rng(0).normal(size=(4, 3, 7))
    before = X.copy()
    out = check_time_series(X, layout="channels_first")
    np.testing.assert_array_equal(out, _channels_first_reference(list(X)).astype(np.float32))
    assert out.flags.c_contiguous and not np.shares_memory(out, X)
    np.testing.assert_array_equal(X, before)


def test_channels_first_lists_of_unequal_length_match_the_reference():
    rng = np.random.default_rng(1)
    series = [rng.normal(size=(2, n)) for n in (5, 3, 6)]
    out = check_time_series(series, layout="channels_first")
    np.testing.assert_array_equal(out, _channels_first_reference(series).astype(np.float32))
    nested = [s.tolist() for s in series]  # plain nested lists read the same way
    np.testing.assert_array_equal(check_time_series(nested, layout="channels_first"), out)


def test_univariate_input_reads_the_same_in_both_layouts():
    for X in ([[1.0, 2.0, 3.0], [4.0, 5.0]], np.arange(6.0).reshape(2, 3)):
        np.testing.assert_array_equal(
            check_time_series(X, layout="channels_first"), check_time_series(X)
        )


def test_bad_layout_is_named():
    with pytest.raises(ValueError, match="layout must be one of .*'channels_first'.*'ncl'"):
        check_time_series(np.ones((2, 3)), layout="ncl")


def test_time_axis_shorter_than_channels_warns_with_the_way_out():
    X = np.ones((3, 6, 100))
    with pytest.warns(LayoutWarning, match=r"channels-last as 6 time step\(s\) of 100") as rec:
        check_time_series(X)
    assert "input_layout='channels_first'" in str(rec[0].message)
    assert issubclass(LayoutWarning, UserWarning)
    with pytest.warns(LayoutWarning, match="channels-first as 6 time step.*leave input_layout"):
        check_time_series(np.ones((3, 100, 6)), layout="channels_first")


@pytest.mark.parametrize(
    ("X", "kwargs"),
    [
        (np.ones((3, 100, 6)), {}),  # the time axis is the longer one
        (np.ones((3, 6, 100)), {"layout": "channels_first"}),
        (np.ones((3, 6, 100)), {"reset": False, "estimator": object()}),  # transform
        ([np.ones((2, 5)), np.ones((3, 5))], {}),  # ragged: only channels-last fits
        (np.ones((3, 4, 4)), {}),
    ],
)
def test_no_layout_warning_when_the_read_is_not_ambiguous(X, kwargs, recwarn):
    if "estimator" in kwargs:
        kwargs["estimator"] = _Named()
    check_time_series(X, **kwargs)
    assert not [w for w in recwarn if issubclass(w.category, LayoutWarning)]


def test_inconsistent_channel_counts_name_the_channels_first_layout():
    aeon_style = [np.ones((3, 10)), np.ones((3, 12))]  # (C, T_i)
    with pytest.raises(ValueError, match="channels-first.*input_layout='channels_first'"):
        check_time_series(aeon_style)
    assert check_time_series(aeon_style, layout="channels_first").shape == (2, 12, 3)
    with pytest.raises(ValueError, match="X\\[0\\] has 3 channels but X\\[1\\] has 2\\.$"):
        check_time_series([np.ones((3, 10)), np.ones((2, 12))], layout="channels_first")


def test_channel_mismatch_after_fit_suggests_the_other_layout():
    transform = {"estimator": _Named(), "reset": False}  # as in transform: no warning
    with pytest.raises(ValueError, match="3 time step\\(s\\): is it channels-first"):
        check_time_series(np.ones((2, 3, 8)), n_channels=3, **transform)
    with pytest.raises(ValueError, match="is it channels-last.*'channels_first' in fit"):
        check_time_series(np.ones((2, 8, 3)), n_channels=3, layout="channels_first", **transform)
    with pytest.raises(ValueError, match="fitted on series with 5 channel\\(s\\)\\.$"):
        check_time_series(np.ones((2, 3, 8)), n_channels=5, **transform)


# ------------------------------------------------------------ feature names
class _Named(BaseEstimator):
    """Stands in for an estimator: check_time_series only sets/reads attributes."""


def test_dataframe_columns_become_feature_names_as_in_sklearn():
    pd = pytest.importorskip("pandas")
    est = _Named()
    df = pd.DataFrame(np.ones((3, 4)), columns=["t0", "t1", "t2", "t3"])
    out = check_time_series(df, estimator=est, reset=True)
    assert out.shape == (3, 4, 1)
    assert est.feature_names_in_.dtype == object
    np.testing.assert_array_equal(est.feature_names_in_, df.columns)
    check_time_series(df, estimator=est, reset=False)  # same names: silent
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        check_time_series(df[df.columns[::-1]], estimator=est, reset=False)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        check_time_series(df.to_numpy(), estimator=est, reset=False)
    check_time_series(df.to_numpy(), estimator=est, reset=True)  # refit without names
    assert not hasattr(est, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but _Named was fitted without"):
        check_time_series(df, estimator=est, reset=False)
    check_time_series(df, estimator=est)  # reset=None: names left alone
    assert not hasattr(est, "feature_names_in_")


def test_multiindex_and_nested_frames_are_read_with_channel_names():
    pd = pytest.importorskip("pandas")
    index = pd.MultiIndex.from_tuples([("b", 1), ("b", 0), ("a", 0)])
    df = pd.DataFrame({"x": [2.0, 1.0, 3.0], "y": [5.0, 4.0, 6.0]}, index=index)
    est = _Named()
    out = check_time_series(df, estimator=est, reset=True)
    expected = np.array([[[1, 4], [2, 5]], [[3, 6], [np.nan, np.nan]]], dtype=np.float32)
    np.testing.assert_array_equal(out, expected)  # instances in order of appearance
    np.testing.assert_array_equal(est.feature_names_in_, ["x", "y"])
    nested = pd.DataFrame({"x": [pd.Series([1.0, 2.0]), pd.Series([3.0])],
                           "y": [pd.Series([4.0, 5.0]), pd.Series([6.0])]})
    np.testing.assert_array_equal(check_time_series(nested), expected)
