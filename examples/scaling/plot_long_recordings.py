"""
Long recordings: sections, a chunked loss and sliding encoding
==============================================================

A single recording of tens of thousands of steps does not fit TS2Vec's training
step whole: its temporal loss compares every pair of time steps of a crop, so its
memory grows with the square of the crop length. Three settings keep memory bounded
however long the recording is:

- ``max_train_length`` cuts the recording into sections for training (as the
  official TS2Vec code does);
- ``loss_chunk_size`` computes the same loss from blocks of rows;
- :func:`sslts.encoding.sliding_encode` embeds the whole recording block by block,
  each block with some context on either side.

The recording is ETTh1 (20 months of hourly transformer readings, 7 channels,
bundled with sslts). The encoder is small and briefly trained so that the example
runs in about 15 s on one CPU core.
"""

# %%
# The recording
# -------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from sslts import TS2VecTransformer
from sslts.datasets import fetch_ett
from sslts.encoding import sliding_encode
from sslts.evaluation import load_ett

ett = load_ett("ETTh1", fetch_ett("ETTh1"))
recording = ett.data[:, :, ett.n_covariates:]  # (1, 14400, 7): the channels, no calendar
print("one recording of", recording.shape[1], "steps and", recording.shape[2], "channels")

# %%
# Training on sections
# --------------------
# With ``max_train_length=1000`` the recording becomes 15 sections of at most 1,000
# steps, and each training step crops pairs of overlapping windows from a batch of
# them. ``loss_chunk_size=256`` bounds the loss's memory by 256 rows at a time, for
# the same value and gradient.
encoder = TS2VecTransformer(output_dims=32, hidden_dims=32, depth=6, n_iters=30,
                            max_train_length=1000, loss_chunk_size=256, random_state=0)
encoder.fit(recording)
print(f"trained {encoder.n_iter_} iterations in {encoder.fit_time_:.1f} s")

# %%
# Embedding every hour
# --------------------
# ``sliding_encode`` embeds blocks of 1,000 steps, each inside a window with 100
# steps of context on both sides, so no call sees the whole recording at once.
# The result has one 32-dimensional vector per hour.
Z = sliding_encode(encoder, recording, sliding_length=1000, sliding_padding=100)[0]
print("timestamp embeddings:", Z.shape)

# %%
# The embeddings over 20 months
# ------------------------------
# The first principal component of the hourly embeddings, smoothed over a day,
# against the oil temperature: the slow seasonal swings of the recording are
# visible in what the encoder learned without labels.
pc = PCA(n_components=1).fit_transform(Z)[:, 0]
day = np.ones(24) / 24
fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4), sharex=True)
top.plot(np.convolve(recording[0, :, -1], day, mode="same"), color="k", lw=0.8)
top.set(ylabel="OT (standardised)")
bottom.plot(np.convolve(pc, day, mode="same"), color="C0", lw=0.8)
bottom.set(xlabel="hour", ylabel="embedding PC 1")
top.set_title("ETTh1: oil temperature and the first component of its embeddings")
fig.tight_layout()
plt.show()
