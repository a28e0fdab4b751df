"""Loss functions used by the sslts methods (pure functions on tensors)."""

from .contrastive import (
    hierarchical_contrastive_loss,
    instance_contrastive_loss,
    level_losses,
    single_level_loss,
    temporal_contrastive_loss,
)
from .relation import (
    RelationHead,
    inter_sample_pair_indices,
    inter_sample_relation_loss,
    intra_temporal_relation_loss,
    temporal_distance_class,
)
from .simsiam import masked_mse, negative_cosine, simsiam_loss
from .soft_contrastive import (
    soft_hierarchical_contrastive_loss,
    soft_instance_contrastive_loss,
    soft_instance_weights,
    soft_temporal_contrastive_loss,
    soft_temporal_weights,
)
from .two_view import (
    barlow_twins_loss,
    cross_correlation,
    info_nce_loss,
    invariance_loss,
    normalised_covariance_loss,
    variance_loss,
    vibcreg_loss,
)

__all__ = [
    "hierarchical_contrastive_loss",
    "instance_contrastive_loss",
    "level_losses",
    "single_level_loss",
    "temporal_contrastive_loss",
    "RelationHead",
    "inter_sample_pair_indices",
    "inter_sample_relation_loss",
    "intra_temporal_relation_loss",
    "temporal_distance_class",
    "masked_mse",
    "negative_cosine",
    "simsiam_loss",
    "soft_hierarchical_contrastive_loss",
    "soft_instance_contrastive_loss",
    "soft_instance_weights",
    "soft_temporal_contrastive_loss",
    "soft_temporal_weights",
    "barlow_twins_loss",
    "cross_correlation",
    "info_nce_loss",
    "invariance_loss",
    "normalised_covariance_loss",
    "variance_loss",
    "vibcreg_loss",
]
