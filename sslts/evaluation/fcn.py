"""The supervised FCN that scores generated series (Wang et al., 2017).

TimeVQVAE and NC-VQVAE compute IS, FID and CAS with a fully convolutional network
trained per dataset (the ``supervised-FCN`` package): three blocks of ``Conv1d``
with TensorFlow's "same" padding, batch norm and ReLU (128, 256 and 128 filters of
widths 8, 5 and 3), global average pooling over time to a 128-d feature, and a
linear classifier.  Its training recipe is AdamW (learning rate 1e-3, weight decay
1e-5), batch 256, 1000 epochs, a cosine learning rate stepped per batch over
``n_epochs * (ceil(n / batch_size) + 1)`` steps (so it never reaches 0), and the
last epoch's weights.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from torch import nn

from ..utils.devices import resolve_device, seeded_torch
from ..utils.validation import check_time_series

__all__ = ["FCNNetwork", "FCNClassifier", "draw_seed"]

_INFERENCE_BATCH = 512


class _SameConvBlock(nn.Module):
    """Conv1d with TensorFlow "same" padding (odd padding: the extra zero on the right),
    BatchNorm1d, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size - 1 - (kernel_size - 1) // 2)
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)
        self.norm = nn.BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(F.pad(x, self.pad))))


class FCNNetwork(nn.Module):
    """Fully convolutional classifier: conv blocks, global average pooling, linear head.

    Parameters
    ----------
    n_channels : int
    n_classes : int
    n_filters : sequence of int, default=(128, 256, 128)
    kernel_sizes : sequence of int, default=(8, 5, 3)

    Examples
    --------
    >>> import torch
    >>> net = FCNNetwork(2, 3, n_filters=(4, 8, 4))
    >>> x = torch.zeros(5, 2, 30)                   # (B, C, T)
    >>> net(x).shape, net(x, features=True).shape
    (torch.Size([5, 3]), torch.Size([5, 4]))
    """

    def __init__(self, n_channels: int, n_classes: int, n_filters=(128, 256, 128),
                 kernel_sizes=(8, 5, 3)):
        super().__init__()
        widths = [n_channels, *n_filters]
        self.blocks = nn.Sequential(*(
            _SameConvBlock(a, b, k) for a, b, k in zip(widths[:-1], widths[1:], kernel_sizes)
        ))
        self.head = nn.Linear(widths[-1], n_classes)

    def forward(self, x: torch.Tensor, features: bool = False) -> torch.Tensor:
        """``(B, C, T)`` -> logits ``(B, n_classes)``, or the pooled features ``(B, F)``."""
        pooled = self.blocks(x).mean(dim=-1)
        return pooled if features else self.head(pooled)


def draw_seed(random_state) -> int:
    """An integer seed from ``random_state`` without touching numpy's global generator.

    Parameters
    ----------
    random_state : int, numpy Generator or RandomState, or None
        None draws fresh entropy from the operating system.

    Returns
    -------
    int in [0, 2**31 - 1)

    Examples
    --------
    >>> draw_seed(7)
    7
    """
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    if isinstance(random_state, Integral):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    raise ValueError(f"random_state={random_state!r} must be None, an int, or a numpy "
                     "Generator or RandomState.")


class FCNClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """The FCN of TimeVQVAE's and NC-VQVAE's generative metrics, as a classifier.

    ``predict_proba`` gives ``p(y | x)`` for the inception score, ``transform`` the
    globally pooled features for the Fréchet distance, and a fresh one trained on
    synthetic series gives the classification accuracy score.

    Parameters
    ----------
    n_filters : tuple of int, default=(128, 256, 128)
        Filters of the convolution blocks; the last is the feature width.
    kernel_sizes : tuple of int, default=(8, 5, 3)
        Kernel width of each block.
    n_epochs : int, default=1000
        Passes over the training set (the reference's; about 0.5 MFLOP per time step
        and series forward, so several minutes per dataset on a CPU).
    batch_size : int, default=256
        Mini-batch size; the last partial batch is kept.
    lr : float, default=1e-3
        AdamW learning rate, decayed by a cosine over ``n_epochs * (ceil(n /
        batch_size) + 1)`` steps, stepped per batch.
    weight_decay : float, default=1e-5
        AdamW weight decay.
    device : str or torch.device, default="auto"
        "auto" takes CUDA when available.
    random_state : int, numpy Generator or RandomState, or None, default=None
        Seeds the initial weights and the shuffling; None is not reproducible.
    verbose : int, default=0
        Print the mean loss of every epoch when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Length of the training series (series of other lengths are accepted too).
    n_channels_ : int
    loc_, scale_ : ndarray of shape (n_channels,)
        Per-channel mean and standard deviation of the training series; every input
        is standardised with them (NaN then becomes 0).
    module_ : FCNNetwork
        The network, in eval mode after ``fit``.
    device_ : torch.device
    loss_history_ : list of float
        Mean training loss of each epoch.
    n_iter_ : int
        Optimiser steps taken.
    eval_batch_accuracy_ : ndarray of shape (n_epochs, n_eval_batches)
        With ``fit(..., eval_set=...)``: the accuracy on each batch of the
        evaluation set (in order, eval mode) after every epoch.

    Notes
    -----
    The reference standardises with one mean and variance over the whole training
    set; per channel is the same for univariate series.  Series of any length can
    be scored (the pooling is length-agnostic).

    References
    ----------
    .. [1] Z. Wang, W. Yan and T. Oates, "Time series classification from scratch
       with deep neural networks: a strong baseline", IJCNN 2017.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(10, 20)), rng.normal(3.0, 1.0, size=(10, 20))]
    >>> y = np.repeat(["a", "b"], 10)
    >>> clf = FCNClassifier(n_filters=(8, 8, 8), n_epochs=20, batch_size=8,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape, clf.transform(X).shape
    ((20, 2), (20, 8))
    """

    _parameter_constraints: dict = {
        "n_filters": [tuple, list],
        "kernel_sizes": [tuple, list],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state", np.random.Generator],
        "verbose": ["verbose"],
    }

    def __init__(self, *, n_filters=(128, 256, 128), kernel_sizes=(8, 5, 3), n_epochs=1000,
                 batch_size=256, lr=1e-3, weight_decay=1e-5, device="auto",
                 random_state=None, verbose=0):
        self.n_filters = n_filters
        self.kernel_sizes = kernel_sizes
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, *, eval_set=None):
        """Train the network on labelled series.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels])
            Channels last; NaN marks missing values.
        y : array-like of shape (n_series,)
            At least two classes.
        eval_set : tuple (X_eval, y_eval), default=None
            Scored after every epoch (``eval_batch_accuracy_``); does not change
            the training.

        Returns
        -------
        self : FCNClassifier
        """
        self._validate_params()
        self._check_architecture()
        X = check_time_series(X, estimator=self, reset=True)
        targets = self._encode_labels(y, len(X))
        self.n_features_in_, self.n_channels_ = X.shape[1], X.shape[2]
        self.loc_, self.scale_ = _channel_moments(X)
        self.device_ = resolve_device(self.device)
        seed = draw_seed(self.random_state)
        with seeded_torch(seed, self.device_):
            self.module_ = FCNNetwork(self.n_channels_, len(self.classes_), self.n_filters,
                                      self.kernel_sizes).to(self.device_)
        evaluation = None
        if eval_set is not None:
            X_eval, y_eval = eval_set
            evaluation = (self._tensor(self._check_X(X_eval)), np.asarray(y_eval))
        self._train(self._tensor(X), torch.as_tensor(targets, device=self.device_), seed,
                    evaluation)
        self.module_.eval()
        return self

    def _check_architecture(self) -> None:
        if len(self.n_filters) != len(self.kernel_sizes) or not self.n_filters:
            raise ValueError(f"n_filters {self.n_filters} and kernel_sizes "
                             f"{self.kernel_sizes} must be non-empty and of equal length.")
        if any(int(v) < 1 for v in (*self.n_filters, *self.kernel_sizes)):
            raise ValueError("n_filters and kernel_sizes must be positive integers.")

    def _encode_labels(self, y, n_series: int) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                             "target y is None.")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1 or len(y) != n_series:
            raise ValueError(f"y must be 1-D with one label per series ({n_series}); got "
                             f"shape {y.shape}.")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes; y has 1 "
                             f"class: {self.classes_[0]!r}.")
        return encoder.transform(y)

    def _train(self, data, targets, seed, evaluation) -> None:
        """AdamW with a per-step cosine over ``n_epochs * (ceil(n / B) + 1)`` steps."""
        module, n = self.module_, len(data)
        steps_per_epoch = math.ceil(n / self.batch_size)
        optimizer = torch.optim.AdamW(module.parameters(), lr=self.lr,
                                      weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=self.n_epochs * (steps_per_epoch + 1))
        shuffle = torch.Generator().manual_seed(seed)
        self.loss_history_, self.n_iter_, accuracies = [], 0, []
        for epoch in range(self.n_epochs):
            module.train()
            order = torch.randperm(n, generator=shuffle).to(self.device_)
            total = 0.0
            for start in range(0, n, self.batch_size):
                index = order[start : start + self.batch_size]
                loss = F.cross_entropy(module(data[index]), targets[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += float(loss.detach()) * len(index)
                self.n_iter_ += 1
            self.loss_history_.append(total / n)
            if evaluation is not None:
                accuracies.append(self._batch_accuracies(*evaluation))
            if self.verbose:
                print(f"[FCNClassifier] epoch {epoch + 1}: loss {total / n:.4f}")
        if evaluation is not None:
            self.eval_batch_accuracy_ = np.asarray(accuracies)

    def _batch_accuracies(self, data, y) -> list[float]:
        """Accuracy on consecutive ``batch_size`` slices of the evaluation set."""
        predicted = self.classes_[self._forward(data, features=False).argmax(axis=1)]
        return [float(np.mean(predicted[s : s + self.batch_size] == y[s : s + self.batch_size]))
                for s in range(0, len(y), self.batch_size)]

    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self, "module_")
        return check_time_series(X, n_channels=self.n_channels_, estimator=self, reset=False)

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        """Standardised ``(n, C, T)`` float32 tensor on ``device_``; NaN -> 0."""
        scaled = np.nan_to_num((X - self.loc_) / self.scale_, nan=0.0)
        return torch.as_tensor(scaled.transpose(0, 2, 1).astype(np.float32),
                               device=self.device_)

    def _forward(self, data: torch.Tensor, features: bool) -> np.ndarray:
        was_training = self.module_.training
        self.module_.eval()
        with torch.no_grad():
            out = [self.module_(data[s : s + _INFERENCE_BATCH], features=features)
                   for s in range(0, len(data), _INFERENCE_BATCH)]
        self.module_.train(was_training)
        return torch.cat(out).double().cpu().numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the logits).

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels])

        Returns
        -------
        ndarray of shape (n_series, n_classes), float64
        """
        logits = self._forward(self._tensor(self._check_X(X)), features=False)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Most probable class of each series.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels])

        Returns
        -------
        ndarray of shape (n_series,)
        """
        logits = self._forward(self._tensor(self._check_X(X)), features=False)
        return self.classes_[logits.argmax(axis=1)]

    def transform(self, X) -> np.ndarray:
        """Globally pooled features of the last convolution block (FID's features).

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels])

        Returns
        -------
        ndarray of shape (n_series, n_filters[-1]), float64
        """
        return self._forward(self._tensor(self._check_X(X)), features=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags = TransformerTags()  # transform gives the pooled features
        return tags


def _channel_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of the observed values (float64)."""
    with np.errstate(invalid="ignore"):
        loc = np.nanmean(X.astype(np.float64), axis=(0, 1))
        scale = np.nanstd(X.astype(np.float64), axis=(0, 1))
    loc = np.nan_to_num(loc, nan=0.0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return loc, scale
