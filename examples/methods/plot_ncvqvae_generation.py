"""
Generating time series with NC-VQVAE
====================================

NC-VQVAE has two stages. :class:`~sslts.NCVQVAETransformer` (stage 1) turns every
series into a small grid of tokens, the indices of its nearest codes in a learned
codebook; :class:`~sslts.NCVQVAEGenerator` (stage 2) learns a MaskGIT prior over
those tokens, with the class as a condition, and samples new series by filling an
all-masked grid in a few rounds. This example trains both on GunPoint (bundled: 50
training series of 150 steps, two classes), draws generated series of each class
next to real ones, and scores the samples as the thesis does: FID and IS with a
supervised FCN, and CAS (an FCN trained on generated series, tested on real ones).

The budgets are tiny, for the documentation build: 200 optimiser steps for the
tokenizer, 300 for a prior of half the default width and depth, and narrow FCNs
trained for 100 and 20 epochs, so that the example runs in about two minutes on one
CPU core. The thesis trains each stage for 1000 epochs (the tokenizer at batch 128,
the prior at batch 256) and every FCN for 1000 epochs. Read the series and the
scores below as a demonstration of the workflow, not as what NC-VQVAE achieves;
the repository's ``benchmarks/ncvqvae_generation.py`` compares both stages with the
thesis on its six datasets.
"""

# %%
# Both stages
# -----------
# The generator fits a clone of ``tokenizer`` first, then trains the prior on the
# tokens of the training series, drawn afresh at every step from the softmax of the
# code distances (the reference's stochastic tokenisation). ``y`` makes the prior
# class-conditional; 20 % of the labels are dropped during training, so the same
# prior also samples unconditionally.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.frozen import FrozenEstimator

from sslts import NCVQVAEGenerator, NCVQVAETransformer, load_dataset
from sslts.evaluation import FCNClassifier, evaluate_generation

X_train, y_train, X_test, y_test = load_dataset("GunPoint")
start = time.perf_counter()
tokenizer = NCVQVAETransformer(ssl="barlow_twins", augmentation="slice", n_iters=200,
                               random_state=0)
generator = NCVQVAEGenerator(tokenizer=tokenizer, hidden_dims=128, n_layers=2, n_iters=300,
                             random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # a short fit leaves some codes unused
    generator.fit(X_train, y_train)
print(f"both stages: {time.perf_counter() - start:.0f} s; tokens per series "
      f"{generator.token_shape_}; prior: {generator.prior_type_}")

# %%
# Real and generated series of each class
# ---------------------------------------
# Six training series of each class (left) and six series sampled for that class
# (right). ``sample(n, y=label)`` returns series of the training length, in the
# data's units; the same ``random_state`` gives the same series. At these budgets
# the samples have GunPoint's overall shape (a flat start, a raised plateau, a
# return), but they are rougher than the real series, vary less in where the plateau
# starts and ends, and the samples of the two classes look much alike.
fig, axes = plt.subplots(2, 2, figsize=(9, 5), sharex=True, sharey=True)
for row, label in enumerate(generator.classes_):
    real = X_train[y_train == label][:6, :, 0]
    fake = generator.sample(6, y=label, random_state=row)[:, :, 0]
    for ax, series, title in ((axes[row, 0], real, "real"), (axes[row, 1], fake, "generated")):
        ax.plot(series.T, lw=1, alpha=0.8)
        ax.set_title(f"class {label}: {title}", fontsize=9)
fig.tight_layout()

# %%
# FID, IS and CAS
# ---------------
# :func:`~sslts.evaluation.evaluate_generation` follows the TimeVQVAE protocol: an FCN
# trained on TRAIN gives the features (FID, against TEST after the STFT round trip)
# and the class probabilities (IS) of ``max(n_test, 256)`` unconditional samples; CAS
# trains a fresh FCN on about 1000 class-conditional samples and scores it on TEST.
# For reference, the same metrics for a "generator" that returns training series
# drawn at random: its FID is the gap between TRAIN and TEST, and its CAS is the
# accuracy of an FCN trained, with the same budget, on (resampled) training series.


class TrainingSet:
    """Samples training series (of the requested classes): the real data as a generator."""

    def sample(self, n_samples, y=None, random_state=None):
        rng = np.random.default_rng(random_state)
        if y is None:
            return X_train[rng.integers(len(X_train), size=n_samples)]
        return np.stack([X_train[rng.choice(np.flatnonzero(y_train == c))] for c in y])


fcn = FCNClassifier(n_filters=(32, 64, 32), n_epochs=100, batch_size=16, random_state=0)
fcn.fit(X_train, y_train)  # trained once, used as it is (frozen) for both rows
cas_fcn = FCNClassifier(n_filters=(32, 64, 32), n_epochs=20, batch_size=64, random_state=0)
rows = {}
for name, source in (("NC-VQVAE samples", generator), ("training series", TrainingSet())):
    rows[name] = evaluate_generation(source, X_train, y_train, X_test, y_test,
                                     classifier=FrozenEstimator(fcn), cas_classifier=cas_fcn,
                                     random_state=0)
print(f"FCN test accuracy: {rows['training series']['fcn_test_accuracy']:.3f}")
print(f"{'':18s} {'FID':>6s} {'IS':>5s} {'CAS':>6s}")
for name, r in rows.items():
    print(f"{name:18s} {r['fid']:6.2f} {r['is_mean']:5.2f} {r['cas']:6.3f}")
print(f"total: {time.perf_counter() - start:.0f} s")

# %%
# Against the training series, the samples have a much larger FID, a lower IS (their
# classes are less distinct to the FCN) and a lower CAS: an FCN trained on them
# classifies the real test series clearly worse than one trained on training series,
# in line with the classes' look-alike samples in the figure. These are the scores
# of a minute or two of training; the thesis's come from 1000 epochs per stage.
