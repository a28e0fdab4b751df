"""The token API of a fitted VQ-VAE: tokens, code distances, decoding, reconstruction.

:class:`VQTokenizerMixin` gives :class:`~sslts.methods.ncvqvae.NCVQVAETransformer` what
a prior over its tokens (:class:`~sslts.NCVQVAEGenerator`) needs: the token grid
(``token_shape_``), the ``codebook_``, tokens drawn at a temperature or the distances
they are drawn from, and the way back from tokens to series.  Tokens are laid out
frequency row first, ``(n_series, F, W')``; a C-order reshape to ``(n_series, F * W')``
gives the reference's sequence order (position ``h * W' + w``).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._accelerate import thread_limit
from .._inference import encode_in_batches, inference_batch_size
from ..encoders.maskgit_schedule import sample_categorical
from ..utils.validation import check_time_series

__all__ = ["VQTokenizerMixin"]


class VQTokenizerMixin:
    """Tokenisation, code distances, decoding and reconstruction of a fitted VQ-VAE.

    Relies on the estimator's ``module_`` (an
    :class:`~sslts.encoders.vqvae.NCVQVAENetwork`), ``n_fft``, ``n_codes``,
    ``output_dims``, ``n_down_`` and ``token_shape_``, and on the base class's input
    validation, precision and thread settings.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import NCVQVAETransformer
    >>> X = np.random.default_rng(0).normal(size=(8, 40))
    >>> enc = NCVQVAETransformer(output_dims=8, n_codes=4, n_res_blocks=1, projector_dims=16,
    ...                          n_iters=2, batch_size=8, random_state=0).fit(X)
    >>> tokens = enc.tokenize(X)  # (n_series, F, W') code indices
    >>> tokens.shape, enc.token_shape_, enc.codebook_.shape
    ((8, 5, 10), (5, 10), (4, 8))
    >>> enc.code_distances(X).shape  # one distance per token and code
    (8, 5, 10, 4)
    >>> enc.decode_tokens(tokens).shape  # back to series: (n_series, n_timestamps, n_channels)
    (8, 40, 1)
    >>> np.allclose(enc.decode_tokens(tokens), enc.reconstruct(X))
    True
    """

    @property
    def codebook_(self) -> np.ndarray:
        """The codes, an ``(n_codes, output_dims)`` float32 copy of the frozen codebook.

        Codes that no latent reached early in training sit far away (see the class
        Notes); their rows have norms of about 1e5 and they are never used.
        """
        check_is_fitted(self, "module_")
        return self._inference_module().quantizer.codebook.detach().float().cpu().numpy().copy()

    def tokenize(self, X, *, temperature: float = 0.0, random_state=None):
        """Code indices of every latent vector.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
            Series in the layout seen in ``fit``.
        temperature : float, default=0.0
            0 takes the nearest code (the quantiser's choice).  A positive value draws
            each token from ``softmax(-|z - e_k|^2 / temperature)`` over the codes
            (the stochastic tokenisation of TimeVQVAE and NC-VQVAE's stage 2 uses 1).
        random_state : int, RandomState instance or None, default=None
            Seeds the draws when ``temperature > 0``.

        Returns
        -------
        codes : ndarray of shape (n_series, n_fft // 2 + 1, W'), int64
            Frequency rows first (``token_shape_``); ``W'`` is given in the class
            Notes.  Columns that cover only missing steps (e.g. the padding of a
            shorter series) hold the codes of the zero-filled input.
        """
        temperature = _check_temperature(temperature)
        if temperature == 0:
            codes = self._apply(X, lambda module, b: self._quantised(module, b)[1])
            return codes.astype(np.int64)
        logits = -torch.from_numpy(self.code_distances(X)) / temperature
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        generator = torch.Generator().manual_seed(seed)
        return sample_categorical(logits, 1.0, generator=generator).numpy().astype(np.int64)

    def code_distances(self, X) -> np.ndarray:
        """Squared Euclidean distance of every latent vector to every code.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
            Series in the layout seen in ``fit``.

        Returns
        -------
        distances : ndarray of shape (n_series, n_fft // 2 + 1, W', n_codes), float32
            ``|z - e_k|^2``; its argmin over the last axis is :meth:`tokenize`'s code
            (up to float32 ties), and ``-distances / t`` are the logits of the
            tokens drawn at temperature ``t``.
        """
        return self._apply(X, self._distances_batch)

    def decode_tokens(self, codes) -> np.ndarray:
        """Decode token grids back to series of the training length.

        ``decode_tokens(tokenize(X))`` equals ``reconstruct(X)`` where ``X`` is
        observed: the codes' vectors go through the decoder and the inverse STFT.

        Parameters
        ----------
        codes : array-like of int of shape (n_series, n_fft // 2 + 1, W')
            Code indices in ``[0, n_codes)`` laid out as ``token_shape_``.

        Returns
        -------
        X_hat : ndarray of shape (n_series, n_timestamps, n_channels), float32
            Series of the training length ``n_features_in_`` in the units of the
            training data, channels first with ``input_layout="channels_first"``.
        """
        check_is_fitted(self, "module_")
        codes = self._check_codes(codes)
        module = self._inference_module().to(self.device_).eval()
        batch_size = inference_batch_size(self.n_features_in_, self.output_dims)
        with thread_limit(self.n_threads):
            X_hat = encode_in_batches(lambda b: self._decode_batch(module, b.long()), codes,
                                      batch_size, self.device_, self._precision,
                                      name=type(self).__name__)
        return self._to_input_layout(X_hat)

    def reconstruct(self, X):
        """Decode the quantised latents of ``X`` back to series.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
            Series in the layout seen in ``fit``.

        Returns
        -------
        X_hat : ndarray of shape (n_series, n_timestamps, n_channels), float32
            Reconstructions in the units of ``X`` (channels first with
            ``input_layout="channels_first"``); NaN wherever ``X`` is missing, so
            padding stays padding.
        """
        return self._to_input_layout(self._apply(X, self._reconstruct_batch))

    # ----------------------------------------------------------- batch functions
    def _quantised(self, module, batch):
        """Standardised batch -> (z_q (B, D, F, W'), codes (B, F, W'), observed (B, T, C))."""
        x = module.standardise(batch)
        observed = ~torch.isnan(x)
        z_q, codes, _ = module.quantizer(self._latent(module, x))
        return z_q, codes, observed

    @staticmethod
    def _latent(module, x):
        """Standardised ``x`` (B, T, C) -> continuous latent (B, D, F, W'); NaN read as 0."""
        return module.encoder(module.stft(torch.nan_to_num(x, nan=0.0)))

    def _distances_batch(self, module, batch):
        z = self._latent(module, module.standardise(batch)).float().movedim(1, -1)  # (B,F,W',D)
        codebook = module.quantizer.codebook.float()
        cross = z @ codebook.T  # (B, F, W', K)
        return (z.pow(2).sum(-1, keepdim=True) - 2 * cross + codebook.pow(2).sum(1)).clamp(min=0)

    def _spectrogram_size(self, length: int) -> tuple[int, int]:
        return self.n_fft // 2 + 1, length // (self.n_fft // 4) + 1

    def _reconstruct_batch(self, module, batch):
        z_q, _, observed = self._quantised(module, batch)
        u_hat = module.decoder(z_q, self._spectrogram_size(batch.shape[1]))
        x_hat = module.istft(u_hat, batch.shape[1])
        return (x_hat * module.scale + module.loc).masked_fill(~observed, float("nan"))

    def _decode_batch(self, module, codes):
        z_q = module.quantizer.codebook[codes].movedim(-1, 1)  # (B, D, F, W')
        length = self.n_features_in_
        x_hat = module.istft(module.decoder(z_q, self._spectrogram_size(length)), length)
        return x_hat * module.scale + module.loc

    # ------------------------------------------------------------------ helpers
    def _check_codes(self, codes) -> np.ndarray:
        arr = np.asarray(codes)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"codes must be integer code indices; got dtype {arr.dtype}.")
        shape = tuple(self.token_shape_)
        if arr.ndim != 3 or arr.shape[1:] != shape or len(arr) == 0:
            raise ValueError(f"codes must have shape (n_series, {shape[0]}, {shape[1]}) "
                             f"(token_shape_) with n_series >= 1; got {arr.shape}.")
        if arr.min() < 0 or arr.max() >= self.n_codes:
            raise ValueError(f"codes must be in [0, {self.n_codes}); got values in "
                             f"[{arr.min()}, {arr.max()}].")
        return arr.astype(np.int64)

    def _to_input_layout(self, X_hat: np.ndarray) -> np.ndarray:
        return X_hat.transpose(0, 2, 1) if self.input_layout_ == "channels_first" else X_hat

    def _apply(self, X, fn):
        """``fn(module, batch)`` over validated ``X`` in inference batches (eval mode)."""
        check_is_fitted(self, "module_")
        X = check_time_series(
            X, n_channels=self.n_channels_, estimator=self,
            min_timestamps=self.min_length(False),
            min_timestamps_source=self.min_length_source(False),
            layout=self.input_layout_, reset=False,
        )
        module = self._inference_module().to(self.device_).eval()
        batch_size = inference_batch_size(X.shape[1], self.output_dims)
        with thread_limit(self.n_threads):
            return encode_in_batches(lambda b: fn(module, b), X, batch_size, self.device_,
                                     self._precision, name=type(self).__name__)


def _check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.number)) \
            or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature={temperature!r} must be a finite number >= 0.")
    return float(temperature)
