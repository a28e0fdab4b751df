"""One module per self-supervised method."""

from .iars import IARSTransformer
from .ncvqvae import NCVQVAETransformer
from .selftime import SelfTimeTransformer
from .softclt import SoftCLTTransformer
from .timedrl import TimeDRLTransformer
from .ts2vec import TS2VecTransformer
from .two_view import BarlowTwinsTransformer, InfoNCETransformer, VIbCRegTransformer

__all__ = [
    "BarlowTwinsTransformer",
    "IARSTransformer",
    "InfoNCETransformer",
    "NCVQVAETransformer",
    "SelfTimeTransformer",
    "SoftCLTTransformer",
    "TS2VecTransformer",
    "TimeDRLTransformer",
    "VIbCRegTransformer",
]
