"""MaskGIT priors over VQ-VAE tokens (Chang et al., 2022), as used by NC-VQVAE's stage 2.

A prior models a grid of ``N`` code indices (the tokens of one series, flattened
frequency-row first) given the visible ones and a class.  Two variants share one
network body and differ in how tokens enter and leave it:

* :class:`IndexPrior` ("MaskGIT" in TimeVQVAE and NC-VQVAE): a token-embedding table
  of ``K + 1`` rows (the codes and the [MASK] token) initialised from the stage-1
  codebook, and logits tied to that table plus a per-position bias.
* :class:`EmbeddingPrior` ("full-embedding" MaskGIT of NC-VQVAE): the input of a
  token is its code vector, read from a trainable copy of the codebook, or a learned
  mask vector; the head is an untied linear layer.

Both compute, for tokens ``s`` (B, N) and classes ``c`` (B,)::

    e = LayerNorm(embed(s) + pos)                  (B, N, d)
    h = Body([class_emb(c); e])[:, 1:]             (B, N, d)   class token prepended
    logits = Head(h)                               (B, N, K)

with the body of :class:`BidirectionalTransformer`.  The class ``n_classes`` is the
null class (unconditional); :func:`~sslts.encoders.maskgit_schedule.drop_labels`
replaces labels by it during training, so one network serves conditional and
unconditional sampling.
Training masks and iterative decoding live in :mod:`sslts.encoders.maskgit_schedule`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PRIORS",
    "BidirectionalTransformer",
    "IndexPrior",
    "EmbeddingPrior",
    "make_prior",
    "dead_codes",
]

PRIORS = ("index", "embedding")
_LN_EPS = 1e-12  # the reference's LayerNorm epsilon (BERT's value)


class _SelfAttention(nn.Module):
    """Bias-free multi-head self-attention without a mask (every token sees every token)."""

    def __init__(self, dim: int, n_heads: int, dim_head: int):
        super().__init__()
        self.n_heads, inner = n_heads, n_heads * dim_head
        self.qkv = nn.Linear(dim, 3 * inner, bias=False)
        self.out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, heads, L, dim_head)
        return self.out(y.transpose(1, 2).reshape(B, L, -1))


class _Block(nn.Module):
    """Pre-norm block: ``x + Attn(RMSNorm(x))``, then ``x + FF(RMSNorm(x))``."""

    def __init__(self, dim: int, n_heads: int, dim_head: int, ff_mult: int):
        super().__init__()
        self.norm1, self.norm2 = nn.RMSNorm(dim), nn.RMSNorm(dim)
        self.attn = _SelfAttention(dim, n_heads, dim_head)
        self.ff = nn.Sequential(nn.Linear(dim, dim * ff_mult), nn.GELU(),
                                nn.Linear(dim * ff_mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ff(self.norm2(x))


class BidirectionalTransformer(nn.Module):
    """Non-causal transformer body of the MaskGIT priors.

    ``Linear(in_dim, hidden_dim)`` without bias, plus a learned absolute positional
    embedding scaled by ``hidden_dim ** -0.5``; ``n_layers`` pre-norm blocks (RMSNorm,
    bias-free multi-head self-attention through
    :func:`torch.nn.functional.scaled_dot_product_attention`, RMSNorm, feed-forward
    ``Linear -> GELU -> Linear`` of width ``ff_mult * hidden_dim``); a final RMSNorm
    and ``Linear(hidden_dim, in_dim)`` without bias.  This is the
    ``ContinuousTransformerWrapper(attn_layers=Encoder(...))`` of x-transformers
    1.27 that TimeVQVAE and NC-VQVAE use, including its second positional embedding
    (the priors add one before the body too).

    Parameters
    ----------
    in_dim : int
        Width of the input and output vectors (the code width, 64 in the reference).
    max_len : int
        Longest sequence (``N + 1`` with the class token).
    hidden_dim : int, default=256
    n_layers : int, default=4
    n_heads : int, default=2
    ff_mult : int, default=1
        Feed-forward width as a multiple of ``hidden_dim``.
    dim_head : int, default=64
        Width of each attention head.

    Examples
    --------
    >>> import torch
    >>> body = BidirectionalTransformer(8, max_len=6, hidden_dim=16, n_layers=1, n_heads=2)
    >>> body(torch.zeros(3, 6, 8)).shape
    torch.Size([3, 6, 8])
    """

    def __init__(self, in_dim: int, max_len: int, hidden_dim: int = 256, n_layers: int = 4,
                 n_heads: int = 2, ff_mult: int = 1, dim_head: int = 64):
        super().__init__()
        self.max_len = max_len
        self.project_in = nn.Linear(in_dim, hidden_dim, bias=False)
        self.pos_emb = nn.Embedding(max_len, hidden_dim)
        self.pos_scale = hidden_dim**-0.5
        self.blocks = nn.ModuleList(
            _Block(hidden_dim, n_heads, dim_head, ff_mult) for _ in range(n_layers)
        )
        self.norm = nn.RMSNorm(hidden_dim)
        self.project_out = nn.Linear(hidden_dim, in_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L, in_dim)`` with ``L <= max_len`` -> ``(B, L, in_dim)``."""
        if x.shape[1] > self.max_len:
            raise ValueError(f"Sequence of {x.shape[1]} > max_len={self.max_len} positions.")
        h = self.project_in(x) + self.pos_emb.weight[: x.shape[1]] * self.pos_scale
        for block in self.blocks:
            h = block(h)
        return self.project_out(self.norm(h))


class _MaskedTokenPrior(nn.Module):
    """What both priors share: embeddings around the body, class token, allowed codes."""

    def __init__(self, n_codes: int, n_tokens: int, n_classes: int, embed_dim: int,
                 body_kwargs: dict):
        super().__init__()
        if n_codes < 1 or n_tokens < 1 or n_classes < 0:
            raise ValueError(f"Need n_codes >= 1, n_tokens >= 1 and n_classes >= 0; got "
                             f"{n_codes}, {n_tokens} and {n_classes}.")
        self.n_codes, self.n_tokens, self.n_classes = n_codes, n_tokens, n_classes
        self.pos_emb = nn.Embedding(n_tokens, embed_dim)
        self.norm = nn.LayerNorm(embed_dim, eps=_LN_EPS)
        self.class_emb = nn.Embedding(n_classes + 1, embed_dim)  # the last row: null class
        self.body = BidirectionalTransformer(embed_dim, n_tokens + 1, **body_kwargs)
        self.head = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.GELU(),
                                  nn.LayerNorm(embed_dim, eps=_LN_EPS))
        self.register_buffer("allowed_codes", torch.ones(n_codes, dtype=torch.bool))

    @property
    def mask_id(self) -> int:
        """Token id of [MASK] (``n_codes``)."""
        return self.n_codes

    @property
    def null_class(self) -> int:
        """Class id of the unconditional (null) class (``n_classes``)."""
        return self.n_classes

    def _embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _input_table(self) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, tokens: torch.Tensor, class_ids: torch.Tensor | None = None):
        """Logits of every code at every position.

        Parameters
        ----------
        tokens : LongTensor of shape (B, N)
            Code ids in ``[0, n_codes)``, or ``mask_id`` where masked.
        class_ids : LongTensor of shape (B,), default=None
            Classes in ``[0, n_classes]`` (``n_classes`` is the null class); None
            gives every sample the null class.

        Returns
        -------
        logits : Tensor of shape (B, N, n_codes)
            ``-inf`` for the codes switched off by :meth:`restrict_codes`.
        """
        B, N = tokens.shape
        if N != self.n_tokens:
            raise ValueError(f"tokens has {N} positions; this prior models {self.n_tokens}.")
        if class_ids is None:
            class_ids = torch.full((B,), self.null_class, device=tokens.device)
        e = self.norm(self._embed_tokens(tokens) + self.pos_emb.weight)  # (B, N, d)
        x = torch.cat([self.class_emb(class_ids).unsqueeze(1), e], dim=1)  # (B, N+1, d)
        logits = self._logits(self.head(self.body(x)[:, 1:]))
        return logits.masked_fill(~self.allowed_codes, -torch.inf)

    @torch.no_grad()
    def restrict_codes(self, dead: torch.Tensor) -> None:
        """Never predict the codes flagged in ``dead``, and zero their input rows.

        Their logits become ``-inf``, so their probability is exactly 0: they are
        never sampled and their rows get no gradient through the output.  They are
        never inputs either, as long as the training targets avoid them (tokens of
        codes that no training latent uses; see :func:`dead_codes`).  Zeroing the
        rows removes the huge vectors an EMA codebook leaves in dead codes from the
        parameters (the index prior's table is also its output matrix).

        Parameters
        ----------
        dead : bool Tensor of shape (n_codes,)
            Must leave at least one code alive.
        """
        dead = torch.as_tensor(dead, dtype=torch.bool, device=self.allowed_codes.device)
        if dead.shape != (self.n_codes,) or bool(dead.all()):
            raise ValueError(f"dead must be a bool mask of shape ({self.n_codes},) that "
                             "leaves at least one code alive.")
        self.allowed_codes.copy_(~dead)
        self._input_table()[: self.n_codes][dead] = 0.0


class IndexPrior(_MaskedTokenPrior):
    """MaskGIT prior with a token-embedding table tied to its output ("index" prior).

    The table ``E`` has ``n_codes + 1`` rows (the last is [MASK]); the codes' rows are
    initialised from the stage-1 codebook and trained.  A token enters as its row of
    ``E``; the head ``Linear -> GELU -> LayerNorm`` gives ``h`` and the logits are
    ``h E^T + b`` with a learned per-position bias ``b`` (N, n_codes + 1), without the
    [MASK] column.  This is the prior of TimeVQVAE and of NC-VQVAE's baseline.

    Parameters
    ----------
    n_codes : int
        Codebook size ``K``.
    n_tokens : int
        Tokens per series ``N``.
    n_classes : int, default=0
        Number of classes; 0 for an unconditional prior (only the null class).
    codebook : Tensor of shape (n_codes, embed_dim), default=None
        Stage-1 codebook to initialise the table with (copied).  Codes with huge
        norms left by the EMA should be switched off afterwards with
        :meth:`restrict_codes` (see :func:`dead_codes`).
    embed_dim : int, default=None
        Token width; the codebook's width, or 64 without a codebook.
    hidden_dim, n_layers, n_heads, ff_mult, dim_head : int
        See :class:`BidirectionalTransformer` (defaults 256, 4, 2, 1, 64).

    Attributes
    ----------
    mask_id : int
        ``n_codes``.
    null_class : int
        ``n_classes``.
    allowed_codes : bool Tensor of shape (n_codes,)
        Codes the prior may predict.

    Examples
    --------
    >>> import torch
    >>> prior = IndexPrior(4, 6, n_classes=2, codebook=torch.randn(4, 8), hidden_dim=16,
    ...                    n_layers=1, n_heads=1, dim_head=8)
    >>> tokens = torch.tensor([[0, 1, 4, 4, 2, 3]])      # 4 = [MASK]
    >>> prior(tokens, torch.tensor([1])).shape
    torch.Size([1, 6, 4])
    """

    def __init__(self, n_codes: int, n_tokens: int, n_classes: int = 0, *,
                 codebook: torch.Tensor | None = None, embed_dim: int | None = None,
                 hidden_dim: int = 256, n_layers: int = 4, n_heads: int = 2, ff_mult: int = 1,
                 dim_head: int = 64):
        embed_dim = _check_codebook(codebook, n_codes, embed_dim)
        body = dict(hidden_dim=hidden_dim, n_layers=n_layers, n_heads=n_heads, ff_mult=ff_mult,
                    dim_head=dim_head)
        super().__init__(n_codes, n_tokens, n_classes, embed_dim, body)
        self.token_emb = nn.Embedding(n_codes + 1, embed_dim)
        self.bias = nn.Parameter(torch.zeros(n_tokens, n_codes + 1))
        if codebook is not None:
            with torch.no_grad():
                self.token_emb.weight[:n_codes] = codebook.detach().to(self.token_emb.weight)

    def _embed_tokens(self, tokens):
        return self.token_emb(tokens)

    def _logits(self, h):
        return (h @ self.token_emb.weight.T + self.bias)[..., : self.n_codes]

    def _input_table(self):
        return self.token_emb.weight


class EmbeddingPrior(_MaskedTokenPrior):
    """MaskGIT prior whose inputs are code vectors ("full-embedding" prior of NC-VQVAE).

    A visible token enters as its code vector, read from ``codebook``, a trainable
    copy of the stage-1 codebook; a masked one as the learned vector ``mask_emb``.
    The head is ``Linear -> GELU -> LayerNorm -> Linear(embed_dim, n_codes)``, not
    tied to the codebook.  Decoding generated tokens to series uses the frozen
    stage-1 codebook, not this copy.

    Parameters
    ----------
    codebook : Tensor of shape (n_codes, embed_dim)
        Stage-1 codebook (copied into a parameter).
    n_tokens : int
        Tokens per series ``N``.
    n_classes : int, default=0
        Number of classes; 0 for an unconditional prior.
    finetune_codebook : bool, default=True
        Train the copy (the reference does); False freezes it.
    hidden_dim, n_layers, n_heads, ff_mult, dim_head : int
        See :class:`BidirectionalTransformer` (defaults 256, 4, 2, 1, 64).

    Attributes
    ----------
    mask_id, null_class, allowed_codes
        As in :class:`IndexPrior`.

    Examples
    --------
    >>> import torch
    >>> prior = EmbeddingPrior(torch.randn(4, 8), 6, hidden_dim=16, n_layers=1, n_heads=1,
    ...                        dim_head=8)
    >>> prior(torch.full((2, 6), prior.mask_id)).shape
    torch.Size([2, 6, 4])
    """

    def __init__(self, codebook: torch.Tensor, n_tokens: int, n_classes: int = 0, *,
                 finetune_codebook: bool = True, hidden_dim: int = 256, n_layers: int = 4,
                 n_heads: int = 2, ff_mult: int = 1, dim_head: int = 64):
        n_codes = codebook.shape[0]
        embed_dim = _check_codebook(codebook, n_codes, None)
        body = dict(hidden_dim=hidden_dim, n_layers=n_layers, n_heads=n_heads, ff_mult=ff_mult,
                    dim_head=dim_head)
        super().__init__(n_codes, n_tokens, n_classes, embed_dim, body)
        self.codebook = nn.Parameter(codebook.detach().float().clone(),
                                     requires_grad=finetune_codebook)
        self.mask_emb = nn.Parameter(torch.randn(embed_dim))
        self.out = nn.Linear(embed_dim, n_codes)

    def _embed_tokens(self, tokens):
        masked = tokens == self.mask_id
        vectors = self.codebook[tokens.masked_fill(masked, 0)]  # (B, N, d)
        return torch.where(masked.unsqueeze(-1), self.mask_emb, vectors)

    def _logits(self, h):
        return self.out(h)

    def _input_table(self):
        return self.codebook


def _check_codebook(codebook, n_codes: int, embed_dim: int | None) -> int:
    if codebook is None:
        return 64 if embed_dim is None else embed_dim
    if codebook.ndim != 2 or codebook.shape[0] != n_codes:
        raise ValueError(f"codebook must have shape ({n_codes}, embed_dim); got "
                         f"{tuple(codebook.shape)}.")
    if embed_dim is not None and embed_dim != codebook.shape[1]:
        raise ValueError(f"embed_dim={embed_dim} differs from the codebook's width "
                         f"{codebook.shape[1]}.")
    if not torch.isfinite(codebook).all():
        raise ValueError("codebook has non-finite values.")
    return int(codebook.shape[1])


def make_prior(kind: str, codebook: torch.Tensor, n_tokens: int, n_classes: int = 0,
               **body_kwargs) -> IndexPrior | EmbeddingPrior:
    """Build the prior named ``kind`` on a stage-1 codebook.

    Parameters
    ----------
    kind : {"index", "embedding"}
        :class:`IndexPrior` (TimeVQVAE, NC-VQVAE's baseline) or
        :class:`EmbeddingPrior` (NC-VQVAE with an SSL branch).
    codebook : Tensor of shape (n_codes, embed_dim)
    n_tokens : int
    n_classes : int, default=0
    **body_kwargs
        ``hidden_dim``, ``n_layers``, ``n_heads``, ``ff_mult``, ``dim_head``
        (and ``finetune_codebook`` for "embedding").

    Returns
    -------
    IndexPrior or EmbeddingPrior

    Examples
    --------
    >>> import torch
    >>> make_prior("embedding", torch.randn(4, 8), 6, hidden_dim=16, n_layers=1).n_codes
    4
    """
    if kind == "index":
        return IndexPrior(codebook.shape[0], n_tokens, n_classes, codebook=codebook,
                          **body_kwargs)
    if kind == "embedding":
        return EmbeddingPrior(codebook, n_tokens, n_classes, **body_kwargs)
    raise ValueError(f"Unknown prior {kind!r}; use one of {PRIORS}.")


def dead_codes(usage=None, codebook: torch.Tensor | None = None, *,
               norm_ratio: float = 100.0) -> torch.Tensor:
    """Codes a prior should never predict, from their usage or from their norms.

    The EMA codebook (:class:`~sslts.encoders.quantize.VectorQuantizer`) pushes a code
    that no latent reaches early in training to about 1e5 times its initial norm,
    where it stays unused.  Copied into a weight-tied prior, such rows would dominate
    its logits (``h . e_k`` is huge for any ``h`` not orthogonal to ``e_k``).  Pass the
    result to the prior's ``restrict_codes``.  Give exactly one of:

    * ``usage`` (preferred): a code is dead if it never occurs in the tokens the prior
      is trained on.  With tokens sampled at a temperature, pass the summed sampling
      probabilities: a code far from every latent gets exactly 0 (its probability
      underflows), a near but unchosen one a positive mass and stays alive, so the
      training targets never contain a dead code.
    * ``codebook``: the codes are sorted by norm, and those above the highest jump
      by more than ``norm_ratio`` between neighbours are dead.  Dead codes sit about
      1e5 times above the live ones and close to each other, so this works however
      many codes died; but it cannot see unused codes of ordinary norm, and a live
      code of almost zero norm (below ``1 / norm_ratio`` of the next one) with no
      dead code above would leave only itself alive.

    Parameters
    ----------
    usage : array-like of shape (n_codes,), default=None
        Counts, frequencies or summed probabilities of each code in the training
        tokens (e.g. :func:`~sslts.encoders.quantize.code_usage`, or a fitted
        tokenizer's ``codebook_usage_`` when the prior trains on its argmin tokens).
    codebook : Tensor of shape (n_codes, dim), default=None
    norm_ratio : float, default=100.0
        Smallest norm ratio between the live and the dead codes.

    Returns
    -------
    dead : bool Tensor of shape (n_codes,)

    Raises
    ------
    ValueError
        If neither or both of ``usage`` and ``codebook`` are given, or no code is used.

    Examples
    --------
    >>> import torch
    >>> dead_codes([10, 3, 0, 1]).tolist()
    [False, False, True, False]
    >>> codebook = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3e4, 0.0], [5e5, 1.0]])
    >>> dead_codes(codebook=codebook).tolist()
    [False, False, True, True]
    """
    if (usage is None) == (codebook is None):
        raise ValueError("Pass exactly one of usage and codebook.")
    if usage is not None:
        usage = torch.as_tensor(usage, dtype=torch.float64).cpu()
        if usage.ndim != 1 or not bool(torch.isfinite(usage).all()) or bool((usage < 0).any()):
            raise ValueError("usage must be a 1-D array of finite, non-negative values.")
        if not bool((usage > 0).any()):
            raise ValueError("No code is used: the usage values are all zero.")
        return usage <= 0
    norms = codebook.detach().double().norm(dim=1).cpu().nan_to_num(nan=torch.inf)
    ordered, order = norms.clamp(min=1e-300).sort()
    jumps = torch.nonzero(ordered[1:] > norm_ratio * ordered[:-1]).flatten()
    dead = torch.zeros(len(norms), dtype=torch.bool)
    if len(jumps):
        dead[order[int(jumps[-1]) + 1 :]] = True
    return dead
