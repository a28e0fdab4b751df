"""SelfTime's backbone: four strided convolution blocks and global average pooling.

Fan, Zhang and Gao, "Self-Supervised Time Series Representation Learning by
Inter-Intra Relational Reasoning", 2020, Section 4.1 ("a 4-layer 1D-CNN backbone").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SimConv4", "SIMCONV4_MIN_LENGTH", "SHORT_INPUT_MODES", "stretch_to_min_length"]

# Each block halves the length (kernel 4, stride 2, padding 1: L -> floor(L / 2)),
# so four blocks need at least 16 steps to leave one.
SIMCONV4_MIN_LENGTH = 16
SHORT_INPUT_MODES = ("pad", "resize")


def stretch_to_min_length(x: torch.Tensor, min_length: int, mode: str) -> torch.Tensor:
    """Bring series shorter than ``min_length`` steps up to exactly that length.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Series without NaN.
    min_length : int
        Length the result has at least.
    mode : {"pad", "resize"}
        "pad" appends zeros at the end (what NaN right-padding of variable-length
        series becomes in SelfTime); "resize" linearly interpolates the series onto
        ``min_length`` equally spaced points (``align_corners=True``: the first and
        last values are kept; a single step becomes a constant series).

    Returns
    -------
    Tensor of shape (B, max(T, min_length), C)
        ``x`` itself when it is long enough.

    Examples
    --------
    >>> x = torch.tensor([[[1.0], [3.0]]])
    >>> stretch_to_min_length(x, 4, "pad")[0, :, 0].tolist()
    [1.0, 3.0, 0.0, 0.0]
    >>> [round(v, 3) for v in stretch_to_min_length(x, 4, "resize")[0, :, 0].tolist()]
    [1.0, 1.667, 2.333, 3.0]
    """
    if mode not in SHORT_INPUT_MODES:
        raise ValueError(f"mode={mode!r} is not supported; choose one of {SHORT_INPUT_MODES}.")
    T = x.shape[1]
    if T >= min_length:
        return x
    if mode == "pad":
        return F.pad(x, (0, 0, 0, min_length - T))
    if T == 1:  # interpolation between one point is that point
        return x.expand(-1, min_length, -1)
    stretched = F.interpolate(x.transpose(1, 2), size=min_length, mode="linear",
                              align_corners=True)
    return stretched.transpose(1, 2)


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
    short_input : {"pad", "resize"}, default="pad"
        How series shorter than :data:`SIMCONV4_MIN_LENGTH` (16) steps, which the
        four stride-2 blocks would reduce to nothing, are brought up to 16 steps:
        zeros appended at the end, or linear interpolation (see
        :func:`stretch_to_min_length`).  Longer series are never changed.

    Notes
    -----
    Missing values (NaN) are read as 0, as the official data loader does; this
    happens before a short series is padded or resized.
    Convolutions use Xavier-normal initialisation, BatchNorm weight 1 and bias 0.

    Examples
    --------
    >>> net = SimConv4(1, 32)
    >>> net(torch.randn(4, 100, 1)).shape
    torch.Size([4, 32])
    >>> net.feature_map(torch.randn(4, 9, 1)).shape  # 9 steps padded to 16
    torch.Size([4, 32, 1])
    """

    def __init__(self, in_channels: int, output_dims: int = 64, short_input: str = "pad"):
        super().__init__()
        if short_input not in SHORT_INPUT_MODES:
            raise ValueError(
                f"short_input={short_input!r} is not supported; choose one of "
                f"{SHORT_INPUT_MODES}."
            )
        self.short_input = short_input
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
            Any ``T >= 1``.

        Returns
        -------
        Tensor of shape (B, output_dims, max(T, 16) // 16)
        """
        x = torch.nan_to_num(x, nan=0.0)
        x = stretch_to_min_length(x, SIMCONV4_MIN_LENGTH, self.short_input)
        return self.blocks(x.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> L2-normalised (B, output_dims) embedding."""
        return F.normalize(self.feature_map(x).mean(dim=2), dim=1)
