"""The VQ-VAE of TimeVQVAE (Lee et al., 2023) as used by NC-VQVAE (Mathisen, 2024).

A series is turned into its short-time Fourier transform, the real and imaginary
parts of every channel stacked as image channels; a 2-D convolutional encoder
halves the time (frame) axis ``n_down`` times and keeps the frequency axis; the
mirrored decoder maps the (quantised) latent back to a spectrogram, and the inverse
STFT back to a series::

    x (B, T, C) --STFT--> u (B, 2C, F, W) --encoder--> z (B, D, F, W')
    z_q (B, D, F, W') --decoder--> u_hat (B, 2C, F, W) --ISTFT--> x_hat (B, T, C)

with ``F = n_fft // 2 + 1`` frequency bins, ``W = T // hop + 1`` frames and
``W' = W // 2**n_down`` latent columns.  The layer shapes follow the official code
(``models/stage1/encoder_decoder.py`` of both repositories): the residual block is
``x + Conv1x1(LReLU(BN(Conv3x3(LReLU(x)))))`` (the thesis text says two 3x3
convolutions), the decoder's blocks have no inner batch norm, and the decoder
upsamples once more than the encoder downsamples before a bilinear resize to
``(F, W)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "STFT",
    "InverseSTFT",
    "ResidualBlock",
    "VQVAEEncoder",
    "VQVAEDecoder",
    "n_downsampling_blocks",
    "timestamp_to_latent",
    "observed_columns",
    "observed_frames",
    "grid_mean",
    "grid_mean_max",
    "NCVQVAENetwork",
]


class STFT(nn.Module):
    """Short-time Fourier transform with real and imaginary parts as channels.

    ``torch.stft`` with a Hann window of ``n_fft`` samples, hop ``n_fft // 4``,
    ``center=True`` (``n_fft // 2`` samples of reflect padding at both ends; series
    of at most ``n_fft // 2`` steps, too short to reflect, are padded by repeating
    their end values instead), one-sided, not normalised.

    Parameters
    ----------
    n_fft : int, default=8
        Window and FFT size.

    Examples
    --------
    >>> import torch
    >>> STFT(8)(torch.zeros(3, 20, 2)).shape   # (B, 2C, n_fft // 2 + 1, T // 2 + 1)
    torch.Size([3, 4, 5, 11])
    """

    def __init__(self, n_fft: int = 8):
        super().__init__()
        if n_fft < 4:
            raise ValueError(f"n_fft={n_fft} must be at least 4 (the hop is n_fft // 4).")
        self.n_fft, self.hop = n_fft, n_fft // 4
        # Not persistent: it is a constant of n_fft and need not be saved.
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` series -> ``(B, 2C, F, W)`` as ``[c0.re, c0.im, c1.re, ...]``."""
        B, T, C = x.shape
        flat = x.float().transpose(1, 2).reshape(B * C, T)
        pad_mode = "reflect" if T > self.n_fft // 2 else "replicate"
        spec = torch.stft(flat, self.n_fft, self.hop, window=self.window, center=True,
                          pad_mode=pad_mode, normalized=False, onesided=True,
                          return_complex=True)  # (B*C, F, W)
        parts = torch.view_as_real(spec)  # (B*C, F, W, 2)
        return parts.reshape(B, C, *parts.shape[1:]).permute(0, 1, 4, 2, 3).flatten(1, 2)


class InverseSTFT(nn.Module):
    """Inverse of :class:`STFT` (``torch.istft``), cropped to a given length.

    Parameters
    ----------
    n_fft : int, default=8
        Must match the forward transform.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(2, 30, 3)
    >>> torch.allclose(InverseSTFT(8)(STFT(8)(x), 30), x, atol=1e-5)
    True
    """

    def __init__(self, n_fft: int = 8):
        super().__init__()
        self.n_fft, self.hop = n_fft, n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, u: torch.Tensor, length: int) -> torch.Tensor:
        """``(B, 2C, F, W)`` -> ``(B, length, C)``."""
        B, C2, Fq, W = u.shape
        parts = u.float().reshape(B * (C2 // 2), 2, Fq, W).permute(0, 2, 3, 1).contiguous()
        x = torch.istft(torch.view_as_complex(parts), self.n_fft, self.hop, window=self.window,
                        center=True, normalized=False, onesided=True, length=length)
        return x.reshape(B, C2 // 2, length).transpose(1, 2)


def n_downsampling_blocks(length: int, n_fft: int, latent_width: int) -> int:
    """Number of stride-2 blocks that bring ``length`` steps near ``latent_width`` columns.

    The official rule: with ``r = round(length / hop / latent_width)`` (``hop =
    n_fft // 4``; the official code divides by ``log2(n_fft) - 1``, the same for
    ``n_fft = 8``), ``max(1, floor(log2 r))`` blocks; one block when ``r < 2`` or
    ``length < latent_width``.

    Parameters
    ----------
    length : int
        Training series length.
    n_fft : int
        STFT size.
    latent_width : int
        Target number of latent columns.

    Returns
    -------
    int

    Examples
    --------
    >>> [n_downsampling_blocks(L, 8, 8) for L in (24, 140, 500, 1024)]
    [1, 3, 4, 6]
    """
    if length < latent_width:
        return 1
    rate = round(length / (n_fft // 4) / latent_width)
    return max(1, int(math.log2(rate))) if rate >= 1 else 1


def timestamp_to_latent(n_timestamps: int, n_fft: int, n_down: int, device=None):
    """Latent column that represents each time step.

    Time step ``t`` is nearest to STFT frame ``k = (t + hop // 2) // hop`` (frame
    ``k`` is centred on ``k * hop``); each stride-2 block maps input column ``i`` to
    output column ``i // 2``.  So ``t`` gets column
    ``min(k // 2**n_down, W' - 1)`` with ``W' = (n_timestamps // hop + 1) // 2**n_down``
    (at least 1).  Every latent column gets at least one time step.

    Parameters
    ----------
    n_timestamps : int
    n_fft : int
    n_down : int
        Downsampling blocks of the encoder.
    device : torch.device, default=None

    Returns
    -------
    index : LongTensor of shape (n_timestamps,)

    Examples
    --------
    >>> timestamp_to_latent(12, 8, 1).tolist()
    [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    """
    hop = n_fft // 4
    width = max(1, (n_timestamps // hop + 1) // 2**n_down)
    frame = (torch.arange(n_timestamps, device=device) + hop // 2) // hop
    return torch.clamp(frame // 2**n_down, max=width - 1)


def observed_columns(observed: torch.Tensor, n_fft: int, n_down: int, width: int):
    """Latent columns that cover at least one observed time step.

    Parameters
    ----------
    observed : bool Tensor of shape (B, T, C)
        Where the input is not missing.
    n_fft, n_down : int
        STFT size and downsampling blocks (see :func:`timestamp_to_latent`).
    width : int
        Number of latent columns ``W'``.

    Returns
    -------
    bool Tensor of shape (B, width)

    Examples
    --------
    >>> import torch
    >>> observed = torch.ones(1, 12, 1, dtype=torch.bool)
    >>> observed[:, 6:] = False  # right padding
    >>> observed_columns(observed, 8, 1, 3).tolist()
    [[True, True, False]]
    """
    index = timestamp_to_latent(observed.shape[1], n_fft, n_down, observed.device)
    hits = torch.zeros(observed.shape[0], width, device=observed.device)
    hits.index_add_(1, index, observed.any(dim=-1).to(hits.dtype))
    return hits > 0


def observed_frames(observed: torch.Tensor, n_fft: int, n_frames: int) -> torch.Tensor:
    """Which spectrogram entries count in a loss: frame ``k`` if time ``k * hop`` is observed.

    Parameters
    ----------
    observed : bool Tensor of shape (B, T, C)
    n_fft : int
    n_frames : int
        ``W`` of the spectrogram.

    Returns
    -------
    bool Tensor of shape (B, 2C, 1, W)
        In :class:`STFT`'s channel order (real and imaginary part of each channel);
        broadcasts over the frequency axis.

    Examples
    --------
    >>> import torch
    >>> observed = torch.tensor([[[True], [True], [True], [False], [False]]])
    >>> observed_frames(observed, 8, 3)[0, :, 0].tolist()   # centres 0, 2, 4
    [[True, True, False], [True, True, False]]
    """
    hop = n_fft // 4
    centres = torch.clamp(torch.arange(n_frames, device=observed.device) * hop,
                          max=observed.shape[1] - 1)
    frames = observed[:, centres].transpose(1, 2)  # (B, C, W)
    return frames.repeat_interleave(2, dim=1).unsqueeze(2)


def grid_mean(z: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Mean of a latent map over its frequency rows and the given columns.

    Parameters
    ----------
    z : Tensor of shape (B, D, F, W')
    columns : bool Tensor of shape (B, W')
        Columns to average (at least one per row; see :func:`observed_columns`).

    Returns
    -------
    Tensor of shape (B, D)

    Examples
    --------
    >>> import torch
    >>> z = torch.arange(4.0).reshape(1, 1, 1, 4)
    >>> grid_mean(z, torch.tensor([[True, True, False, False]])).tolist()
    [[0.5]]
    """
    count = columns.sum(dim=1, keepdim=True) * z.shape[2]  # (B, 1)
    return (z * columns[:, None, None, :]).sum(dim=(2, 3)) / count


def grid_mean_max(z: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``[grid mean, grid max]`` of a latent map (NC-VQVAE's pooling for its projector).

    Parameters
    ----------
    z : Tensor of shape (B, D, F, W')
    columns : bool Tensor of shape (B, W')

    Returns
    -------
    Tensor of shape (B, 2 D)

    Examples
    --------
    >>> import torch
    >>> z = torch.arange(4.0).reshape(1, 1, 1, 4)
    >>> grid_mean_max(z, torch.tensor([[True, True, True, False]])).tolist()
    [[1.0, 2.0]]
    """
    peak = z.masked_fill(~columns[:, None, None, :], -torch.inf).amax(dim=(2, 3))
    return torch.cat([grid_mean(z, columns), peak], dim=1)


class ResidualBlock(nn.Module):
    """``x + Conv1x1(LReLU([BN](Conv3x3(LReLU(x)))))``, channel count kept.

    Parameters
    ----------
    dim : int
        Channels.
    batch_norm : bool, default=True
        Batch norm after the 3x3 convolution (the encoder has it, the decoder not).

    Examples
    --------
    >>> import torch
    >>> ResidualBlock(4)(torch.zeros(2, 4, 5, 7)).shape
    torch.Size([2, 4, 5, 7])
    """

    def __init__(self, dim: int, batch_norm: bool = True):
        super().__init__()
        self.body = nn.Sequential(
            nn.LeakyReLU(),
            nn.Conv2d(dim, dim, kernel_size=3, padding=1),
            nn.BatchNorm2d(dim) if batch_norm else nn.Identity(),
            nn.LeakyReLU(),
            nn.Conv2d(dim, dim, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, dim, H, W)`` -> same shape."""
        return x + self.body(x)


def _resample_block(conv: nn.Module, out_channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels), nn.LeakyReLU())


# Kernel (3, 4), stride (1, 2), padding (1, 1): frequency kept, frames halved/doubled.
_KERNEL, _STRIDE, _PAD = (3, 4), (1, 2), (1, 1)


class VQVAEEncoder(nn.Module):
    """Spectrogram -> latent map: ``n_down`` stride-2 blocks, then residual blocks.

    Each downsampling block is Conv2d(kernel (3, 4), stride (1, 2), padding (1, 1),
    replicate) -> BatchNorm -> LeakyReLU(0.01); each residual block
    (:class:`ResidualBlock` with batch norm) is followed by a BatchNorm.

    Parameters
    ----------
    in_channels : int
        ``2 * n_channels`` (real and imaginary parts).
    dim : int, default=64
        Latent width ``D``.
    n_down : int, default=1
        Downsampling blocks (see :func:`n_downsampling_blocks`).
    n_res_blocks : int, default=4
        Residual blocks.

    Examples
    --------
    >>> import torch
    >>> enc = VQVAEEncoder(2, dim=8, n_down=2, n_res_blocks=1)
    >>> enc(torch.zeros(3, 2, 5, 26)).shape
    torch.Size([3, 8, 5, 6])
    >>> enc(torch.zeros(3, 2, 5, 2)).shape    # fewer frames than 2**n_down
    torch.Size([3, 8, 5, 1])
    """

    def __init__(self, in_channels: int, dim: int = 64, n_down: int = 1, n_res_blocks: int = 4):
        super().__init__()
        self.n_down = n_down
        widths = [in_channels] + [dim] * n_down
        down = [
            _resample_block(nn.Conv2d(a, b, _KERNEL, _STRIDE, _PAD, padding_mode="replicate"), b)
            for a, b in zip(widths[:-1], widths[1:])
        ]
        res = [nn.Sequential(ResidualBlock(dim), nn.BatchNorm2d(dim)) for _ in range(n_res_blocks)]
        self.layers = nn.Sequential(*down, *res)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, F, W)`` -> ``(B, dim, F, max(1, W // 2**n_down))``."""
        short = 2**self.n_down - u.shape[-1]
        if short > 0:  # a series shorter than the training ones: repeat its last frame
            u = F.pad(u, (0, short, 0, 0), mode="replicate")
        return self.layers(u)


class VQVAEDecoder(nn.Module):
    """Latent map -> spectrogram, mirroring :class:`VQVAEEncoder`.

    Residual blocks (without inner batch norm), each followed by a BatchNorm; then
    ``n_down - 1`` ConvTranspose2d(kernel (3, 4), stride (1, 2), padding (1, 1)) ->
    BatchNorm -> LeakyReLU blocks, a transposed convolution to ``out_channels`` and
    one more to ``out_channels`` (each doubling the frames), and a bilinear resize
    (``align_corners=True``) to the spectrogram size.

    Parameters
    ----------
    out_channels : int
        ``2 * n_channels``.
    dim : int, default=64
        Latent width.
    n_down : int, default=1
        Downsampling blocks of the matching encoder.
    n_res_blocks : int, default=4
        Residual blocks.

    Examples
    --------
    >>> import torch
    >>> dec = VQVAEDecoder(2, dim=8, n_down=2, n_res_blocks=1)
    >>> dec(torch.zeros(3, 8, 5, 6), size=(5, 26)).shape
    torch.Size([3, 2, 5, 26])
    """

    def __init__(self, out_channels: int, dim: int = 64, n_down: int = 1, n_res_blocks: int = 4):
        super().__init__()
        res = [
            nn.Sequential(ResidualBlock(dim, batch_norm=False), nn.BatchNorm2d(dim))
            for _ in range(n_res_blocks)
        ]
        up = [
            _resample_block(nn.ConvTranspose2d(dim, dim, _KERNEL, _STRIDE, _PAD), dim)
            for _ in range(n_down - 1)
        ]
        self.layers = nn.Sequential(
            *res,
            *up,
            nn.ConvTranspose2d(dim, out_channels, _KERNEL, _STRIDE, _PAD),
            nn.ConvTranspose2d(out_channels, out_channels, _KERNEL, _STRIDE, _PAD),
        )

    def forward(self, z: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``(B, dim, F, W')`` -> ``(B, out_channels, *size)``."""
        return F.interpolate(self.layers(z), size=size, mode="bilinear", align_corners=True)


class NCVQVAENetwork(nn.Module):
    """NC-VQVAE's network: STFT, encoder, quantiser, decoder, inverse STFT, projector.

    The per-channel location and scale the series are standardised with are buffers,
    set from the training data by the estimator's first fit (NaN until then), so that
    a saved network carries them.

    Parameters
    ----------
    n_channels : int
    dim, n_down, n_res_blocks, n_fft : int
        See :class:`VQVAEEncoder` and :class:`STFT`.
    quantizer : torch.nn.Module
        A :class:`~sslts.encoders.quantize.VectorQuantizer` of ``dim``-d codes.
    projector : torch.nn.Module or None
        The SSL branch's projector (None for a plain VQ-VAE).

    Examples
    --------
    >>> from sslts.encoders.quantize import VectorQuantizer
    >>> net = NCVQVAENetwork(2, dim=8, n_down=1, n_res_blocks=1, n_fft=8,
    ...                      quantizer=VectorQuantizer(4, 8), projector=None)
    >>> net.stft(torch.zeros(3, 32, 2)).shape  # (B, 2C, F, W)
    torch.Size([3, 4, 5, 17])
    """

    def __init__(self, n_channels, *, dim, n_down, n_res_blocks, n_fft, quantizer, projector):
        super().__init__()
        self.stft, self.istft = STFT(n_fft), InverseSTFT(n_fft)
        self.encoder = VQVAEEncoder(2 * n_channels, dim, n_down, n_res_blocks)
        self.quantizer = quantizer
        self.decoder = VQVAEDecoder(2 * n_channels, dim, n_down, n_res_blocks)
        self.projector = projector
        # Set from the training data by the first fit (NaN until then).
        self.register_buffer("loc", torch.full((n_channels,), float("nan")))
        self.register_buffer("scale", torch.full((n_channels,), float("nan")))

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - loc) / scale`` per channel; NaN stays NaN."""
        return (x - self.loc) / self.scale
