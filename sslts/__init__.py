"""sslts: self-supervised time-series representations as scikit-learn transformers."""

from . import callbacks
from ._context import TrainContext
from ._registry import all_estimators
from ._version import __version__
from .anomaly_detector import EmbeddingAnomalyDetector
from .base import BaseSSLTransformer, load
from .callbacks import Callback, Checkpoint, EarlyStopping
from .channel_independent import ChannelIndependent
from .datasets import list_datasets, load_dataset
from .exceptions import TrainingDivergedError
from .forecaster import EmbeddingForecaster
from .generator import NCVQVAEGenerator
from .methods import (
    BarlowTwinsTransformer,
    IARSTransformer,
    InfoNCETransformer,
    NCVQVAETransformer,
    SelfTimeTransformer,
    SoftCLTTransformer,
    TimeDRLTransformer,
    TS2VecTransformer,
    VIbCRegTransformer,
)
from .utils.series import LayoutWarning

__all__ = [
    "BarlowTwinsTransformer",
    "BaseSSLTransformer",
    "Callback",
    "ChannelIndependent",
    "Checkpoint",
    "EarlyStopping",
    "EmbeddingAnomalyDetector",
    "EmbeddingForecaster",
    "IARSTransformer",
    "InfoNCETransformer",
    "LayoutWarning",
    "NCVQVAEGenerator",
    "NCVQVAETransformer",
    "SelfTimeTransformer",
    "SoftCLTTransformer",
    "TS2VecTransformer",
    "TimeDRLTransformer",
    "VIbCRegTransformer",
    "TrainContext",
    "TrainingDivergedError",
    "callbacks",
    "list_datasets",
    "load",
    "load_dataset",
    "__version__",
    "all_estimators",
]
