"""1-D ResNet18 backbone producing one representation per timestamp.

The IARS paper (Garcia, Perez and Gao, Section IV.C) trains a ResNet18 in which every
2-D convolution is replaced by a 1-D one and the final pooling and fully connected
layers are removed.  Contextual-consistency losses compare the representations of
the *same timestamps* in two overlapping crops, so the output must keep the input's
time axis: this module therefore uses stride 1 everywhere (no strided convolutions,
no stem max-pool) with "same" zero padding, and returns ``(B, T, output_dims)`` with
``T`` equal to the input length.  The depth and widths are ResNet18's; only the
downsampling is dropped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .dropout import FastDropout

__all__ = ["BasicBlock1d", "ResNet18Encoder"]


class BasicBlock1d(nn.Module):
    """ResNet basic block in 1-D: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts; a 1x1 convolution with batch norm is the shortcut when they
        differ (ResNet's projection shortcut, here without stride).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.shortcut = None
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv1d(in_channels, out_channels, 1, bias=False), nn.BatchNorm1d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, T)."""
        residual = x if self.shortcut is None else self.shortcut(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + residual)


class ResNet18Encoder(nn.Module):
    """ResNet18 with 1-D convolutions and per-timestamp outputs.

    Stem (kernel-7 convolution, batch norm, ReLU) followed by four stages of two
    :class:`BasicBlock1d` each, of widths ``base_width * (1, 2, 4, 8)``, and a 1x1
    convolution to ``output_dims`` in place of ResNet's pooling and classifier.

    Parameters
    ----------
    input_dims : int
        Input channels.
    output_dims : int, default=320
        Representation size.
    base_width : int, default=64
        Width of the stem and the first stage (64 in ResNet18).
    dropout : float, default=0.1
        Dropout on the output representation (training only), as in TS2Vec.

    Notes
    -----
    Time resolution: every layer has stride 1 and "same" padding, so the output has
    one vector per input timestamp (ResNet18's five halvings would leave ``T / 32``
    steps, too coarse for a temporal contrast and impossible to align with the crop
    overlap).  The price is compute: the widest stages run at full length.

    Missing values and masking follow :class:`~sslts.encoders.TS2VecEncoder`: a
    timestamp with any NaN channel, or masked out, is zeroed before the stem
    convolution.  The stem has no bias, so a zeroed timestamp contributes nothing.
    """

    def __init__(self, input_dims, output_dims=320, base_width=64, dropout=0.1):
        super().__init__()
        widths = [base_width * m for m in (1, 2, 4, 8)]
        self.stem = nn.Sequential(
            nn.Conv1d(input_dims, base_width, 7, padding=3, bias=False),
            nn.BatchNorm1d(base_width),
            nn.ReLU(),
        )
        blocks, prev = [], base_width
        for width in widths:
            blocks += [BasicBlock1d(prev, width), BasicBlock1d(width, width)]
            prev = width
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Conv1d(prev, output_dims, 1)
        self.repr_dropout = FastDropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Encode a batch.

        Parameters
        ----------
        x : Tensor of shape (B, T, C)
            Series; NaN marks missing values.
        mask : bool Tensor of shape (B, T), default=None
            Timestamps to keep (False = masked out).  None keeps all.

        Returns
        -------
        Tensor of shape (B, T, output_dims)
        """
        observed = ~torch.isnan(x).any(dim=-1)
        keep = observed if mask is None else observed & mask
        x = torch.where(keep.unsqueeze(-1), x, 0.0)
        h = self.stages(self.stem(x.transpose(1, 2)))
        return self.repr_dropout(self.head(h).transpose(1, 2))
