"""SelfTime's backbone: four strided convolution blocks and global average pooling.

Fan, Zhang and Gao, "Self-Supervised Time Series Representation Learning by
Inter-Intra Relational Reasoning", 2020, Section 4.1 ("a 4-layer 1D-CNN backbone").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SimConv4", "SIMCONV4_MIN_LENGTH"]

# Each block halves the length (kernel 4, stride 2, padding 1: L -> floor(L / 2)),
# so four blocks need at least 16 steps to leave one.
SIMCONV4_MIN_LENGTH = 16


class SimConv4(nn.Module):
    """Four blocks ``Conv1d(k=4, stride=2, pad=1, no bias) -> BatchNorm1d -> ReLU``.

    Channel widths 8 -> 16 -> 32 -> ``output_dims`` (64 in the paper); the last
    feature map is averaged over time and L2-normalised.

    Parameters
    ----------
    in_channels : int
        Channels of the input series (the official code handles 1 only).
    output_dims : int, default=64
        Width of the last block, i.e. of the embedding.

    Notes
    -----
    Missing values (NaN) are read as 0, as the official data loader does.
    Convolutions use Xavier-normal initialisation, BatchNorm weight 1 and bias 0.
    """

    def __init__(self, in_channels: int, output_dims: int = 64):
        super().__init__()
        widths = [in_channels, 8, 16, 32, output_dims]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            conv = nn.Conv1d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=False)
            nn.init.xavier_normal_(conv.weight)
            layers += [conv, nn.BatchNorm1d(c_out), nn.ReLU()]
        self.blocks = nn.Sequential(*layers)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Last block's output.

        Parameters
        ----------
        x : Tensor of shape (B, T, C)
            ``T >= 16``.

        Returns
        -------
        Tensor of shape (B, output_dims, T // 16)
        """
        if x.shape[1] < SIMCONV4_MIN_LENGTH:
            raise ValueError(
                f"SimConv4 needs series of at least {SIMCONV4_MIN_LENGTH} time steps "
                f"(four stride-2 blocks), got {x.shape[1]}. Resample or pad the series."
            )
        return self.blocks(torch.nan_to_num(x, nan=0.0).transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> L2-normalised (B, output_dims) embedding."""
        return F.normalize(self.feature_map(x).mean(dim=2), dim=1)
