"""TimeDRL's encoder: instance normalisation, patching, [CLS] token, post-LN transformer.

Chang et al., "TimeDRL: Disentangled Representation Learning for Multivariate
Time-Series", ICDE 2024, Section IV-A.  Shapes use ``B`` series, ``T`` timestamps,
``C`` channels, ``P`` patch length, ``S`` stride, ``N`` patches and ``D`` the model width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .dropout import FastDropout, fast_dropout

__all__ = [
    "instance_normalise",
    "n_patches",
    "patchify",
    "timestamp_to_patch",
    "sinusoidal_positions",
    "CircularConvEmbedding",
    "PostLNTransformerLayer",
    "PatchTransformerEncoder",
]

TOKEN_EMBEDDINGS = ("linear", "conv")
POSITIONAL_ENCODINGS = ("none", "fixed", "learnable")


def instance_normalise(x: torch.Tensor, eps: float = 1e-5):
    """RevIN without affine parameters, ignoring missing values.

    Each series and channel is standardised with the mean and biased standard
    deviation of its observed values, ``std = sqrt(var + eps)``.  Missing values
    (NaN) are replaced by 0, the channel's mean after normalisation.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Series; NaN marks missing values.
    eps : float, default=1e-5
        Added to the variance.

    Returns
    -------
    x_norm : Tensor of shape (B, T, C)
        Normalised series without NaN.
    observed : Tensor of shape (B, T, C), bool
        Where ``x`` was observed.
    mean, std : Tensor of shape (B, 1, C)
        The statistics (a channel with no observation gets mean 0 and std
        ``sqrt(eps)``, so it stays all zeros).
    """
    observed = ~torch.isnan(x)
    count = observed.sum(dim=1, keepdim=True).clamp(min=1)
    x0 = torch.where(observed, x, torch.zeros((), dtype=x.dtype, device=x.device))
    mean = x0.sum(dim=1, keepdim=True) / count
    centred = torch.where(observed, x0 - mean, torch.zeros((), dtype=x.dtype, device=x.device))
    std = torch.sqrt(centred.pow(2).sum(dim=1, keepdim=True) / count + eps)
    return centred / std, observed, mean, std


def n_patches(n_timestamps: int, patch_len: int, stride: int) -> int:
    """Number of patches :func:`patchify` cuts a series of ``n_timestamps`` into.

    ``(T - P) // S + 2`` as in the official code (one extra patch from padding
    the end by ``S``); a series shorter than one patch gives
    ``(max(T + S, P) - P) // S + 1``.

    Examples
    --------
    >>> n_patches(96, 16, 8), n_patches(8, 2, 1), n_patches(5, 16, 8)
    (12, 8, 1)
    """
    padded = max(n_timestamps + stride, patch_len)
    return (padded - patch_len) // stride + 1


def patchify(x: torch.Tensor, patch_len: int, stride: int) -> torch.Tensor:
    """Cut series into patches after replication-padding their end.

    The end is padded by repeating the last timestamp ``S`` times (further, up to
    one full patch, when the series is shorter than ``P``), so the last timestamps
    fall into a complete patch.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
    patch_len, stride : int

    Returns
    -------
    patches : Tensor of shape (B, C, N, P)
        ``patches[b, c, k] = x_padded[b, k*S : k*S + P, c]``.
    """
    T = x.shape[1]
    pad = max(stride, patch_len - T)
    padded = torch.cat([x, x[:, -1:].expand(-1, pad, -1)], dim=1)  # (B, T + pad, C)
    return padded.transpose(1, 2).unfold(-1, patch_len, stride)


def timestamp_to_patch(n_timestamps: int, patch_len: int, stride: int, device=None):
    """Index of the patch whose token represents each timestamp.

    Timestamp ``t`` gets patch ``min(t // S, N - 1)``: the last patch that starts
    at or before ``t``.  With overlapping patches (``S < P``) this is the patch in
    which ``t`` sits earliest (within its first ``S`` positions); it always contains
    ``t`` when ``S <= P``.

    Returns
    -------
    index : LongTensor of shape (T,)

    Examples
    --------
    >>> timestamp_to_patch(7, 4, 2).tolist()
    [0, 0, 1, 1, 2, 2, 2]
    """
    last = n_patches(n_timestamps, patch_len, stride) - 1
    t = torch.arange(n_timestamps, device=device)
    return torch.clamp(t // stride, max=last)


def sinusoidal_positions(n_positions: int, d_model: int, *, device=None, dtype=None):
    """Fixed sinusoidal positional encoding of Vaswani et al. (2017).

    ``PE[p, 2i] = sin(p / 10000 ** (2i / D))`` and
    ``PE[p, 2i + 1] = cos(p / 10000 ** (2i / D))``; with an odd ``D`` the last
    column is a sine.

    Parameters
    ----------
    n_positions : int
        Number of positions ``L``.
    d_model : int
        Width ``D``.
    device, dtype : optional
        Of the result.

    Returns
    -------
    Tensor of shape (L, D)

    Examples
    --------
    >>> sinusoidal_positions(2, 4, dtype=torch.float64).numpy().round(3).tolist()
    [[0.0, 1.0, 0.0, 1.0], [0.841, 0.54, 0.01, 1.0]]
    """
    position = torch.arange(n_positions, device=device, dtype=torch.float32)[:, None]
    exponent = torch.arange(0, d_model, 2, device=device, dtype=torch.float32) / d_model
    angle = position / 10000.0**exponent  # (L, ceil(D / 2))
    pe = torch.empty(n_positions, d_model, device=device, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe if dtype is None else pe.to(dtype)


class CircularConvEmbedding(nn.Module):
    """Token embedding by a 1-D convolution along the token sequence, circularly padded.

    Each output token mixes its ``kernel_size`` neighbours in the sequence; the
    sequence wraps around, so with the [CLS] token at position 0 the [CLS]
    embedding also sees the first and the last patch.  No bias; Kaiming-normal
    initialisation (fan-in, leaky-ReLU gain), as in the official TimeDRL code.

    Parameters
    ----------
    token_dim : int
        Width of the input tokens (``P`` or ``C * P``).
    d_model : int
        Width ``D`` of the embedded tokens.
    kernel_size : int, default=3
        Odd number of neighbouring tokens mixed (the official configurations use 3
        or 5).

    Notes
    -----
    The padding is done by indexing modulo the sequence length, so it wraps as
    often as needed and any sequence length works (PyTorch's ``"circular"``
    padding mode refuses padding wider than the input).

    Examples
    --------
    >>> emb = CircularConvEmbedding(4, 8, kernel_size=5)
    >>> emb(torch.zeros(2, 3, 4)).shape
    torch.Size([2, 3, 8])
    """

    def __init__(self, token_dim: int, d_model: int, kernel_size: int = 3):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be a positive odd number (the output keeps the "
                f"sequence length), got {kernel_size}."
            )
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.empty(d_model, token_dim, kernel_size))
        nn.init.kaiming_normal_(self.weight, mode="fan_in", nonlinearity="leaky_relu")

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B', L, token_dim) -> (B', L, D)."""
        L = tokens.shape[1]
        half = self.kernel_size // 2
        wrap = torch.arange(-half, L + half, device=tokens.device) % L
        padded = tokens[:, wrap].transpose(1, 2)  # (B', token_dim, L + 2 * half)
        return F.conv1d(padded, self.weight).transpose(1, 2)


class PostLNTransformerLayer(nn.Module):
    """Vanilla post-LN transformer encoder layer with fused attention.

    ``x = LN(x + Drop(MHA(x)))``, then ``x = LN(x + Drop(W2 Drop(GELU(W1 x))))``
    with a ``4 D`` hidden width; attention dropout equals ``dropout``.

    Parameters
    ----------
    d_model : int
        Token width ``D``.
    n_heads : int
        Attention heads (``D`` must be divisible by it).
    dropout : float
        Dropout probability everywhere in the layer.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, 4 * d_model),
            nn.GELU(),
            FastDropout(dropout),
            nn.Linear(4 * d_model, d_model),
        )
        self.drop = FastDropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, L, D) multi-head self-attention."""
        B, L, D = x.shape
        qkv = self.qkv(x).view(B, L, 3, self.n_heads, D // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, L, D/H)
        if self.training and self.dropout > 0 and x.device.type == "cpu":
            # With dropout, SDPA's CPU kernel materialises the weights and draws the mask
            # with bernoulli_; the same product with fast_dropout's mask is 1.2-1.4x faster.
            weights = torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1)
            out = fast_dropout(weights, self.dropout) @ v
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.dropout if self.training else 0.0
            )  # scaled by 1/sqrt(D/H) as in the paper
        return self.out(out.transpose(1, 2).reshape(B, L, D))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, L, D)."""
        x = self.norm1(x + self.drop(self._attention(x)))
        return self.norm2(x + self.drop(self.ffn(x)))


class PatchTransformerEncoder(nn.Module):
    """Patch tokens with a prepended [CLS] token through a transformer encoder.

    In channel-independent mode every channel is a separate sequence of
    ``P``-dimensional patches and has its own [CLS] token; otherwise the channels
    of a patch are concatenated into one ``C * P`` token.  The [CLS] token lives in
    patch space and goes through the same token embedding (no bias) and positional
    encoding (position 0) as the patches.

    Parameters
    ----------
    n_channels : int
        ``C``.
    patch_len, stride : int
        ``P`` and ``S``.
    d_model, n_heads, n_layers : int
        Width, attention heads and number of layers.
    dropout : float
        Dropout after the embedding and inside the layers.
    max_patches : int
        Patches covered by the learnable positional encoding.
    channel_independent : bool
        Whether channels are separate sequences.
    token_embedding : {"linear", "conv"}, default="linear"
        "linear" embeds every token on its own; "conv" is a
        :class:`CircularConvEmbedding` along the token sequence ([CLS] and the
        patches), which every tuned official TimeDRL configuration uses.
    kernel_size : int, default=3
        Kernel of the "conv" token embedding (odd); ignored by "linear".
    positional_encoding : {"none", "fixed", "learnable"}, default="learnable"
        Added to the embedded tokens: nothing, :func:`sinusoidal_positions`, or a
        learned ``randn``-initialised table of ``max_patches + 1`` positions.  Only
        "learnable" limits the number of patches of the series encoded later.

    Examples
    --------
    >>> enc = PatchTransformerEncoder(2, 4, 2, 8, 2, 1, 0.1, max_patches=9,
    ...                               channel_independent=True, token_embedding="conv",
    ...                               positional_encoding="fixed")
    >>> enc(torch.zeros(3, 16, 2)).shape  # (B, C, 1 + n_patches(16, 4, 2), D)
    torch.Size([3, 2, 9, 8])
    """

    def __init__(
        self,
        n_channels: int,
        patch_len: int,
        stride: int,
        d_model: int,
        n_heads: int,
        n_layers: int,
        dropout: float,
        max_patches: int,
        channel_independent: bool,
        *,
        token_embedding: str = "linear",
        kernel_size: int = 3,
        positional_encoding: str = "learnable",
    ):
        super().__init__()
        _check_option("token_embedding", token_embedding, TOKEN_EMBEDDINGS)
        _check_option("positional_encoding", positional_encoding, POSITIONAL_ENCODINGS)
        self.patch_len = patch_len
        self.stride = stride
        self.channel_independent = channel_independent
        self.n_streams = n_channels if channel_independent else 1
        self.token_dim = patch_len if channel_independent else n_channels * patch_len
        self.max_patches = max_patches
        self.positional_encoding = positional_encoding
        self.cls = nn.Parameter(torch.randn(self.n_streams, self.token_dim))
        if token_embedding == "linear":
            self.embed = nn.Linear(self.token_dim, d_model, bias=False)
        else:
            self.embed = CircularConvEmbedding(self.token_dim, d_model, kernel_size)
        self.position = (
            nn.Parameter(torch.randn(max_patches + 1, d_model))
            if positional_encoding == "learnable"
            else None
        )
        self.drop = FastDropout(dropout)
        self.layers = nn.ModuleList(
            PostLNTransformerLayer(d_model, n_heads, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def tokens_in_patch_space(self, x_norm: torch.Tensor) -> torch.Tensor:
        """Patch a normalised batch into per-stream tokens.

        Parameters
        ----------
        x_norm : Tensor of shape (B, T, C)
            Normalised series without NaN.

        Returns
        -------
        Tensor of shape (B, C', N, P')
            ``C' = C`` and ``P' = P`` (channel-independent) or ``C' = 1`` and
            ``P' = C * P`` (channel-mixing, channel-major within a token).
        """
        patches = patchify(x_norm, self.patch_len, self.stride)  # (B, C, N, P)
        if self.channel_independent:
            return patches
        B, C, N, P = patches.shape
        return patches.permute(0, 2, 1, 3).reshape(B, 1, N, C * P)

    def _positions(self, n_tokens: int, like: torch.Tensor):
        """(n_tokens, D) encoding added to the embedded tokens, or None."""
        if self.positional_encoding == "fixed":
            return sinusoidal_positions(
                n_tokens, like.shape[-1], device=like.device, dtype=like.dtype
            )
        if self.position is None:
            return None
        if n_tokens - 1 > self.max_patches:
            raise ValueError(
                f"The series give {n_tokens - 1} patches but the learnable positional "
                f"encoding covers {self.max_patches} (the length of the training series). "
                "Crop the series, refit on series at least as long, or use "
                "positional_encoding='fixed' or 'none'."
            )
        return self.position[:n_tokens]

    def forward(self, x_norm: torch.Tensor) -> torch.Tensor:
        """Encode a normalised batch.

        Parameters
        ----------
        x_norm : Tensor of shape (B, T, C)

        Returns
        -------
        Tensor of shape (B, C', 1 + N, D)
            Index 0 on the token axis is the [CLS] output, then one token per patch.
        """
        tokens = self.tokens_in_patch_space(x_norm)  # (B, C', N, P')
        B, Cs, N, Pd = tokens.shape
        cls = self.cls.view(1, Cs, 1, Pd).expand(B, -1, -1, -1)
        z = self.embed(torch.cat([cls, tokens], dim=2).reshape(B * Cs, N + 1, Pd))
        position = self._positions(N + 1, z)
        if position is not None:
            z = z + position
        z = self.drop(z)
        for layer in self.layers:
            z = layer(z)
        return self.norm(z).view(B, Cs, N + 1, -1)


def _check_option(name: str, value, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f"{name}={value!r} is not supported; choose one of {options}.")
