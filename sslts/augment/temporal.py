"""Temporal transforms: the values of each series resampled or reordered in time.

Smooth warps of the time axis (:func:`time_warp`), one stretched or squeezed window
(:func:`window_warp`), a window stretched back to the full length
(:func:`window_slice`), and a permutation of contiguous pieces
(:func:`slice_and_shuffle`).  The resampling transforms interpolate linearly between
the two input samples bracketing each output time (NaN when a bracketing sample with
a non-zero weight is NaN); :func:`slice_and_shuffle` moves NaN with its timestamps.
"""

from __future__ import annotations

import math

import torch

from .core import batch_input, check_fraction, draw, randint, spline_curves

__all__ = ["slice_and_shuffle", "time_warp", "window_slice", "window_warp"]


# ------------------------------------------------------------ resampling core
def _resample(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of every series at fractional time positions.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    pos : Tensor of shape (B, T_out)
        Positions in ``[0, T - 1]`` (clamped), shared by the channels of a series.

    Returns
    -------
    Tensor of shape (B, T_out, C)
    """
    T = x.shape[1]
    pos = pos.to(x.dtype).clamp(0, T - 1)
    lo = pos.floor().long().clamp(max=max(T - 2, 0))
    hi = (lo + 1).clamp(max=T - 1)
    w = (pos - lo.to(x.dtype))[:, :, None]
    left = torch.take_along_dim(x, lo[:, :, None], dim=1)
    right = torch.take_along_dim(x, hi[:, :, None], dim=1)
    # A zero weight must not let a NaN neighbour leak in (0 * NaN = NaN).
    out = torch.where(w > 0, torch.lerp(left, right, w), left)
    return torch.where(w < 1, out, right)


# ------------------------------------------------------------- time warping
def _time_grid(x: torch.Tensor) -> torch.Tensor:
    """(B, T) grid ``0 .. T-1`` in ``x``'s dtype."""
    B, T = x.shape[:2]
    return torch.arange(T, device=x.device, dtype=x.dtype).expand(B, T)


def _invert_monotone(warped: torch.Tensor) -> torch.Tensor:
    """Positions ``s`` with ``warped(s) = t`` for ``t = 0 .. T-1`` (piecewise linear).

    ``warped`` is (B, T), non-decreasing, from 0 to T-1.  This is what
    ``np.interp(arange(T), warped, series)`` computes, expressed as source positions.
    """
    T = warped.shape[1]
    t = _time_grid(warped).contiguous()
    j = (torch.searchsorted(warped, t, right=True) - 1).clamp(0, T - 2)
    w0 = torch.take_along_dim(warped, j, dim=1)
    w1 = torch.take_along_dim(warped, j + 1, dim=1)
    step = w1 - w0
    frac = torch.where(step > 0, (t - w0) / step.clamp(min=1e-12), 1.0).clamp(0, 1)
    src = j.to(warped.dtype) + frac
    # Where clipping made the warp flat at 0, time 0 matches several samples;
    # take the first one so that the series keeps its first value.
    src[:, 0] = 0
    return src


@batch_input
def time_warp(
    x: torch.Tensor, sigma: float = 0.2, n_knots: int = 8, *, generator: torch.Generator
) -> torch.Tensor:
    """Smoothly speed up and slow down each series (Um et al., 2017).

    A cubic spline through ``n_knots + 2`` equally spaced knot times ``t_k`` with
    values ``t_k * r_k``, ``r_k ~ N(1, sigma**2)``, gives a warped time axis; it is
    rescaled to end at ``T - 1``, clipped to ``[0, T - 1]`` and the series is
    re-sampled by linear interpolation so that sample ``i`` lands at warped time
    ``i``.  The first and last values are kept (``np.interp`` in the official code
    repeats a later sample at the start when the clipped warp is flat at 0).  One
    warp per series is shared by its channels (the official SelfTime code,
    univariate, draws one per channel).
    Where the spline is not increasing it is flattened (running maximum) so that
    the warp stays a monotone map.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Needs ``T >= 2``.
    sigma : float, default=0.2
        Standard deviation of the knot speed factors.
    n_knots : int, default=8
        Number of interior knots (at least 2).
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
    """
    B, T = x.shape[:2]
    times = torch.linspace(0, T - 1, n_knots + 2, device=x.device, dtype=x.dtype)
    speeds = 1 + sigma * draw((B, n_knots + 2, 1), generator, x, normal=True)
    warped = spline_curves(x, times[None, :, None] * speeds)[:, :, 0]
    warped = warped * ((T - 1) / warped[:, -1:].clamp(min=1e-6))
    warped = warped.clamp(0, T - 1).cummax(dim=1).values
    return _resample(x, _invert_monotone(warped))


@batch_input
def window_warp(
    x: torch.Tensor,
    window_ratio: float = 0.3,
    scales: tuple[float, ...] = (0.5, 2.0),
    *,
    generator: torch.Generator,
) -> torch.Tensor:
    """Stretch or squeeze one random window, then resample to the original length.

    Following Iwana & Uchida (2021): a window of ``ceil(window_ratio * T)`` steps
    starting at a random position (never at the first step) is played at a speed
    chosen at random from ``scales`` per series (0.5 halves its duration, 2 doubles
    it) and the whole warped series is linearly resampled to ``T`` steps.  This is
    the continuous, piecewise-linear form of that warp; channels share it.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Needs ``T >= ceil(window_ratio * T) + 3``.
    window_ratio : float, default=0.3
        Window length as a fraction of ``T`` (SelfTime's default; 0.1 in Iwana's).
    scales : tuple of float, default=(0.5, 2.0)
        Candidate duration factors of the window.
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
    """
    check_fraction("window_ratio", window_ratio)
    B, T = x.shape[:2]
    w = math.ceil(window_ratio * T)
    if T - w - 2 < 1:
        raise ValueError(f"window_warp needs T >= {w + 3} for window_ratio={window_ratio}.")
    start = (1 + randint(T - w - 2, B, generator, x.device)).to(x.dtype)[:, None]
    options = torch.tensor(scales, device=x.device, dtype=x.dtype)
    scale = options[randint(len(scales), B, generator, x.device)][:, None]
    stretched = w * scale
    p = _time_grid(x) * ((T - 1 + w * (scale - 1)) / (T - 1))
    src = torch.where(
        p < start,
        p,
        torch.where(p < start + stretched, start + (p - start) / scale, p - w * (scale - 1)),
    )
    return _resample(x, src)


@batch_input
def window_slice(
    x: torch.Tensor, ratio: float = 0.8, *, generator: torch.Generator
) -> torch.Tensor:
    """Crop a random window and stretch it back to the full length (Le Guennec et al.).

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    ratio : float, default=0.8
        Window length ``ceil(ratio * T)`` as a fraction of ``T``.
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
        Sample ``u`` of the output is the input at ``start + u * (w - 1) / (T - 1)``.
    """
    check_fraction("ratio", ratio, allow_one=True)
    B, T = x.shape[:2]
    w = math.ceil(ratio * T)
    start = randint(T - w + 1, B, generator, x.device).to(x.dtype)[:, None]
    return _resample(x, start + _time_grid(x) * ((w - 1) / max(T - 1, 1)))


# ------------------------------------------------------------- reordering
@batch_input
def slice_and_shuffle(
    x: torch.Tensor, n_segments: int = 4, *, generator: torch.Generator
) -> torch.Tensor:
    """Cut each series at ``n_segments - 1`` random points and permute the pieces.

    Cut points are distinct, so every piece has at least one step; the
    permutation is drawn uniformly per series (it may be the identity).

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    n_segments : int, default=4
        Number of pieces, at most ``T``.
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
        The same values per series, in another order of contiguous pieces.
    """
    B, T = x.shape[:2]
    if not 1 <= n_segments <= T:
        raise ValueError(f"n_segments must be in [1, T={T}], got {n_segments}.")
    dev = x.device
    cuts = torch.rand((B, T - 1), generator=generator, device=dev).argsort(dim=1)
    cuts = (cuts[:, : n_segments - 1] + 1).sort(dim=1).values
    edge = torch.zeros((B, 1), dtype=torch.long, device=dev)
    bounds = torch.cat([edge, cuts, edge + T], dim=1)  # (B, n + 1)
    starts, lengths = bounds[:, :-1], bounds.diff(dim=1)
    perm = torch.rand((B, n_segments), generator=generator, device=dev).argsort(dim=1)
    new_len = lengths.gather(1, perm)
    new_end = new_len.cumsum(dim=1)
    t = torch.arange(T, device=dev).expand(B, T).contiguous()
    seg = torch.searchsorted(new_end, t, right=True)  # piece holding output step t
    src = starts.gather(1, perm).gather(1, seg) + t - (new_end - new_len).gather(1, seg)
    return torch.take_along_dim(x, src[:, :, None], dim=1)
