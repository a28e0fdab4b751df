"""MaskGIT training masks, loss and iterative decoding (Chang et al., 2022).

Everything here works with any prior of :mod:`sslts.encoders.maskgit`, or any module
with the same interface: ``prior(tokens (B, N), class_ids (B,) or None)`` returns
logits ``(B, N, n_codes)``, and the attributes ``n_tokens``, ``n_codes``,
``mask_id`` and ``null_class``.  Every random draw comes from an explicit
:class:`torch.Generator`.

*Schedule.*  ``gamma(r) = cos(pi r / 2)`` maps a ratio ``r`` in [0, 1] to a
fraction of tokens, from 1 down to 0.

*Training.*  One ``t ~ U(0, 1)`` is drawn per batch, as in the reference code
(NC-VQVAE and TimeVQVAE draw it once per training step), and ``n = gamma(t) N``
positions, chosen uniformly per sample, are treated according to ``convention``:

=========================  ================================  =====================
convention                 masked positions                  loss on
=========================  ================================  =====================
``"reference"``            all but ``floor(gamma(t) N)``     all ``N`` positions
``"reference_embedding"``  ``floor(gamma(t) N)``             all ``N`` positions
``"maskgit"``              ``ceil(gamma(t) N)``, at least 1  masked positions only
=========================  ================================  =====================

"reference" is TimeVQVAE's and NC-VQVAE's index prior (about 36 % masked on
average, and visible tokens count in the loss); "reference_embedding" is NC-VQVAE's
full-embedding prior (about 64 % masked); "maskgit" is the original MaskGIT
objective (mask ratio ``gamma(t)``, loss on the masked tokens only).

*Decoding* (:func:`iterative_decode`).  From all-[MASK], for ``t = 0 .. T-1``: sample
every unknown token from the logits; keep the ``n_t = floor(N gamma((t+1)/T))``
least confident of the new ones masked (:func:`decoding_schedule`), where the
confidence is ``log(p + 1e-5) + tau_t g`` with Gumbel noise ``g`` and
``tau_t = choice_temperature (1 - (t+1)/T)``; fixed tokens never change.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = [
    "MASK_CONVENTIONS",
    "TrainingMask",
    "cosine_schedule",
    "decoding_schedule",
    "masked_count",
    "training_mask",
    "apply_mask",
    "token_loss",
    "drop_labels",
    "gumbel_noise",
    "sample_categorical",
    "iterative_decode",
]

MASK_CONVENTIONS = ("reference", "reference_embedding", "maskgit")
_CONFIDENCE_EPS = 1e-5  # NC-VQVAE's log(p + 1e-5); TimeVQVAE and MaskGIT use log p


def cosine_schedule(ratio):
    """``gamma(r) = cos(pi r / 2)``: the fraction of masked tokens at ratio ``r``.

    Parameters
    ----------
    ratio : float or Tensor
        In [0, 1].

    Returns
    -------
    float or Tensor

    Examples
    --------
    >>> cosine_schedule(0.0), round(cosine_schedule(0.5), 6)
    (1.0, 0.707107)
    """
    if isinstance(ratio, torch.Tensor):
        return torch.cos(torch.pi / 2 * ratio)
    return math.cos(math.pi / 2 * ratio)


def decoding_schedule(n_tokens: int, n_steps: int = 10) -> list[int]:
    """Tokens still masked after each decoding step: ``floor(N gamma((t + 1) / T))``.

    Parameters
    ----------
    n_tokens : int
        ``N``.
    n_steps : int, default=10
        ``T``.

    Returns
    -------
    list of int, length n_steps
        Non-increasing, ending at 0 (the output is fully decoded).

    Examples
    --------
    >>> decoding_schedule(40, 10)
    [39, 38, 35, 32, 28, 23, 18, 12, 6, 0]
    """
    if n_tokens < 1 or n_steps < 1:
        raise ValueError(f"Need n_tokens >= 1 and n_steps >= 1; got {n_tokens}, {n_steps}.")
    counts = [max(0, math.floor(n_tokens * cosine_schedule((t + 1) / n_steps)))
              for t in range(n_steps)]
    counts[-1] = 0  # gamma(1) = 0; cos(pi / 2) is 6e-17 in floating point
    return counts


def masked_count(ratio: float, n_tokens: int, convention: str = "maskgit") -> int:
    """How many of ``n_tokens`` are masked at training ratio ``ratio`` (see module docs).

    Parameters
    ----------
    ratio : float
        The draw ``t`` in [0, 1).
    n_tokens : int
    convention : {"reference", "reference_embedding", "maskgit"}, default="maskgit"

    Returns
    -------
    int

    Examples
    --------
    >>> [masked_count(0.5, 40, c) for c in ("reference", "reference_embedding", "maskgit")]
    [12, 28, 29]
    """
    frac = n_tokens * cosine_schedule(ratio)
    if convention == "reference":
        return n_tokens - math.floor(frac)
    if convention == "reference_embedding":
        return math.floor(frac)
    if convention == "maskgit":
        return min(max(math.ceil(frac), 1), n_tokens)
    raise ValueError(f"Unknown convention {convention!r}; use one of {MASK_CONVENTIONS}.")


class TrainingMask(NamedTuple):
    """One training mask (:func:`training_mask`).

    Attributes
    ----------
    masked : bool Tensor of shape (B, N)
        Positions replaced by [MASK].
    counted : bool Tensor of shape (B, N)
        Positions the loss counts.
    ratio : float
        The draw ``t`` of this batch.

    Examples
    --------
    >>> m = training_mask(2, 10, "maskgit", generator=torch.Generator().manual_seed(0))
    >>> m.masked.shape, bool((m.counted == m.masked).all())  # MaskGIT: loss on the masked
    (torch.Size([2, 10]), True)
    """

    masked: torch.Tensor
    counted: torch.Tensor
    ratio: float


def training_mask(n_samples: int, n_tokens: int, convention: str = "maskgit", *,
                  generator: torch.Generator | None = None, device=None) -> TrainingMask:
    """Draw the masked and the loss positions of one training batch.

    One ratio ``t ~ U(0, 1)`` for the whole batch (the reference's choice), then
    every sample masks :func:`masked_count` positions chosen uniformly at random.

    Parameters
    ----------
    n_samples : int
        ``B``.
    n_tokens : int
        ``N``.
    convention : {"reference", "reference_embedding", "maskgit"}, default="maskgit"
        See the module docstring.
    generator : torch.Generator, default=None
        Source of all draws; it must live on ``device``.
    device : torch.device, default=None
        Device of the masks (the generator's device when None).

    Returns
    -------
    TrainingMask

    Examples
    --------
    >>> import torch
    >>> m = training_mask(4, 10, generator=torch.Generator().manual_seed(0))
    >>> m.masked.shape, bool((m.masked.sum(1) == masked_count(m.ratio, 10)).all())
    (torch.Size([4, 10]), True)
    """
    masked_count(0.0, n_tokens, convention)  # validates the convention
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    ratio = float(torch.rand((), generator=generator, device=device))
    n_masked = masked_count(ratio, n_tokens, convention)
    scores = torch.rand(n_samples, n_tokens, generator=generator, device=device)
    rank = scores.argsort(dim=1).argsort(dim=1)  # a uniform random permutation per row
    masked = rank < n_masked
    counted = masked if convention == "maskgit" else torch.ones_like(masked)
    return TrainingMask(masked, counted, ratio)


def apply_mask(tokens: torch.Tensor, masked: torch.Tensor, mask_id: int) -> torch.Tensor:
    """``tokens`` with ``mask_id`` where ``masked`` (a new tensor).

    Examples
    --------
    >>> import torch
    >>> apply_mask(torch.tensor([[1, 2, 3]]), torch.tensor([[False, True, False]]), 9)
    tensor([[1, 9, 3]])
    """
    return tokens.masked_fill(masked, mask_id)


def token_loss(logits: torch.Tensor, targets: torch.Tensor, counted: torch.Tensor,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy averaged over the counted positions.

    Parameters
    ----------
    logits : Tensor of shape (B, N, K)
    targets : LongTensor of shape (B, N)
        The true tokens.  A target whose logit is ``-inf`` (a code switched off by
        the prior's ``restrict_codes``) gives an infinite loss: train on tokens
        without dead codes.
    counted : bool Tensor of shape (B, N)
        From :class:`TrainingMask`.
    weight : Tensor of shape (B, N), default=None
        Extra per-position weights, e.g. 0 for latent columns that cover only
        padding.

    Returns
    -------
    Tensor, scalar
        ``sum(w ce) / sum(w)`` with ``w = counted * weight``; 0 when nothing counts.

    Examples
    --------
    >>> import torch
    >>> logits = torch.zeros(1, 2, 4)                   # uniform over 4 codes
    >>> loss = token_loss(logits, torch.tensor([[0, 3]]), torch.tensor([[True, True]]))
    >>> round(float(loss), 4) == round(float(torch.log(torch.tensor(4.0))), 4)
    True
    """
    ce = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (B, N)
    w = counted.to(ce.dtype)
    if weight is not None:
        w = w * weight.to(ce.dtype)
    return (ce * w).sum() / w.sum().clamp(min=torch.finfo(ce.dtype).tiny)


def drop_labels(class_ids: torch.Tensor, null_class: int, p: float,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each label by the null class with probability ``p`` (class dropout).

    The reference keeps a label when a uniform draw exceeds ``p`` (``p = 0.2``), in
    training only; sampling uses ``p = 0``.  The null class makes the prior learn
    the unconditional distribution too (classifier-free guidance).

    Parameters
    ----------
    class_ids : LongTensor of shape (B,)
    null_class : int
        Id of the null class (the prior's ``null_class``).
    p : float
        Drop probability in [0, 1].
    generator : torch.Generator, default=None
        Source of the uniform draws (on ``class_ids``' device).

    Returns
    -------
    LongTensor of shape (B,)
        A new tensor.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> drop_labels(torch.tensor([0, 1, 0]), null_class=2, p=1.0, generator=g).tolist()
    [2, 2, 2]
    """
    if not 0 <= p <= 1:
        raise ValueError(f"p={p} must be in [0, 1].")
    u = torch.rand(class_ids.shape, generator=generator, device=class_ids.device)
    return torch.where(u > p, class_ids, torch.full_like(class_ids, null_class))


def gumbel_noise(shape, *, generator: torch.Generator | None = None, device=None,
                 dtype=torch.float32) -> torch.Tensor:
    """Standard Gumbel draws ``-log(-log(u))``, ``u ~ U(0, 1)``.

    Examples
    --------
    >>> import torch
    >>> gumbel_noise((2, 3), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3])
    """
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    tiny = torch.finfo(dtype).tiny
    neg_log = (-torch.log(u.clamp(min=tiny))).clamp(min=tiny)  # in (0, inf)
    return -torch.log(neg_log)


def sample_categorical(logits: torch.Tensor, temperature: float = 1.0, *,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw from ``softmax(logits / temperature)`` over the last axis (Gumbel-max).

    Parameters
    ----------
    logits : Tensor of shape (..., K)
        ``-inf`` entries are never drawn.
    temperature : float, default=1.0
        0 takes the argmax.
    generator : torch.Generator, default=None

    Returns
    -------
    LongTensor of shape (...)

    Examples
    --------
    >>> import torch
    >>> logits = torch.tensor([[0.0, -torch.inf, 5.0]])
    >>> sample_categorical(logits, 0.0).tolist()
    [2]
    """
    if temperature < 0:
        raise ValueError(f"temperature={temperature} must be >= 0.")
    if temperature == 0:
        return logits.argmax(dim=-1)
    noise = gumbel_noise(logits.shape, generator=generator, device=logits.device,
                         dtype=torch.float32)
    return (logits.float() / temperature + noise).argmax(dim=-1)


def _class_vector(prior, n_samples: int, class_ids, device) -> torch.Tensor | None:
    if class_ids is None:
        return None
    class_ids = torch.as_tensor(class_ids, dtype=torch.long, device=device)
    if class_ids.ndim == 0:
        class_ids = class_ids.expand(n_samples)
    if class_ids.shape != (n_samples,):
        raise ValueError(f"class_ids must be a scalar or have shape ({n_samples},); "
                         f"got {tuple(class_ids.shape)}.")
    if bool(((class_ids < 0) | (class_ids > prior.null_class)).any()):
        raise ValueError(f"class_ids must be in [0, {prior.null_class}] (the last is the "
                         "null class).")
    return class_ids


def _guided_logits(prior, tokens, class_ids, guidance_scale: float) -> torch.Tensor:
    """``l_null + w (l_cond - l_null)``; one pass when unconditional or ``w == 1``."""
    logits = prior(tokens, class_ids)
    if class_ids is None or guidance_scale == 1.0:
        return logits
    null = prior(tokens, None)
    guided = null + guidance_scale * (logits - null)
    return torch.where(torch.isfinite(logits), guided, logits)  # keep -inf, avoid NaN


@torch.no_grad()
def iterative_decode(prior, n_samples: int, class_ids=None, *, n_steps: int = 10,
                     choice_temperature: float = 4.0, token_temperature: float = 1.0,
                     guidance_scale: float = 1.0, generator: torch.Generator | None = None,
                     token_shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """Sample token grids from a prior by MaskGIT's iterative decoding.

    Runs without autograd (``torch.no_grad``) and in eval mode (the prior's mode is
    restored afterwards).

    Parameters
    ----------
    prior : IndexPrior, EmbeddingPrior or a module with their interface
    n_samples : int
    class_ids : int or LongTensor of shape (n_samples,), default=None
        Class of every sample (in ``[0, prior.n_classes]``); None samples
        unconditionally (the null class).
    n_steps : int, default=10
        ``T``.
    choice_temperature : float, default=4.0
        Scale of the Gumbel noise in the confidence, annealed linearly to 0.
    token_temperature : float, default=1.0
        Temperature of the token draws (0: argmax).
    guidance_scale : float, default=1.0
        Classifier-free guidance ``w``; the reference's 1 is no guidance and costs
        one pass per step (the null pass runs only when ``w != 1`` and a class is given).
    generator : torch.Generator, default=None
        Source of the token draws and of the Gumbel noise, on the prior's device.
    token_shape : tuple of int, default=None
        Reshape each sample's ``N`` tokens to this grid (C order), e.g. the
        tokenizer's ``(F, W')``.

    Returns
    -------
    tokens : LongTensor of shape (n_samples, N) or ``(n_samples, *token_shape)``
        Code ids in ``[0, n_codes)``, never ``mask_id``.

    Examples
    --------
    >>> import torch
    >>> from sslts.encoders.maskgit import IndexPrior
    >>> prior = IndexPrior(4, 6, n_classes=2, hidden_dim=16, n_layers=1, n_heads=1, dim_head=8)
    >>> g = torch.Generator().manual_seed(0)
    >>> iterative_decode(prior, 3, class_ids=1, n_steps=4, generator=g,
    ...                  token_shape=(2, 3)).shape
    torch.Size([3, 2, 3])
    """
    device = next(prior.parameters()).device
    classes = _class_vector(prior, n_samples, class_ids, device)
    schedule = decoding_schedule(prior.n_tokens, n_steps)
    tokens = torch.full((n_samples, prior.n_tokens), prior.mask_id, device=device)
    was_training = prior.training
    prior.eval()
    try:
        for step, n_masked in enumerate(schedule):
            tokens = _decode_step(prior, tokens, classes, n_masked, step, n_steps,
                                  choice_temperature, token_temperature, guidance_scale,
                                  generator)
    finally:
        prior.train(was_training)
    return tokens if token_shape is None else tokens.reshape(n_samples, *token_shape)


def _decode_step(prior, tokens, classes, n_masked, step, n_steps, choice_temperature,
                 token_temperature, guidance_scale, generator):
    """One round: fill every unknown token, re-mask the ``n_masked`` least confident."""
    unknown = tokens == prior.mask_id  # (B, N)
    logits = _guided_logits(prior, tokens, classes, guidance_scale).float()
    drawn = sample_categorical(logits, token_temperature, generator=generator)
    drawn = torch.where(unknown, drawn, tokens)
    prob = logits.softmax(dim=-1).gather(-1, drawn.unsqueeze(-1)).squeeze(-1)
    tau = choice_temperature * (1.0 - (step + 1) / n_steps)
    noise = gumbel_noise(prob.shape, generator=generator, device=prob.device)
    confidence = torch.log(prob + _CONFIDENCE_EPS) + tau * noise
    confidence = confidence.masked_fill(~unknown, torch.inf)  # fixed tokens stay
    remask = confidence.topk(n_masked, dim=1, largest=False).indices  # (B, n_masked)
    return drawn.scatter(1, remask, prior.mask_id)
