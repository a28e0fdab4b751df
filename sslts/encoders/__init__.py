"""Encoder networks (``torch.nn.Module``) used by the sslts methods."""

from .dilated_conv import DilatedConvEncoder, SamePadConv, TS2VecEncoder

__all__ = ["DilatedConvEncoder", "SamePadConv", "TS2VecEncoder"]
