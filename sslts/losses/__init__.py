"""Loss functions used by the sslts methods (pure functions on tensors)."""

from .contrastive import (
    hierarchical_contrastive_loss,
    instance_contrastive_loss,
    level_losses,
    temporal_contrastive_loss,
)

__all__ = [
    "hierarchical_contrastive_loss",
    "instance_contrastive_loss",
    "level_losses",
    "temporal_contrastive_loss",
]
