"""
Few labels: pre-train on unlabelled series, classify against MiniRocket
=======================================================================

Labels are often the scarce part: recordings are cheap, someone who can say what
each one shows is not. Self-supervision fits that case: the encoder learns from
every recording without a label, and only the classifier on top needs the few that
are labelled.

This example trains :class:`~sslts.TS2VecTransformer` on all the training series of
GunPoint without their labels, then fits a ridge classifier on 2, 5, 10 or all 50
labelled series, and does the same with MiniRocket (aeon), the training-free
transformer most practitioners try first. Each label count is drawn 5 times
(stratified, at least one series per class). It needs aeon
(``pip install "sslts[aeon]"``) and runs in about a minute on one CPU core.
"""

# %%
# The data, the encoder and MiniRocket
# ------------------------------------
# Both transformers are fitted once, on the 50 training series, without labels.
# sslts takes series as ``(n_series, n_timestamps, n_channels)``, aeon as
# ``(n_series, n_channels, n_timestamps)``: hence the transposes.
import time

import matplotlib.pyplot as plt
import numpy as np
from aeon.transformations.collection.convolution_based import MiniRocket
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import RidgeClassifierCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sslts import TS2VecTransformer, load_dataset

X_train, y_train, X_test, y_test = load_dataset("GunPoint")
print("train", X_train.shape, "test", X_test.shape)

start = time.perf_counter()
encoder = TS2VecTransformer(random_state=0).fit(X_train)  # no labels
ts2vec_s = time.perf_counter() - start
start = time.perf_counter()
rocket = MiniRocket(random_state=0).fit(X_train.transpose(0, 2, 1))
rocket_s = time.perf_counter() - start
print(f"TS2Vec pre-training {ts2vec_s:.1f} s, MiniRocket fit {rocket_s:.1f} s")

# %%
# The same classifier on both feature sets
# ----------------------------------------
# Each feature set is computed once; a frozen transformer in a pipeline is then the
# scikit-learn way to say "use it as it is, fit only what follows".
# ``RidgeClassifierCV`` picks its penalty by leave-one-out on the labelled series,
# as aeon's ``MiniRocketClassifier`` does.
ALPHAS = np.logspace(-3, 3, 10)
features = {
    "TS2Vec": (encoder.transform(X_train), encoder.transform(X_test)),
    "MiniRocket": (rocket.transform(X_train.transpose(0, 2, 1)),
                   rocket.transform(X_test.transpose(0, 2, 1))),
}
features["TS2Vec + MiniRocket"] = tuple(
    np.hstack([features["TS2Vec"][i], features["MiniRocket"][i]]) for i in (0, 1))
print({name: train.shape[1] for name, (train, _) in features.items()}, "features")


def accuracy(name, labelled):
    """Ridge on the standardised features of the labelled series, scored on TEST."""
    train, test = features[name]
    head = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=ALPHAS))
    head.fit(train[labelled], y_train[labelled])
    return head.score(test, y_test)


n_labels = [2, 5, 10, 50]
results = {name: [] for name in features}
for n in n_labels:
    draws = [np.arange(len(y_train))] if n == len(y_train) else [
        train_test_split(np.arange(len(y_train)), train_size=n, stratify=y_train,
                         random_state=draw)[0] for draw in range(5)]
    for name in features:
        results[name].append([accuracy(name, labelled) for labelled in draws])

print(f"{'labels':>7s}" + "".join(f"{name:>22s}" for name in features))
for i, n in enumerate(n_labels):
    print(f"{n:7d}" + "".join(f"{np.mean(r[i]):15.3f} ± {np.std(r[i]):.3f}"
                              for r in results.values()))

# %%
# Accuracy against the number of labels
# -------------------------------------
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, r in results.items():
    mean, std = np.array([np.mean(x) for x in r]), np.array([np.std(x) for x in r])
    ax.errorbar(n_labels, mean, yerr=std, marker="o", capsize=3, label=name)
ax.set(xscale="log", xticks=n_labels, xticklabels=n_labels, xlabel="labelled series",
       ylabel="test accuracy", title="GunPoint: 50 training series, few of them labelled")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Reading the result
# ------------------
# On GunPoint, MiniRocket is ahead with 2 to 10 labels, and the three feature sets
# tie with all 50: pre-training on 50 unlabelled series did not pay here, and
# adding the TS2Vec embeddings to MiniRocket's features changed little. One dataset
# and one encoder seed prove little either way: :doc:`/when_to_use` has the same
# comparison on 16 datasets with 3 seeds, at 1 to 100 % of the labels, beside
# MultiRocket, 1-NN-DTW and catch22, and says in which regimes each wins.
#
# The pattern to keep is the frozen encoder. ``make_pipeline(TS2VecTransformer(),
# SVC())`` fits the encoder on the labelled series only; when most series have no
# label, fit the encoder on all of them first and freeze it in the pipeline, so that
# cross-validation and grid search refit only the classifier:
frozen = make_pipeline(FrozenEstimator(encoder), StandardScaler(),
                       RidgeClassifierCV(alphas=ALPHAS))
labelled = train_test_split(np.arange(len(y_train)), train_size=5, stratify=y_train,
                            random_state=0)[0]
print("pipeline with the frozen encoder, 5 labels:",
      round(frozen.fit(X_train[labelled], y_train[labelled]).score(X_test, y_test), 3))
