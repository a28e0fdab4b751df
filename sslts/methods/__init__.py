"""One module per self-supervised method."""

from .iars import IARSTransformer
from .selftime import SelfTimeTransformer
from .timedrl import TimeDRLTransformer
from .ts2vec import TS2VecTransformer

__all__ = ["IARSTransformer", "SelfTimeTransformer", "TS2VecTransformer", "TimeDRLTransformer"]
