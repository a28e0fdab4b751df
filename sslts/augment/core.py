"""Building blocks shared by the augmentations of :mod:`sslts.augment`.

The ``(B, T, C)`` input check that every augmentation runs first, random draws in the
input's dtype and on its device from an explicit generator, the argument check of the
window fractions, and the cubic splines behind :func:`magnitude_warp` and
:func:`time_warp`; also :func:`apply_with_probability`, which applies any of the
augmentations to a random subset of a batch.  Only :func:`cubic_spline_basis` and
:func:`apply_with_probability` are part of the user API (re-exported by
:mod:`sslts.augment`); the other functions serve the augmentation modules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

__all__ = ["apply_with_probability", "cubic_spline_basis"]

_Fn = TypeVar("_Fn", bound=Callable[..., torch.Tensor])


def batch_input(fn: _Fn) -> _Fn:
    """Decorator: reject ``x`` unless it is a (B, T, C) tensor with no empty axis.

    The check runs before ``fn``, and its messages name ``fn``.

    Parameters
    ----------
    fn : callable
        An augmentation whose first argument is the batch ``x``.

    Returns
    -------
    callable
        ``fn`` behind the check (same name and docstring); raises ``TypeError`` when
        ``x`` is not a tensor and ``ValueError`` when its shape is not (B, T, C) with
        B, T, C >= 1.

    Examples
    --------
    >>> import torch
    >>> from sslts.augment.core import batch_input
    >>> @batch_input
    ... def identity(x):
    ...     return x
    >>> identity(torch.zeros(2, 5))
    Traceback (most recent call last):
    ...
    ValueError: identity: x must have shape (batch, time, channels) with no empty axis, got (2, 5).
    """

    @functools.wraps(fn)
    def checked(x, *args, **kwargs):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{fn.__name__}: x must be a torch.Tensor, got {type(x).__name__}.")
        if x.ndim != 3 or 0 in x.shape:
            raise ValueError(
                f"{fn.__name__}: x must have shape (batch, time, channels) with no empty "
                f"axis, got {tuple(x.shape)}."
            )
        return fn(x, *args, **kwargs)

    return checked


# --------------------------------------------------------------- random draws
def draw(
    shape: int | tuple[int, ...],
    generator: torch.Generator,
    x: torch.Tensor,
    *,
    normal: bool = False,
) -> torch.Tensor:
    """Random draws in ``x``'s dtype on ``x``'s device.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the draws.
    generator : torch.Generator
        Generator on ``x.device``.
    x : Tensor
        Gives the dtype and device.
    normal : bool, default=False
        Standard normal draws instead of uniform ones on [0, 1).

    Returns
    -------
    Tensor of ``shape``

    Examples
    --------
    >>> import torch
    >>> from sslts.augment.core import draw
    >>> x = torch.zeros(1, dtype=torch.float64)
    >>> u = draw((2, 3), torch.Generator().manual_seed(0), x)
    >>> u.shape, u.dtype, bool(((u >= 0) & (u < 1)).all())
    (torch.Size([2, 3]), torch.float64, True)
    """
    sample = torch.randn if normal else torch.rand
    return sample(shape, generator=generator, device=x.device, dtype=x.dtype)


def randint(
    high: int | torch.Tensor, size: int, generator: torch.Generator, device: torch.device | str
) -> torch.Tensor:
    """Integers uniform in ``[0, high)``; ``high`` may be a tensor of per-row bounds.

    Drawn as ``floor(u * high)`` from one float64 uniform ``u`` per entry, so a
    tensor ``high`` costs no host sync.

    Parameters
    ----------
    high : int or Tensor of shape (size,)
        Exclusive upper bound(s), at least 1.
    size : int
        Number of integers.
    generator : torch.Generator
        Generator on ``device``.
    device : torch.device or str

    Returns
    -------
    LongTensor of shape (size,)

    Examples
    --------
    >>> import torch
    >>> from sslts.augment.core import randint
    >>> k = randint(torch.tensor([1, 5, 100]), 3, torch.Generator().manual_seed(0), "cpu")
    >>> bool((k < torch.tensor([1, 5, 100])).all()), int(k[0])
    (True, 0)
    """
    u = torch.rand(size, generator=generator, device=device, dtype=torch.float64)
    return (u * high).long()


def check_fraction(name: str, value: float, *, allow_one: bool = False) -> None:
    """Raise ``ValueError`` unless ``0 < value < 1`` (or ``value == 1`` when allowed).

    Parameters
    ----------
    name : str
        Name of the argument, for the message.
    value : float
        The fraction to check.
    allow_one : bool, default=False
        Accept ``value == 1`` too.

    Examples
    --------
    >>> from sslts.augment.core import check_fraction
    >>> check_fraction("ratio", 0.3)
    >>> check_fraction("ratio", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: ratio must be in (0, 1), got 1.5.
    """
    if not (0 < value < 1 or (allow_one and value == 1)):
        raise ValueError(f"{name} must be in (0, 1{']' if allow_one else ')'}, got {value}.")


# --------------------------------------------------------------------- splines
def cubic_spline_basis(knots: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Matrix that evaluates the not-a-knot cubic spline through ``knots`` at ``t``.

    A cubic spline is linear in its knot values, so ``basis @ values`` equals
    ``scipy.interpolate.CubicSpline(knots, values)(t)`` (SciPy's default boundary
    condition).  With the knot positions shared by a batch, one small matrix product
    evaluates every series' spline at once.

    Parameters
    ----------
    knots : ndarray of shape (n_knots,)
        Strictly increasing knot positions; at least 4.
    t : ndarray of shape (n_points,)
        Evaluation points inside ``[knots[0], knots[-1]]``.

    Returns
    -------
    basis : ndarray of shape (n_points, n_knots), float64
    """
    n = len(knots)
    if n < 4:
        raise ValueError(f"A not-a-knot cubic spline needs at least 4 knots, got {n}.")
    h = np.diff(knots)
    # Second derivatives M solve A M = R y (continuity of the first derivative at the
    # interior knots, continuity of the third derivative at knots 1 and n-2).
    A, R = np.zeros((n, n)), np.zeros((n, n))
    for i in range(1, n - 1):
        A[i, i - 1 : i + 2] = h[i - 1], 2 * (h[i - 1] + h[i]), h[i]
        R[i, i - 1 : i + 2] = 6 / h[i - 1], -6 / h[i - 1] - 6 / h[i], 6 / h[i]
    A[0, :3] = h[1], -(h[0] + h[1]), h[0]
    A[-1, -3:] = h[-1], -(h[-2] + h[-1]), h[-2]
    second = np.linalg.solve(A, R)  # (n, n): knot values -> second derivatives
    j = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, n - 2)
    a = (knots[j + 1] - t) / h[j]
    b = 1 - a
    rows = np.arange(len(t))
    values = np.zeros((len(t), n))
    curv = np.zeros((len(t), n))
    values[rows, j], values[rows, j + 1] = a, b
    curv[rows, j], curv[rows, j + 1] = (a**3 - a) * h[j] ** 2 / 6, (b**3 - b) * h[j] ** 2 / 6
    return values + curv @ second


def spline_curves(x: torch.Tensor, knot_values: torch.Tensor) -> torch.Tensor:
    """Evaluate splines through equally spaced knots at every timestamp of ``x``.

    The not-a-knot cubic splines (:func:`cubic_spline_basis`) have their knots
    equally spaced over ``[0, T - 1]``; one matrix product evaluates all of them.

    Parameters
    ----------
    x : Tensor of shape (B, T, C)
        Gives ``T``, the dtype and the device.
    knot_values : Tensor of shape (B, n_knots, K)
        Values of ``B * K`` splines at their ``n_knots`` knots (at least 4).

    Returns
    -------
    Tensor of shape (B, T, K)

    Examples
    --------
    >>> import torch
    >>> from sslts.augment.core import spline_curves
    >>> x = torch.zeros(1, 9, 1)
    >>> knots = torch.ones(1, 4, 2)  # two constant splines
    >>> torch.allclose(spline_curves(x, knots), torch.ones(1, 9, 2))
    True
    """
    T, n = x.shape[1], knot_values.shape[1]
    basis = cubic_spline_basis(np.linspace(0, T - 1, n), np.arange(T, dtype=np.float64))
    basis = torch.from_numpy(basis).to(device=x.device, dtype=x.dtype)
    return torch.einsum("tn,bnk->btk", basis, knot_values)


# ------------------------------------------------------------------ combinator
def apply_with_probability(
    transform, x: torch.Tensor, p: float, *, generator: torch.Generator, **kwargs
) -> torch.Tensor:
    """Apply ``transform`` to each series independently with probability ``p``.

    Only the chosen series are transformed (cheaper than transforming the whole
    batch when ``p`` is small; on a GPU, counting them costs one host sync).

    Parameters
    ----------
    transform : callable
        One of the augmentations of :mod:`sslts.augment` (``transform(x, generator=...,
        **kwargs)``).
    x : Tensor of shape (B, T, C)
    p : float
        Probability of applying it to a series.
    generator : torch.Generator
    **kwargs
        Passed to ``transform``.

    Returns
    -------
    Tensor of shape (B, T, C)
        A new tensor; ``x`` is not modified.
    """
    chosen = (draw(x.shape[0], generator, x) < p).nonzero().squeeze(1)
    out = x.clone()
    if len(chosen):
        out[chosen] = transform(x[chosen], generator=generator, **kwargs)
    return out
