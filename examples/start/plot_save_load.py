"""
Saving a model and loading it elsewhere
=======================================

Train once, embed anywhere: a fitted sslts estimator is written to one file with
:meth:`~sslts.BaseSSLTransformer.save` and read back with :func:`sslts.load`, in
another process or on another machine, including a machine without the GPU it was
trained on. The file holds tensors and plain data only and is read with
``torch.load(weights_only=True)``, so loading a file never runs code from it.
Pickle and :func:`joblib.dump` work too, for scikit-learn pipelines.

A training run can also write checkpoints and continue after an interruption; the
last section shows how.
"""

# %%
# Fit and save
# ------------
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from sslts import Callback, Checkpoint, TS2VecTransformer, load_dataset

X_train, y_train, X_test, y_test = load_dataset("GunPoint")
enc = TS2VecTransformer(output_dims=64, n_iters=30, random_state=0).fit(X_train)
Z = enc.transform(X_test)

folder = Path(tempfile.mkdtemp(prefix="sslts_models_"))
enc.save(folder / "ts2vec.pt")
print(f"{(folder / 'ts2vec.pt').stat().st_size / 1e6:.1f} MB written")

# %%
# Load in a fresh Python process
# ------------------------------
# This is what a serving job or a colleague's notebook does: import sslts, load the
# file, transform. The new process never saw the training code or data. It writes
# its embeddings to a file so that we can compare them with ours.
script = f"""
import numpy as np, sslts
enc = sslts.load({str(folder / "ts2vec.pt")!r})
X_test = sslts.load_dataset("GunPoint")[2]
np.save({str(folder / "Z_elsewhere.npy")!r}, enc.transform(X_test))
print("loaded", type(enc).__name__, "fitted for", enc.n_iter_, "iterations on", enc.device_)
"""
run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
print(run.stdout.strip())
Z_elsewhere = np.load(folder / "Z_elsewhere.npy")
print("same embeddings:", np.array_equal(Z, Z_elsewhere))

# %%
# ``sslts.load`` returns whichever estimator class the file holds;
# ``TS2VecTransformer.load(path)`` also checks the class. Everything the fit
# produced comes back: parameters, ``loss_history_``, ``n_iter_`` and the optimiser
# state, so ``warm_start=True`` can continue training a loaded model.
again = TS2VecTransformer.load(folder / "ts2vec.pt")
print(again.get_params()["output_dims"], len(again.loss_history_), again.n_iter_)

# %%
# Pickle, joblib and pipelines
# ----------------------------
# Pickles store the networks on the CPU, so a model pickled on a GPU machine
# unpickles on a CPU-only one (it then runs on the CPU, with a warning).
# Use pickle or :func:`joblib.dump` for a whole
# :class:`~sklearn.pipeline.Pipeline`; only unpickle files you trust.
restored = pickle.loads(pickle.dumps(enc))
print("pickle round trip, same embeddings:", np.array_equal(restored.transform(X_test), Z))


# %%
# Checkpoints: resume an interrupted fit
# --------------------------------------
# With a :class:`~sslts.Checkpoint`, ``fit`` writes the whole training state
# (weights, optimiser, random generators, counters) at the end of every ``every``-th
# epoch. A fit that was stopped -- Ctrl-C, a killed job, a pre-empted cloud machine
# -- is simply run again with the same checkpoint, parameters and data: it continues
# from the last checkpoint and ends with the same weights as an uninterrupted fit.
# A callback that presses Ctrl-C after the second of four epochs stands in for the
# interruption here.
class Interrupt(Callback):
    def on_epoch_end(self, estimator, ctx):
        if ctx.logs["epoch"] == 2:  # 1-based
            raise KeyboardInterrupt


params = dict(output_dims=16, hidden_dims=16, depth=3, n_epochs=4, batch_size=10, random_state=0)
ckpt = Checkpoint(folder / "checkpoint")
interrupted = TS2VecTransformer(callbacks=[Interrupt()], **params).fit(X_train, checkpoint=ckpt)
print("interrupted after", interrupted.n_epochs_, "epochs")
resumed = TS2VecTransformer(**params).fit(X_train, checkpoint=ckpt)
print("resumed and finished:", resumed.n_epochs_, "epochs")
uninterrupted = TS2VecTransformer(**params).fit(X_train)
print(
    "same weights as an uninterrupted fit:",
    np.array_equal(resumed.transform(X_test), uninterrupted.transform(X_test)),
)
