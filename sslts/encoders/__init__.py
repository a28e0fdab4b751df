"""Encoder networks (``torch.nn.Module``) used by the sslts methods."""

from .backbones import BACKBONES, backbone_keeps_time, make_backbone, pool_observed
from .dilated_conv import DilatedConvEncoder, SamePadConv, TS2VecEncoder
from .dropout import FastDropout, fast_dropout
from .iternorm import IterNorm
from .lstm import LSTMEncoder
from .resnet import ResNet18Encoder
from .simconv import SimConv4
from .transformer import PatchTransformerEncoder, PostLNTransformerLayer
from .vibcreg_resnet import ResidualBlock1d, VIbCRegResNet

__all__ = [
    "BACKBONES",
    "DilatedConvEncoder",
    "FastDropout",
    "IterNorm",
    "LSTMEncoder",
    "PatchTransformerEncoder",
    "PostLNTransformerLayer",
    "ResNet18Encoder",
    "ResidualBlock1d",
    "SamePadConv",
    "SimConv4",
    "TS2VecEncoder",
    "VIbCRegResNet",
    "backbone_keeps_time",
    "fast_dropout",
    "make_backbone",
    "pool_observed",
]
