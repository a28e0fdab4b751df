"""Magnitude transforms: pointwise changes of the values, the time axis untouched.

Additive noise in absolute units (:func:`jitter`) or relative to each channel's
spread (:func:`gaussian_noise`), random factors per channel (:func:`scaling`) or per
series (:func:`amplitude_resize`), and a smooth random curve per channel
(:func:`magnitude_warp`).  Every one keeps NaN exactly where it was.
"""

from __future__ import annotations

import torch

from .core import batch_input, draw, spline_curves

__all__ = ["amplitude_resize", "gaussian_noise", "jitter", "magnitude_warp", "scaling"]


@batch_input
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
    return x + sigma * draw(x.shape, generator, x, normal=True)


@batch_input
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


@batch_input
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
    return x * (1 + sigma * draw((x.shape[0], 1, x.shape[2]), generator, x, normal=True))


@batch_input
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
    return x * (low + (high - low) * draw((x.shape[0], 1, 1), generator, x))


@batch_input
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
    knots = 1 + sigma * draw((x.shape[0], n_knots + 2, x.shape[2]), generator, x, normal=True)
    return x * spline_curves(x, knots)
