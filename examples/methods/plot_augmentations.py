"""
The augmentations, one picture each
===================================

:mod:`sslts.augment` holds the time-series augmentations the methods build their
views from, as functions of a batch ``(B, T, C)`` and an explicit
:class:`torch.Generator`: the same seed gives the same output, on any device, and
the global random state is never touched. In each panel the grey line is a GunPoint
training series and the two coloured lines are two draws (seeds 1 and 2) with the
parameters in the title. :doc:`/augmentations` describes each function.
"""

# %%
import matplotlib.pyplot as plt
import torch

from sslts import augment, load_dataset

X_train, _, _, _ = load_dataset("GunPoint")
x = torch.as_tensor(X_train[:1], dtype=torch.float32)  # one series, (1, 150, 1)


def show(fn, kwargs, ax, title=None):
    """Draw ``fn(x, **kwargs)`` for seeds 1 and 2 over the original series."""
    ax.plot(x[0, :, 0], color="0.65", lw=2.5, label="original")
    for seed in (1, 2):
        out = fn(x, generator=torch.Generator().manual_seed(seed), **kwargs)
        ax.plot(out[0, :, 0], lw=1.1, label=f"seed {seed}")
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    ax.set_title(title or f"{fn.__name__}({args})", fontsize=9)
    ax.tick_params(labelsize=7)


# %%
# Amplitude: values change, timing does not
# -----------------------------------------
# ``jitter`` adds noise in the data's units, ``gaussian_noise`` relative to each
# channel's spread; ``scaling`` multiplies each channel by one factor,
# ``amplitude_resize`` each series; ``magnitude_warp`` multiplies by a smooth random
# curve.
amplitude = [
    (augment.jitter, {"sigma": 0.2}),
    (augment.gaussian_noise, {"std": 0.1}),
    (augment.scaling, {"sigma": 0.4}),
    (augment.amplitude_resize, {"low": 0.5, "high": 1.5}),
    (augment.magnitude_warp, {"sigma": 0.3, "n_knots": 4}),
]
fig, axes = plt.subplots(3, 2, figsize=(9, 6.5), sharex=True)
for (fn, kwargs), ax in zip(amplitude, axes.flat):
    show(fn, kwargs, ax)
axes.flat[0].legend(fontsize=7, frameon=False)
axes.flat[-1].axis("off")
fig.tight_layout()

# %%
# Time: the same values, moved
# ----------------------------
# ``time_warp`` changes the speed smoothly, ``window_warp`` plays one window faster
# or slower, ``window_slice`` stretches a crop back to the full length,
# ``slice_and_shuffle`` permutes segments and ``random_crop`` keeps a window (the
# output is shorter).
timing = [
    (augment.time_warp, {"sigma": 0.2, "n_knots": 8}),
    (augment.window_warp, {"window_ratio": 0.3, "scales": (0.5, 2.0)}),
    (augment.window_slice, {"ratio": 0.8}),
    (augment.slice_and_shuffle, {"n_segments": 4}),
    (augment.random_crop, {"length": 100}),
]
fig, axes = plt.subplots(3, 2, figsize=(9, 6.5), sharex=True)
for (fn, kwargs), ax in zip(timing, axes.flat):
    show(fn, kwargs, ax)
axes.flat[-1].axis("off")
fig.tight_layout()

# %%
# Masking, and applying with a probability
# ----------------------------------------
# ``cutout`` overwrites one window, ``timestamp_mask`` random timestamps.
# ``apply_with_probability`` applies any augmentation to each series of the batch
# with probability ``p`` (SelfTime's views apply each warp with ``p=0.2``).
fig, axes = plt.subplots(1, 3, figsize=(12, 2.6))
show(augment.cutout, {"ratio": 0.1}, axes[0])
show(augment.timestamp_mask, {"ratio": 0.2}, axes[1])
batch = x.expand(8, -1, -1)
out = augment.apply_with_probability(
    augment.magnitude_warp, batch, 0.5, generator=torch.Generator().manual_seed(3)
)
axes[2].plot(out[:, :, 0].T, lw=0.8)
axes[2].set_title("apply_with_probability(magnitude_warp, p=0.5), 8 copies", fontsize=9)
fig.tight_layout()

# %%
# Named pairs of views
# --------------------
# :func:`sslts.augment.make_views` returns the two views the two-view methods
# (InfoNCE, Barlow Twins, VIbCReg, NC-VQVAE) train on; here VIbCReg's (a random
# crop of half the series, an amplitude scaling and a vertical shift, drawn
# independently for each view).
v1, v2 = augment.make_views(x, "vibcreg", generator=torch.Generator().manual_seed(0))
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.plot(v1[0, :, 0], label="view 1")
ax.plot(v2[0, :, 0], label="view 2")
ax.set_title('make_views(x, "vibcreg"): two views of one series', fontsize=9)
ax.legend(fontsize=7, frameon=False)
fig.tight_layout()
