"""Generating time series with NC-VQVAE's stage 2: a MaskGIT prior over VQ-VAE tokens."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._accelerate import thread_limit
from .base import BaseSSLEstimator, store_init_arguments
from .encoders.maskgit import dead_codes, make_prior
from .encoders.maskgit_schedule import (
    apply_mask,
    drop_labels,
    iterative_decode,
    sample_categorical,
    token_loss,
    training_mask,
)
from .methods.ncvqvae import NCVQVAETransformer
from .schedules import SchedulerConfig, cosine_scheduler
from .utils.series import LayoutWarning
from .utils.validation import check_time_series

__all__ = ["NCVQVAEGenerator"]

_SAMPLE_BATCH = 256  # the reference samples in batches of 256


class NCVQVAEGenerator(BaseSSLEstimator):
    """Generate time series like the training set (NC-VQVAE / TimeVQVAE stage 2).

    A fitted :class:`~sslts.NCVQVAETransformer` turns every series into a grid of
    tokens (code indices); a bidirectional transformer (MaskGIT, Chang et al. 2022)
    learns to fill masked tokens given the visible ones and, with ``y``, the class.
    :meth:`sample` fills an all-masked grid in ``n_decoding_steps`` rounds, keeping
    the most confident tokens of each, and decodes it with the tokenizer.  As in the
    reference code, each step draws the tokens of its series afresh from the softmax
    of their code distances (stochastic tokenisation) and one masking ratio from the
    cosine schedule, and drops each label with probability ``p_unconditional``.

    Parameters
    ----------
    tokenizer : NCVQVAETransformer or FrozenEstimator, default=None
        Stage 1.  A clone is fitted on ``X`` (with the generator's
        ``random_state``, ``device`` and ``n_threads`` where its own are left at
        their defaults); a fitted one wrapped in
        :class:`sklearn.frozen.FrozenEstimator` is used as it is, and then ``X``
        must have its training length and channels.  None fits
        ``NCVQVAETransformer()`` (Barlow Twins, slice view).
    prior : {"auto", "index", "embedding"}, default="auto"
        "index": token embeddings initialised from the codebook, output tied to
        them (TimeVQVAE's prior); "embedding": code vectors from a trainable copy
        of the codebook, untied output (the thesis's "full-embedding" prior).
        "auto" pairs them as the thesis: "index" for ``ssl=None``, else "embedding".
    mask_convention : {"reference", "maskgit"}, default="reference"
        "reference": the reference code's, loss on every token (the index prior
        keeps ``floor(gamma(t) N)`` tokens, the embedding prior masks as many);
        "maskgit": mask ``ceil(gamma(t) N)`` tokens, loss on them only.
    hidden_dims : int, default=256
        Width of the transformer.
    n_layers : int, default=4
        Transformer blocks.
    n_heads : int, default=2
        Attention heads.
    head_dims : int, default=64
        Width of each attention head.
    ff_mult : int, default=1
        Feed-forward width as a multiple of ``hidden_dims``.
    finetune_codebook : bool, default=True
        Train the embedding prior's copy of the codebook (decoding always uses the
        tokenizer's frozen codebook).  Unused by the index prior.
    p_unconditional : float, default=0.2
        Probability that a training label is replaced by the null class.
    tokenize_temperature : float, default=1.0
        Temperature of the training tokens: each is drawn from ``softmax(-|z -
        e_k|^2 / t)`` at every step; 0 uses the nearest code.
    n_decoding_steps : int, default=10
        Rounds of iterative decoding ``T``.
    choice_temperature : float, default=4.0
        Scale of the Gumbel noise added to the confidences when choosing which
        tokens to keep, annealed linearly to 0.
    sampling_temperature : float, default=1.0
        Temperature of the token draws while decoding (0: the most likely token).
    guidance_scale : float, default=1.0
        Classifier-free guidance ``w`` of class-conditional samples, ``l_null + w
        (l_cond - l_null)``; 1 (the reference's value) is no guidance and costs one
        pass per round.
    n_epochs : int, default=None
        Passes over the training series.  If neither this nor ``n_iters`` is set:
        1000 epochs (the reference's) or 1000 steps, whichever comes first.
    batch_size : int, default=256
        Series per optimiser step (the reference's).
    lr : float, default=1e-3
        AdamW learning rate (the peak of the cosine schedule).
    lr_schedule : {"cosine", "constant"}, default="cosine"
        "cosine" decays the rate from ``lr`` to 0 over the steps of each ``fit``, as
        the reference does per step; "constant" keeps ``lr``.
    weight_decay : float, default=1e-3
        AdamW weight decay (the reference code's; the thesis text says 1e-5).
    random_state : int, RandomState instance or None, default=None
        Seeds the prior's initialisation and training draws (and the tokenizer's
        clone).  With an int, two fits on the same CPU give bitwise-identical
        priors; the global torch/numpy random state is never changed.
    input_layout : {"channels_last", "channels_first"}, default="channels_last"
        How a 3-D array is read, and the layout of the samples: ``(n_series,
        n_timestamps, n_channels)`` or ``(n_series, n_channels, n_timestamps)``.
    [shared parameters]

    Attributes
    ----------
    tokenizer_ : NCVQVAETransformer
        The fitted tokenizer (the one inside a ``FrozenEstimator``, as it is).
    prior_type_ : {"index", "embedding"}
        The prior trained (``prior`` with "auto" resolved).
    classes_ : ndarray of shape (n_classes,) or None
        The labels seen in ``fit``; None when it had no ``y`` (an unconditional
        prior).
    token_shape_ : tuple of (int, int)
        The token grid of a series, the tokenizer's ``(F, W')``.
    dead_codes_ : ndarray of shape (n_codes,), bool
        Codes the prior never predicts: those with no probability of being drawn as
        a training token (see Notes).
    module_ : torch.nn.Module
        The prior (:class:`~sslts.encoders.maskgit.IndexPrior` or
        :class:`~sslts.encoders.maskgit.EmbeddingPrior`).
    [shared attributes]

    See Also
    --------
    sslts.evaluation.evaluate_generation : FID, IS and CAS of the samples.

    Notes
    -----
    *Dead codes.* The tokenizer's EMA codebook pushes codes that no latent reaches
    early in training about 1e5 times further out than the live ones.  Copied into
    a prior whose output is tied to its token table, such a row would dominate
    every logit.  So the prior is restricted to the codes that have a positive
    probability of being drawn as a training token (at ``tokenize_temperature = 0``,
    those that are some latent's nearest code): the others get logit ``-inf`` (they
    are never sampled and never trained towards) and their rows are zeroed.  This
    applies to both priors, so that decoding never reads a dead code.

    *Data.* The code distances of the training series are computed once per
    ``fit`` (the tokenizer is frozen), and every step draws tokens from them: in
    distribution, the reference's re-encoding of every batch.  Missing steps and NaN
    padding are tokenised as the tokenizer does (read as the channel mean) and
    modelled as they are; samples have the (longest) training length.

    *Differences from the reference code:* dead codes are switched off; with
    ``guidance_scale=1`` the unconditional pass of conditional sampling is skipped
    (it cancels out); the first positional embedding has ``N`` rows, not ``N + 1``.

    References
    ----------
    .. [1] J. V. Mathisen, "You're your own best teacher: A Self-Supervised Learning
       Approach For Expressive Representations", master's thesis, NTNU, 2024;
       arXiv:2408.16613.
    .. [2] D. Lee, S. Malacarne and E. Aune, "Vector Quantized Time Series Generation
       with a Bidirectional Prior Model", AISTATS 2023.
    .. [3] H. Chang, H. Zhang, L. Jiang, C. Liu and W. T. Freeman, "MaskGIT: Masked
       Generative Image Transformer", CVPR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import NCVQVAEGenerator, NCVQVAETransformer
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(16, 40)), np.repeat([0, 1], 8)
    >>> tok = NCVQVAETransformer(output_dims=8, n_codes=4, n_res_blocks=1,
    ...                          projector_dims=16, n_iters=3, batch_size=8)
    >>> gen = NCVQVAEGenerator(tokenizer=tok, hidden_dims=16, n_layers=1, n_iters=3,
    ...                        random_state=0).fit(X, y)
    >>> gen.sample(5, y=1, random_state=0).shape
    (5, 40, 1)
    >>> gen.sample_tokens(2, random_state=0).shape
    (2, 5, 10)
    """

    parameter_constraints: dict = {
        "tokenizer": [NCVQVAETransformer, FrozenEstimator, None],
        "prior": [StrOptions({"auto", "index", "embedding"})],
        "mask_convention": [StrOptions({"reference", "maskgit"})],
        "hidden_dims": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "head_dims": [Interval(Integral, 1, None, closed="left")],
        "ff_mult": [Interval(Integral, 1, None, closed="left")],
        "finetune_codebook": ["boolean"],
        "p_unconditional": [Interval(Real, 0, 1, closed="both")],
        "tokenize_temperature": [Interval(Real, 0, None, closed="left")],
        "n_decoding_steps": [Interval(Integral, 1, None, closed="left")],
        "choice_temperature": [Interval(Real, 0, None, closed="left")],
        "sampling_temperature": [Interval(Real, 0, None, closed="left")],
        "guidance_scale": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
    }
    memory_params = ("batch_size", "hidden_dims")

    def __init__(
        self, *, tokenizer=None, prior="auto", mask_convention="reference", hidden_dims=256,
        n_layers=4, n_heads=2, head_dims=64, ff_mult=1, finetune_codebook=True,
        p_unconditional=0.2, tokenize_temperature=1.0, n_decoding_steps=10,
        choice_temperature=4.0, sampling_temperature=1.0, guidance_scale=1.0, n_epochs=None,
        n_iters=None, batch_size=256, lr=1e-3, lr_schedule="cosine", weight_decay=1e-3,
        drop_last=False, device="auto", random_state=None, verbose=0, warm_start=False,
        n_iter_no_change=None, tol=1e-4, precision="float32", compile=False, callbacks=None,
        sync_batchnorm=False, input_layout="channels_last", n_threads=None,
    ):
        store_init_arguments(self, locals())

    # ------------------------------------------------------------------- fit
    def fit(self, X, y=None, *, checkpoint=None):
        """Fit (or take) the tokenizer, then train the prior on the tokens of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
            Training series (NaN marks missing values or padding).
        y : array-like of shape (n_series,), default=None
            Class labels for class-conditional sampling; None trains an
            unconditional prior.
        checkpoint : Checkpoint, str or path-like, default=None
            See :class:`sslts.Checkpoint`; resume with the same ``X`` and ``y`` (a
            tokenizer that is not frozen is fitted again first).

        Returns
        -------
        self : object
        """
        self._validate_params()
        with warnings.catch_warnings():  # a misread layout is reported once, by the loop
            warnings.simplefilter("ignore", LayoutWarning)
            X3 = check_time_series(X, estimator=self, layout=self.input_layout)
        warm = self.warm_start and hasattr(self, "module_")
        labels, classes = _encode_labels(y, len(X3))
        if warm and not (classes is None if self.classes_ is None
                         else np.array_equal(classes, self.classes_)):
            raise ValueError("warm_start=True continues a prior trained on the classes "
                             f"{self.classes_}; fit it with labels of the same classes "
                             "(or set warm_start=False).")
        if not warm:
            self.tokenizer_ = self._fitted_tokenizer(X3)
            self.classes_ = classes
            ssl = self.tokenizer_.ssl  # "auto": the thesis's pairing
            self.prior_type_ = self.prior if self.prior != "auto" else (
                "index" if ssl is None else "embedding")
        self._check_tokenizer_input(X3)
        self._labels = labels
        try:
            return super().fit(X, checkpoint=checkpoint)
        finally:
            del self._labels

    def _fitted_tokenizer(self, X3: np.ndarray) -> NCVQVAETransformer:
        tok = NCVQVAETransformer() if self.tokenizer is None else self.tokenizer
        if isinstance(tok, FrozenEstimator):
            inner = tok.estimator
            if not isinstance(inner, NCVQVAETransformer):
                raise TypeError(f"tokenizer must be an NCVQVAETransformer (or one wrapped in "
                                f"FrozenEstimator); got FrozenEstimator({type(inner).__name__}).")
            check_is_fitted(inner, "module_")
            return inner
        tok = clone(tok).set_params(input_layout="channels_last")
        if tok.random_state is None and self.random_state is not None:
            root = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            # A stream of its own: the prior's initialisation draws from ``root`` itself.
            tok.set_params(random_state=int(np.random.default_rng([root, 1]).integers(2**31 - 1)))
        if tok.device == "auto":
            tok.set_params(device=self.device)
        if tok.n_threads is None:
            tok.set_params(n_threads=self.n_threads)
        with warnings.catch_warnings():  # X3 is read channels last; the loop warns once
            warnings.simplefilter("ignore", LayoutWarning)
            return tok.fit(X3)

    def _check_tokenizer_input(self, X3: np.ndarray) -> None:
        tok = self.tokenizer_
        if X3.shape[2] != tok.n_channels_ or X3.shape[1] != tok.n_features_in_:
            raise ValueError(
                f"The tokenizer was fitted on series of {tok.n_features_in_} steps and "
                f"{tok.n_channels_} channels; X has {X3.shape[1]} and {X3.shape[2]}. A prior "
                "generates series of the tokenizer's training length: fit the generator on "
                "series of that shape, or let it fit its own tokenizer."
            )

    # ------------------------------------------------------------ the network
    def build_module(self, n_channels):
        tok = self.tokenizer_
        self.token_shape_ = tuple(int(s) for s in tok.token_shape_)
        body = dict(hidden_dim=self.hidden_dims, n_layers=self.n_layers, n_heads=self.n_heads,
                    ff_mult=self.ff_mult, dim_head=self.head_dims)
        if self.prior_type_ == "embedding":
            body["finetune_codebook"] = self.finetune_codebook
        n_classes = 0 if self.classes_ is None else len(self.classes_)
        return make_prior(self.prior_type_, torch.from_numpy(tok.codebook_),
                          int(np.prod(self.token_shape_)), n_classes, **body)

    def default_budget(self, X):
        return 1000, 1000

    def prepare_training_data(self, X):
        """The training data are the logits of every token of every series: (n, N, K)."""
        if self.tokenizer_.input_layout_ == "channels_first":
            X = X.transpose(0, 2, 1)  # X is channels last: read as the tokenizer reads
        distances = self.tokenizer_.code_distances(X)
        logits = -torch.from_numpy(distances).flatten(1, 2)  # (n, N, K), row-major grid
        if self.tokenize_temperature > 0:
            logits = logits / self.tokenize_temperature
            usage = logits.softmax(-1).sum(dim=(0, 1))
        else:
            usage = torch.bincount(logits.argmax(-1).flatten(), minlength=logits.shape[-1])
        dead = dead_codes(usage=usage)
        self.dead_codes_ = dead.numpy()
        self.module_.restrict_codes(dead)
        return logits.masked_fill(dead, -torch.inf).numpy().astype(np.float32)

    def training_step(self, module, batch, ctx):
        # batch: (B, N, K) logits of the tokens of B series, drawn afresh every step
        temperature = 1.0 if self.tokenize_temperature > 0 else 0.0
        tokens = sample_categorical(batch, temperature, generator=ctx.rng.torch)
        mask = training_mask(len(tokens), tokens.shape[1], self._convention(),
                             generator=ctx.rng.torch)
        classes = None
        if self.classes_ is not None:
            rows = ctx.batch_indices.cpu()
            ids = torch.from_numpy(self._labels)[rows].to(tokens.device)
            classes = drop_labels(ids, module.null_class, self.p_unconditional,
                                  generator=ctx.rng.torch)
        logits = module(apply_mask(tokens, mask.masked, module.mask_id), classes)
        return token_loss(logits, tokens, mask.counted)

    def _convention(self) -> str:
        if self.mask_convention == "maskgit":
            return "maskgit"
        return "reference" if self.prior_type_ == "index" else "reference_embedding"

    def configure_scheduler(self, optimizer, ctx):
        """Per-step cosine decay from ``lr`` to 0 over this fit's budget."""
        if self.lr_schedule == "constant":
            return None
        return SchedulerConfig(cosine_scheduler(optimizer, ctx.planned_steps), "step")

    # --------------------------------------------------------------- sampling
    def sample_tokens(self, n_samples=1, y=None, *, random_state=None) -> np.ndarray:
        """Token grids drawn from the prior by iterative decoding.

        Parameters
        ----------
        n_samples : int, default=1
        y : label, array-like of shape (n_samples,) or None, default=None
            None samples unconditionally; a label of ``classes_`` gives every sample
            that class; an array gives each sample its own.
        random_state : int, RandomState instance or None, default=None
            The same int gives the same tokens.

        Returns
        -------
        tokens : ndarray of shape (n_samples, F, W'), int64
            Laid out as ``token_shape_``; decode them with the tokenizer's
            ``decode_tokens``.
        """
        check_is_fitted(self, "module_")
        n = _check_n_samples(n_samples)
        classes = self._class_ids(y, n)
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        generator = torch.Generator(self.device_).manual_seed(seed)
        prior = self.module_.to(self.device_)
        parts = []
        with thread_limit(self.n_threads), torch.inference_mode(), self._precision():
            for start in range(0, n, _SAMPLE_BATCH):
                stop = min(n, start + _SAMPLE_BATCH)
                parts.append(iterative_decode(
                    prior, stop - start, None if classes is None else classes[start:stop],
                    n_steps=self.n_decoding_steps, choice_temperature=self.choice_temperature,
                    token_temperature=self.sampling_temperature,
                    guidance_scale=self.guidance_scale, generator=generator,
                    token_shape=self.token_shape_,
                ))
        return torch.cat(parts).cpu().numpy().astype(np.int64)

    def sample(self, n_samples=1, y=None, *, random_state=None) -> np.ndarray:
        """Generate series of the training length, in the training data's units.

        Parameters
        ----------
        n_samples : int, default=1
        y : label, array-like of shape (n_samples,) or None, default=None
            None samples unconditionally; a label of ``classes_`` gives every series
            that class; an array gives each series its own.
        random_state : int, RandomState instance or None, default=None
            The same int gives the same series.

        Returns
        -------
        X : ndarray of shape (n_samples, n_timestamps, n_channels), float32
            Channels first with ``input_layout="channels_first"``.
        """
        tokens = self.sample_tokens(n_samples, y, random_state=random_state)
        X = self.tokenizer_.decode_tokens(tokens)
        if self.tokenizer_.input_layout_ == "channels_first":
            X = X.transpose(0, 2, 1)  # channels last, whatever the tokenizer's layout
        return X.transpose(0, 2, 1) if self.input_layout_ == "channels_first" else X

    def _class_ids(self, y, n: int) -> torch.Tensor | None:
        if y is None:
            return None
        if self.classes_ is None:
            raise ValueError(f"{type(self).__name__} was fitted without labels (y=None), so "
                             "it samples unconditionally; call sample without y, or fit it "
                             "with y to sample classes.")
        labels = np.repeat(y, n) if np.ndim(y) == 0 else np.asarray(y)
        if labels.shape != (n,):
            raise ValueError(f"y must be a label or an array of n_samples={n} labels; got "
                             f"shape {labels.shape}.")
        index = {label: i for i, label in enumerate(self.classes_.tolist())}
        unknown = sorted({label for label in labels.tolist() if label not in index}, key=str)
        if unknown:
            raise ValueError(f"Unknown classes {unknown}: the prior knows "
                             f"{self.classes_.tolist()} (classes_).")
        ids = [index[label] for label in labels.tolist()]
        return torch.tensor(ids, dtype=torch.long, device=self.device_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags


def _encode_labels(y, n: int):
    """``(ids (n,) int64, classes)`` of the labels, or ``(None, None)`` without them."""
    if y is None:
        return None, None
    y = column_or_1d(y, warn=True)
    if len(y) != n:
        raise ValueError(f"y has {len(y)} labels for {n} training series.")
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    return encoder.transform(y).astype(np.int64), encoder.classes_


def _check_n_samples(n_samples) -> int:
    if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, Integral) \
            or n_samples < 1:
        raise ValueError(f"n_samples={n_samples!r} must be an integer >= 1.")
    return int(n_samples)
