"""Augmentations and view generators on batched tensors.

Every function takes an explicit generator (never the global RNG), works on CPU or
GPU tensors and is vectorised over the batch (no loop over series).  Series are
``(B, T, C)`` float tensors; the output has the input's shape, dtype and device
unless stated otherwise.  The ``generator`` must live on ``x.device``.

Missing values (NaN) propagate, they are never invented nor silently filled:

- pointwise transforms (:func:`jitter`, :func:`gaussian_noise`, :func:`scaling`,
  :func:`amplitude_resize`, :func:`magnitude_warp`) keep NaN exactly where it was;
- resampling transforms (:func:`time_warp`, :func:`window_warp`, :func:`window_slice`)
  interpolate linearly between the two input samples bracketing each output time; an
  output is NaN when a bracketing sample with a non-zero weight is NaN;
- reordering transforms (:func:`slice_and_shuffle`, :func:`random_crop`) move NaN
  along with their timestamps;
- masking transforms (:func:`cutout`, :func:`timestamp_mask`) write their fill value
  over masked timestamps, NaN included.

The first seven follow Um et al. (2017) and Iwana & Uchida (2021) as used by
SelfTime (Fan et al., 2020); see ``docs/augmentations.md`` for a picture of each.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "CropPair",
    "sample_overlapping_crops",
    "binomial_mask",
    "jitter",
    "gaussian_noise",
    "scaling",
    "amplitude_resize",
    "magnitude_warp",
    "time_warp",
    "window_warp",
    "window_slice",
    "cutout",
    "timestamp_mask",
    "slice_and_shuffle",
    "random_crop",
    "apply_with_probability",
    "cubic_spline_basis",
]


def _batch_input(fn):
    """Reject ``x`` unless it is a (B, T, C) tensor with no empty axis, before ``fn`` runs."""

    @functools.wraps(fn)
    def checked(x, *args, **kwargs):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{fn.__name__}: x must be a torch.Tensor, got {type(x).__name__}.")
        if x.ndim != 3 or 0 in x.shape:
            raise ValueError(
                f"{fn.__name__}: x must have shape (batch, time, channels) with no empty "
                f"axis, got {tuple(x.shape)}."
            )
        return fn(x, *args, **kwargs)

    return checked


@dataclass(frozen=True)
class CropPair:
    """Two overlapping crops drawn as in TS2Vec (Section 3.2, "contextual consistency").

    ``view1`` covers ``[a1, b1)`` and ``view2`` covers ``[a2, b2)`` of each (shifted)
    series with ``a1 <= a2 < b1 <= b2``; the last ``overlap`` steps of ``view1`` and
    the first ``overlap`` steps of ``view2`` are the same timestamps.
    """

    view1: torch.Tensor
    view2: torch.Tensor
    overlap: int


@_batch_input
def sample_overlapping_crops(
    x: torch.Tensor, rng: np.random.Generator, min_overlap: int = 2
) -> CropPair:
    """Draw TS2Vec's pair of overlapping random crops for a batch.

    The crop lengths are shared by the batch; each series is shifted by its own random
    offset so that the crops land at different positions.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Batch of series.
    rng : numpy.random.Generator
        Host generator for the crop boundaries (no device sync needed).
    min_overlap : int, default=2
        Smallest overlap length (``2 ** (temporal_unit + 1)`` in TS2Vec); capped at T.

    Returns
    -------
    CropPair
    """
    B, T = x.shape[:2]
    overlap = int(rng.integers(min(min_overlap, T), T + 1))
    a2 = int(rng.integers(0, T - overlap + 1))
    b1 = a2 + overlap
    a1 = int(rng.integers(0, a2 + 1))
    b2 = int(rng.integers(b1, T + 1))
    offsets = rng.integers(-a1, T - b2 + 1, size=B)
    offsets = torch.from_numpy(offsets).to(x.device, non_blocking=True)
    return CropPair(
        view1=_take_per_row(x, offsets + a1, b1 - a1),
        view2=_take_per_row(x, offsets + a2, b2 - a2),
        overlap=overlap,
    )


def _take_per_row(x: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """x[i, starts[i] : starts[i] + length] for every row i, as one gather."""
    idx = starts[:, None] + torch.arange(length, device=x.device)[None, :]
    return torch.take_along_dim(x, idx[:, :, None], dim=1)


def binomial_mask(
    shape: tuple[int, ...], p: float, generator: torch.Generator, device
) -> torch.Tensor:
    """Boolean keep-mask where each entry is True with probability ``p``.

    Parameters
    ----------
    shape : tuple of int
        Mask shape, e.g. ``(B, T)`` for timestamp masking.
    p : float
        Probability of keeping an entry.
    generator : torch.Generator
        Generator on ``device``.
    device : torch.device

    Returns
    -------
    BoolTensor of ``shape``
    """
    return torch.rand(shape, generator=generator, device=device) < p


# --------------------------------------------------------------- random draws
def _rand(shape, generator: torch.Generator, x: torch.Tensor) -> torch.Tensor:
    """Uniform [0, 1) draws in ``x``'s dtype on ``x``'s device."""
    return torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)


def _randn(shape, generator: torch.Generator, x: torch.Tensor) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=x.device, dtype=x.dtype)


def _randint(high, size: int, generator: torch.Generator, device) -> torch.Tensor:
    """Integers uniform in ``[0, high)``; ``high`` may be a tensor of per-row bounds."""
    u = torch.rand(size, generator=generator, device=device, dtype=torch.float64)
    return (u * high).long()


def _check_fraction(name: str, value: float, *, allow_one: bool = False) -> None:
    if not (0 < value < 1 or (allow_one and value == 1)):
        raise ValueError(f"{name} must be in (0, 1{']' if allow_one else ')'}, got {value}.")


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


def cubic_spline_basis(knots: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Matrix that evaluates the not-a-knot cubic spline through ``knots`` at ``t``.

    A cubic spline is linear in its knot values, so ``basis @ values`` equals
    ``scipy.interpolate.CubicSpline(knots, values)(t)`` (SciPy's default boundary
    condition).  With the knot positions shared by a batch, one small matrix product
    evaluates every series' spline at once.

    Parameters
    ----------
    knots : ndarray of shape (n_knots,)
        Strictly increasing knot positions; at least 4.
    t : ndarray of shape (n_points,)
        Evaluation points inside ``[knots[0], knots[-1]]``.

    Returns
    -------
    basis : ndarray of shape (n_points, n_knots), float64
    """
    n = len(knots)
    if n < 4:
        raise ValueError(f"A not-a-knot cubic spline needs at least 4 knots, got {n}.")
    h = np.diff(knots)
    # Second derivatives M solve A M = R y (continuity of the first derivative at the
    # interior knots, continuity of the third derivative at knots 1 and n-2).
    A, R = np.zeros((n, n)), np.zeros((n, n))
    for i in range(1, n - 1):
        A[i, i - 1 : i + 2] = h[i - 1], 2 * (h[i - 1] + h[i]), h[i]
        R[i, i - 1 : i + 2] = 6 / h[i - 1], -6 / h[i - 1] - 6 / h[i], 6 / h[i]
    A[0, :3] = h[1], -(h[0] + h[1]), h[0]
    A[-1, -3:] = h[-1], -(h[-2] + h[-1]), h[-2]
    second = np.linalg.solve(A, R)  # (n, n): knot values -> second derivatives
    j = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, n - 2)
    a = (knots[j + 1] - t) / h[j]
    b = 1 - a
    rows = np.arange(len(t))
    values = np.zeros((len(t), n))
    curv = np.zeros((len(t), n))
    values[rows, j], values[rows, j + 1] = a, b
    curv[rows, j], curv[rows, j + 1] = (a**3 - a) * h[j] ** 2 / 6, (b**3 - b) * h[j] ** 2 / 6
    return values + curv @ second


def _spline_curves(
    x: torch.Tensor, knot_values: torch.Tensor
) -> torch.Tensor:
    """Evaluate splines through equally spaced knots at every timestamp of ``x``.

    ``knot_values`` has shape (B, n_knots, K); the result has shape (B, T, K).
    """
    T, n = x.shape[1], knot_values.shape[1]
    basis = cubic_spline_basis(np.linspace(0, T - 1, n), np.arange(T, dtype=np.float64))
    basis = torch.from_numpy(basis).to(device=x.device, dtype=x.dtype)
    return torch.einsum("tn,bnk->btk", basis, knot_values)


# --------------------------------------------------------- pointwise transforms
@_batch_input
def jitter(x: torch.Tensor, sigma=0.2, *, generator: torch.Generator) -> torch.Tensor:
    """Add i.i.d. Gaussian noise ``N(0, sigma**2)`` to every value (Um et al., 2017).

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    sigma : float or Tensor broadcastable to (B, T, C), default=0.2
        Standard deviation of the noise in the units of ``x`` (SelfTime's default;
        Um et al. use 0.03).  A tensor gives e.g. per-series or per-channel levels.
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
    """
    return x + sigma * _randn(x.shape, generator, x)


@_batch_input
def gaussian_noise(x: torch.Tensor, std=0.1, *, generator: torch.Generator) -> torch.Tensor:
    """Add Gaussian noise whose level is relative to each channel's own spread.

    The noise on channel ``c`` of series ``b`` has standard deviation
    ``std * s[b, c]`` where ``s`` is that channel's standard deviation over time
    (NaN ignored), so the signal-to-noise ratio is the same for every series and
    channel whatever their units.  For noise in absolute units use :func:`jitter`.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    std : float, default=0.1
        Noise standard deviation as a fraction of the channel's standard deviation.
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
    """
    observed = ~torch.isnan(x)
    n = observed.sum(dim=1, keepdim=True).clamp(min=1)
    mean = torch.where(observed, x, 0).sum(dim=1, keepdim=True) / n
    var = torch.where(observed, (x - mean) ** 2, 0).sum(dim=1, keepdim=True) / n
    return jitter(x, std * var.sqrt(), generator=generator)


@_batch_input
def scaling(x: torch.Tensor, sigma: float = 0.4, *, generator: torch.Generator) -> torch.Tensor:
    """Multiply each channel of each series by its own factor ``~ N(1, sigma**2)``.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    sigma : float, default=0.4
        Standard deviation of the factors (SelfTime's default; Um et al. use 0.1).
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
    """
    return x * (1 + sigma * _randn((x.shape[0], 1, x.shape[2]), generator, x))


@_batch_input
def amplitude_resize(
    x: torch.Tensor, low: float = 0.5, high: float = 1.5, *, generator: torch.Generator
) -> torch.Tensor:
    """Multiply each whole series by one factor ``~ U(low, high)`` shared by its channels.

    Unlike :func:`scaling`, the ratios between channels are preserved.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    low, high : float, default=0.5, 1.5
        Range of the factor.
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
    """
    if not low <= high:
        raise ValueError(f"low must not exceed high, got low={low}, high={high}.")
    return x * (low + (high - low) * _rand((x.shape[0], 1, 1), generator, x))


@_batch_input
def magnitude_warp(
    x: torch.Tensor, sigma: float = 0.3, n_knots: int = 4, *, generator: torch.Generator
) -> torch.Tensor:
    """Multiply each channel by a smooth random curve (Um et al., 2017).

    The curve is the cubic spline through ``n_knots + 2`` equally spaced knots (the
    two end points included) with values ``~ N(1, sigma**2)``, drawn independently for
    every series and channel.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Needs ``T >= 2``.
    sigma : float, default=0.3
        Standard deviation of the knot values.
    n_knots : int, default=4
        Number of interior knots (at least 2); more knots give a wigglier curve.
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
    """
    knots = 1 + sigma * _randn((x.shape[0], n_knots + 2, x.shape[2]), generator, x)
    return x * _spline_curves(x, knots)


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


@_batch_input
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
    speeds = 1 + sigma * _randn((B, n_knots + 2, 1), generator, x)
    warped = _spline_curves(x, times[None, :, None] * speeds)[:, :, 0]
    warped = warped * ((T - 1) / warped[:, -1:].clamp(min=1e-6))
    warped = warped.clamp(0, T - 1).cummax(dim=1).values
    return _resample(x, _invert_monotone(warped))


@_batch_input
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
    _check_fraction("window_ratio", window_ratio)
    B, T = x.shape[:2]
    w = math.ceil(window_ratio * T)
    if T - w - 2 < 1:
        raise ValueError(f"window_warp needs T >= {w + 3} for window_ratio={window_ratio}.")
    start = (1 + _randint(T - w - 2, B, generator, x.device)).to(x.dtype)[:, None]
    options = torch.tensor(scales, device=x.device, dtype=x.dtype)
    scale = options[_randint(len(scales), B, generator, x.device)][:, None]
    stretched = w * scale
    p = _time_grid(x) * ((T - 1 + w * (scale - 1)) / (T - 1))
    src = torch.where(
        p < start,
        p,
        torch.where(p < start + stretched, start + (p - start) / scale, p - w * (scale - 1)),
    )
    return _resample(x, src)


@_batch_input
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
    _check_fraction("ratio", ratio, allow_one=True)
    B, T = x.shape[:2]
    w = math.ceil(ratio * T)
    start = _randint(T - w + 1, B, generator, x.device).to(x.dtype)[:, None]
    return _resample(x, start + _time_grid(x) * ((w - 1) / max(T - 1, 1)))


# ---------------------------------------------------------------- masking
@_batch_input
def cutout(
    x: torch.Tensor, ratio: float = 0.1, value: float = 0.0, *, generator: torch.Generator
) -> torch.Tensor:
    """Overwrite one random window of ``floor(ratio * T)`` steps per series with ``value``.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    ratio : float, default=0.1
        Fraction of the timestamps cut out (all channels).
    value : float, default=0.0
        Fill value (SelfTime writes 0).
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
    """
    _check_fraction("ratio", ratio)
    B, T = x.shape[:2]
    w = int(ratio * T)
    start = _randint(T - w + 1, B, generator, x.device)[:, None]
    t = torch.arange(T, device=x.device)[None, :]
    inside = (t >= start) & (t < start + w)
    return x.masked_fill(inside[:, :, None], value)


@_batch_input
def timestamp_mask(
    x: torch.Tensor, ratio: float = 0.5, value: float = 0.0, *, generator: torch.Generator
) -> torch.Tensor:
    """Overwrite each timestamp (all its channels) with ``value`` with probability ``ratio``.

    The input-space counterpart of TS2Vec's latent masking (:func:`binomial_mask`).

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    ratio : float, default=0.5
        Probability that a timestamp is masked.
    value : float, default=0.0
        Fill value.
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, T, C)
    """
    keep = binomial_mask(x.shape[:2], 1 - ratio, generator, x.device)
    return x.masked_fill(~keep[:, :, None], value)


# ------------------------------------------------------------- reordering
@_batch_input
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


@_batch_input
def random_crop(x: torch.Tensor, length: int, *, generator: torch.Generator) -> torch.Tensor:
    """A random window of ``length`` steps from each series (no resampling).

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    length : int
        Crop length, ``1 <= length <= T``.
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, length, C)
    """
    B, T = x.shape[:2]
    if not 1 <= length <= T:
        raise ValueError(f"length must be in [1, T={T}], got {length}.")
    return _take_per_row(x, _randint(T - length + 1, B, generator, x.device), length)


def apply_with_probability(
    transform, x: torch.Tensor, p: float, *, generator: torch.Generator, **kwargs
) -> torch.Tensor:
    """Apply ``transform`` to each series independently with probability ``p``.

    Only the chosen series are transformed (cheaper than transforming the whole
    batch when ``p`` is small; on a GPU, counting them costs one host sync).

    Parameters
    ----------
    transform : callable
        One of the augmentations of this module (``transform(x, generator=..., **kwargs)``).
    x : Tensor of shape (B, T, C)
    p : float
        Probability of applying it to a series.
    generator : torch.Generator
    **kwargs
        Passed to ``transform``.

    Returns
    -------
    Tensor of shape (B, T, C)
        A new tensor; ``x`` is not modified.
    """
    chosen = (_rand(x.shape[0], generator, x) < p).nonzero().squeeze(1)
    out = x.clone()
    if len(chosen):
        out[chosen] = transform(x[chosen], generator=generator, **kwargs)
    return out
