"""One module per self-supervised method."""

from .ts2vec import TS2VecTransformer

__all__ = ["TS2VecTransformer"]
