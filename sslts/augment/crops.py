"""Crops and masks: which timestamps of each series a view keeps.

TS2Vec's pair of overlapping crops (:func:`sample_overlapping_crops`) and its
timestamp keep-mask (:func:`binomial_mask`), a random window of fixed length
(:func:`random_crop`), and the transforms that overwrite timestamps with a fill value
(:func:`cutout`, :func:`timestamp_mask`).  Crops move NaN along with their timestamps;
masks write their fill value over masked timestamps, NaN included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .core import batch_input, check_fraction, randint

__all__ = [
    "CropPair",
    "binomial_mask",
    "cutout",
    "random_crop",
    "sample_overlapping_crops",
    "timestamp_mask",
]


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


@batch_input
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


# ---------------------------------------------------------------- masking
@batch_input
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
    check_fraction("ratio", ratio)
    B, T = x.shape[:2]
    w = int(ratio * T)
    start = randint(T - w + 1, B, generator, x.device)[:, None]
    t = torch.arange(T, device=x.device)[None, :]
    inside = (t >= start) & (t < start + w)
    return x.masked_fill(inside[:, :, None], value)


@batch_input
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


# ------------------------------------------------------------------- crops
@batch_input
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
    return _take_per_row(x, randint(T - length + 1, B, generator, x.device), length)
