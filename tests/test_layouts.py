"""The layout converters against slow element-by-element references and each other."""

from __future__ import annotations

import numpy as np
import pytest

from sslts.utils.layouts import (
    from_aeon,
    from_nested_univ,
    from_pd_multiindex,
    from_sktime,
    is_nested_univ,
)

pd = pytest.importorskip("pandas")


def _ragged(seed: int = 0, n_channels: int = 2, lengths=(5, 3, 7, 4)) -> list[np.ndarray]:
    """Series as (T_i, C) arrays with a missing value, the ground truth of every test."""
    rng = np.random.default_rng(seed)
    series = [rng.normal(size=(n, n_channels)) for n in lengths]
    series[1][1, 0] = np.nan
    return series


def _padded_reference(series: list[np.ndarray]) -> np.ndarray:
    """Slow reference: copy every value of every (T_i, C) series into a NaN array."""
    length = max(len(s) for s in series)
    out = np.full((len(series), length, series[0].shape[1]), np.nan)
    for i, s in enumerate(series):
        for t in range(len(s)):
            for c in range(s.shape[1]):
                out[i, t, c] = s[t, c]
    return out


def _as_multiindex(series, labels) -> pd.DataFrame:
    rows, index = [], []
    for label, s in zip(labels, series):
        for t, row in enumerate(s):
            rows.append(row)
            index.append((label, t))
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index), columns=["x", "y"])


def test_multiindex_keeps_instance_order_and_sorts_time():
    series = _ragged()
    df = _as_multiindex(series, ["z", "a", "m", "b"])  # labels not in sorted order
    shuffled = df.sample(frac=1.0, random_state=0)
    expected = _padded_reference(series)
    np.testing.assert_array_equal(from_pd_multiindex(df), expected)
    # The same frame shuffled: time is sorted back; instances follow first appearance.
    first_seen = list(dict.fromkeys(shuffled.index.get_level_values(0)))
    order = [["z", "a", "m", "b"].index(label) for label in first_seen]
    np.testing.assert_array_equal(from_pd_multiindex(shuffled), expected[order])


def test_multiindex_of_a_slice_ignores_unused_index_levels():
    series = _ragged()
    part = _as_multiindex(series, [0, 1, 2, 3]).loc[[1, 3]]  # levels still list 0 and 2
    assert len(part.index.levels[0]) == 4
    np.testing.assert_array_equal(
        from_pd_multiindex(part), _padded_reference([series[1], series[3]])
    )


def test_multiindex_leaves_the_frame_untouched():
    df = _as_multiindex(_ragged(), list("abcd"))
    before = df.copy()
    out = from_pd_multiindex(df)
    out[:] = 0.0
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda df: df.set_index(df["x"], append=True), ValueError, "has 3"),
        (lambda df: pd.concat([df, df.iloc[:1]]), ValueError, "duplicate"),
        (lambda df: df.assign(x="text"), TypeError, "must be numeric.*'x': "),
        (
            lambda df: df.set_axis(
                pd.MultiIndex.from_arrays(
                    [[np.nan] + list(df.index.get_level_values(0)[1:]),
                     df.index.get_level_values(1)]
                )
            ),
            ValueError,
            "missing \\(NaN\\) instance labels",
        ),
    ],
)
def test_multiindex_errors(make, error, message):
    df = _as_multiindex(_ragged(), list("abcd"))
    with pytest.raises(error, match=message):
        from_pd_multiindex(make(df))


def test_nested_univ_with_any_column_names():
    series = _ragged()
    nested = pd.DataFrame(
        {name: [pd.Series(s[:, c]) for s in series] for c, name in enumerate(["acc", "gyr"])},
        index=[10, 11, 12, 13],  # tslearn needs a range index: converted in a copy
    )
    assert is_nested_univ(nested)
    assert not is_nested_univ(pd.DataFrame({"a": [1.0]})) and not is_nested_univ(np.ones(2))
    np.testing.assert_array_equal(from_nested_univ(nested), _padded_reference(series))
    with pytest.raises(TypeError, match="not a nested_univ DataFrame"):
        from_nested_univ(pd.DataFrame({"a": [1.0]}))


def test_from_aeon_reads_every_aeon_collection_type():
    pytest.importorskip("aeon")
    from aeon.utils.conversion import convert_collection

    series = _ragged(lengths=(6, 6, 6))
    expected = _padded_reference(series)
    numpy3d = np.stack([s.T for s in series])  # aeon: (n_cases, n_channels, n_timepoints)
    for kind in ("numpy3D", "np-list", "df-list", "pd-multiindex"):
        converted = numpy3d if kind == "numpy3D" else convert_collection(numpy3d, kind)
        np.testing.assert_array_equal(from_aeon(converted), expected, err_msg=kind)
    univariate = numpy3d[:, :1]
    for kind in ("numpy2D", "pd-wide"):
        np.testing.assert_array_equal(
            from_aeon(convert_collection(univariate, kind)), expected[:, :, :1], err_msg=kind
        )
    ragged = _ragged()
    np.testing.assert_array_equal(from_aeon([s.T for s in ragged]), _padded_reference(ragged))


def test_from_sktime_reads_every_sktime_panel_mtype():
    pytest.importorskip("sktime")
    from sktime.datatypes import convert_to

    series = _ragged(lengths=(6, 6, 6))
    expected = _padded_reference(series)
    numpy3d = np.stack([s.T for s in series])
    for mtype in ("numpy3D", "nested_univ", "pd-multiindex", "df-list"):
        converted = convert_to(numpy3d, to_type=mtype, as_scitype="Panel")
        np.testing.assert_array_equal(from_sktime(converted), expected, err_msg=mtype)
    ragged = _ragged()
    frames = [pd.DataFrame(s) for s in ragged]  # sktime's df-list: (T_i, C) frames
    np.testing.assert_array_equal(from_sktime(frames), _padded_reference(ragged))
    nested = convert_to(frames, to_type="nested_univ", as_scitype="Panel")
    np.testing.assert_array_equal(from_nested_univ(nested), from_sktime(nested))


def test_converters_copy_numpy_input():
    pytest.importorskip("aeon")
    pytest.importorskip("sktime")
    X = np.random.default_rng(0).normal(size=(3, 2, 5))
    for convert in (from_aeon, from_sktime):
        out = convert(X)
        assert out.shape == (3, 5, 2) and not np.shares_memory(out, X)
