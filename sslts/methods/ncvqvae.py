"""NC-VQVAE: a time-frequency VQ-VAE whose encoder also learns from a non-contrastive SSL loss."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._inference import inference_batch_size
from ..augment import make_views, min_view_length
from ..base import BaseSSLTransformer, store_init_arguments
from ..encoders.quantize import VectorQuantizer, code_usage, perplexity
from ..encoders.vqvae import (
    NCVQVAENetwork,
    grid_mean,
    grid_mean_max,
    n_downsampling_blocks,
    observed_columns,
    observed_frames,
    timestamp_to_latent,
)
from ..losses.simsiam import masked_mse
from ..losses.two_view import barlow_twins_loss, vibcreg_loss
from ..schedules import SchedulerConfig, cosine_scheduler
from .two_view_base import make_projector
from .vq_tokens import VQTokenizerMixin

__all__ = ["NCVQVAETransformer"]

# NC-VQVAE's weights of the SSL objectives (thesis Section 4, code configs).
_BARLOW_LAMBDA = 0.005
_VIBCREG_WEIGHTS = {"lambda_": 25.0, "mu": 25.0, "nu": 100.0}
_VIBCREG_ETA = 0.01
_ITERNORM_GROUPS = 64  # the official num_groups argument (groups of 8 at projector_dims=512)


class NCVQVAETransformer(VQTokenizerMixin, BaseSSLTransformer):
    """NC-VQVAE (Mathisen, 2024) as a scikit-learn transformer.

    A VQ-VAE in the time-frequency domain (TimeVQVAE's "naive" tokenizer, Lee et
    al., 2023): the STFT of each series (real and imaginary parts as channels) is
    encoded by a 2-D CNN into a grid of ``F x W'`` latent vectors (``F = n_fft // 2
    + 1`` frequency rows, ``W'`` about ``latent_width`` columns over time), each
    replaced by its nearest code in a codebook of ``n_codes`` vectors moved by EMA;
    the decoder and the inverse STFT reconstruct the series.  With ``ssl`` set, a
    non-contrastive branch makes the latents informative: one augmented view of
    each series is encoded (not quantised), both latents are pooled (mean and max)
    and projected, and Barlow Twins or VIbCReg pulls the projections of the
    quantised original and of the augmented view together.  The loss is::

        |x - x^|^2 + |u - u^|^2 + beta |sg(z_q) - z|^2                 (VQ-VAE)
          + zeta (|x' - x'^|^2 + |u' - u'^|^2)                         (augmented view)
          + eta L_ssl(g(z_q), g(z'))                                   (SSL branch)

    with ``u`` the STFT of ``x`` and ``x'^`` decoded from the continuous ``z'``.

    Parameters
    ----------
    ssl : {"barlow_twins", "vibcreg"} or None, default="barlow_twins"
        The SSL objective; None trains the plain VQ-VAE (the thesis's baseline).
    augmentation : {"slice", "warp", "gauss"}, default="slice"
        The augmented view (:func:`sslts.augment.make_views`): slice the series at 3
        random points and shuffle the 4 pieces; window warp plus amplitude resize;
        or Gaussian noise of standard deviation 0.05.  Unused when ``ssl=None``.
    output_dims : int, default=64
        Width ``D`` of the latents and codes, hence of the representations.
    n_codes : int, default=32
        Codebook size.
    latent_width : int, default=8
        Target number of latent columns: the encoder has
        ``max(1, floor(log2(round(T / hop / latent_width))))`` stride-2 blocks for
        training length ``T`` (:func:`~sslts.encoders.vqvae.n_downsampling_blocks`).
        The official code uses 8; the thesis text says 32.
    n_res_blocks : int, default=4
        Residual blocks of the encoder and of the decoder.
    n_fft : int, default=8
        STFT size (Hann window, hop ``n_fft // 4``).
    decay : float, default=0.9
        EMA decay of the codebook (NC-VQVAE; TimeVQVAE uses 0.8).
    commitment : float, default=1.0
        Weight ``beta`` of the commitment loss.
    aug_recon_weight : float, default=0.1
        Weight ``zeta`` of the augmented view's reconstruction loss.
    ssl_weight : float or None, default=None
        Weight ``eta`` of the SSL loss.  None uses the reference's: ``1 /
        projector_dims`` for Barlow Twins (with ``lambda = 0.005``) and 0.01 for
        VIbCReg (with weights 25 / 25 / 100 and an IterNorm of 64 groups as the
        projector's last layer).
    projector_dims : int, default=512
        Width of the 3-layer projector.  The reference uses 4096 (34 M parameters,
        about 1-3 s per step on 2 CPU cores); 512 keeps the SSL branch cheaper than
        the VQ-VAE.
    n_iters : int, default=None
        Optimiser steps.  If neither is set: 100 epochs or 200 steps, whichever
        comes first (a step costs about 0.6 GFLOP per series and view at length
        500, a few seconds at batch 128 on 2 CPU cores).  The reference trains
        ``n_epochs=1000``.
    batch_size : int, default=128
        Mini-batch size.
    lr : float, default=1e-3
        AdamW learning rate (the peak of the cosine schedule).
    lr_schedule : {"cosine", "constant"}, default="cosine"
        "cosine" decays the rate from ``lr`` to 0 over the steps of each ``fit``
        (``lr * (1 + cos(pi * t / total)) / 2`` after ``t`` of ``total`` steps; a
        warm start restarts it), as the reference does per iteration.  Because it
        depends on the budget, a shorter fit is not the start of a longer one;
        "constant" keeps ``lr`` (and makes it so).
    weight_decay : float, default=1e-3
        AdamW weight decay (the code's value; the thesis says 1e-5).
    drop_last : bool, default=False
        Skip the last partial batch of every epoch (the reference keeps it).
    level : {"instance", "timestamp"}, default="instance"
        What ``transform`` returns: the quantised latent averaged over its grid
        (the thesis's representation), shape ``(n_series, output_dims)``; or one
        vector per time step, shape ``(n_series, n_timestamps, output_dims)``: time
        step ``t`` gets its latent column (see Notes), averaged over frequency.
    [shared parameters]

    Attributes
    ----------
    module_ : torch.nn.Module
        The network: ``stft``/``istft``, ``encoder``
        (:class:`~sslts.encoders.vqvae.VQVAEEncoder`), ``quantizer``
        (:class:`~sslts.encoders.quantize.VectorQuantizer`), ``decoder`` and, with
        ``ssl``, ``projector``; buffers ``loc`` and ``scale`` hold the per-channel
        mean and standard deviation of the first ``fit``'s data.
    n_down_ : int
        Stride-2 blocks of the encoder.
    codebook_usage_ : ndarray of shape (n_codes,)
        Fraction of the training set's latent vectors assigned to each code (eval
        mode, after ``fit``).
    perplexity_ : float
        ``exp(entropy)`` of ``codebook_usage_``: the effective number of codes.
    token_shape_ : tuple of (int, int)
        ``(F, W')``: the grid of tokens of a series of the training length, ``F =
        n_fft // 2 + 1`` frequency rows by ``W'`` latent columns (see Notes).
    codebook_ : ndarray of shape (n_codes, output_dims)
        A copy of the codes (read from the network).
    [shared attributes]

    See Also
    --------
    sslts.encoders.quantize.VectorQuantizer : The EMA codebook and its dead-code diagnostics.

    Notes
    -----
    *Data.* As in the reference, the data are standardised with one mean and
    standard deviation per channel computed on the first ``fit``'s series (later
    warm-started fits keep them); missing values (NaN) then become 0, the channel
    mean.  Reconstruction losses count observed values only (a spectrogram frame
    counts when the time step at its centre is observed), and pooling skips latent
    columns that cover no observed time step, so NaN right-padding of
    variable-length series does not enter the representation.  Series of any
    length work: those of at most ``n_fft // 2`` steps are padded by repetition
    instead of reflection for the STFT, those shorter than ``2**n_down_`` frames
    by repeating their last frame, and batches shorter than the augmentation
    needs (4 steps for "slice", 5 for "warp") are their own augmented view.

    *Time steps and latent columns.* Frame ``k`` of the STFT is centred on time
    step ``k * hop``; every stride-2 block maps column ``i`` to ``i // 2``.  Time
    step ``t`` therefore belongs to latent column
    ``min(((t + hop // 2) // hop) // 2**n_down_, W' - 1)`` with
    ``W' = (T // hop + 1) // 2**n_down_``
    (:func:`~sslts.encoders.vqvae.timestamp_to_latent`).

    *Codebook.* The EMA update divides by Laplace-smoothed cluster sizes that start
    at 0, so codes that no latent reaches early in training are pushed far away and
    stay unused.  ``fit`` warns when more than half of the codes are unused.

    *Tokens* (what a generative prior such as :class:`~sslts.NCVQVAEGenerator` is
    trained on).  :meth:`tokenize` gives the nearest code of every latent vector,
    or draws it from ``softmax(-|z - e_k|^2 / temperature)`` (the reference's
    stage 2 draws at temperature 1); :meth:`code_distances` gives the distances
    themselves; :meth:`decode_tokens` maps a token grid back to a series of the
    training length, so ``decode_tokens(tokenize(X))`` is ``reconstruct(X)``.

    *Differences from the reference code, on purpose:* representations, tokens and
    reconstructions are computed in eval mode with a frozen codebook (the official
    probes ran in train mode, so batch norm and the EMA absorbed the test
    latents); the views skip the reference's almost-identity STFT(32) round trip;
    the cosine schedule spans the steps of each ``fit`` (official: ``epochs *
    (ceil(N / B) + 1)`` steps, so its rate never reaches 0 either); the pooling
    for the SSL branch and the representation skip unobserved columns.

    References
    ----------
    .. [1] J. V. Mathisen, "You're your own best teacher: A Self-Supervised Learning
       Approach For Expressive Representations", master's thesis, NTNU, 2024;
       arXiv:2408.16613.
    .. [2] D. Lee, S. Malacarne and E. Aune, "Vector Quantized Time Series Generation
       with a Bidirectional Prior Model", AISTATS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.methods.ncvqvae import NCVQVAETransformer
    >>> X = np.random.default_rng(0).normal(size=(16, 40))
    >>> enc = NCVQVAETransformer(output_dims=8, n_codes=4, n_res_blocks=1, projector_dims=16,
    ...                          n_iters=3, batch_size=8, random_state=0).fit(X)
    >>> enc.transform(X).shape, enc.encode(X, level="timestamp").shape
    ((16, 8), (16, 40, 8))
    >>> enc.tokenize(X).shape, enc.token_shape_, enc.reconstruct(X).shape
    ((16, 5, 10), (5, 10), (16, 40, 1))
    >>> np.allclose(enc.decode_tokens(enc.tokenize(X)), enc.reconstruct(X), atol=1e-5)
    True
    """

    parameter_constraints: dict = {
        "ssl": [StrOptions({"barlow_twins", "vibcreg"}), None],
        "augmentation": [StrOptions({"slice", "warp", "gauss"})],
        "output_dims": [Interval(Integral, 1, None, closed="left")],
        "n_codes": [Interval(Integral, 1, None, closed="left")],
        "latent_width": [Interval(Integral, 1, None, closed="left")],
        "n_res_blocks": [Interval(Integral, 0, None, closed="left")],
        "n_fft": [Interval(Integral, 4, None, closed="left")],
        "decay": [Interval(Real, 0, 1, closed="left")],
        "commitment": [Interval(Real, 0, None, closed="left")],
        "aug_recon_weight": [Interval(Real, 0, None, closed="left")],
        "ssl_weight": [Interval(Real, 0, None, closed="left"), None],
        "projector_dims": [Interval(Integral, 2, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
    }
    memory_params = ("batch_size", "projector_dims")
    min_batch_size = 2  # the encoder's batch norm

    def __init__(
        self, *, ssl="barlow_twins", augmentation="slice", output_dims=64, n_codes=32,
        latent_width=8, n_res_blocks=4, n_fft=8, decay=0.9, commitment=1.0, aug_recon_weight=0.1,
        ssl_weight=None, projector_dims=512, n_epochs=None, n_iters=None, batch_size=128, lr=1e-3,
        lr_schedule="cosine", weight_decay=1e-3, drop_last=False, level="instance", device="auto",
        random_state=None, verbose=0, warm_start=False, n_iter_no_change=None, tol=1e-4,
        precision="float32", compile=False, callbacks=None, sync_batchnorm=False,
        input_layout="channels_last", n_threads=None,
    ):
        store_init_arguments(self, locals())

    # -- the network -------------------------------------------------------
    def build_module(self, n_channels):
        self.n_down_ = n_downsampling_blocks(self.n_features_in_, self.n_fft, self.latent_width)
        frames = self.n_features_in_ // (self.n_fft // 4) + 1
        self.token_shape_ = (self.n_fft // 2 + 1, max(1, frames // 2**self.n_down_))
        projector = None
        if self.ssl is not None:
            groups = _ITERNORM_GROUPS if self.ssl == "vibcreg" else None
            projector = make_projector(2 * self.output_dims, self.projector_dims, groups)
        return NCVQVAENetwork(
            n_channels, dim=self.output_dims, n_down=self.n_down_, n_res_blocks=self.n_res_blocks,
            n_fft=self.n_fft,
            quantizer=VectorQuantizer(self.n_codes, self.output_dims, self.decay, self.commitment),
            projector=projector,
        )

    def default_budget(self, X):
        return 100, 200

    def prepare_training_data(self, X):
        if self.ssl is not None and len(X) < 2:
            raise ValueError(
                f"{type(self).__name__}(ssl={self.ssl!r}) needs at least 2 training series "
                f"(its projector uses batch statistics); got n_samples={len(X)}. Pass more "
                "series or use ssl=None."
            )
        module = self.module_
        if torch.isnan(module.loc).any():  # first fit: standardise with these data
            loc, scale = _channel_moments(X)
            module.loc.copy_(torch.from_numpy(loc))
            module.scale.copy_(torch.from_numpy(scale))
        return X

    # -- the loss ------------------------------------------------------------
    def training_step(self, module, batch, ctx):
        x = module.standardise(batch)
        loss, z_q, columns = self._autoencode(module, x, quantise=True, update=ctx.training)
        if self.ssl is None:
            return loss
        view = x  # too short for the view (see Notes): the series is its own view
        if x.shape[1] >= min_view_length(self.augmentation):
            view = make_views(x, self.augmentation, generator=ctx.rng.torch)[1]
        aug_loss, z_aug, aug_columns = self._autoencode(module, view, quantise=False)
        p1 = module.projector(grid_mean_max(z_q, columns))
        p2 = module.projector(grid_mean_max(z_aug, aug_columns))
        return loss + self.aug_recon_weight * aug_loss + self._ssl_loss(p1, p2)

    def _autoencode(self, module, x, *, quantise, update=False):
        """Reconstruction loss of standardised ``x`` (B, T, C), its latent and live columns."""
        observed = ~torch.isnan(x)
        x0 = torch.nan_to_num(x, nan=0.0)
        u = module.stft(x0)  # (B, 2C, F, W)
        z = module.encoder(u)  # (B, D, F, W')
        loss = 0.0
        if quantise:
            z, _, loss = module.quantizer(z, update=update)
        u_hat = module.decoder(z, u.shape[-2:])
        x_hat = module.istft(u_hat, x.shape[1])
        frames = observed_frames(observed, self.n_fft, u.shape[-1]).expand_as(u)
        loss = loss + masked_mse(x_hat, x0, observed) + masked_mse(u_hat, u, frames)
        return loss, z, observed_columns(observed, self.n_fft, self.n_down_, z.shape[-1])

    def _ssl_loss(self, p1, p2):
        if self.ssl == "barlow_twins":
            scale = self.ssl_weight  # None: 1 / projector_dims
            return barlow_twins_loss(p1, p2, lambda_=_BARLOW_LAMBDA, scale=scale)
        eta = _VIBCREG_ETA if self.ssl_weight is None else self.ssl_weight
        return eta * vibcreg_loss(p1, p2, **_VIBCREG_WEIGHTS)

    def configure_scheduler(self, optimizer, ctx):
        """Per-step cosine decay from ``lr`` to 0 over this fit's budget."""
        if self.lr_schedule == "constant":
            return None
        return SchedulerConfig(cosine_scheduler(optimizer, ctx.planned_steps), "step")

    def on_fit_end(self, ctx):
        if ctx.logs.get("status") == "out_of_memory":
            return
        counts = self._count_codes(ctx.data)
        self.codebook_usage_ = (counts / max(counts.sum(), 1)).astype(np.float64)
        self.perplexity_ = perplexity(torch.from_numpy(counts))
        used = int((counts > 0).sum())
        if used <= self.n_codes // 2:
            warnings.warn(
                f"{type(self).__name__}: only {used} of the {self.n_codes} codes are used on "
                f"the training data (perplexity {self.perplexity_:.1f}). Codes that no latent "
                "reaches early in training are pushed away by the EMA update and stay dead; "
                "a larger batch_size, fewer n_codes or a longer fit usually use more codes.",
                UserWarning,
                stacklevel=4,
            )

    def _count_codes(self, data: torch.Tensor) -> np.ndarray:
        """Occurrences of each code over ``data`` (eval mode, frozen codebook)."""
        module, was_training = self.module_, self.module_.training
        module.eval()
        counts = torch.zeros(self.n_codes, dtype=torch.long, device=self.device_)
        step = inference_batch_size(data.shape[1], self.output_dims)
        with torch.inference_mode(), self._precision():
            for start in range(0, len(data), step):
                batch = data[start : start + step].to(self.device_)
                counts += code_usage(self._quantised(module, batch)[1], self.n_codes)
        module.train(was_training)
        return counts.cpu().numpy()

    # -- representations -------------------------------------------------------
    def embed(self, module, batch, level):
        z_q, _, observed = self._quantised(module, batch)
        if level == "timestamp":
            index = timestamp_to_latent(batch.shape[1], self.n_fft, self.n_down_, batch.device)
            return z_q.mean(dim=2)[:, :, index].transpose(1, 2)  # (B, T, D)
        return grid_mean(z_q, observed_columns(observed, self.n_fft, self.n_down_, z_q.shape[-1]))


def _channel_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of the observed values, float32 (C,) each.

    Computed in float64, so that values near the float32 limit do not overflow; a
    channel with no spread (or no value) gets scale 1.
    """
    observed = ~np.isnan(X)
    count = np.maximum(observed.sum(axis=(0, 1)), 1)
    values = np.where(observed, X, 0).astype(np.float64)
    loc = values.sum(axis=(0, 1)) / count
    var = (np.where(observed, values - loc, 0) ** 2).sum(axis=(0, 1)) / count
    scale = np.sqrt(var)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return loc.astype(np.float32), scale.astype(np.float32)
