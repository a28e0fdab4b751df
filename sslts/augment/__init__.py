"""Augmentations and view generators on batched tensors.

Every function takes an explicit generator (never the global RNG), works on CPU or
GPU tensors and is vectorised over the batch (no loop over series).  Series are
``(B, T, C)`` float tensors; the output has the input's shape, dtype and device
unless stated otherwise.  The ``generator`` must live on ``x.device``.

Missing values (NaN) propagate, they are never invented nor silently filled:

- pointwise transforms (:func:`jitter`, :func:`gaussian_noise`, :func:`scaling`,
  :func:`amplitude_resize`, :func:`magnitude_warp`) keep NaN exactly where it was;
- resampling transforms (:func:`time_warp`, :func:`window_warp`, :func:`window_slice`)
  interpolate linearly between the two input samples bracketing each output time; an
  output is NaN when a bracketing sample with a non-zero weight is NaN;
- reordering transforms (:func:`slice_and_shuffle`, :func:`random_crop`) move NaN
  along with their timestamps;
- masking transforms (:func:`cutout`, :func:`timestamp_mask`) write their fill value
  over masked timestamps, NaN included.

The first seven follow Um et al. (2017) and Iwana & Uchida (2021) as used by
SelfTime (Fan et al., 2020); see ``docs/augmentations.md`` for a picture of each.

:func:`make_views` returns the named pairs of views of the two-view objectives
(InfoNCE, Barlow Twins, VIbCReg, NC-VQVAE), built from these functions
(:mod:`sslts.augment.views`).
"""

from .core import apply_with_probability, cubic_spline_basis
from .crops import (
    CropPair,
    binomial_mask,
    cutout,
    random_crop,
    sample_overlapping_crops,
    timestamp_mask,
)
from .magnitude import amplitude_resize, gaussian_noise, jitter, magnitude_warp, scaling
from .temporal import slice_and_shuffle, time_warp, window_slice, window_warp
from .views import (
    VIEWS,
    gaussian_amplitude,
    make_views,
    min_view_length,
    neighbour_windows,
    vertical_shift,
    warp_view,
)

__all__ = [
    "CropPair",
    "sample_overlapping_crops",
    "binomial_mask",
    "jitter",
    "gaussian_noise",
    "scaling",
    "amplitude_resize",
    "magnitude_warp",
    "time_warp",
    "window_warp",
    "window_slice",
    "cutout",
    "timestamp_mask",
    "slice_and_shuffle",
    "random_crop",
    "apply_with_probability",
    "cubic_spline_basis",
    "VIEWS",
    "make_views",
    "min_view_length",
    "neighbour_windows",
    "warp_view",
    "vertical_shift",
    "gaussian_amplitude",
]
