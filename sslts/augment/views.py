"""Named pairs of views for the two-view objectives, built from the augmentations.

Every pipeline follows the contract of the other augmentations: ``(B, T, C)``
tensors on any device, vectorised over the batch, drawing only from the given ``torch.Generator``
(which must live on ``x.device``), NaN kept where it was (or moved with its
timestamp).  :func:`make_views` returns the two views of a batch:

- ``"neighbour"``: two windows of the same series at most ``max_shift`` steps apart
  (temporal neighbourhood, the tutorial's positives for InfoNCE);
- ``"warp"``, ``"slice"``, ``"gauss"``: NC-VQVAE's sets (Mathisen, 2024): the first
  view is the series itself, the second one augmented view --
  window warp then amplitude resize, slice and shuffle (4 pieces), or Gaussian
  noise ``N(0, 0.05**2)``; NC-VQVAE's cut points may coincide (empty pieces), those
  of :func:`sslts.augment.slice_and_shuffle` are distinct, and the thesis's
  near-identity STFT round trip of every view is skipped;
- ``"vibcreg"``: VIbCReg's, two independent views, each a random crop, an
  amplitude scaling and a vertical shift.

Two augmentations that only the views use are defined here:
:func:`vertical_shift` and :func:`gaussian_amplitude`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .crops import random_crop
from .magnitude import amplitude_resize, jitter
from .temporal import slice_and_shuffle, window_warp

__all__ = [
    "VIEWS",
    "gaussian_amplitude",
    "vertical_shift",
    "warp_view",
    "neighbour_windows",
    "make_views",
    "min_view_length",
]

VIEWS = ("neighbour", "warp", "slice", "gauss", "vibcreg")

# NC-VQVAE draws the window-warp factor from U(0.9, 2.0); augment.window_warp picks
# from a finite set, so the interval is given as a grid of step 0.01.
_WARP_SCALES = tuple(np.round(np.linspace(0.9, 2.0, 111), 2).tolist())
_WARP_WINDOW = 0.4


def _check(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or 0 in x.shape:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name}: x must be a (batch, time, channels) tensor, got {shape}.")


def vertical_shift(x: torch.Tensor, ratio: float = 0.5, *, generator: torch.Generator):
    """Add ``U(-ratio, ratio) * std`` to each channel of each series (VIbCReg).

    ``std`` is the channel's standard deviation over time (NaN ignored), so the
    shift is relative to the series' own spread.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Batch of series; NaN stays NaN.
    ratio : float, default=0.5
        Largest shift in units of the channel's standard deviation (VIbCReg's 0.5).
    generator : torch.Generator
        Source of the shifts, on ``x.device``.

    Returns
    -------
    Tensor of shape (B, T, C)

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[[1.0], [-1.0]]])
    >>> y = vertical_shift(x, generator=torch.Generator().manual_seed(0))
    >>> bool(abs(y[0, 0, 0] - y[0, 1, 0] - 2) < 1e-6), bool(abs(y.mean()) <= 0.5)
    (True, True)
    """
    _check(x, "vertical_shift")
    mean = x.nanmean(dim=1, keepdim=True)
    std = (x - mean).pow(2).nanmean(dim=1, keepdim=True).sqrt()
    u = torch.rand((x.shape[0], 1, x.shape[2]), generator=generator, device=x.device)
    return x + (2 * u.to(x.dtype) - 1) * ratio * std


def gaussian_amplitude(x: torch.Tensor, sigma: float = 0.2, *, generator: torch.Generator):
    """Multiply each series by one factor ``1 + N(0, sigma**2)`` shared by its channels.

    NC-VQVAE's "amplitude resize" (:func:`sslts.augment.amplitude_resize` draws the
    factor uniformly instead, and :func:`sslts.augment.scaling` per channel).

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Batch of series; NaN stays NaN.
    sigma : float, default=0.2
        Standard deviation of the factor (NC-VQVAE's 0.2).
    generator : torch.Generator
        Source of the factors, on ``x.device``.

    Returns
    -------
    Tensor of shape (B, T, C)

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(2, 3, 2)
    >>> y = gaussian_amplitude(x, generator=torch.Generator().manual_seed(0))
    >>> bool((y == y[:, :1, :1]).all())  # one factor per series
    True
    """
    _check(x, "gaussian_amplitude")
    noise = torch.randn((x.shape[0], 1, 1), generator=generator, device=x.device)
    return x * (1 + sigma * noise.to(x.dtype))


def warp_view(x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """NC-VQVAE's "warp" view: window warp, then :func:`gaussian_amplitude`.

    A window of 40 % of the series, at a random start, is played at a speed drawn
    from 0.9 .. 2.0 (steps of 0.01) and the series is resampled to its length; then
    the series is scaled by ``1 + N(0, 0.2**2)``.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Needs ``T >= 5``.
    generator : torch.Generator
        Source of the window, speed and factor, on ``x.device``.

    Returns
    -------
    Tensor of shape (B, T, C)

    Examples
    --------
    >>> import torch
    >>> x = torch.linspace(0, 1, 20).reshape(1, 20, 1)
    >>> y = warp_view(x, generator=torch.Generator().manual_seed(0))
    >>> y.shape, bool((y.diff(dim=1) >= 0).all())  # a warp keeps a ramp increasing
    (torch.Size([1, 20, 1]), True)
    """
    warped = window_warp(x, _WARP_WINDOW, _WARP_SCALES, generator=generator)
    return gaussian_amplitude(warped, 0.2, generator=generator)


def neighbour_windows(
    x: torch.Tensor, length: int, max_shift: int, *, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two windows of ``length`` steps from each series, at most ``max_shift`` apart.

    A span of ``length + max_shift`` steps is cropped at a random position, and the
    two windows are drawn independently inside it, so their starts differ by at most
    ``max_shift`` steps; they overlap when ``max_shift < length``.  Both lengths are
    capped at ``T``: series of at most ``length`` steps give two identical views.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Batch of series.
    length : int
        Window length (the tutorial's 30).
    max_shift : int
        Largest distance between the window starts.
    generator : torch.Generator
        Source of the window positions, on ``x.device``.

    Returns
    -------
    view1 : Tensor of shape (B, min(length, T), C)
        First window of each series.
    view2 : Tensor of shape (B, min(length, T), C)
        Second window of each series.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(100.0).reshape(1, 100, 1)
    >>> a, b = neighbour_windows(x, 30, 5, generator=torch.Generator().manual_seed(0))
    >>> a.shape, bool(abs(a[0, 0, 0] - b[0, 0, 0]) <= 5)
    (torch.Size([1, 30, 1]), True)
    """
    _check(x, "neighbour_windows")
    T = x.shape[1]
    span = random_crop(x, min(T, length + max_shift), generator=generator)
    window = min(T, length)
    return (
        random_crop(span, window, generator=generator),
        random_crop(span, window, generator=generator),
    )


def _vibcreg_view(x: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    view = random_crop(x, length, generator=generator)
    view = amplitude_resize(view, 0.7, 1.3, generator=generator)
    return vertical_shift(view, 0.5, generator=generator)


def min_view_length(views: str | Callable) -> int:
    """Fewest time steps a batch needs for the named views (1 for a callable).

    Parameters
    ----------
    views : str or callable
        A pipeline name of :func:`make_views`, or a user's views function.

    Returns
    -------
    int
        1 for a pipeline that works on any length.

    Examples
    --------
    >>> min_view_length("warp"), min_view_length("gauss")
    (5, 1)
    """
    return {"warp": 5, "slice": 4}.get(views, 1) if isinstance(views, str) else 1


def make_views(
    x: torch.Tensor,
    views: str | Callable = "vibcreg",
    *,
    generator: torch.Generator,
    window_length: int = 30,
    max_shift: int | None = None,
    crop_ratio: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two views of a batch for a named pipeline (see the module docstring).

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Batch of series; ``T`` at least :func:`min_view_length` ``(views)``.
    views : {"neighbour", "warp", "slice", "gauss", "vibcreg"} or callable
        Pipeline name, or ``views(x, generator) -> (view1, view2)``.
    generator : torch.Generator
        The only source of randomness; on ``x.device``.
    window_length : int, default=30
        ``"neighbour"`` only: window length.
    max_shift : int, default=None
        ``"neighbour"`` only: largest distance between the windows; None means
        ``window_length // 2``.
    crop_ratio : float, default=0.5
        ``"vibcreg"`` only: crop length as a fraction of ``T`` (VIbCReg crops to
        about half the series).

    Returns
    -------
    view1 : Tensor of shape (B, T_view, C)
        ``T_view`` is ``T`` for NC-VQVAE's sets, ``min(window_length, T)`` for
        ``"neighbour"`` and ``ceil(crop_ratio * T)`` for ``"vibcreg"``.
    view2 : Tensor of shape (B, T_view, C)
        The partner view.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(4, 40, 2, generator=g)
    >>> [tuple(v.shape) for v in make_views(x, "vibcreg", generator=g)]
    [(4, 20, 2), (4, 20, 2)]
    >>> v1, v2 = make_views(x, "slice", generator=g)
    >>> bool(torch.equal(v1, x))  # NC-VQVAE's first view is the series itself
    True
    """
    if callable(views) and not isinstance(views, str):
        return views(x, generator)
    _check(x, "make_views")
    if views == "neighbour":
        shift = window_length // 2 if max_shift is None else max_shift
        return neighbour_windows(x, window_length, shift, generator=generator)
    if views == "vibcreg":
        length = max(1, math.ceil(crop_ratio * x.shape[1]))
        return _vibcreg_view(x, length, generator), _vibcreg_view(x, length, generator)
    if views == "warp":
        return x, warp_view(x, generator=generator)
    if views == "slice":
        return x, slice_and_shuffle(x, 4, generator=generator)
    if views == "gauss":
        return x, jitter(x, 0.05, generator=generator)
    raise ValueError(f"views={views!r} is not a known pipeline; choose one of {VIEWS}.")
