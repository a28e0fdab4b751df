"""Inference for every estimator: ``transform``/``encode`` with bounded memory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from . import encoding
from ._accelerate import thread_limit
from .encoding import ENCODE_CONSTRAINTS
from .utils.devices import fallback_device
from .utils.series import mark_padding
from .utils.validation import check_finite_embeddings, check_time_series, validate_arguments

__all__ = ["InferenceMixin", "encode_in_batches", "inference_batch_size"]

# Rough number of activation floats one inference batch may hold.
_INFERENCE_BUDGET = 2**24
# Input values validated and encoded at a time by ``encode`` (16 MB of float32), so
# that its working memory (several times a block) does not grow with the number of
# series.
_ENCODE_BLOCK_VALUES = 2**22


def inference_batch_size(n_timestamps: int, width: int) -> int:
    """Series per inference batch so that ``batch * n_timestamps * width`` stays bounded.

    Parameters
    ----------
    n_timestamps : int
        Length of the (padded) series.
    width : int
        Widest activation per time step (hidden or output channels).

    Returns
    -------
    int
        Between 1 and 1024.

    Examples
    --------
    >>> inference_batch_size(100, 64)
    1024
    >>> inference_batch_size(100_000, 320)
    1
    """
    return max(1, min(1024, _INFERENCE_BUDGET // (n_timestamps * width)))


def encode_in_batches(
    embed: Callable[[torch.Tensor], torch.Tensor],
    X: np.ndarray,
    batch_size: int,
    device: torch.device,
    precision,
    *,
    name: str = "encoder",
) -> np.ndarray:
    """Run ``embed`` over ``X`` in batches, halving the batch on CUDA out-of-memory.

    Parameters
    ----------
    embed : callable
        Maps a float32 batch ``(b, T, C)`` on ``device`` to its embeddings.
    X : ndarray of shape (n_series, n_timestamps, n_channels), float32
    batch_size : int
    device : torch.device
    precision : callable
        Returns the autocast context to run ``embed`` in.
    name : str, default="encoder"
        Named in the error raised when even one series does not fit.

    Returns
    -------
    ndarray, float32
        The embeddings of all series, concatenated along the first axis.

    Examples
    --------
    >>> import contextlib
    >>> X = np.ones((5, 3, 2), dtype=np.float32)
    >>> Z = encode_in_batches(lambda b: b.sum(1), X, 2, torch.device("cpu"),
    ...                       contextlib.nullcontext)
    >>> Z.shape, float(Z[0, 0])
    ((5, 2), 3.0)
    """
    outputs = []
    start = 0
    with torch.inference_mode():
        while start < len(X):
            xb = torch.from_numpy(X[start : start + batch_size]).to(device)
            try:
                with precision():
                    out = embed(xb)
            except torch.OutOfMemoryError as exc:
                if batch_size == 1:
                    raise torch.OutOfMemoryError(
                        f"{name}: a single series of length {X.shape[1]} does not fit in "
                        f"{device} memory; encode shorter windows or set_params(device='cpu')."
                    ) from exc
                batch_size = max(1, batch_size // 2)
                torch.cuda.empty_cache()
                continue
            outputs.append(out.float().cpu().numpy())
            start += len(xb)
    return np.concatenate(outputs, axis=0)


class InferenceMixin:
    """``encode`` and feature names of :class:`~sslts.base.BaseSSLTransformer`.

    Relies on the estimator's hooks ``embed``, ``min_length``, ``min_length_source``,
    ``embedding_dims`` and ``valid_levels``, and on ``_inference_module``,
    ``_check_level``, ``_precision`` and ``_accelerated``; runs under the estimator's
    ``n_threads``.
    """

    def encode(
        self,
        X,
        *,
        level: str | None = None,
        batch_size: int | None = None,
        causal: bool = False,
        sliding_length: int | None = None,
        sliding_padding: int = 0,
        encoding_window=None,
        mask_padding: bool = True,
    ):
        """Embed series at any level without changing the ``level`` parameter.

        The keyword arguments after ``batch_size`` are TS2Vec's encoding modes
        (:func:`sslts.encoding.encode` describes them); they need an encoder that
        keeps the time axis.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
            Series to embed.
        level : str, default=None
            Overrides ``self.level`` for this call.
        batch_size : int, default=None
            Series (or windows) per inference batch; by default chosen from the series
            length so that activation memory stays bounded.  On a CUDA out-of-memory
            error the batch is halved and retried.
        causal : bool, default=False
            Encode every timestamp from its past only (with ``sliding_length=1``
            unless given), as TS2Vec forecasts and detects anomalies.
        sliding_length : int, default=None
            Encode blocks of this many steps, each inside a window of context.
        sliding_padding : int, default=0
            Steps of context around (before, when ``causal``) each block.
        encoding_window : {None, "full_series", "multiscale"} or int, default=None
            Max-pool the timestamp embeddings: into one vector per series, at several
            scales, or over a centred window of that many steps.
        mask_padding : bool, default=True
            Timestamp embeddings only: NaN at the steps after the end of a shorter
            series (its NaN right-padding), which hold no data; False returns what the
            network computes there.  Missing values inside a series keep their
            embeddings either way.

        Returns
        -------
        ndarray, float32
            See :meth:`transform` for the shapes; with a mode, (n_series,
            n_timestamps, n_features) or, for ``encoding_window="full_series"``,
            (n_series, n_features).

        Raises
        ------
        ValueError
            Invalid input, a mode with ``level="instance"`` or an encoder that pools
            time, or embeddings that would be NaN/infinite at observed timestamps
            (values too large for float32 arithmetic).

        Examples
        --------
        >>> import numpy as np
        >>> from sslts import TS2VecTransformer
        >>> X = np.random.default_rng(0).normal(size=(3, 40))
        >>> enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_iters=2,
        ...                         device="cpu", random_state=0).fit(X)
        >>> enc.encode(X).shape
        (3, 4)
        >>> enc.encode(X, causal=True, sliding_padding=10).shape
        (3, 40, 4)
        """
        validate_arguments(ENCODE_CONSTRAINTS, {
            "level": level, "batch_size": batch_size, "causal": causal,
            "sliding_length": sliding_length, "sliding_padding": sliding_padding,
            "encoding_window": encoding_window, "mask_padding": mask_padding},
            f"{type(self).__name__}.encode")
        with thread_limit(self.n_threads):
            return self._encode(
                X, level=level, batch_size=batch_size, causal=causal,
                sliding_length=sliding_length, sliding_padding=sliding_padding,
                encoding_window=encoding_window, mask_padding=mask_padding,
            )

    def _encode(self, X, *, level, batch_size, causal, sliding_length, sliding_padding,
                encoding_window, mask_padding):
        check_is_fitted(self, "module_")
        if causal or sliding_length is not None or sliding_padding or (
            encoding_window is not None
        ):
            if "timestamp" not in self.valid_levels:
                raise ValueError(
                    "causal, sliding_length, sliding_padding and encoding_window work on "
                    f"timestamp embeddings, which this {type(self).__name__} does not "
                    f"produce (levels {self.valid_levels}: its encoder pools time)."
                )
            return encoding.encode(
                self, X, level=level, batch_size=batch_size, causal=causal,
                sliding_length=sliding_length, sliding_padding=sliding_padding,
                encoding_window=encoding_window, mask_padding=mask_padding,
            )
        level = self.level if level is None else level
        self._check_level(level)
        if isinstance(X, np.ndarray) and X.ndim >= 2:
            block = max(1, _ENCODE_BLOCK_VALUES // max(1, X[:1].size))
            if len(X) > block:
                return self._encode_in_blocks(X, level, batch_size, block, mask_padding)
        X = check_time_series(
            X, n_channels=self.n_channels_, estimator=self,
            min_timestamps=self.min_length(False),
            min_timestamps_source=self.min_length_source(False),
            layout=self.input_layout_, reset=False,
        )
        if batch_size is None:
            width = max(self.embedding_dims(level), getattr(self, "hidden_dims", 64))
            batch_size = inference_batch_size(X.shape[1], width)
        self.device_ = fallback_device(self.device_)
        module = self._accelerated(self._inference_module().to(self.device_))
        module.eval()
        Z = encode_in_batches(
            lambda batch: self.embed(module, batch, level), X, batch_size, self.device_,
            self._precision, name=type(self).__name__,
        )
        check_finite_embeddings(X, Z, estimator=self)
        if level == "timestamp" and mask_padding:  # after a series' end: no data
            Z = mark_padding(Z, X)
        return Z

    def _encode_in_blocks(self, X: np.ndarray, level: str, batch_size, block: int,
                          mask_padding: bool) -> np.ndarray:
        """Validate and encode ``block`` series at a time into one preallocated output.

        Validation copies and scans its input, so doing it per block keeps the
        working memory O(block) for arrays of any length (e.g. memory-mapped ones);
        only the output grows with the number of series.
        """
        out = None
        for start in range(0, len(X), block):
            stop = min(start + block, len(X))
            try:
                Z = self.encode(X[start:stop], level=level, batch_size=batch_size,
                                mask_padding=mask_padding)
            except ValueError as exc:  # its series indices count from ``start``
                raise ValueError(f"In X[{start}:{stop}]: {exc}") from exc
            if out is None:
                out = np.empty((len(X),) + Z.shape[1:], dtype=Z.dtype)
            out[start : start + len(Z)] = Z
        return out

    def __sklearn_is_fitted__(self) -> bool:
        # Parameters such as ``lambda_`` end with "_" too, so sklearn's default test
        # (any attribute ending with "_") would call an unfitted estimator fitted.
        return hasattr(self, "module_")

    def get_feature_names_out(self, input_features=None):
        """Output feature names for ``level="instance"``.

        Parameters
        ----------
        input_features : None
            Ignored; series have no per-feature names.

        Returns
        -------
        feature_names_out : ndarray of str
            ``["<classname>0", "<classname>1", ...]``.
        """
        check_is_fitted(self, "module_")
        if self.level != "instance":
            raise ValueError(
                f"Feature names exist only for 2-D output; level={self.level!r} returns a "
                "3-D array. Use level='instance' with set_output(transform='pandas')."
            )
        prefix = type(self).__name__.lower()
        n_out = self.n_features_out_  # the fitted network's, whatever the parameters say now
        return np.asarray([f"{prefix}{i}" for i in range(n_out)], dtype=object)
