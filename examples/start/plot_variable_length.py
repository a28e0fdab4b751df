"""
Variable-length multivariate series: JapaneseVowels
===================================================

JapaneseVowels holds recordings of nine speakers saying a Japanese vowel: 12
cepstrum coefficients (channels) per frame, 7 to 29 frames per utterance. sslts
takes such data as one array right-padded with ``NaN`` (or as a list of arrays of
different lengths) and never lets the padding change a series' embedding.

The dataset ships with sslts, so :func:`~sslts.load_dataset` reads it without a
download.
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.svm import SVC

from sslts import TS2VecTransformer, load_dataset
from sslts.utils import series_lengths

X_train, y_train, X_test, y_test = load_dataset("JapaneseVowels")
lengths = series_lengths(X_test)
print("train", X_train.shape, "test", X_test.shape)
print("test lengths:", lengths.min(), "to", lengths.max(), "frames; the rest is NaN padding")

# %%
# Train and embed
# ---------------
# Nothing special is needed for the padding. ``level="instance"`` max-pools over
# each series' observed frames only; ``encode(..., level="timestamp")`` returns one
# vector per frame of the padded array.
enc = TS2VecTransformer(output_dims=64, n_iters=100, random_state=0).fit(X_train)
Z_train, Z_test = enc.transform(X_train), enc.transform(X_test)
Z_t = enc.encode(X_test, level="timestamp")
print("instance embeddings", Z_test.shape, "timestamp embeddings", Z_t.shape)
print(
    f"SVM accuracy on the instance embeddings: "
    f"{SVC(C=10).fit(Z_train, y_train).score(Z_test, y_test):.3f}"
)

# %%
# Padding does not change an embedding
# ------------------------------------
# The shortest test utterance gets the same vector (up to float32 rounding) whether
# it is embedded alone, without any padding, or inside the padded test array. The
# same series can also be passed as one element of a list of arrays of different
# lengths.
i = int(np.argmin(lengths))
alone = X_test[i : i + 1, : lengths[i]]  # (1, length, 12): no NaN
as_list = [X_test[k, : lengths[k]] for k in (i, 0)]  # two arrays, two lengths
print("shape alone:", alone.shape)
print("max difference, alone vs padded:", np.abs(enc.transform(alone)[0] - Z_test[i]).max())
print("max difference, list vs padded:", np.abs(enc.transform(as_list)[0] - Z_test[i]).max())

# %%
# Timestamp embeddings over one utterance
# ---------------------------------------
# The first three principal directions of the timestamp embeddings of the longest
# utterance, frame by frame, next to its input channels. Frames past the end of a
# series (padding) carry no information and should be ignored downstream.
j = int(np.argmax(lengths))
frames = Z_t[j, : lengths[j]]
centred = frames - frames.mean(axis=0)
components = np.linalg.svd(centred, full_matrices=False)[2][:3]
fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 4.5), sharex=True)
top.plot(X_test[j, : lengths[j]], lw=1)
top.set(ylabel="input", title=f"test utterance {j}: 12 channels, {lengths[j]} frames")
bottom.plot(centred @ components.T, lw=1.5)
bottom.set(xlabel="frame", ylabel="embedding PC 1-3")
fig.tight_layout()
