"""Encoders chosen by name or supplied by the user, and how their outputs are pooled.

A *backbone* maps a batch of series ``(B, T, C)`` (NaN = missing) either to one
vector per timestamp ``(B, T, D)`` or to one vector per series ``(B, D)``.  The
named backbones are:

========================  =====================================  ==================
name                      network                                output
========================  =====================================  ==================
``"lstm"``                :class:`~sslts.encoders.LSTMEncoder`    (B, T, 128)
``"resnet"``              :class:`~sslts.encoders.VIbCRegResNet`  (B, 512), pooled
``"dilated_conv"``        :class:`~sslts.encoders.TS2VecEncoder`  (B, T, 320)
========================  =====================================  ==================

A callable ``factory(n_channels) -> torch.nn.Module`` stands for any other network;
its output shape is discovered from its first batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from .dilated_conv import TS2VecEncoder
from .lstm import LSTMEncoder
from .vibcreg_resnet import VIbCRegResNet

__all__ = ["BACKBONES", "make_backbone", "backbone_keeps_time", "pool_observed"]

#: Named backbones: name -> (class, whether its output keeps the time axis).
BACKBONES: dict[str, tuple[type[nn.Module], bool]] = {
    "lstm": (LSTMEncoder, True),
    "resnet": (VIbCRegResNet, False),
    "dilated_conv": (TS2VecEncoder, True),
}


def _check_name(name: str) -> None:
    if name not in BACKBONES:
        raise ValueError(
            f"encoder={name!r} is not a known backbone; choose one of {sorted(BACKBONES)} or "
            "pass a callable factory(n_channels) returning a torch.nn.Module."
        )


def make_backbone(
    encoder: str | Callable[[int], nn.Module], n_channels: int, params: dict | None = None
) -> nn.Module:
    """Build the backbone named ``encoder`` (or call the user's factory).

    Parameters
    ----------
    encoder : {"lstm", "resnet", "dilated_conv"} or callable
        A backbone name, or ``factory(n_channels) -> torch.nn.Module``.
    n_channels : int
        Input channels ``C``.
    params : dict, default=None
        Keyword arguments of the named backbone's class (e.g.
        ``{"hidden_dims": 64}`` for ``"lstm"``); not allowed with a factory.

    Returns
    -------
    torch.nn.Module
        Maps (B, T, C) to (B, T', D) or (B, D).

    Examples
    --------
    >>> import torch
    >>> lstm = make_backbone("lstm", 1, {"output_dims": 8, "hidden_dims": 8})
    >>> lstm(torch.randn(2, 30, 1)).shape
    torch.Size([2, 30, 8])
    >>> make_backbone(lambda c: torch.nn.Linear(c, 4), 3)(torch.randn(2, 5, 3)).shape
    torch.Size([2, 5, 4])
    """
    params = dict(params or {})
    if callable(encoder) and not isinstance(encoder, str):
        if params:
            raise ValueError(
                "encoder_params only configures the named backbones; pass a factory that "
                "builds the network you want instead."
            )
        module = encoder(n_channels)
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"encoder factory must return a torch.nn.Module, got {type(module).__name__}."
            )
        return module
    _check_name(encoder)
    cls = BACKBONES[encoder][0]
    accepted = [p for p in inspect.signature(cls).parameters if p != "input_dims"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"encoder_params {unknown} are not parameters of encoder={encoder!r} "
            f"({cls.__name__}); it accepts {accepted}."
        )
    return cls(n_channels, **params)


def backbone_keeps_time(encoder: str | Callable) -> bool | None:
    """Whether the backbone gives one vector per timestamp; None for a factory (unknown).

    Parameters
    ----------
    encoder : str or callable
        As in :func:`make_backbone`.

    Returns
    -------
    bool or None

    Examples
    --------
    >>> backbone_keeps_time("lstm"), backbone_keeps_time("resnet")
    (True, False)
    """
    if callable(encoder) and not isinstance(encoder, str):
        return None
    _check_name(encoder)
    return BACKBONES[encoder][1]


def pool_observed(h: torch.Tensor, observed: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """One vector per series from a backbone output, over its observed timestamps.

    Parameters
    ----------
    h : Tensor of shape (B, D), (B, T, D) or (B, T', D)
        Backbone output.  A (B, D) output is already pooled and returned as is.
    observed : bool Tensor of shape (B, T)
        Timestamps with no missing channel.  Used only when ``T' == T``; otherwise
        (a backbone that resamples time) every output step counts.
    how : {"mean", "max"}, default="mean"
        Pooling over time.

    Returns
    -------
    Tensor of shape (B, D)

    Examples
    --------
    >>> import torch
    >>> h = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> pool_observed(h, torch.tensor([[True, True, False]]))
    tensor([[2.]])
    """
    if h.ndim == 2:
        return h
    if h.shape[1] != observed.shape[1]:
        observed = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
    # A series without a fully observed timestamp (NaN spread over its channels)
    # pools over every step rather than over none.
    keep = (observed | ~observed.any(dim=1, keepdim=True))[:, :, None]
    if how == "max":
        return h.masked_fill(~keep, -torch.inf).amax(dim=1)
    weight = keep.to(h.dtype)
    return (h * weight).sum(dim=1) / weight.sum(dim=1)
