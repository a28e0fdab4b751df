"""VIbCReg's 1-D ResNet: a strided, pooled backbone giving one 512-d vector per series.

Lee & Aune, "VIbCReg: Variance-Invariance-better-Covariance Regularization for
Self-Supervised Learning on Time Series" (arXiv:2109.00783), backbone of the
official repository (``backbone/resnet.py``).  Unlike
:class:`~sslts.encoders.ResNet18Encoder` (two stride-1 blocks per stage and one
vector per timestamp) this network halves the time axis five times, has one block
per stage and ends with global average pooling, so it has no timestamp-level
output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .dropout import FastDropout

__all__ = ["ResidualBlock1d", "VIbCRegResNet"]


class ResidualBlock1d(nn.Module):
    """``relu(bn(conv(relu(bn(conv_s(x))))) + shortcut(x))`` with kernel-3 convolutions.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts.
    stride : int, default=1
        Stride of the first convolution; with ``stride > 1`` the shortcut is a
        strided 1x1 convolution (as in the official block, without batch norm).
    dropout : float, default=0.0
        Dropout after the block (the official ``dropout_rate``, 0 by default).

    Examples
    --------
    >>> import torch
    >>> ResidualBlock1d(4, 8, stride=2)(torch.randn(2, 4, 9)).shape
    torch.Size([2, 8, 5])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dropout=0.0):
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, out_channels, 3, stride, padding=1)
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm1d(out_channels)
        needs_shortcut = stride != 1 or in_channels != out_channels
        self.shortcut = nn.Conv1d(in_channels, out_channels, 1, stride) if needs_shortcut else None
        self.dropout = FastDropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, ceil(T / stride))."""
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        residual = x if self.shortcut is None else self.shortcut(x)
        return self.dropout(F.relu(out + residual))


class VIbCRegResNet(nn.Module):
    """VIbCReg's ResNet1D: (B, T, C) -> (B, 8 * base_width), 512-d by default.

    Stem: kernel-7 stride-2 convolution, batch norm, ReLU, max-pool (3, stride 2).
    Then four stages of one :class:`ResidualBlock1d` each, of widths
    ``base_width * (1, 2, 4, 8)``, the last three starting with stride 2, and global
    average pooling.

    Parameters
    ----------
    input_dims : int
        Input channels.
    base_width : int, default=64
        Width of the stem and the first stage (the official 64 gives 512 outputs).
    dropout : float, default=0.0
        Dropout after the stem and every block (official default 0).

    Attributes
    ----------
    output_dims : int
        ``8 * base_width``, the size of the output.

    Notes
    -----
    The max-pool pads by one step (the official one does not), so that series of
    any length work instead of at least 5 steps; on longer series the output
    differs by at most one pooled step.

    The average pooling is over the output steps that see at least one observed
    input step, so NaN right-padding of a variable-length series does not dilute
    its embedding (the official code pools over everything).  Missing values are
    read as zeros.

    Examples
    --------
    >>> import torch
    >>> enc = VIbCRegResNet(1, base_width=4)
    >>> enc(torch.randn(3, 50, 1)).shape
    torch.Size([3, 32])
    """

    def __init__(self, input_dims: int, base_width: int = 64, dropout: float = 0.0):
        super().__init__()
        widths = [base_width * m for m in (1, 2, 4, 8)]
        self.output_dims = widths[-1]
        self.stem = nn.Sequential(
            nn.Conv1d(input_dims, base_width, 7, stride=2, padding=3),
            nn.BatchNorm1d(base_width),
            nn.ReLU(),
            nn.MaxPool1d(3, stride=2, padding=1),
            FastDropout(dropout),
        )
        blocks, prev = [], base_width
        for i, width in enumerate(widths):
            blocks.append(ResidualBlock1d(prev, width, stride=1 if i == 0 else 2, dropout=dropout))
            prev = width
        self.stages = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch.

        Parameters
        ----------
        x : Tensor of shape (B, T, C)
            Series; NaN marks missing values.

        Returns
        -------
        Tensor of shape (B, output_dims)
        """
        observed = ~torch.isnan(x).any(dim=-1)  # (B, T)
        h = torch.where(observed[:, :, None], x, 0.0).transpose(1, 2)
        h = self.stages(self.stem(h))  # (B, D, T')
        # An output step counts when its share of the input has an observed step.
        seen = F.adaptive_max_pool1d(observed[:, None].to(h.dtype), h.shape[-1])
        return (h * seen).sum(-1) / seen.sum(-1).clamp(min=1)
