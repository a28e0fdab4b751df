"""TS2Vec's encoding modes for every sslts estimator whose encoder keeps the time axis.

The official TS2Vec ``encode`` (Yue et al., AAAI 2022) offers, on top of plain
timestamp embeddings:

- **sliding inference** (``sliding_length``, ``sliding_padding``): the series is cut
  into blocks of ``sliding_length`` steps; each block is encoded inside a window that
  adds ``sliding_padding`` steps of context on both sides (NaN beyond the series
  ends), and the block's part of the window's embeddings is kept;
- **causal encoding** (``causal=True``): the context is taken from the past only, so
  no embedding depends on later values.  With ``sliding_length=1`` (the default
  here when ``causal`` is set) every timestamp ``t`` is encoded from
  ``[t - sliding_padding, t]`` alone, which is how TS2Vec forecasts and detects
  anomalies;
- **pooling** (``encoding_window``): ``"full_series"`` max-pools every timestamp into
  one vector per series, an integer ``k`` max-pools over a centred window of ``k``
  steps, and ``"multiscale"`` concatenates centred max-pools of ``2**(p + 1) + 1``
  steps for ``p = 0, 1, ...`` while ``2**p + 1`` is shorter than the encoded window.

Everything here is built on the estimator's public ``encode(X, level="timestamp")``.
Windows are strided views of the NaN-padded series, gathered and encoded thousands
at a time (no Python loop over timestamps); the number of windows per call is set
from the embedding width so that the working memory stays bounded (about
:data:`CHUNK_VALUES` floats) however long the series is.

Differences from the official code, on purpose: pooling skips timestamps at which
every channel is missing (padding), as the instance level of sslts estimators does,
and the last block is not padded past the series end before pooling.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

from .utils.series import mark_padding
from .utils.validation import Interval, StrOptions, check_time_series, validate_arguments

__all__ = [
    "CHUNK_VALUES",
    "ENCODE_CONSTRAINTS",
    "causal_encode",
    "encode",
    "max_pool_window",
    "sliding_encode",
]

#: The constraints of the keyword arguments of :func:`encode` and of every estimator's
#: ``encode`` (checked before anything is computed).
ENCODE_CONSTRAINTS = {
    "level": [str, None],
    "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    "causal": ["boolean"],
    "sliding_length": [Interval(Integral, 1, None, closed="left"), None],
    "sliding_padding": [Interval(Integral, 0, None, closed="left")],
    "encoding_window": [StrOptions({"full_series", "multiscale"}),
                        Interval(Integral, 1, None, closed="left"), None],
    "mask_padding": ["boolean"],
}

CHUNK_VALUES = 2**24
"""Embedding values (float32, 64 MB) computed per call to the estimator's ``encode``
(pooling with ``"multiscale"`` multiplies them by its number of scales)."""


def encode(
    estimator,
    X,
    *,
    level: str | None = None,
    batch_size: int | None = None,
    causal: bool = False,
    sliding_length: int | None = None,
    sliding_padding: int = 0,
    encoding_window=None,
    mask_padding: bool = True,
):
    """Embed series with TS2Vec's encoding modes (the keyword arguments of its ``encode``).

    Parameters
    ----------
    estimator : fitted sslts estimator
        Must support ``encode(X, level="timestamp")``.
    X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
        Series to embed; NaN marks missing values and padding.
    level : {None, "timestamp"}, default=None
        The modes are defined on timestamp embeddings; ``"instance"`` is refused
        (use ``encoding_window="full_series"`` for one vector per series).
    batch_size : int, default=None
        Windows per forward pass, passed to ``estimator.encode``.
    causal : bool, default=False
        Take the context of every block from the past only.
    sliding_length : int, default=None
        Block length of sliding inference; None encodes whole series (or blocks of one
        step when ``causal``).
    sliding_padding : int, default=0
        Steps of context around (before, when ``causal``) each block.
    encoding_window : {None, "full_series", "multiscale"} or int, default=None
        Max-pooling of the embeddings, see the module description.
    mask_padding : bool, default=True
        NaN embeddings at the steps after the end of a shorter series.

    Returns
    -------
    ndarray, float32
        Of shape (n_series, n_features_out) with ``encoding_window="full_series"``,
        else (n_series, n_timestamps, n_features_out * n_scales), where ``n_scales``
        is the number of pools of ``"multiscale"`` and 1 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TS2VecTransformer
    >>> X = np.random.default_rng(0).normal(size=(3, 40))
    >>> enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_iters=2,
    ...                         device="cpu", random_state=0).fit(X)
    >>> encode(enc, X, causal=True, sliding_padding=10).shape
    (3, 40, 4)
    >>> encode(enc, X, encoding_window="multiscale").shape  # kernels 3, 5, 9, 17, 33, 65
    (3, 40, 24)
    """
    validate_arguments(ENCODE_CONSTRAINTS, {
        "level": level, "batch_size": batch_size, "causal": causal,
        "sliding_length": sliding_length, "sliding_padding": sliding_padding,
        "encoding_window": encoding_window, "mask_padding": mask_padding}, "encode")
    if level not in (None, "timestamp"):
        raise ValueError(
            f"level={level!r} cannot be combined with causal, sliding or encoding_window "
            "modes, which work on timestamp embeddings; pass level='timestamp' (or None), "
            "or encoding_window='full_series' for one vector per series."
        )
    if sliding_length is None and sliding_padding and not causal:
        raise ValueError(
            f"sliding_padding={sliding_padding} needs sliding_length (or causal=True); "
            "set sliding_length to the block length to encode."
        )
    if causal and sliding_length is None:
        sliding_length = 1  # strictly causal: every timestamp from its own past
    return sliding_encode(
        estimator,
        X,
        sliding_length=sliding_length,
        sliding_padding=sliding_padding,
        causal=bool(causal),
        encoding_window=encoding_window,
        batch_size=batch_size,
        mask_padding=mask_padding,
    )


def causal_encode(estimator, X, *, padding: int = 200, batch_size: int | None = None,
                  mask_padding: bool = True):
    """Embed every timestamp ``t`` from its causal window ``[t - padding, t]``.

    TS2Vec's forecasting and anomaly encodings (``causal=True, sliding_length=1,
    sliding_padding=padding``): the embedding of ``t`` is that of the last step of
    its window, NaN-padded before the series start, so it never sees later values.

    Parameters
    ----------
    estimator : fitted sslts estimator
        Must support ``encode(X, level="timestamp")``.
    X : array-like of shape (n_series, n_timestamps[, n_channels])
        Series to embed.
    padding : int, default=200
        Past steps each window holds besides ``t`` itself.
    batch_size : int, default=None
        Windows per forward pass.
    mask_padding : bool, default=True
        NaN at the steps after the end of a shorter series.

    Returns
    -------
    ndarray of shape (n_series, n_timestamps, n_features_out), float32
        NaN at timestamps whose window holds no observed value.
    """
    return sliding_encode(estimator, X, sliding_length=1, sliding_padding=padding, causal=True,
                          batch_size=batch_size, mask_padding=mask_padding)


def sliding_encode(
    estimator,
    X,
    *,
    sliding_length: int | None,
    sliding_padding: int = 0,
    causal: bool = False,
    encoding_window=None,
    batch_size: int | None = None,
    embed=None,
    mask_padding: bool = True,
):
    """Sliding (or whole-series) inference with optional pooling.

    Block ``b`` covers steps ``[b L, (b + 1) L)`` with ``L = sliding_length``; it is
    encoded inside the window ``[b L - P, (b + 1) L + P)`` (``[b L - P, (b + 1) L)``
    when ``causal``), ``P = sliding_padding``, NaN-padded beyond the series ends.

    Parameters
    ----------
    estimator : fitted sslts estimator
        Must support ``encode(X, level="timestamp")`` (unless ``embed`` is given).
    X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
        Series to embed, in the estimator's ``input_layout``.
    sliding_length : int or None
        Block length; None encodes each series as one block.
    sliding_padding : int, default=0
        Context steps on each side of a block (before it only, when ``causal``).
    causal : bool, default=False
        Context from the past only.
    encoding_window : {None, "full_series", "multiscale"} or int, default=None
        Pooling of every window's embeddings before its block is kept
        (:func:`max_pool_window`); ``"full_series"`` then max-pools the blocks.
    batch_size : int, default=None
        Passed to ``estimator.encode``.
    embed : callable, default=None
        ``embed(windows)`` maps windows of shape (n_windows, window_length, n_channels)
        to timestamp embeddings (n_windows, window_length, D); the default is
        ``estimator.encode(windows, level="timestamp", batch_size=batch_size)``.  A hook
        for other inference rules, e.g. masking a step
        (:func:`sslts.anomaly_scores.mask_last_encode`).
    mask_padding : bool, default=True
        Give the steps after the end of a shorter series (its NaN right-padding) NaN
        embeddings; False keeps what the windows that reach them compute.

    Returns
    -------
    ndarray, float32
        (n_series, D') for ``"full_series"``, else (n_series, n_timestamps, D').
        Windows without any observed value give NaN.

    Examples
    --------
    >>> import numpy as np
    >>> def identity(windows):  # "embeddings" equal to the input
    ...     return windows
    >>> X = np.arange(5.0).reshape(1, 5, 1)
    >>> sliding_encode(None, X, sliding_length=2, sliding_padding=1, causal=True,
    ...                encoding_window=2, embed=identity)[0, :, 0]
    array([0., 1., 2., 3., 4.], dtype=float32)
    """
    # X is read in the layout the estimator was fitted on; windows are channels-last.
    layout = getattr(estimator, "input_layout_", "channels_last")
    if embed is None:
        def embed(windows):
            if layout == "channels_first":
                windows = windows.transpose(0, 2, 1)
            # A window's last steps may be a gap inside the series: the padding of
            # the series is masked once, below, not per window.
            return estimator.encode(windows, level="timestamp", batch_size=batch_size,
                                    mask_padding=False)
    validate_arguments(ENCODE_CONSTRAINTS, {
        "sliding_length": sliding_length, "sliding_padding": sliding_padding,
        "encoding_window": encoding_window, "causal": causal, "batch_size": batch_size,
        "mask_padding": mask_padding}, "sliding_encode")
    X = check_time_series(X, estimator=estimator, layout=layout,
                          reset=None if estimator is None else False)
    n, T, C = X.shape
    length = T if sliding_length is None else sliding_length
    pad = sliding_padding if sliding_length is not None else 0
    width = length + pad + (0 if causal else pad)
    n_blocks = math.ceil(T / length)
    padded = np.full((n, (n_blocks - 1) * length + width, C), np.nan, np.float32)
    padded[:, pad : pad + T] = X
    # (n, n_blocks, C, width) strided view: window b starts at padded[b * length].
    windows = sliding_window_view(padded, width, axis=1)[:, ::length]
    full = encoding_window == "full_series"
    out = None
    for rows, cols, chunk, Z in _encoded_chunks(windows, embed):
        observed = ~np.isnan(chunk).all(axis=2)
        if not full and encoding_window is not None:
            Z = max_pool_window(Z, encoding_window, observed=observed)
        Z, observed = Z[:, pad : pad + length], observed[:, pad : pad + length]
        if full:
            Z = _max_over_observed(Z, observed)
        if out is None:
            shape = (n, Z.shape[-1]) if full else (n, n_blocks * length, Z.shape[-1])
            out = np.full(shape, -np.inf if full else np.nan, np.float32)
        if full:
            np.fmax.at(out, rows, Z)  # a series' blocks may share a chunk
        else:
            out.reshape(n, n_blocks, length, -1)[rows, cols] = Z
    if full:
        return np.where(np.isneginf(out), np.nan, out)
    return mark_padding(out[:, :T], X) if mask_padding else out[:, :T]


def _encoded_chunks(windows: np.ndarray, embed):
    """Yield ``(series, block, windows, embeddings)`` for chunks of observed windows.

    The first window is encoded alone to learn the embedding width ``D``; later
    chunks hold ``CHUNK_VALUES // (width * max(D, C))`` windows.
    """
    n, n_blocks, C, width = windows.shape
    flat_series, flat_block = np.divmod(np.arange(n * n_blocks), n_blocks)
    start, size = 0, 1
    while start < len(flat_series):
        rows, cols = flat_series[start : start + size], flat_block[start : start + size]
        start += len(rows)
        chunk = windows[rows, cols].transpose(0, 2, 1)  # copies only this chunk
        # A window without any observed value (all padding) has no embedding.
        keep = ~np.isnan(chunk).all(axis=(1, 2))
        if keep.any():
            Z = np.asarray(embed(np.ascontiguousarray(chunk[keep])), dtype=np.float32)
            size = max(1, CHUNK_VALUES // (width * max(Z.shape[-1], C)))
            yield rows[keep], cols[keep], chunk[keep], Z


def max_pool_window(Z, encoding_window, *, observed=None) -> np.ndarray:
    """Centred max-pooling of timestamp embeddings (TS2Vec's ``encoding_window``).

    Parameters
    ----------
    Z : ndarray of shape (n_series, n_timestamps, D)
        Timestamp embeddings.
    encoding_window : {"full_series", "multiscale"} or int
        ``"full_series"``: max over all timestamps, shape (n_series, D).  An int ``k``:
        ``out[t] = max(Z[t - k // 2 : t + k - k // 2])`` (the official kernel ``k``,
        stride 1, padding ``k // 2``, last step dropped when ``k`` is even).
        ``"multiscale"``: the pools of kernels ``2**(p + 1) + 1``, ``p = 0, 1, ...``
        while ``2**p + 1 < n_timestamps``, concatenated on the last axis.
    observed : ndarray of shape (n_series, n_timestamps) of bool, default=None
        Timestamps that may contribute; None uses all.  A pool without any observed
        timestamp gives NaN.

    Returns
    -------
    ndarray, float32
        (n_series, D) for ``"full_series"``, (n_series, n_timestamps, D) for an int
        and (n_series, n_timestamps, D * n_scales) for ``"multiscale"``.

    Examples
    --------
    >>> Z = np.array([[[1.0], [5.0], [2.0], [0.0]]])
    >>> max_pool_window(Z, 3)[0, :, 0]
    array([5., 5., 5., 2.], dtype=float32)
    >>> max_pool_window(Z, "full_series", observed=np.array([[True, False, True, True]]))
    array([[2.]], dtype=float32)
    """
    validate_arguments(ENCODE_CONSTRAINTS, {"encoding_window": encoding_window},
                       "max_pool_window")
    if encoding_window is None:
        raise ValueError("max_pool_window needs an encoding_window; got None.")
    Z = np.asarray(Z, dtype=np.float32)
    if Z.ndim != 3:
        raise ValueError(f"Z must have shape (n_series, n_timestamps, D), got {Z.shape}.")
    observed = np.ones(Z.shape[:2], bool) if observed is None else np.asarray(observed, bool)
    if observed.shape != Z.shape[:2]:
        raise ValueError(
            f"observed must have shape {Z.shape[:2]} (one flag per timestamp of Z), got "
            f"{observed.shape}."
        )
    if encoding_window == "full_series":
        return _max_over_observed(Z, observed)
    if encoding_window == "multiscale":
        # p runs while 2**p < n_timestamps - 1, i.e. over the bits of n_timestamps - 2.
        kernels = [2 ** (p + 1) + 1 for p in range(max(Z.shape[1] - 2, 0).bit_length())]
    else:
        kernels = [encoding_window]
    z = torch.from_numpy(np.where(observed[..., None], Z, -np.inf)).transpose(1, 2)
    pools = []
    for k in kernels:
        # -inf padding: positions beyond the ends never win the max.
        pooled = F.max_pool1d(z, k, stride=1, padding=k // 2)[..., : Z.shape[1]]
        pools.append(pooled.transpose(1, 2).numpy())
    if not pools:  # a single timestamp has no multiscale pool (as the official)
        return np.empty(Z.shape[:2] + (0,), np.float32)
    out = np.concatenate(pools, axis=-1)
    return np.where(np.isneginf(out), np.nan, out)


def _max_over_observed(Z: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(n, T, D) -> (n, D): max over the observed timestamps, NaN where there are none."""
    out = np.where(observed[..., None], Z, -np.inf).max(axis=1)
    return np.where(np.isneginf(out), np.nan, out).astype(np.float32)
