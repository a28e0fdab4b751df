"""The classic two-view objectives: InfoNCE (NT-Xent), Barlow Twins and VIbCReg.

All three share :class:`~sslts.methods.two_view_base.TwoViewMethod`: two views of
each batch, one backbone, a projector, and the objective, which is all that differs.
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval

from ..base import BaseSSLTransformer, store_init_arguments
from ..losses.two_view import barlow_twins_loss, info_nce_loss, vibcreg_loss
from .two_view_base import TwoViewMethod

__all__ = ["InfoNCETransformer", "BarlowTwinsTransformer", "VIbCRegTransformer"]

_POSITIVE = [Interval(Real, 0, None, closed="neither")]
_NON_NEGATIVE = [Interval(Real, 0, None, closed="left")]


class InfoNCETransformer(TwoViewMethod, BaseSSLTransformer):
    """Temporal contrastive learning with NT-Xent, as a scikit-learn transformer.

    Two windows of the same series a few steps apart are a positive pair; the other
    ``2B - 2`` windows of the batch are the negatives.  The encoder is trained so
    that each window's projected embedding picks its partner under the
    cosine-similarity softmax of :func:`~sslts.losses.info_nce_loss` (temperature
    0.5).  This is the LSTM recipe of a popular PyTorch tutorial with its loss
    corrected, its outputs max-pooled over time and a projector added (see Notes).

    Parameters
    ----------
    temperature : float, default=0.5
        NT-Xent temperature (the tutorial's).
    encoder : {"lstm", "resnet", "dilated_conv"} or callable, default="lstm"
        Backbone: the tutorial's LSTM (hidden size 128, 128-d output, any length),
        VIbCReg's 1-D ResNet, TS2Vec's dilated convolutions, or
        ``factory(n_channels) -> torch.nn.Module`` mapping (B, T, C) to (B, T', D) or
        (B, D).  A factory must be picklable to pickle the estimator, and ``save``
        needs a named encoder.
    projector_dims : int or None, default=128
        Width of a 3-layer projector between the pooled encoder output and the loss
        (used in training only: ``transform`` returns the pooled encoder output);
        None (the tutorial) compares the embeddings themselves.
    views : {"neighbour", "warp", "slice", "gauss", "vibcreg"} or callable, \
            default="neighbour"
        How the positives are made (:func:`sslts.augment.make_views`): temporal
        neighbours, or an augmentation pipeline by name, or
        ``views(x, generator) -> (view1, view2)``.
        ``"warp"`` needs series of at least 5 time steps and ``"slice"`` at least 4
        (``fit`` refuses shorter ones, naming ``views``); the other views, and
        ``transform``, take any length.
    batch_size : int, default=64
        Series per step (at least 2).
    weight_decay : float, default=0.0
        AdamW weight decay (0: the tutorial's Adam).
    lr_schedule : {"cosine", "constant"}, default="constant"
        "cosine" decays the rate to 0 over the budget, step by step.
    [shared parameters]

    Attributes
    ----------
    [shared attributes]

    See Also
    --------
    BarlowTwinsTransformer, VIbCRegTransformer : Non-contrastive objectives.
    TS2VecTransformer : Hierarchical contrast of timestamps and instances.

    Notes
    -----
    The tutorial's loss places the self-similarity (always 1) in the positive column,
    counts the true partner among the negatives and targets column ``i mod N``
    instead of 0, so that row ``i`` is pulled toward sample ``i - 1``; its loop also
    never builds a second view.  Here the positive is the partner window and the
    self-similarity is left out of the softmax, as in NT-Xent.

    The tutorial flattens the 30 outputs of its LSTM into one linear layer, which
    fixes the input length; :class:`~sslts.encoders.LSTMEncoder` applies that layer
    to every step and the instance embedding is their maximum over time
    (``pooling="max"``).  Series longer than the training window are embedded as the
    mean over half-overlapping windows; on series shorter than 60 steps the window
    is half the series.

    Two defaults differ from the tutorial: ``pooling="max"`` (the mean would be the
    closest length-agnostic form of its flattening) and ``projector_dims=128``.  On
    eight UCR/UEA datasets, one seed each, max pooling raised the mean RBF-SVM
    accuracy of the tutorial's setting from 76.9 % to 85.5 % and the projector to
    90.4 %, at the same fit time; a lower temperature or three times the steps
    added nothing beyond that (``benchmarks/results/infonce_screen*.md``).
    ``pooling="mean", projector_dims=None`` trains the tutorial's setting.

    Default budget: 10 epochs (the tutorial's), at least 200 optimiser steps.

    References
    ----------
    .. [1] T. Chen, S. Kornblith, M. Norouzi and G. Hinton, "A Simple Framework for
       Contrastive Learning of Visual Representations", ICML 2020 (NT-Xent).
    .. [2] "Applying Self-Supervised Learning to Time-Series Representations with
       PyTorch", Sling Academy, 2024 (the LSTM recipe).

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.methods.two_view import InfoNCETransformer
    >>> X = np.random.default_rng(0).normal(size=(8, 40))
    >>> enc = InfoNCETransformer(encoder_params={"output_dims": 8, "hidden_dims": 8},
    ...                          window_length=10, batch_size=4, n_iters=3,
    ...                          random_state=0).fit(X)
    >>> enc.transform(X).shape
    (8, 8)
    >>> enc.set_params(level="timestamp").transform(X).shape
    (8, 40, 8)
    """

    parameter_constraints: dict = {
        "temperature": _POSITIVE
    }
    _default_epochs = 10

    def __init__(
        self, *, temperature=0.5, encoder="lstm", projector_dims=128, views="neighbour",
        batch_size=64, weight_decay=0.0, lr_schedule="constant", encoder_params=None,
        window_length=30, max_shift=None, crop_ratio=0.5, pooling="max", n_epochs=None,
        n_iters=None, lr=1e-3, drop_last=True, level="instance", device="auto", random_state=None,
        verbose=0, warm_start=False, n_iter_no_change=None, tol=1e-4, precision="float32",
        compile=False, callbacks=None, sync_batchnorm=False, input_layout="channels_last",
        n_threads=None,
    ):
        store_init_arguments(self, locals())

    def _objective(self, z1, z2):
        return info_nce_loss(z1, z2, temperature=self.temperature)


class BarlowTwinsTransformer(TwoViewMethod, BaseSSLTransformer):
    """Barlow Twins (redundancy reduction) as a scikit-learn transformer.

    Two augmented views of each series go through the encoder and a 3-layer
    projector; :func:`~sslts.losses.barlow_twins_loss` pushes the cross-correlation
    matrix of the batch-standardised projections toward the identity: each feature
    invariant to the augmentations (diagonal 1), the features decorrelated
    (off-diagonal 0, weight ``lambda_``).  Defaults follow the time-series Barlow
    Twins of the VIbCReg repository.

    Parameters
    ----------
    lambda_ : float, default=0.005
        Weight of the off-diagonal term (VIbCReg repository and NC-VQVAE).
    loss_scale : float or None, default=None
        Multiplier of the loss; None uses ``1 / projector width`` as NC-VQVAE does,
        which keeps the loss of order one for any width (the original uses 1).
    encoder : {"resnet", "lstm", "dilated_conv"} or callable, default="resnet"
        Backbone: VIbCReg's 1-D ResNet (512-d, pooled: instance level only), the
        LSTM, TS2Vec's dilated convolutions, or
        ``factory(n_channels) -> torch.nn.Module`` mapping (B, T, C) to (B, T', D) or
        (B, D).  A factory must be picklable to pickle the estimator, and ``save``
        needs a named encoder.
    projector_dims : int or None, default=512
        Projector width; the official value is 4096, too slow on a CPU (about 34 M
        parameters), so the default is 512.  None compares the pooled encoder
        outputs directly.
    views : {"vibcreg", "warp", "slice", "gauss", "neighbour"} or callable, \
            default="vibcreg"
        The augmentations (:func:`sslts.augment.make_views`): VIbCReg's (random crop,
        amplitude scaling, vertical shift; both views augmented), NC-VQVAE's sets
        (the series against one augmented view), temporal neighbours, or
        ``views(x, generator) -> (view1, view2)``.
        ``"warp"`` needs series of at least 5 time steps and ``"slice"`` at least 4
        (``fit`` refuses shorter ones, naming ``views``); the other views, and
        ``transform``, take any length.
    batch_size : int, default=128
        Series per step (NC-VQVAE's; the VIbCReg repository uses 256).
    weight_decay : float, default=1e-5
        AdamW weight decay (the VIbCReg repository's).
    lr_schedule : {"cosine", "constant"}, default="cosine"
        "cosine" decays the rate to 0 over the budget, step by step (official).
    [shared parameters]

    Attributes
    ----------
    [shared attributes]

    See Also
    --------
    VIbCRegTransformer : Variance, invariance and whitened-covariance terms.
    InfoNCETransformer : The contrastive objective.

    Notes
    -----
    The standardisation uses the biased batch standard deviation, so identical
    views reach a cross-correlation of exactly 1 (the VIbCReg repository's unbiased
    one caps it at ``(B - 1) / B``).

    Default budget: 50 epochs (100 officially, at batch 256), at least 200 steps.

    References
    ----------
    .. [1] J. Zbontar, L. Jing, I. Misra, Y. LeCun and S. Deny, "Barlow Twins:
       Self-Supervised Learning via Redundancy Reduction", ICML 2021.
    .. [2] D. Lee and E. Aune, "VIbCReg: Variance-Invariance-better-Covariance
       Regularization for Self-Supervised Learning on Time Series",
       arXiv:2109.00783 (the time-series setting).

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.methods.two_view import BarlowTwinsTransformer
    >>> X = np.random.default_rng(0).normal(size=(8, 40))
    >>> enc = BarlowTwinsTransformer(encoder_params={"base_width": 4}, projector_dims=16,
    ...                              batch_size=4, n_iters=3, random_state=0).fit(X)
    >>> enc.transform(X).shape
    (8, 32)
    """

    parameter_constraints: dict = {
        "lambda_": _NON_NEGATIVE,
        "loss_scale": [*_POSITIVE, None],
    }

    def __init__(
        self, *, lambda_=0.005, loss_scale=None, encoder="resnet", projector_dims=512,
        views="vibcreg", batch_size=128, weight_decay=1e-5, lr_schedule="cosine",
        encoder_params=None, window_length=30, max_shift=None, crop_ratio=0.5, pooling="mean",
        n_epochs=None, n_iters=None, lr=1e-3, drop_last=True, level="instance", device="auto",
        random_state=None, verbose=0, warm_start=False, n_iter_no_change=None, tol=1e-4,
        precision="float32", compile=False, callbacks=None, sync_batchnorm=False,
        input_layout="channels_last", n_threads=None,
    ):
        store_init_arguments(self, locals())

    def _objective(self, z1, z2):
        return barlow_twins_loss(z1, z2, lambda_=self.lambda_, scale=self.loss_scale)


class VIbCRegTransformer(TwoViewMethod, BaseSSLTransformer):
    """VIbCReg (variance, invariance, better covariance) as a scikit-learn transformer.

    Two augmented views of each series go through the encoder and a 3-layer
    projector ending with IterNorm whitening; :func:`~sslts.losses.vibcreg_loss`
    makes the projections of a pair equal (invariance), keeps every feature's
    standard deviation at least 1 over the batch (variance) and decorrelates the
    features (normalised covariance), weighted 25 / 25 / 200 as officially.

    Parameters
    ----------
    lambda_ : float, default=25.0
        Weight of the invariance term.
    mu : float, default=25.0
        Weight of the variance term.
    nu : float, default=200.0
        Weight of the normalised-covariance term (NC-VQVAE uses 100).
    iternorm_groups : int, default=64
        ``num_groups`` of the projector's final :class:`~sslts.encoders.IterNorm`:
        groups of ``ceil(width / 64)`` features are whitened together (64 groups of
        64 at the official width 4096; of 8 at the default 512).
    encoder : {"resnet", "lstm", "dilated_conv"} or callable, default="resnet"
        Backbone: VIbCReg's 1-D ResNet (512-d, pooled: instance level only), the
        LSTM, TS2Vec's dilated convolutions, or
        ``factory(n_channels) -> torch.nn.Module`` mapping (B, T, C) to (B, T', D) or
        (B, D).  A factory must be picklable to pickle the estimator, and ``save``
        needs a named encoder.
    projector_dims : int or None, default=512
        Projector width; the official value is 4096, too slow on a CPU, so the
        default is 512.  None whitens the pooled encoder outputs directly.
    views : {"vibcreg", "warp", "slice", "gauss", "neighbour"} or callable, \
            default="vibcreg"
        The augmentations (:func:`sslts.augment.make_views`): VIbCReg's (random crop,
        amplitude scaling, vertical shift; both views augmented), NC-VQVAE's sets,
        temporal neighbours, or ``views(x, generator) -> (view1, view2)``.
        ``"warp"`` needs series of at least 5 time steps and ``"slice"`` at least 4
        (``fit`` refuses shorter ones, naming ``views``); the other views, and
        ``transform``, take any length.
    batch_size : int, default=128
        Series per step (the official value is 256).
    weight_decay : float, default=1e-5
        AdamW weight decay (official).
    lr_schedule : {"cosine", "constant"}, default="cosine"
        "cosine" decays the rate to 0 over the budget, step by step (official).
    [shared parameters]

    Attributes
    ----------
    [shared attributes]

    See Also
    --------
    BarlowTwinsTransformer : Cross-correlation toward the identity.
    InfoNCETransformer : The contrastive objective.

    Notes
    -----
    IterNorm computes its Newton-Schulz iterations in the coupled form (the same
    iterates, numerically stable) and in float32; in eval mode it uses running
    statistics, which only matters for the projector (``transform`` returns the
    encoder's output).

    Default budget: 50 epochs (100 officially, at batch 256), at least 200 steps.

    References
    ----------
    .. [1] D. Lee and E. Aune, "VIbCReg: Variance-Invariance-better-Covariance
       Regularization for Self-Supervised Learning on Time Series",
       arXiv:2109.00783.
    .. [2] L. Huang, Y. Zhou, F. Zhu, L. Liu and L. Shao, "Iterative Normalization:
       Beyond Standardization towards Efficient Whitening", CVPR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.methods.two_view import VIbCRegTransformer
    >>> X = np.random.default_rng(0).normal(size=(8, 40))
    >>> enc = VIbCRegTransformer(encoder_params={"base_width": 4}, projector_dims=16,
    ...                          batch_size=4, n_iters=3, random_state=0).fit(X)
    >>> enc.transform(X).shape
    (8, 32)
    """

    parameter_constraints: dict = {
        "lambda_": _NON_NEGATIVE,
        "mu": _NON_NEGATIVE,
        "nu": _NON_NEGATIVE,
        "iternorm_groups": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self, *, lambda_=25.0, mu=25.0, nu=200.0, iternorm_groups=64, encoder="resnet",
        projector_dims=512, views="vibcreg", batch_size=128, weight_decay=1e-5,
        lr_schedule="cosine", encoder_params=None, window_length=30, max_shift=None, crop_ratio=0.5,
        pooling="mean", n_epochs=None, n_iters=None, lr=1e-3, drop_last=True, level="instance",
        device="auto", random_state=None, verbose=0, warm_start=False, n_iter_no_change=None,
        tol=1e-4, precision="float32", compile=False, callbacks=None, sync_batchnorm=False,
        input_layout="channels_last", n_threads=None,
    ):
        store_init_arguments(self, locals())

    def _iternorm_groups(self):
        return self.iternorm_groups

    def _objective(self, z1, z2):
        return vibcreg_loss(z1, z2, lambda_=self.lambda_, mu=self.mu, nu=self.nu)
