"""``loss_chunk_size``: TS2Vec's and IARS's loss computed from row blocks.

A chunked fit must train the same model as an unchunked one (the chunked loss has the
same value and gradient up to float rounding), every loss call of the training step
must receive the chunk, bad values must fail validation, and running out of memory
must name the parameter.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from estimator_configs import estimator_id, make_tiny, small_series
from sklearn.utils._param_validation import InvalidParameterError

import sslts.losses
import sslts.methods.iars
import sslts.methods.ts2vec
from sslts import EarlyStopping, IARSTransformer, TS2VecTransformer

# 12 series of 24 steps in batches of 4: the instance similarity has 8 rows and the
# temporal one up to 48, so a chunk of 4 rows splits both.
X = small_series()
CHUNK = 4
CHUNKED = [TS2VecTransformer, IARSTransformer]


def _fit(cls, **params):
    # Two epochs, so that IARS scores its levels (measured on each epoch's last batch).
    return make_tiny(cls, n_iters=None, n_epochs=2, **params).fit(X)


@pytest.mark.parametrize("cls", CHUNKED, ids=estimator_id)
def test_chunked_fit_trains_the_same_model(cls):
    whole, chunked = _fit(cls), _fit(cls, loss_chunk_size=CHUNK)
    assert whole.n_iter_ == chunked.n_iter_ == 6
    np.testing.assert_allclose(chunked.loss_history_, whole.loss_history_, rtol=1e-5)
    np.testing.assert_allclose(chunked.transform(X), whole.transform(X), rtol=1e-4, atol=1e-5)
    if cls is IARSTransformer:  # the measured level losses and hence the draws agree
        assert chunked.resolution_history_ == whole.resolution_history_
        np.testing.assert_allclose(
            chunked.resolution_losses_.numpy(), whole.resolution_losses_.numpy(), rtol=1e-5
        )


def _spy(monkeypatch, module, name: str, calls: list):
    """Replace ``module.name`` by a wrapper that records ``(name, chunk_size)``."""
    original = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append((name, kwargs.get("chunk_size")))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)


@pytest.mark.parametrize("chunk", [None, CHUNK])
def test_ts2vec_loss_receives_the_chunk(chunk, monkeypatch):
    calls = []
    _spy(monkeypatch, sslts.methods.ts2vec, "hierarchical_contrastive_loss", calls)
    est = make_tiny(TS2VecTransformer, loss_chunk_size=chunk).fit(X)
    assert calls == [("hierarchical_contrastive_loss", chunk)] * est.n_iter_


@pytest.mark.parametrize("chunk", [None, CHUNK])
def test_iars_losses_receive_the_chunk(chunk, monkeypatch):
    calls = []
    for name in ("hierarchical_contrastive_loss", "level_losses", "single_level_loss"):
        _spy(monkeypatch, sslts.methods.iars, name, calls)
    # A validation split makes every epoch end with held-out hierarchical losses.
    stop = EarlyStopping(patience=10, validation_fraction=0.25)
    est = _fit(IARSTransformer, loss_chunk_size=chunk, callbacks=[stop])
    names = {name for name, _ in calls}
    assert names == {"hierarchical_contrastive_loss", "level_losses", "single_level_loss"}
    assert [name for name, _ in calls].count("single_level_loss") == est.n_iter_
    assert {c for _, c in calls} == {chunk}


def test_chunk_reaches_the_similarity_blocks(monkeypatch):
    """The estimator's chunk is the one the fused InfoNCE splits its rows by."""
    seen = []
    original = sslts.losses.contrastive._chunks

    def chunks(n, size):
        seen.append(size)
        return original(n, size)

    monkeypatch.setattr(sslts.losses.contrastive, "_chunks", chunks)
    make_tiny(TS2VecTransformer, loss_chunk_size=CHUNK).fit(X)
    assert seen and set(seen) == {CHUNK}


def _square_saved_tensors(est) -> list[tuple[int, ...]]:
    """Shapes of the (..., n, n) tensors with n > CHUNK that a fit saves for backward."""
    shapes = []

    def pack(t):
        if t.dim() >= 2 and t.shape[-1] == t.shape[-2] > CHUNK:
            shapes.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        est.fit(X)
    return shapes


@pytest.mark.parametrize("cls", CHUNKED, ids=estimator_id)
def test_chunked_fit_saves_no_similarity_matrix(cls):
    """Unchunked, backward keeps each (G, 2N, 2N) softmax; chunked, only its normalisers."""
    assert _square_saved_tensors(make_tiny(cls))  # the matrices the chunk removes
    assert _square_saved_tensors(make_tiny(cls, loss_chunk_size=CHUNK)) == []


@pytest.mark.parametrize("cls", CHUNKED, ids=estimator_id)
@pytest.mark.parametrize("bad", [0, -3, 2.5, "256"])
def test_invalid_chunk_sizes_fail_validation(cls, bad):
    with pytest.raises(InvalidParameterError, match="'loss_chunk_size' parameter .* int in"):
        make_tiny(cls, loss_chunk_size=bad).fit(X)


@pytest.mark.parametrize("cls", CHUNKED, ids=estimator_id)
def test_default_is_unchunked(cls):
    assert cls().loss_chunk_size is None
    assert "loss_chunk_size" in cls.memory_params


@pytest.mark.parametrize(
    ("chunk", "advice"),
    [(None, "or set loss_chunk_size"), (CHUNK, "max_train_length or loss_chunk_size")],
)
@pytest.mark.parametrize("cls", CHUNKED, ids=estimator_id)
def test_out_of_memory_names_the_chunk(cls, chunk, advice, monkeypatch):
    est = make_tiny(cls, loss_chunk_size=chunk)

    def step(module, batch, ctx):
        raise torch.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(est, "training_step", step)
    with pytest.raises(torch.OutOfMemoryError) as info:
        est.fit(X)
    message = str(info.value)
    assert f"loss_chunk_size={chunk}" in message
    assert advice in message
    assert "Lower batch_size" in message
