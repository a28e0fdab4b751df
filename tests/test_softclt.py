"""SoftCLTTransformer: the hard limit is TS2Vec, and each step gets the right targets.

The loss and the distances are tested against slow references in
``tests/test_soft_contrastive.py`` and ``tests/test_dtw.py``; here, the estimator's
mechanics: which rows' distances a step receives (through sectioning, centring,
hold-outs and micro-batches), that they are computed once per fit and never kept
with the model, and that with hard targets it trains exactly as TS2Vec.
"""

import pickle
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sslts import SoftCLTTransformer, TS2VecTransformer
from sslts.callbacks import Callback, Checkpoint, EarlyStopping, GradientAccumulation
from sslts.losses import soft_instance_weights
from sslts.methods import softclt
from sslts.utils.dtw import DTWDistances, normalise_distance_matrix, pairwise_dtw
from sslts.utils.torch_utils import RandomStreams

TINY = dict(output_dims=4, hidden_dims=4, depth=1, batch_size=4, device="cpu")


def _walks(n=10, t=32, c=1, seed=0):
    return np.random.default_rng(seed).standard_normal((n, t, c)).cumsum(1)


def _recording(est):
    """Record ``(rows, weights)`` of every step of ``est``'s fits."""
    calls = []
    original = est._instance_weights

    def record(batch, rows):
        weights = original(batch, rows)
        calls.append((None if rows is None else np.asarray(rows).copy(), weights))
        return weights

    est._instance_weights = record
    return calls


def _expected(est, X, rows):
    """The official targets of ``rows`` from the whole matrix of the prepared data."""
    prepared = est.prepare_training_data(np.asarray(X, dtype=np.float32))
    full = normalise_distance_matrix(pairwise_dtw(prepared))
    weights = soft_instance_weights(full, est.tau_inst, est.max_weight)
    return weights[np.ix_(rows, rows)].float()


# -- the hard limit ---------------------------------------------------------------
@pytest.mark.parametrize("hard", [{"tau_inst": None, "tau_temp": None},
                                  {"max_weight": 0.0, "tau_temp": None}])
def test_hard_limit_trains_exactly_as_ts2vec(hard):
    X = _walks()
    soft = SoftCLTTransformer(**TINY, **hard, n_iters=6, random_state=3).fit(X)
    ts2vec = TS2VecTransformer(**TINY, n_iters=6, random_state=3).fit(X)
    np.testing.assert_allclose(soft.loss_history_, ts2vec.loss_history_, rtol=1e-6)
    np.testing.assert_allclose(soft.transform(X), ts2vec.transform(X), atol=1e-5)
    assert soft.distance_mode_ is None and soft.distance_seconds_ == 0.0


def test_soft_targets_add_positive_targets_to_the_same_first_step():
    X = _walks()
    params = {**TINY, "batch_size": 10, "n_iters": 1, "random_state": 3}
    soft = SoftCLTTransformer(**params).fit(X)
    ts2vec = TS2VecTransformer(**params).fit(X)
    # The same weights, crops and masks (the distances draw nothing from the fit's
    # streams); every extra target adds a positive term.
    assert soft.loss_history_[0] > ts2vec.loss_history_[0]


# -- which distances a step gets ------------------------------------------------------
def test_each_step_gets_the_targets_of_its_rows_of_the_prepared_data():
    X = _walks(6, 40)
    X[1, :6] = np.nan  # centred for training
    X[4, 15:] = np.nan  # its last two sections are empty and dropped
    est = SoftCLTTransformer(**TINY, max_train_length=10, n_epochs=2, random_state=0)
    calls = _recording(est)
    est.fit(X)
    assert len(est.prepare_training_data(X.astype(np.float32))) == 22  # 24 sections - 2
    assert len(calls) == 10 and all(len(rows) == 4 for rows, _ in calls)
    for rows, weights in calls:
        torch.testing.assert_close(weights, _expected(est, X, rows))


def test_micro_batches_and_held_out_series_get_their_own_rows():
    X = _walks(12, 24)
    est = SoftCLTTransformer(**{**TINY, "batch_size": 6}, tau_inst=2.0, n_epochs=2,
                             drop_last=False, random_state=0, callbacks=[
                                 GradientAccumulation(micro_batch_size=3),
                                 EarlyStopping(validation_fraction=0.25, patience=5)])
    calls = _recording(est)
    est.fit(X)
    sizes = sorted({len(rows) for rows, _ in calls})
    assert sizes == [3]  # training micro-batches of 3, the held-out batch of 3
    seen = set()
    for rows, weights in calls:
        seen.update(rows.tolist())
        torch.testing.assert_close(weights, _expected(est, X, rows))
    assert seen == set(range(12))  # the validation rows index the same matrix


def test_batch_mode_serves_the_batch_distances_on_the_estimated_scale():
    X = _walks(9, 30)
    est = SoftCLTTransformer(**TINY, distance_mode="batch", n_epochs=1, random_state=0)
    calls = _recording(est)
    est.fit(X)
    assert est.distance_mode_ == "batch"
    reference = DTWDistances(X.astype(np.float32), mode="batch", random_state=est._seed)
    for rows, weights in calls:
        expected = soft_instance_weights(reference(rows), est.tau_inst, est.max_weight)
        torch.testing.assert_close(weights, expected.float())


def test_a_step_outside_the_loop_uses_the_batch_s_own_distances():
    X = _walks(5, 16)
    est = SoftCLTTransformer(**TINY, n_iters=1, random_state=0).fit(X)
    batch = torch.from_numpy(X).float()
    ctx = SimpleNamespace(rng=RandomStreams(0, torch.device("cpu")), batch_indices=None,
                          training=True)
    assert torch.isfinite(est.training_step(est.module_, batch, ctx))
    weights = est._instance_weights(batch, None)
    expected = soft_instance_weights(normalise_distance_matrix(pairwise_dtw(X)), 5.0, 0.5)
    torch.testing.assert_close(weights, expected.float())


# -- the cache: once per fit, never with the model --------------------------------------
def test_distances_are_computed_once_per_fit(monkeypatch):
    built = []

    class Counting(DTWDistances):
        def __init__(self, X, **kwargs):
            built.append(len(X))
            super().__init__(X, **kwargs)

    monkeypatch.setattr(softclt, "DTWDistances", Counting)
    X = _walks(10, 20)
    est = SoftCLTTransformer(**TINY, n_epochs=3, random_state=0, warm_start=True).fit(X)
    assert built == [10]
    est.fit(X)  # a warm start is a new fit: computed again
    assert built == [10, 10]
    SoftCLTTransformer(**TINY, tau_inst=None, n_epochs=2).fit(X)
    assert built == [10, 10]


class _PickleDuringFit(Callback):
    seen: list = []  # the loop runs a deep copy of the callback

    def on_epoch_end(self, estimator, ctx):
        self.seen.append(("_distances" in vars(estimator), estimator.__getstate__()))


def test_distances_are_held_during_the_fit_only_and_never_saved(tmp_path):
    X = _walks(10, 20)
    est = SoftCLTTransformer(**TINY, n_epochs=2, random_state=0,
                             callbacks=[_PickleDuringFit()])
    est.fit(X, checkpoint=tmp_path / "ckpt")
    held, state = _PickleDuringFit.seen[-1]
    assert held and "_distances" not in state
    assert "_distances" not in vars(est)
    assert "_distances" not in vars(pickle.loads(pickle.dumps(est)))
    est.save(tmp_path / "model.pt")
    for path in (tmp_path / "model.pt", *Path(tmp_path / "ckpt").rglob("*")):
        if path.is_file():
            payload = torch.load(path, weights_only=True)
            assert "_distances" not in str(payload)[:100_000]
    # A fit resumed from the checkpoint computes the distances again.
    resumed = SoftCLTTransformer(**TINY, n_epochs=2, random_state=0)
    resumed.fit(X, checkpoint=Checkpoint(tmp_path / "ckpt"))
    assert resumed.n_epochs_ == 2 and resumed.distance_mode_ == "full"


# -- parameters ---------------------------------------------------------------------
@pytest.mark.parametrize("params, match", [
    ({"tau_inst": 0}, "tau_inst"), ({"tau_temp": -1.0}, "tau_temp"),
    ({"tau_inst": True}, "tau_inst"), ({"max_weight": 1.5}, "max_weight"),
    ({"distance_mode": "neighbours"}, "distance_mode"),
    ({"temporal_hierarchy": 1}, "temporal_hierarchy"),
])
def test_bad_parameters_are_refused(params, match):
    with pytest.raises(ValueError, match=match):
        SoftCLTTransformer(**TINY, **params).fit(_walks(4, 10))


def test_signature_has_every_ts2vec_parameter_with_its_default():
    ts2vec = TS2VecTransformer().get_params()
    soft = SoftCLTTransformer().get_params()
    assert {k: soft[k] for k in ts2vec} == ts2vec


def test_docs_table_of_official_temperatures_matches_the_benchmark():
    from benchmarks.softclt import OFFICIAL_TEMPERATURES

    page = (Path(__file__).parents[1] / "docs" / "softclt.md").read_text()
    # The section of the temperature table only (the results table above has rows too).
    page = page.split("## Per-dataset temperatures", 1)[1].split("\n## ", 1)[0]
    rows = dict(
        (m[0], (float(m[1]), float(m[2])))
        for m in re.findall(r"\| (\w+) \| ([\d.]+) \| ([\d.]+) ", page)
    )
    assert len(rows) == 128
    assert OFFICIAL_TEMPERATURES.items() <= rows.items()
