"""
Comparing the methods on one dataset
====================================

Every sslts estimator has the same interface, so comparing methods is a loop. This
example trains each method on BasicMotions (bundled: 40 training recordings of a
smartwatch's accelerometer and gyroscope, 6 channels, 100 steps, 4 activities),
scores an RBF SVM on its embeddings, and draws a 2-D t-SNE map of the test
embeddings of each, coloured by activity. No label is used to train the encoders.

The budgets are small so that the example runs in about a minute on one CPU core;
:doc:`/_generated/results/index` has every method at larger budgets on 16 datasets.
"""

# %%
# Data and methods
# ----------------
import math
import time
import warnings

import matplotlib.pyplot as plt
from sklearn.svm import SVC

from sslts import (
    BarlowTwinsTransformer,
    IARSTransformer,
    InfoNCETransformer,
    NCVQVAETransformer,
    SelfTimeTransformer,
    TimeDRLTransformer,
    TS2VecTransformer,
    VIbCRegTransformer,
    load_dataset,
)
from sslts.plotting import plot_embedding_tsne

X_train, y_train, X_test, y_test = load_dataset("BasicMotions")
print("train", X_train.shape, "test", X_test.shape, "classes", sorted(set(y_train)))

# One CPU-sized budget per method (optimiser steps cost very different amounts).
encoders = {
    "TS2Vec": TS2VecTransformer(n_iters=50, random_state=0),
    "IARS": IARSTransformer(n_iters=50, random_state=0),
    "TimeDRL": TimeDRLTransformer(n_epochs=30, batch_size=8, random_state=0),
    "SelfTime": SelfTimeTransformer(n_epochs=20, random_state=0),
    "InfoNCE": InfoNCETransformer(n_iters=50, random_state=0),
    "Barlow Twins": BarlowTwinsTransformer(n_iters=50, random_state=0),
    "VIbCReg": VIbCRegTransformer(n_iters=50, random_state=0),
    "NC-VQVAE": NCVQVAETransformer(n_iters=50, random_state=0),
}

# %%
# Train, embed, classify
# ----------------------
# ``fit_transform`` on the training series, ``transform`` on the test series; the
# SVM sees only embeddings.
embeddings = {}
for name, enc in encoders.items():
    start = time.perf_counter()
    with warnings.catch_warnings():
        # NC-VQVAE warns that a short fit leaves most of its codebook unused: expected.
        warnings.simplefilter("ignore", UserWarning)
        Z_train = enc.fit_transform(X_train)
    fit_s = time.perf_counter() - start
    Z_test = enc.transform(X_test)
    acc = SVC(C=10).fit(Z_train, y_train).score(Z_test, y_test)
    embeddings[name] = Z_test
    print(f"{name:12s} embedding {Z_test.shape[1]:4d}-d  fit {fit_s:5.1f} s  accuracy {acc:.3f}")

# %%
# What the embeddings look like
# -----------------------------
# Classes that form separate clusters in the map are easy for any classifier. The
# map of a method trained longer (see the results page) separates them more.
n_rows = math.ceil(len(embeddings) / 4)
fig, axes = plt.subplots(n_rows, 4, figsize=(13, 3.4 * n_rows + 0.6), squeeze=False)
for ax in axes.flat[len(embeddings) :]:
    ax.axis("off")
for ax, (name, Z) in zip(axes.flat, embeddings.items()):
    plot_embedding_tsne(Z, y_test, ax=ax, perplexity=10)
    ax.set_title(name)
    ax.get_legend().remove()
handles, labels = axes.flat[0].get_legend_handles_labels()
fig.legend(handles, labels, loc="lower center", ncol=4, title="activity")
fig.tight_layout(rect=(0, 0.08, 1, 1))
