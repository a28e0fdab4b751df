"""TS2Vec's encoding modes (sslts.encoding) against slow per-window references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslts import TimeDRLTransformer, TS2VecTransformer, VIbCRegTransformer, encoding
from sslts.encoding import causal_encode, encode, max_pool_window, sliding_encode


@pytest.fixture(scope="module")
def enc():
    X = np.random.default_rng(0).normal(size=(6, 30, 2))
    return TS2VecTransformer(output_dims=3, hidden_dims=4, depth=2, n_iters=2, device="cpu",
                             random_state=0).fit(X)


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, 23, 2)).astype(np.float32)
    X[0, 7, 1] = np.nan  # a missing value inside a series
    X[1, 19:] = np.nan  # a shorter series, NaN-padded
    return X


# ------------------------------------------------------------- slow references
def slow_pool(Z, observed, k):
    """out[t] = max of Z over the observed s in [t - k // 2, t - k // 2 + k)."""
    out = np.full(Z.shape, np.nan, np.float32)
    for t in range(len(Z)):
        idx = [s for s in range(t - k // 2, t - k // 2 + k) if 0 <= s < len(Z) and observed[s]]
        if idx:
            out[t] = Z[idx].max(axis=0)
    return out


def slow_scales(width):
    kernels, p = [], 0
    while 2**p + 1 < width:  # the official loop
        kernels.append(2 ** (p + 1) + 1)
        p += 1
    return kernels


def slow_sliding(enc, X, length, padding, causal, window):
    """One ``encode`` call per series and per block, windows built by hand."""
    n, T, C = X.shape
    D = None
    rows = []
    for x in X:
        blocks = []
        for start in range(0, T, length):
            lo, hi = start - padding, start + length + (0 if causal else padding)
            win = np.full((hi - lo, C), np.nan, np.float32)
            win[max(lo, 0) - lo : min(hi, T) - lo] = x[max(lo, 0) : min(hi, T)]
            observed = ~np.isnan(win).all(axis=1)
            if not observed.any():
                blocks.append(None)
                continue
            Z = enc.encode(win[None], level="timestamp", mask_padding=False)[0]
            if isinstance(window, int):
                Z = slow_pool(Z, observed, window)
            elif window == "multiscale":
                Z = np.concatenate([slow_pool(Z, observed, k) for k in slow_scales(len(win))],
                                   axis=1)
            D = Z.shape[1]
            blocks.append(Z[padding : padding + length])
        rows.append(blocks)
    out = np.full((n, math.ceil(T / length) * length, D), np.nan, np.float32)
    for i, blocks in enumerate(rows):
        for b, Z in enumerate(blocks):
            if Z is not None:
                out[i, b * length : (b + 1) * length] = Z
    out = out[:, :T]
    if window == "full_series":
        observed = ~np.isnan(X).all(axis=2)
        return np.stack([out[i][observed[i]].max(axis=0) for i in range(n)])
    return out


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize("padding", [0, 4])
def test_causal_encoding_of_a_prefix_is_the_prefix_of_the_causal_encoding(enc, series, padding):
    X = series[:1]
    whole = causal_encode(enc, X, padding=padding)
    for stop in (1, 5, 16):
        np.testing.assert_allclose(causal_encode(enc, X[:, :stop], padding=padding),
                                   whole[:, :stop], rtol=1e-5, atol=1e-6)
    changed = X.copy()
    changed[:, 12:] += 10.0  # the future changes: the past embeddings do not
    np.testing.assert_allclose(causal_encode(enc, changed, padding=padding)[:, :12],
                               whole[:, :12], rtol=1e-5, atol=1e-6)
    assert not np.allclose(causal_encode(enc, changed, padding=padding)[:, 12], whole[:, 12])


def test_non_causal_sliding_sees_the_future(enc, series):
    X = series[:1]
    base = sliding_encode(enc, X, sliding_length=1, sliding_padding=4)
    changed = X.copy()
    changed[:, 12] += 10.0
    # Timestamp 10 sees 12 through its right context.
    assert not np.allclose(sliding_encode(enc, changed, sliding_length=1, sliding_padding=4)[:, 10],
                           base[:, 10])


@pytest.mark.parametrize(
    "length, padding, causal, window",
    [
        (1, 3, True, None),
        (1, 0, False, None),
        (4, 3, False, None),
        (5, 2, True, None),
        (5, 3, False, 3),
        (4, 3, True, 4),
        (6, 2, False, "multiscale"),
        (5, 3, True, "full_series"),
        (1, 3, True, "full_series"),
        (50, 0, False, None),
    ],
)
def test_sliding_encoding_equals_a_per_window_loop(enc, series, length, padding, causal, window):
    got = sliding_encode(enc, series, sliding_length=length, sliding_padding=padding,
                         causal=causal, encoding_window=window, mask_padding=False)
    ref = slow_sliding(enc, series, length, padding, causal, window)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("window", [None, 1, 4, 5, "multiscale", "full_series"])
def test_whole_series_pooling_equals_the_loop(enc, series, window):
    got = encode(enc, series, encoding_window=window, mask_padding=False)
    ref = slow_sliding(enc, series, 23, 0, False, window)  # one block = the whole series
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_dispatcher_maps_the_official_keywords(enc, series):
    np.testing.assert_array_equal(encode(enc, series, causal=True, sliding_padding=3),
                                  causal_encode(enc, series, padding=3))
    np.testing.assert_array_equal(
        encode(enc, series, sliding_length=4, sliding_padding=2, level="timestamp"),
        sliding_encode(enc, series, sliding_length=4, sliding_padding=2))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 30])
def test_pool_timestamps_matches_the_official_max_pool(k):
    Z = np.random.default_rng(2).normal(size=(3, 11, 4)).astype(np.float32)
    # The official call: kernel k, stride 1, padding k // 2, last step dropped for even k.
    ref = F.max_pool1d(torch.from_numpy(Z).transpose(1, 2), k, stride=1, padding=k // 2)
    ref = ref.transpose(1, 2).numpy()
    if k % 2 == 0:
        ref = ref[:, :-1]
    np.testing.assert_array_equal(max_pool_window(Z, k), ref)
    observed = np.random.default_rng(3).random((3, 11)) < 0.7
    for i in range(3):
        np.testing.assert_array_equal(max_pool_window(Z, k, observed=observed)[i],
                                      slow_pool(Z[i], observed[i], k))


def test_multiscale_pool_concatenates_the_official_scales():
    Z = np.random.default_rng(4).normal(size=(2, 17, 3)).astype(np.float32)
    got = max_pool_window(Z, "multiscale")
    kernels = slow_scales(17)
    assert kernels == [3, 5, 9, 17]
    assert got.shape == (2, 17, 3 * len(kernels))
    for j, k in enumerate(kernels):
        np.testing.assert_array_equal(got[..., 3 * j : 3 * (j + 1)], max_pool_window(Z, k))
    assert max_pool_window(Z[:, :2], "multiscale").shape == (2, 2, 0)


def test_chunks_bound_the_memory_and_do_not_change_the_result(enc, series, monkeypatch):
    ref = causal_encode(enc, series, padding=2)
    sizes = []

    def counting(windows):
        sizes.append(len(windows))
        return enc.encode(windows, level="timestamp")

    # 6 windows of 3 steps x 3 dims per chunk.
    monkeypatch.setattr(encoding, "CHUNK_VALUES", 6 * 3 * 3)
    got = sliding_encode(enc, series, sliding_length=1, sliding_padding=2, causal=True,
                         embed=counting)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert sizes[0] == 1 and max(sizes) == 6
    # Windows [t - 2, t] holding only the padding of the shorter series are skipped.
    assert sum(sizes) == 23 + 21


def test_windows_without_observed_values_give_nan(enc, series):
    Z = causal_encode(enc, series, padding=2, mask_padding=False)
    # From t = 21 on, the window [t - 2, t] lies in the padding of the shorter series.
    assert np.isnan(Z[1, 21:]).all() and np.isfinite(Z[1, :21]).all()
    assert np.isfinite(Z[0]).all()


def test_padded_steps_are_nan_but_gaps_keep_their_embeddings(enc, series):
    X = series.copy()
    X[0, 5] = np.nan  # a gap inside the longer series
    end = int(np.flatnonzero(~np.isnan(X[1, :, 0]))[-1]) + 1  # the shorter one's end
    for Z in (enc.encode(X, level="timestamp"), causal_encode(enc, X, padding=2),
              encode(enc, X, sliding_length=4, sliding_padding=2)):
        assert np.isfinite(Z[0]).all()  # the gap's step included
        assert np.isfinite(Z[1, :end]).all() and np.isnan(Z[1, end:]).all()


def test_encoding_modes_do_not_modify_the_input(enc, series):
    X = series.copy()
    encode(enc, X, causal=True, sliding_padding=3, encoding_window=3)
    np.testing.assert_array_equal(X, series)


def test_other_estimators_with_a_time_axis(series):
    X = np.nan_to_num(series[:, :16])
    drl = TimeDRLTransformer(output_dims=4, n_heads=1, n_layers=1, patch_len=4, stride=2,
                             n_iters=2, device="cpu", random_state=0).fit(X)
    got = sliding_encode(drl, X, sliding_length=4, sliding_padding=4)
    ref = slow_sliding(drl, X, 4, 4, False, None)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"level": "instance", "causal": True}, "full_series"),
        ({"sliding_padding": 3}, "needs sliding_length"),
        ({"sliding_length": 0}, "'sliding_length' parameter of encode must be an int"),
        ({"sliding_length": 2, "sliding_padding": -1}, "'sliding_padding' parameter"),
        ({"encoding_window": "max"}, "'encoding_window' parameter"),
        ({"encoding_window": 0}, "'encoding_window' parameter"),
        ({"encoding_window": True}, "must be a number, not a boolean"),
        ({"causal": "yes"}, "'causal' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
    ],
)
def test_bad_arguments_raise_clear_errors(enc, series, kwargs, match):
    with pytest.raises(ValueError, match=match):
        encode(enc, series, **kwargs)


def test_pool_timestamps_rejects_bad_shapes():
    with pytest.raises(ValueError, match="n_series, n_timestamps, D"):
        max_pool_window(np.zeros((3, 4)), 3)
    with pytest.raises(ValueError, match="observed must have shape"):
        max_pool_window(np.zeros((1, 4, 2)), 3, observed=np.ones((1, 3), bool))


def test_estimator_encode_delegates_to_the_modes(enc, series):
    np.testing.assert_array_equal(
        enc.encode(series, causal=True, sliding_padding=3, encoding_window="multiscale"),
        encode(enc, series, causal=True, sliding_padding=3, encoding_window="multiscale"))
    np.testing.assert_array_equal(enc.encode(series, encoding_window="full_series"),
                                  encode(enc, series, encoding_window="full_series"))
    prefix = series[:, :20]
    np.testing.assert_allclose(enc.encode(prefix, causal=True, sliding_padding=5),
                               enc.encode(series, causal=True, sliding_padding=5)[:, :20],
                               rtol=1e-5, atol=1e-6)


def test_estimator_encode_modes_need_a_time_axis(series):
    X = np.nan_to_num(series[:, :16])
    vib = VIbCRegTransformer(encoder_params={"base_width": 4}, projector_dims=16, n_iters=1,
                             device="cpu", random_state=0).fit(X)
    with pytest.raises(ValueError, match="encoder pools time"):
        vib.encode(X, causal=True)
    assert vib.encode(X).shape[0] == len(X)  # the plain path is unaffected
