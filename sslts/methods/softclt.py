"""SoftCLT: TS2Vec with soft instance-wise and soft temporal contrast."""

from __future__ import annotations

import time
from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import store_init_arguments
from ..losses import soft_hierarchical_contrastive_loss, soft_instance_weights
from ..utils.dtw import DTWDistances
from .ts2vec import TS2VecTransformer

__all__ = ["SoftCLTTransformer"]


class SoftCLTTransformer(TS2VecTransformer):
    """SoftCLT (soft contrastive learning) on the TS2Vec encoder, as a transformer.

    The encoder, the views (two overlapping random crops with timestamp masking), the
    max-pooling hierarchy, the weight averaging and ``transform`` are
    :class:`TS2VecTransformer`'s.  Only the targets of the two contrastive terms
    change: TS2Vec treats every other series and every other timestamp as a
    negative; SoftCLT gives them soft positive weights.

    - **Soft instance-wise contrast.**  Two series at distance ``d`` in the data space
      are pulled together with weight ``2 * max_weight * sigmoid(-tau_inst * d)``;
      the other view of the same series keeps weight 1.  ``d`` is the dynamic time
      warping distance between the raw training series, min-max scaled (below),
      computed once per fit.
    - **Soft temporal contrast.**  Timestamps ``t`` and ``s`` of one series get weight
      ``2 * sigmoid(-tau * |t - s|)``, with ``tau = tau_temp * 2**k`` at pooling level
      ``k``, where a step spans ``2**k`` input steps.

    Parameters
    ----------
    tau_inst : float or None, default=5.0
        Sharpness of the soft instance-wise targets: the larger, the faster a
        series' weight falls with its distance.  None: hard instance-wise contrast
        (TS2Vec's), and no distances are computed.  The default is the median of the
        official per-dataset values (128 UCR sets, range 0.1 to 40; see Notes).
    tau_temp : float or None, default=1.0
        Sharpness of the soft temporal targets at the finest level.  None: hard
        temporal contrast (TS2Vec's).  The default is the median of the official
        per-dataset values (range 0.1 to 2.5).
    max_weight : float, default=0.5
        Upper bound of the soft instance-wise weights, the weight of two different
        series at distance 0 (the paper's ``alpha``; ``--alpha`` of the official
        code).  0 gives hard instance-wise contrast.  Not to be confused with
        ``alpha``, the weight of the instance-wise term (the paper's ``lambda``).
    temporal_hierarchy : bool, default=True
        Sharpen the temporal targets with the pooling level (``tau_temp * 2**k``), as
        the official code does; False keeps ``tau_temp`` at every level.
    distance_mode : {"auto", "full", "batch"}, default="auto"
        How the instance-wise distances are computed (see Notes).  ``"full"``: the
        whole (n, n) DTW matrix of the training series, once per fit, as the paper
        does.  ``"batch"``: only the distances within each mini-batch, when it is
        drawn, scaled by a range estimated from 1,024 random pairs; memory grows
        linearly with the training set instead of quadratically.  ``"auto"``:
        "full" for at most 4,096 training series whose matrix needs at most 3e10 DTW
        cells (``sum_{i<j} T_i T_j``, a few minutes on one CPU core), else "batch".
    [shared parameters]

    Attributes
    ----------
    distance_mode_ : str or None
        "full" or "batch" as used by the last fit; None when it computed no
        distances (``tau_inst=None`` or ``max_weight=0``, or a single series).
    distance_seconds_ : float
        Seconds the last fit spent building its distances (the whole matrix in
        "full" mode, the scale estimate in "batch" mode); included in ``fit_time_``.
    [shared attributes]

    See Also
    --------
    TS2VecTransformer : The same encoder and views with hard contrast.
    sslts.losses.soft_hierarchical_contrastive_loss : The loss.
    sslts.utils.dtw.DTWDistances : The distances and their two modes.

    Notes
    -----
    The parameters shared with :class:`TS2VecTransformer` have its defaults (batch
    size 8, 200 or 600 optimiser steps, 320 output dimensions), which are also the
    official SoftCLT classification settings.

    *Distances.*  As in the official code: each training series is min-max scaled
    per channel; the distance is unconstrained DTW with squared Euclidean local cost
    summed over channels, square-rooted; the matrix's diagonal is set to its
    smallest off-diagonal value and each column is min-max scaled to [0, 1] (so the
    targets are not symmetric; row ``i`` is the anchor).  The distances are computed
    on the series the encoder trains on (after TS2Vec's sectioning of long series
    and centring of variable-length ones), held while the fit runs and dropped when
    it ends: they are not saved with the model, pickled, or written to checkpoints,
    and a resumed or warm-started fit computes them again.  The DTW is aeon's when
    it is installed, else tslearn's, with one worker thread per torch thread.

    *Temperatures.*  The official command-line defaults (``tau_inst = tau_temp =
    0``) switch both soft terms off, i.e. they train plain TS2Vec; the published
    results use a temperature pair chosen per dataset, with no single best value
    (``tau_inst`` 0.1 for 32 of the 128 UCR sets and 10 or more for 52).  The
    defaults here are the medians of that table, the value that is closest in rank
    to every dataset's choice, so that a new dataset starts from the middle of the
    published range.  The documentation page of the method lists the official
    values for the datasets most often used.

    Differences from the official code, on purpose: time steps where every channel
    is NaN are dropped before DTW for every dataset (the official code does so for a
    fixed list of variable-length sets); multivariate series are min-max scaled per
    channel over time (the official code scales each time step across channels); the
    distances are indexed by the rows that are trained on (the official matrix is
    computed before empty rows are dropped); soft targets are float32; a
    temperature of None, not 0, switches a soft term off.

    References
    ----------
    .. [1] S. Lee, T. Park and K. Lee, "Soft Contrastive Learning for Time Series",
       ICLR 2024.
    .. [2] Z. Yue et al., "TS2Vec: Towards Universal Representation of Time Series",
       AAAI 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import SoftCLTTransformer
    >>> X = np.random.default_rng(0).normal(size=(10, 30))
    >>> enc = SoftCLTTransformer(output_dims=8, hidden_dims=8, depth=2, n_iters=5,
    ...                          random_state=0).fit(X)
    >>> enc.transform(X).shape
    (10, 8)
    >>> enc.distance_mode_
    'full'
    """

    parameter_constraints: dict = {
        "tau_inst": [Interval(Real, 0, None, closed="neither"), None],
        "tau_temp": [Interval(Real, 0, None, closed="neither"), None],
        "max_weight": [Interval(Real, 0, 1, closed="both")],
        "temporal_hierarchy": ["boolean"],
        "distance_mode": [StrOptions({"auto", "full", "batch"})],
    }

    def __init__(
        self, *, tau_inst=5.0, tau_temp=1.0, max_weight=0.5, temporal_hierarchy=True,
        distance_mode="auto", output_dims=320, hidden_dims=64, depth=10, alpha=0.5,
        temporal_unit=0, max_train_length=3000, loss_chunk_size=None, mask_p=0.5, dropout=0.1,
        n_epochs=None, n_iters=None, batch_size=8, lr=1e-3, drop_last=True, weight_decay=0.01,
        level="instance", device="auto", random_state=None, verbose=0, warm_start=False,
        n_iter_no_change=None, tol=1e-4, precision="float32", compile=False, callbacks=None,
        sync_batchnorm=False, input_layout="channels_last", n_threads=None,
    ):
        store_init_arguments(self, locals())

    # -- the distances, once per fit --------------------------------------------
    def _soft_instances(self) -> bool:
        return self.tau_inst is not None and self.max_weight > 0

    def prepare_training_data(self, X):
        X = super().prepare_training_data(X)
        # The loop calls this once per fit, with the array whose rows
        # ctx.batch_indices refer to: the one place to compute distances over them.
        self._distances = None
        self.distance_mode_, self.distance_seconds_ = None, 0.0
        if self._soft_instances() and len(X) > 1:
            start = time.perf_counter()
            self._distances = DTWDistances(
                X, mode=self.distance_mode, n_jobs=torch.get_num_threads(),
                random_state=getattr(self, "_seed", 0),
            )
            self.distance_mode_ = self._distances.mode_
            self.distance_seconds_ = time.perf_counter() - start
        return X

    def on_fit_end(self, ctx):
        super().on_fit_end(ctx)
        self.__dict__.pop("_distances", None)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_distances", None)  # a fit's cache, never part of the model
        return state

    def _instance_weights(self, batch: torch.Tensor, rows) -> torch.Tensor | None:
        """Soft instance-wise targets of the batch, (B, B) float32 on its device."""
        if not self._soft_instances() or len(batch) < 2:
            return None
        distances = getattr(self, "_distances", None)
        if distances is None or rows is None:
            # Outside a fit's loop (a step called by hand): the batch's own distances.
            distances = DTWDistances(batch.detach().cpu().numpy(), mode="full")
            rows = np.arange(len(batch))
        d = torch.from_numpy(distances(np.asarray(rows)))
        weights = soft_instance_weights(d, self.tau_inst, self.max_weight)
        return weights.to(device=batch.device, dtype=torch.float32)

    # -- training -----------------------------------------------------------------
    def training_step(self, module, batch, ctx):
        weights = self._instance_weights(batch, ctx.batch_indices)
        out1, out2 = self._encode_views(module, batch, ctx.rng)
        return soft_hierarchical_contrastive_loss(
            out1, out2, weights, self.alpha, self.tau_temp, self.temporal_unit,
            self.temporal_hierarchy, chunk_size=self.loss_chunk_size,
        )
