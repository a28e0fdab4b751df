"""sslts: self-supervised time-series representations as scikit-learn transformers."""

from .base import BaseSSLTransformer, Checkpoint, load
from .datasets import list_datasets, load_dataset
from .exceptions import TrainingDivergedError
from .methods import (
    IARSTransformer,
    SelfTimeTransformer,
    TimeDRLTransformer,
    TS2VecTransformer,
)

__version__ = "0.1.0"

__all__ = [
    "BaseSSLTransformer",
    "Checkpoint",
    "IARSTransformer",
    "SelfTimeTransformer",
    "TS2VecTransformer",
    "TimeDRLTransformer",
    "TrainingDivergedError",
    "list_datasets",
    "load",
    "load_dataset",
    "__version__",
]
