"""
Grid search over the classifier, with the encoder fitted once per fold
======================================================================

A self-supervised encoder is expensive to train; the classifier on top of its
embeddings is cheap. A grid over the classifier's parameters alone would still
retrain the encoder for every candidate of every fold, because a scikit-learn
``Pipeline`` refits all its steps. ``Pipeline(memory=...)`` caches fitted
transformers on disk, keyed by their parameters and training data, so each fold's
encoder is trained once and reused by every classifier setting.

Here :class:`~sslts.IARSTransformer` embeds GunPoint (bundled with sslts) and an
RBF :class:`~sklearn.svm.SVC` classifies; the grid tries four values of ``C`` with
3-fold cross-validation.
"""

# %%
# The pipeline
# ------------
# ``memory`` takes a folder (or a :class:`joblib.Memory`). A temporary folder keeps
# this example self-contained; in practice use a folder that outlives the session
# so a re-run of the notebook reuses the encoders too. An integer
# ``random_state`` makes "the same encoder" well defined: the cache key ignores
# randomness drawn during ``fit``.
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from sslts import IARSTransformer, load_dataset

X_train, y_train, X_test, y_test = load_dataset("GunPoint")
print("train", X_train.shape, "test", X_test.shape)

cache = tempfile.mkdtemp(prefix="sslts_cache_")
pipe = Pipeline(
    [("enc", IARSTransformer(n_iters=40, random_state=0)), ("svm", SVC())],
    memory=cache,
)

# %%
# The grid
# --------
# ``n_jobs`` belongs to :class:`~sklearn.model_selection.GridSearchCV` (the
# estimators have none: one fit uses all of PyTorch's threads). With
# ``n_jobs=k`` joblib runs *k* (candidate, fold) fits at once and gives each
# worker ``cores / k`` threads. Tasks are dispatched candidate by candidate, so
# with ``k`` at most the number of folds the first candidate's folds train in
# parallel and fill the cache, and the other candidates find it filled. On the
# two cores this example runs on, ``n_jobs=None`` is as fast.
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
grid = GridSearchCV(pipe, {"svm__C": [0.1, 1, 10, 100]}, cv=cv, n_jobs=None)
start = time.perf_counter()
grid.fit(X_train, y_train)
elapsed = time.perf_counter() - start

# %%
# How many times was the encoder trained?
# ---------------------------------------
# joblib stores one result (an ``output.pkl``) per distinct call: the number of
# cached results is the number of encoder fits. Three folds plus the final refit on
# the whole training set (``refit=True``) make four, where a pipeline without
# ``memory`` fits the encoder ``4 candidates x 3 folds + 1 = 13`` times.
fits = list(Path(cache).rglob("output.pkl"))
print(f"encoder fits: {len(fits)} (without memory: 13); grid search took {elapsed:.0f} s")
print("best C:", grid.best_params_["svm__C"])
print(f"test accuracy: {grid.score(X_test, y_test):.3f}")

# %%
# Cross-validated accuracy of each ``C``:
res = grid.cv_results_
Cs = np.asarray(res["param_svm__C"], dtype=float)
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.errorbar(Cs, res["mean_test_score"], yerr=res["std_test_score"], marker="o", capsize=3)
ax.set(xscale="log", xlabel="SVM C", ylabel="CV accuracy", title="IARS embeddings + RBF SVM")
fig.tight_layout()

# %%
# Grids over the encoder's own parameters
# ---------------------------------------
# A grid over ``enc__...`` parameters trains one encoder per candidate and fold
# whatever the cache does; keep such grids small, give them a GPU, or spread them
# over machines (see :doc:`/gpu_and_scale`). Remove the cache folder when done:
import shutil  # noqa: E402

shutil.rmtree(cache)
