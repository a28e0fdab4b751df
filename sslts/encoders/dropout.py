"""Dropout that draws from the fit's own generator, with a CPU mask a tenth as costly.

Every dropout layer of the sslts encoders is :class:`FastDropout`.  It draws its mask
from the generator that :func:`dropout_generator` makes current (the training loop
passes its per-fit generator), so that a seeded fit never touches torch's global
random state and fits running in parallel threads stay reproducible; outside such a
block it draws from torch's default generator, like ``torch.nn.Dropout``.


On the CPU, ``torch.nn.functional.dropout`` draws its mask with ``bernoulli_``, one
generator call per element: ~15 ns per element on the benchmark machine, a sixth of
TimeDRL's training step (``benchmarks/NOTES.md`` in the source repository).
:class:`FastDropout` draws one 64-bit random word per four elements and keeps an element
when the low 15 bits of its 16-bit lane are at least ``round(p * 2**15)``.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FastDropout", "dropout_generator", "fast_dropout"]

# Per thread (and per asyncio task): concurrent fits each see their own generator.
_GENERATOR: ContextVar[torch.Generator | None] = ContextVar("sslts_dropout", default=None)


@contextlib.contextmanager
def dropout_generator(generator: torch.Generator | None):
    """Make every :class:`FastDropout` in this thread draw from ``generator``.

    Parameters
    ----------
    generator : torch.Generator or None
        On the device of the tensors dropped out; None restores torch's default
        generator.

    Examples
    --------
    >>> x = torch.ones(8)
    >>> with dropout_generator(torch.Generator().manual_seed(0)):
    ...     a = fast_dropout(x, 0.5)
    >>> with dropout_generator(torch.Generator().manual_seed(0)):
    ...     b = fast_dropout(x, 0.5)
    >>> torch.equal(a, b)
    True
    """
    token = _GENERATOR.set(generator)
    try:
        yield
    finally:
        _GENERATOR.reset(token)

_LANE_BITS = 15  # of each 16-bit lane: int64 random_() leaves the top bit of a word 0


class FastDropout(nn.Module):
    """``torch.nn.Dropout`` with a cheaper mask on the CPU.

    In training mode each element is zeroed with probability ``p`` (quantised to a
    multiple of ``2**-15``: 0.1 becomes 0.100006) and the others are scaled by
    ``1 / (1 - p)``; elements are independent.  The mask comes from the generator of
    :func:`dropout_generator` (else torch's default one), and its stream differs
    from ``nn.Dropout``'s.  In eval mode it is the identity.

    Parameters
    ----------
    p : float, default=0.5
        Probability of zeroing an element, in [0, 1].

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> drop = FastDropout(0.25)
    >>> x = torch.ones(100_000)
    >>> y = drop(x)
    >>> round(float((y == 0).float().mean()), 2), float(y.max())
    (0.25, 1.3333333730697632)
    >>> torch.equal(drop.eval()(x), x)
    True
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check_probability(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Any shape; returns the same shape."""
        return fast_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Functional form of :class:`FastDropout`.

    Parameters
    ----------
    x : Tensor of any shape
    p : float in [0, 1]
        Probability of zeroing an element.
    training : bool, default=True
        False returns ``x`` unchanged.

    Returns
    -------
    Tensor of the shape of ``x``

    Examples
    --------
    >>> import torch
    >>> fast_dropout(torch.ones(4), 0.5, training=False)
    tensor([1., 1., 1., 1.])
    """
    if not training or _check_probability(p) == 0.0:
        return x
    generator = _GENERATOR.get()
    levels = 2**_LANE_BITS
    threshold = round(p * levels)
    if threshold >= levels:
        return torch.zeros_like(x)
    if x.device.type != "cpu":  # Bernoulli sampling is fast there, but takes no generator
        if generator is None:
            return F.dropout(x, p, training=True)
        keep = torch.rand(x.shape, device=x.device, generator=generator) >= p
        return x * keep.to(x.dtype) / (1 - p)
    n = x.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(
        generator=generator)
    keep = words.view(torch.int16)[:n].bitwise_and_(levels - 1) >= threshold
    # Scaled by the quantised keep rate, so that E[output] = input exactly.
    return x * keep.view(x.shape).to(x.dtype).mul_(levels / (levels - threshold))


def _check_probability(p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be a number in [0, 1], got {p!r}.")
    return float(p)
