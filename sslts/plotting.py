"""Plots of embeddings, training and forecasts (needs the optional matplotlib extra).

Install with ``pip install sslts[plot]``.  Every function draws into ``ax`` when given,
else into a new figure, and returns the axes it drew on.
"""

from __future__ import annotations

import numpy as np
from sklearn.manifold import TSNE
from sklearn.utils.validation import check_is_fitted

__all__ = ["plot_embedding_tsne", "plot_forecast", "plot_loss_history", "plot_resolutions"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "sslts.plotting needs matplotlib: pip install 'sslts[plot]' (or matplotlib)."
        ) from exc
    return plt


def _axes(ax):
    return _pyplot().subplots(figsize=(6, 4))[1] if ax is None else ax


def plot_embedding_tsne(embeddings, y, *, ax=None, perplexity: float = 30.0, random_state=0):
    """t-SNE map of instance embeddings coloured by class (as in the IARS and SelfTime papers).

    Parameters
    ----------
    embeddings : array-like of shape (n_series, n_features)
        Instance embeddings, e.g. ``encoder.transform(X)``.
    y : array-like of shape (n_series,)
        Class labels used for the colours.
    ax : matplotlib Axes, default=None
        Where to draw.
    perplexity : float, default=30.0
        t-SNE perplexity (capped below the number of series).
    random_state : int, default=0
        Seed of the t-SNE initialisation.

    Returns
    -------
    ax : matplotlib Axes
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(y)
    perplexity = min(perplexity, max(1.0, (len(embeddings) - 1) / 3))
    points = TSNE(perplexity=perplexity, random_state=random_state).fit_transform(embeddings)
    ax = _axes(ax)
    for label in np.unique(y):
        sel = y == label
        ax.scatter(points[sel, 0], points[sel, 1], s=10, label=str(label))
    ax.legend(title="class", fontsize="small", markerscale=2)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("t-SNE of instance embeddings")
    return ax


def plot_loss_history(estimator, *, ax=None, log: bool = False):
    """Training-loss curve from ``loss_history_`` (one point per epoch).

    Parameters
    ----------
    estimator : fitted sslts estimator
    ax : matplotlib Axes, default=None
        Where to draw.
    log : bool, default=False
        Logarithmic loss axis.

    Returns
    -------
    ax : matplotlib Axes
    """
    check_is_fitted(estimator, "loss_history_")
    history = np.asarray(estimator.loss_history_)
    ax = _axes(ax)
    ax.plot(np.arange(1, len(history) + 1), history, marker="." if len(history) < 50 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    if log:
        ax.set_yscale("log")
    ax.set_title(type(estimator).__name__)
    return ax


def plot_forecast(y_true, y_pred, *, history=None, ax=None, channel: int = 0):
    """A forecast against the truth, optionally after the observed history.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (horizon,) or (horizon, n_channels)
        True and predicted future values.
    history : array-like of shape (n_past,) or (n_past, n_channels), default=None
        Observed values before the forecast start, drawn in grey.
    ax : matplotlib Axes, default=None
        Where to draw.
    channel : int, default=0
        Channel drawn when the inputs are 2-D.

    Returns
    -------
    ax : matplotlib Axes
    """
    def pick(a):
        a = np.asarray(a, dtype=np.float64)
        return a[:, channel] if a.ndim == 2 else a

    y_true, y_pred = pick(y_true), pick(y_pred)
    ax = _axes(ax)
    start = 0
    if history is not None:
        past = pick(history)
        start = len(past)
        ax.plot(np.arange(start), past, color="0.6", label="history")
    steps = np.arange(start, start + len(y_true))
    ax.plot(steps, y_true, label="truth")
    ax.plot(steps, y_pred, linestyle="--", label="forecast")
    ax.axvline(start - 0.5, color="0.8", linewidth=1)
    ax.set_xlabel("time step")
    ax.legend(fontsize="small")
    return ax


def plot_resolutions(estimator, axes=None):
    """IARS's sampled resolution and per-level losses over training.

    A thin wrapper around :meth:`sslts.IARSTransformer.plot_resolutions`.

    Parameters
    ----------
    estimator : fitted IARSTransformer
    axes : sequence of two matplotlib Axes, default=None

    Returns
    -------
    axes : sequence of two matplotlib Axes
    """
    if not hasattr(estimator, "plot_resolutions"):
        raise TypeError(
            f"{type(estimator).__name__} records no resolution history; only "
            "IARSTransformer does."
        )
    return estimator.plot_resolutions(axes=axes)
