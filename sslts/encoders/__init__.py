"""Encoder networks (``torch.nn.Module``) used by the sslts methods."""

from .dilated_conv import DilatedConvEncoder, SamePadConv, TS2VecEncoder
from .resnet import ResNet18Encoder
from .simconv import SimConv4
from .transformer import PatchTransformerEncoder, PostLNTransformerLayer

__all__ = [
    "DilatedConvEncoder",
    "PatchTransformerEncoder",
    "PostLNTransformerLayer",
    "ResNet18Encoder",
    "SamePadConv",
    "SimConv4",
    "TS2VecEncoder",
]
