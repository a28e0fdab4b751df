"""TS2Vec's encoder: input projection, timestamp masking, dilated residual convolutions.

Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022,
Section 3.1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .dropout import FastDropout

__all__ = ["SamePadConv", "ConvBlock", "DilatedConvEncoder", "TS2VecEncoder"]


class SamePadConv(nn.Module):
    """1-D convolution whose output has the input's length (zero "same" padding).

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts.
    kernel_size : int
        Odd kernel size.
    dilation : int, default=1
        Spacing between kernel taps.

    Notes
    -----
    When the dilation is at least the sequence length every tap but the centre one
    reads zero padding, so the convolution equals a 1x1 convolution with the centre
    weights.  That case is computed directly: identical results, far less work on
    short series (TS2Vec's last blocks use dilations 256-1024).  :meth:`pointwise`
    computes it on channels-last input as one matrix product.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}.")
        self.dilation = dilation
        self.padding = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, T)."""
        w = self.conv.weight
        if self.dilation >= x.shape[-1]:
            centre = w.shape[-1] // 2
            return F.conv1d(x, w[:, :, centre : centre + 1], self.conv.bias)
        return F.conv1d(x, w, self.conv.bias, padding=self.padding, dilation=self.dilation)

    def pointwise(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution of a series no longer than the dilation, channels last.

        Parameters
        ----------
        x : Tensor of shape (B, T, C_in) with ``T <= dilation`` (or kernel size 1)

        Returns
        -------
        Tensor of shape (B, T, C_out)
            ``forward(x.transpose(1, 2)).transpose(1, 2)``, computed as one GEMM
            over the ``B * T`` rows (PyTorch's CPU 1x1 convolution takes a slow
            im2col path with copies; the matrix product has none).

        Examples
        --------
        >>> import torch
        >>> conv = SamePadConv(4, 3, kernel_size=3, dilation=8)
        >>> x = torch.randn(2, 5, 4)  # 5 steps <= dilation 8
        >>> torch.allclose(conv.pointwise(x), conv(x.transpose(1, 2)).transpose(1, 2))
        True
        """
        w = self.conv.weight
        return F.linear(x, w[:, :, w.shape[-1] // 2], self.conv.bias)


class ConvBlock(nn.Module):
    """Pre-activation residual block: ``conv2(gelu(conv1(gelu(x)))) + proj(x)``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts.
    kernel_size : int
        Kernel size of both convolutions.
    dilation : int
        Dilation of both convolutions.
    final : bool, default=False
        The last block always gets a 1x1 projection on the residual path, as in the
        official encoder.
    """

    def __init__(self, in_channels, out_channels, kernel_size, dilation, final=False):
        super().__init__()
        self.conv1 = SamePadConv(in_channels, out_channels, kernel_size, dilation)
        self.conv2 = SamePadConv(out_channels, out_channels, kernel_size, dilation)
        needs_proj = in_channels != out_channels or final
        self.projector = nn.Conv1d(in_channels, out_channels, 1) if needs_proj else None

    def forward(
        self, x: torch.Tensor, inside: torch.Tensor | None = None, *, channels_last: bool = False
    ) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, T), or (B, T, C_in) -> (B, T, C_out) channels last.

        ``inside`` (B, 1, T) -- (B, T, 1) channels last --, when given, zeroes the
        padding around each series before every convolution, so that padding acts
        exactly like the convolutions' own zero padding.  ``channels_last=True``
        needs ``T <= dilation``: every convolution is then pointwise
        (:meth:`SamePadConv.pointwise`).
        """
        if channels_last:
            conv1, conv2, project = self.conv1.pointwise, self.conv2.pointwise, self._project_last
        else:
            conv1, conv2, project = self.conv1, self.conv2, self.projector
        residual = x if self.projector is None else project(x)
        h = F.gelu(x)
        h = conv1(h if inside is None else h * inside)
        h = F.gelu(h)
        h = conv2(h if inside is None else h * inside)
        return h + residual

    def _project_last(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.projector.weight[:, :, 0], self.projector.bias)


class DilatedConvEncoder(nn.ModuleList):
    """Stack of :class:`ConvBlock` with dilation ``2**i`` in block ``i``.

    Parameters
    ----------
    in_channels : int
        Input channels.
    channels : list of int
        Output channels of each block.
    kernel_size : int
        Kernel size.
    """

    def __init__(self, in_channels: int, channels: list[int], kernel_size: int):
        blocks = [
            ConvBlock(
                channels[i - 1] if i > 0 else in_channels,
                channels[i],
                kernel_size,
                dilation=2**i,
                final=(i == len(channels) - 1),
            )
            for i in range(len(channels))
        ]
        super().__init__(blocks)

    def forward(self, x: torch.Tensor, inside: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C_in, T) -> (B, channels[-1], T); see :meth:`ConvBlock.forward`.

        The blocks whose dilation is at least ``T`` (the last ones on short series)
        run channels last, where their convolutions are single matrix products; the
        result is then returned as a transposed view.
        """
        T = x.shape[-1]
        blocks = iter(self)
        for block in blocks:
            if block.conv1.dilation >= T:  # dilations grow: this block and all later ones
                x = x.transpose(1, 2).contiguous()  # one copy into (B, T, C) for the tail
                inside = None if inside is None else inside.transpose(1, 2)
                for pointwise in (block, *blocks):
                    x = pointwise(x, inside, channels_last=True)
                return x.transpose(1, 2)
            x = block(x, inside)
        return x


class TS2VecEncoder(nn.Module):
    """TS2Vec encoder: per-timestamp representations of shape (B, T, output_dims).

    Parameters
    ----------
    input_dims : int
        Input channels.
    output_dims : int, default=320
        Representation size.
    hidden_dims : int, default=64
        Width of the input projection and the residual blocks.
    depth : int, default=10
        Number of hidden blocks; one more block maps to ``output_dims``.
    dropout : float, default=0.1
        Dropout on the output representation (training only).
    bucket_lengths : bool, default=True
        In training mode, pad the time axis with NaN up to the next length of a
        coarse grid (multiples of 8, or of ``2**(bit_length(T) - 4)``: at most
        ~12 % more steps) and cut the output back.  The outputs are unchanged (see
        below: padding acts as the convolutions' own zero padding); see Notes for
        why it is faster.

    Notes
    -----
    A timestamp is *observed* when none of its channels is NaN.  Unobserved and masked
    timestamps are zeroed *after* the input projection, so the projection bias does
    not leak into them (as in the paper's implementation).  Unobserved timestamps
    inside a series are missing values that the convolutions fill from context; the
    NaN *padding* before the first and after the last observed timestamp is also
    zeroed before every convolution, so a series gets the same representation however
    much padding surrounds it (the official encoder lets padding positions feed
    non-zero activations back into the series near its ends).

    TS2Vec trains on random crops, so nearly every training step brings new
    sequence lengths.  The CPU convolutions (oneDNN) build and cache a kernel per
    input shape, dilation and direction, ~1.5 ms each here, and a fit at T = 150
    meets more shapes than the cache holds, so most steps rebuilt ~40 kernels.
    ``bucket_lengths`` maps the lengths onto a few dozen, which made the encoder's
    forward + backward 1.13x faster on GunPoint-sized crops (T = 150) and 1.08x at
    T = 577 (``benchmarks/NOTES.md`` in the source repository).

    Examples
    --------
    >>> import torch
    >>> enc = TS2VecEncoder(2, output_dims=8, hidden_dims=4, depth=2, dropout=0.0)
    >>> x = torch.randn(3, 37, 2)
    >>> enc(x).shape  # training mode: computed at length 40, cut back to 37
    torch.Size([3, 37, 8])
    >>> torch.allclose(enc(x), enc.eval()(x), atol=1e-6)  # eval mode: no padding
    True
    """

    def __init__(self, input_dims, output_dims=320, hidden_dims=64, depth=10, dropout=0.1,
                 bucket_lengths=True):
        super().__init__()
        self.bucket_lengths = bucket_lengths
        self.input_fc = nn.Linear(input_dims, hidden_dims)
        self.feature_extractor = DilatedConvEncoder(
            hidden_dims, [hidden_dims] * depth + [output_dims], kernel_size=3
        )
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
        T = x.shape[1]
        padded = _bucketed_length(T) if self.bucket_lengths and self.training else T
        if padded > T:  # NaN padding: outside every series, so the outputs do not change
            x = F.pad(x, (0, 0, 0, padded - T), value=float("nan"))
            mask = None if mask is None else F.pad(mask, (0, padded - T), value=False)
        observed = ~torch.isnan(x).any(dim=-1)
        x = torch.where(observed.unsqueeze(-1), x, 0.0)
        h = self.input_fc(x)
        keep = observed if mask is None else observed & mask
        h = h * keep.unsqueeze(-1).to(h.dtype)
        h = self.feature_extractor(h.transpose(1, 2), _inside(observed, h.dtype))[:, :, :T]
        return self.repr_dropout(h.transpose(1, 2))


def _bucketed_length(T: int) -> int:
    """``T`` rounded up to a multiple of ``max(8, 2**(bit_length(T) - 4))``.

    About eight lengths per octave: at most 1/8 more steps above 64, and a few
    dozen distinct lengths for crops of any length up to thousands.
    """
    step = max(8, 1 << max(0, T.bit_length() - 4))
    return -(-T // step) * step


def _inside(observed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
    """(B, 1, T) indicator of the span from each series' first to last observed step.

    None when nothing is missing on the CPU, where checking is free: the padding
    mask would then be a multiplication by one before every convolution.  On other
    devices the check would cost a host sync, so the mask is always built there.
    """
    if observed.device.type == "cpu" and bool(observed.all()):
        return None
    seen = observed.to(torch.uint8)
    inside = seen.cummax(1).values & seen.flip(1).cummax(1).values.flip(1)
    return inside.unsqueeze(1).to(dtype)
