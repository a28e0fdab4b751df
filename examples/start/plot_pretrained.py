"""
A pretrained encoder: zero-shot embeddings, then fine-tuning
============================================================

sslts ships encoders pretrained on a corpus of UCR and UEA datasets, inside the package
(no download). :func:`sslts.pretrained.load_pretrained` returns one fitted: its
embeddings need no training at all, on series of any length and any number of
channels. Fine-tuning is an ordinary ``fit`` with ``warm_start=True`` and a small
budget. Both datasets below were left out of the pretraining corpus.
"""

# %%
# Zero-shot: embed, then classify
# -------------------------------
# GunPoint (hand motion, 150 steps) was never seen in pretraining. The embeddings come
# straight from the shipped weights; an SVM on them is the only thing trained here.
import time

import numpy as np
from sklearn.svm import SVC

from sslts import TS2VecTransformer, load_dataset
from sslts.pretrained import list_pretrained, load_pretrained, model_card

print(list_pretrained())
print("\n".join(model_card("ts2vec-ucr-uea").splitlines()[2:4]))

X_train, y_train, X_test, y_test = load_dataset("GunPoint")
start = time.perf_counter()
model = load_pretrained("ts2vec-ucr-uea")
Z_train, Z_test = model.transform(X_train), model.transform(X_test)
print(f"zero-shot: embeddings {Z_train.shape} in {time.perf_counter() - start:.1f} s, "
      f"accuracy {SVC(C=10).fit(Z_train, y_train).score(Z_test, y_test):.3f}")

# %%
# Fine-tuning: a warm start with a small budget
# ---------------------------------------------
# The model is a :class:`~sslts.ChannelIndependent` wrapper around a
# :class:`~sslts.TS2VecTransformer`; its parameters are reached as
# ``estimator__<name>``. With ``warm_start=True``, ``fit`` continues from the
# pretrained weights (without labels) instead of starting afresh. 50 steps are a
# quarter of what TS2Vec trains by default on this dataset; a lower ``lr`` moves the
# weights less. A fresh TS2Vec with the same 50 steps shows what the pretraining adds.
def svm_accuracy(encoder):
    return SVC(C=10).fit(encoder.transform(X_train), y_train).score(
        encoder.transform(X_test), y_test)


start = time.perf_counter()
model.set_params(estimator__warm_start=True, estimator__n_iters=50).fit(X_train)
print(f"fine-tuned, 50 steps: {time.perf_counter() - start:.1f} s, "
      f"accuracy {svm_accuracy(model):.3f}")
scratch = TS2VecTransformer(n_iters=50, random_state=0).fit(X_train)
print(f"from scratch, 50 steps: accuracy {svm_accuracy(scratch):.3f}")

# %%
# Any number of channels
# ----------------------
# BasicMotions has 6 channels (accelerometer and gyroscope). Each channel is embedded
# alone by the univariate encoder; ``pooling`` says how the 6 embeddings become one:
# their mean or maximum (320 features whatever the channel count) or their
# concatenation (6 x 320), which keeps which channel said what and is what the
# shipped model does unless told otherwise.
X_train, y_train, X_test, y_test = load_dataset("BasicMotions")
for pooling in ("mean", "concat"):
    model = load_pretrained("ts2vec-ucr-uea", pooling=pooling)
    Z_train, Z_test = model.transform(X_train), model.transform(X_test)
    accuracy = SVC(C=10).fit(Z_train, y_train).score(Z_test, y_test)
    print(f"BasicMotions, {pooling:6s} pooling: {Z_train.shape[1]:4d} features, "
          f"accuracy {accuracy:.3f}")

# %%
# The univariate encoder alone takes only univariate series: asking it for 6 channels
# fails with a message that points to the channel-independent wrapper.
encoder = load_pretrained("ts2vec-ucr-uea", channel_independent=False)
try:
    encoder.transform(X_test)
except ValueError as exc:
    print(exc)
print("embeddings are finite:", bool(np.isfinite(Z_test).all()))
