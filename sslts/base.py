"""The base classes every sslts estimator shares.

:class:`BaseSSLEstimator` owns the scikit-learn contract (parameters, validation,
fitted state, pickling, ``save``/``load``) and runs the training loop
(:mod:`sslts._loop`: device, seeding, batching, hooks, callbacks, loss history,
divergence and interruption handling, weight averaging, data parallelism).
:class:`BaseSSLTransformer` adds the embeddings: ``transform`` and ``encode``.  A
method subclass writes what its paper's method section describes, on public hooks:

- ``build_module(n_channels)``: everything that is trained (encoder and heads);
- ``training_step(module, batch, ctx)``: the views and the loss of one batch;
- ``embed(module, batch, level)``: embeddings of a batch at a given level;
- optionally ``configure_optimizer``, ``configure_scheduler``, ``default_budget``,
  ``prepare_training_data``, ``min_length`` (with ``min_length_source``),
  ``embedding_dims``, the class attributes ``valid_levels``, ``average_weights``,
  ``memory_params``, ``min_batch_size`` and ``parameter_constraints``, and the loop
  hooks ``on_fit_start``, ``on_epoch_start``, ``on_before_optimizer_step``,
  ``on_step_end``, ``on_epoch_end``, ``on_fit_end``.

``docs/new_method.md`` walks through a complete method written on these hooks.
"""

from __future__ import annotations

import torch
from sklearn.base import TransformerMixin

from ._conventions import SHARED_PARAMETERS, complete_docstring, store_init_arguments
from ._estimator import BaseSSLEstimator
from ._inference import InferenceMixin
from ._persistence import load
from .callbacks import Checkpoint

__all__ = ["BaseSSLEstimator", "BaseSSLTransformer", "Checkpoint", "load",
           "store_init_arguments"]


class BaseSSLTransformer(InferenceMixin, TransformerMixin, BaseSSLEstimator, abstract=True):
    """Base class of the self-supervised time-series transformers.

    :class:`BaseSSLEstimator` with embeddings: ``transform`` and ``encode`` return
    instance-level (one vector per series) or timestamp-level embeddings, computed by
    the ``embed`` hook.  Not meant to be instantiated: use one of the method classes
    (e.g. :class:`sslts.TS2VecTransformer`) or write your own on its hooks
    (``docs/new_method.md``).

    Parameters
    ----------
    [shared parameters]

    Attributes
    ----------
    averaged_module_ : torch.nn.Module or None
        Running average of the iterates (parameters and buffers), the network
        ``transform`` uses, for methods with ``average_weights = True``.
    [shared attributes]
    """

    required_parameters = tuple(SHARED_PARAMETERS)
    #: The values ``level`` may take.
    valid_levels: tuple[str, ...] = ("instance", "timestamp")

    def embed(self, module: torch.nn.Module, batch: torch.Tensor, level: str) -> torch.Tensor:
        """Embeddings of one batch (required); ``transform`` runs it in eval mode, no grad.

        Parameters
        ----------
        module : torch.nn.Module
            The network ``transform`` uses (the running average for methods with
            ``average_weights = True``).
        batch : torch.Tensor of shape (batch_size, n_timestamps, n_channels)
            float32 on the model's device; NaN marks missing values.
        level : str
            One of ``valid_levels``.

        Returns
        -------
        torch.Tensor
            ``(batch_size, embedding_dims("instance"))`` for ``"instance"``,
            ``(batch_size, n_timestamps, embedding_dims("timestamp"))`` for
            ``"timestamp"``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement embed.")

    def embedding_dims(self, level: str) -> int:
        """Size of the last axis of the embeddings at ``level`` (``output_dims``).

        Parameters
        ----------
        level : str

        Returns
        -------
        int
        """
        return self.output_dims

    def transform(self, X):
        """Embed series with the trained encoder.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
            Series to embed (in the layout seen in ``fit``); the channel count must
            match ``fit``.

        Returns
        -------
        X_new : ndarray of shape (n_series, n_features_out) for ``level="instance"`` \
                or (n_series, n_timestamps, n_features_out) for ``level="timestamp"``
            float32 embeddings; a pandas DataFrame after ``set_output(transform="pandas")``
            (instance level).  At the timestamp level, the steps after the end of a
            shorter series (its NaN padding) are NaN.
        """
        return self.encode(X)

    def _check_level(self, level=None):
        level = self.level if level is None else level
        if level not in self.valid_levels:
            raise ValueError(
                f"level={level!r} is not supported by {type(self).__name__}; "
                f"choose one of {tuple(self.valid_levels)}."
            )

    def _check_fit_parameters(self) -> None:
        self._check_level()

    def _record_network(self) -> None:
        self.n_features_out_ = self.embedding_dims("instance")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


complete_docstring(BaseSSLTransformer)
