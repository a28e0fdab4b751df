"""Augmentations and view generators on batched tensors.

Every function takes an explicit generator (never the global RNG), works on CPU or
GPU tensors and is vectorised over the batch.  Series are ``(B, T, C)`` tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["CropPair", "sample_overlapping_crops", "binomial_mask"]


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
