"""ChannelIndependent: corpus fits, per-channel embeddings, pooling, the sklearn contract."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import TIMEOUT
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

import sslts
from sslts import ChannelIndependent, TS2VecTransformer


def tiny(**params):
    return TS2VecTransformer(**{"output_dims": 4, "hidden_dims": 4, "depth": 1, "n_iters": 2,
                                "batch_size": 4, "device": "cpu", "random_state": 0, **params})


class Recorder(BaseEstimator):
    """A stand-in encoder: records what ``fit`` got; embeds a row as (mean, max, length)."""

    def __init__(self, warm_start=False, level="instance", input_layout="channels_last"):
        self.warm_start = warm_start
        self.level = level
        self.input_layout = input_layout

    def fit(self, X, y=None):
        self.X_ = np.array(X)
        self.input_layout_ = self.input_layout
        self.n_fits_ = getattr(self, "n_fits_", 0) + 1
        return self

    def encode(self, X, level=None, **kwargs):
        X = np.asarray(X, dtype=np.float32)
        if self.input_layout_ == "channels_first":
            X = X.transpose(0, 2, 1)
        assert X.shape[2] == 1, "the wrapped encoder must only see univariate series"
        x = X[:, :, 0]
        stats = [np.nanmean(x, 1), np.nanmax(x, 1), (~np.isnan(x)).sum(1)]
        Z = np.stack(stats, axis=1).astype(np.float32)
        if (level or self.level) == "timestamp":
            return np.repeat(Z[:, None, :], X.shape[1], axis=1) + x[:, :, None]
        return Z

    def embedding_dims(self, level):
        return 3


RNG = np.random.default_rng(0)
# A corpus: a univariate dataset, a 4-channel one, and two loose series (2 and 1 channels).
DATASETS = [RNG.normal(size=(5, 30, 1)), RNG.normal(size=(3, 12, 4))]
SERIES = [RNG.normal(size=(20, 2)), RNG.normal(size=17)]


def reference_rows():
    """Every channel of every series of the corpus, in order (the slow way)."""
    series = [s for d in DATASETS for s in d] + [s.reshape(len(s), -1) for s in SERIES]
    return [s[:, c].astype(np.float32) for s in series for c in range(s.shape[1])]


def test_corpus_fit_trains_on_every_channel_of_every_series_padded():
    model = ChannelIndependent(Recorder()).fit([*DATASETS, *SERIES])
    rows = reference_rows()
    X = model.estimator_.X_
    assert X.shape == (len(rows), 30, 1) and X.dtype == np.float32
    for got, want in zip(X[:, :, 0], rows):
        np.testing.assert_array_equal(got[: len(want)], want)
        assert np.isnan(got[len(want):]).all()
    assert model.n_series_fit_ == 5 + 12 + 3 and model.n_channels_ is None


def test_single_channel_count_is_recorded_and_empty_channels_are_left_out():
    X = RNG.normal(size=(4, 10, 3))
    X[1, :, 2] = np.nan  # channel 2 of series 1 has no data
    model = ChannelIndependent(Recorder()).fit(X)
    assert model.n_channels_ == 3 and model.n_series_fit_ == 11


@pytest.mark.parametrize("pooling", ["mean", "max", "concat"])
def test_pooling_matches_a_per_channel_reference(pooling):
    X = RNG.normal(size=(6, 20, 3)).astype(np.float32)
    model = ChannelIndependent(tiny(), pooling=pooling).fit(X)
    per_channel = np.stack([model.estimator_.transform(X[:, :, c]) for c in range(3)], 1)
    want = {"mean": per_channel.mean(1), "max": per_channel.max(1),
            "concat": per_channel.reshape(6, -1)}[pooling]
    np.testing.assert_allclose(model.transform(X), want, rtol=1e-5, atol=1e-6)


def test_pooled_width_is_the_same_for_any_channel_count():
    model = ChannelIndependent(tiny()).fit(RNG.normal(size=(6, 20)))
    widths = {model.transform(RNG.normal(size=(3, 30, c))).shape for c in (1, 2, 24)}
    assert widths == {(3, 4)}
    mixed = [RNG.normal(size=(15, 2)), RNG.normal(size=(9, 5)), RNG.normal(size=(15, 2))]
    Z = model.transform(mixed)
    assert Z.shape == (3, 4)
    np.testing.assert_allclose(Z[1], model.transform(mixed[1][None])[0], rtol=1e-6)


def test_empty_channel_is_left_out_of_the_pool_and_refused_by_concat():
    X = RNG.normal(size=(3, 10, 2))
    X[0, :, 1] = np.nan
    model = ChannelIndependent(Recorder()).fit(X)
    Z = model.transform(X)
    np.testing.assert_allclose(Z[0], model.estimator_.encode(X[:1, :, :1])[0], rtol=1e-6)
    with pytest.raises(ValueError, match="Series 0 has no observed value in channel 1"):
        model.set_params(pooling="concat").transform(X)


def test_concat_refuses_mixed_channel_counts():
    model = ChannelIndependent(Recorder(), pooling="concat").fit(RNG.normal(size=(3, 10, 2)))
    with pytest.raises(ValueError, match="same channel count"):
        model.transform([RNG.normal(size=(10, 2)), RNG.normal(size=(10, 3))])


def test_timestamp_level_pools_per_step_and_keeps_the_padding_nan():
    X = [RNG.normal(size=(12, 2)), RNG.normal(size=(7, 2))]
    model = ChannelIndependent(tiny(level="timestamp")).fit(X)
    Z = model.transform(X)
    assert Z.shape == (2, 12, 4)
    assert np.isnan(Z[1, 7:]).all() and np.isfinite(Z[1, :7]).all()
    want = np.mean([model.estimator_.transform(X[0][None, :, c]) for c in range(2)], axis=0)
    np.testing.assert_allclose(Z[:1], want, rtol=1e-5, atol=1e-6)
    assert model.encode(X, level="instance").shape == (2, 4)


def test_channels_first_input_reads_like_channels_last():
    X = RNG.normal(size=(5, 16, 3)).astype(np.float32)
    last = ChannelIndependent(tiny()).fit(X)
    first = ChannelIndependent(tiny(), input_layout="channels_first").fit(X.transpose(0, 2, 1))
    np.testing.assert_array_equal(last.transform(X), first.transform(X.transpose(0, 2, 1)))


def test_wrapped_estimator_with_channels_first_layout_gets_univariate_series():
    X = RNG.normal(size=(5, 16, 3))
    model = ChannelIndependent(Recorder(input_layout="channels_first")).fit(X)
    assert model.estimator_.X_.shape == (15, 1, 16)
    assert model.transform(X).shape == (5, 3)


def test_sklearn_contract_clone_nested_params_and_grid_search():
    model = ChannelIndependent(tiny(), pooling="max")
    params = model.get_params(deep=True)
    assert params["pooling"] == "max" and params["estimator__output_dims"] == 4
    model.set_params(estimator__n_iters=3)
    assert model.estimator.n_iters == 3
    fresh = clone(model)
    assert fresh.estimator is not model.estimator and fresh.estimator.n_iters == 3
    X = RNG.normal(size=(16, 20, 2))
    y = np.repeat([0, 1], 8)
    X[y == 1] += 1.0
    search = GridSearchCV(make_pipeline(model, SVC()), {"channelindependent__pooling":
                                                        ["mean", "concat"]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["channelindependent__pooling"] in ("mean", "concat")


def test_pipeline_with_a_frozen_fitted_model_keeps_its_weights():
    X = RNG.normal(size=(8, 20, 2))
    fitted = ChannelIndependent(tiny()).fit(X)
    pipe = make_pipeline(FrozenEstimator(fitted), SVC()).fit(X, np.repeat([0, 1], 4))
    np.testing.assert_array_equal(pipe[0].transform(X), fitted.transform(X))


def test_frozen_univariate_encoder_is_used_as_it_is():
    enc = tiny().fit(RNG.normal(size=(6, 20)))
    model = ChannelIndependent(FrozenEstimator(enc)).fit(RNG.normal(size=(4, 20, 3)))
    assert model.estimator_.estimator is enc
    assert model.transform(RNG.normal(size=(2, 20, 5))).shape == (2, 4)


def test_pickle_and_save_load_round_trips(tmp_path):
    X = RNG.normal(size=(6, 20, 3))
    model = ChannelIndependent(tiny(), pooling="concat").fit(X)
    Z = model.transform(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).transform(X), Z)
    model.save(tmp_path / "ci.pt")
    loaded = sslts.load(tmp_path / "ci.pt")
    assert type(loaded) is ChannelIndependent and loaded.pooling == "concat"
    assert loaded.get_params(deep=True)["estimator__output_dims"] == 4
    np.testing.assert_array_equal(loaded.transform(X), Z)
    np.testing.assert_array_equal(ChannelIndependent.load(tmp_path / "ci.pt").transform(X), Z)
    with pytest.raises(TypeError, match="holds a ChannelIndependent"):
        TS2VecTransformer.load(tmp_path / "ci.pt")
    model.estimator_.save(tmp_path / "inner.pt")
    with pytest.raises(TypeError, match="not a ChannelIndependent"):
        ChannelIndependent.load(tmp_path / "inner.pt")


def test_warm_start_continues_the_fitted_encoder_with_new_parameters():
    X = RNG.normal(size=(8, 20, 2))
    model = ChannelIndependent(tiny()).fit(X)
    inner, before = model.estimator_, model.transform(X)
    model.set_params(estimator__warm_start=True, estimator__n_iters=3, estimator__lr=1e-4)
    model.fit(X)
    assert model.estimator_ is inner and inner.n_iter_ == 2 + 3 and inner.lr == 1e-4
    assert not np.array_equal(model.transform(X), before)
    model.set_params(estimator__warm_start=False).fit(X)
    assert model.estimator_ is not inner and model.estimator_.n_iter_ == 3


def test_checkpoint_reaches_the_wrapped_fit(tmp_path):
    X = RNG.normal(size=(8, 20, 2))
    model = ChannelIndependent(tiny(n_iters=None, n_epochs=2)).fit(
        X, checkpoint=tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "checkpoint.pt").is_file()
    resumed = ChannelIndependent(tiny(n_iters=None, n_epochs=2)).fit(
        X, checkpoint=tmp_path / "ckpt")
    np.testing.assert_array_equal(resumed.transform(X), model.transform(X))


def test_bad_parameters_and_input_get_clear_errors():
    with pytest.raises(InvalidParameterError, match="pooling"):
        ChannelIndependent(pooling="sum").fit(RNG.normal(size=(4, 10)))
    with pytest.raises(InvalidParameterError, match="estimator"):
        ChannelIndependent(SVC()).fit(RNG.normal(size=(4, 10)))
    with pytest.raises(ValueError, match="empty list"):
        ChannelIndependent(Recorder()).fit([])
    with pytest.raises(ValueError, match=r"In X\[1\]: .*entirely missing"):
        ChannelIndependent(Recorder()).fit([RNG.normal(size=(2, 5, 2)),
                                            np.full((1, 5, 3), np.nan)])
    with pytest.raises(Exception, match="not fitted"):
        ChannelIndependent(Recorder()).transform(RNG.normal(size=(2, 5)))


def test_feature_names_and_pandas_output():
    pd = pytest.importorskip("pandas")
    model = ChannelIndependent(tiny()).fit(RNG.normal(size=(6, 20, 2)))
    frame = model.set_output(transform="pandas").transform(RNG.normal(size=(3, 20, 5)))
    assert isinstance(frame, pd.DataFrame) and list(frame.columns)[:2] == [
        "channelindependent0", "channelindependent1"]
    assert len(model.set_params(pooling="concat").get_feature_names_out()) == 8


def test_not_listed_among_the_methods_but_loadable_by_name():
    assert ChannelIndependent not in sslts.all_estimators()


DDP_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    from sslts import ChannelIndependent, TS2VecTransformer, distributed

    rank, world = distributed.init_from_env()
    rng = np.random.default_rng(0)  # every rank reads the same corpus
    corpus = [rng.normal(size=(6, 30, 2)), rng.normal(size=(4, 20, 3))]
    enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_epochs=2,
                            batch_size=4, device="cpu", random_state=rank)
    model = ChannelIndependent(enc).fit(corpus)
    torch.save({"state": model.estimator_.module_.state_dict(),
                "n_iter": model.estimator_.n_iter_}, f"{sys.argv[1]}/rank{rank}.pt")
    torch.distributed.destroy_process_group()
    """
)


@pytest.mark.slow
def test_corpus_fit_is_data_parallel_under_torchrun(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(DDP_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", str(script), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    # 24 univariate series, 12 per rank, batches of 4, 2 epochs: 6 steps on each rank.
    assert r0["n_iter"] == r1["n_iter"] == 6
    for name, tensor in r0["state"].items():
        assert torch.equal(tensor, r1["state"][name]), name


def test_univariate_encoder_error_says_how_to_embed_more_channels():
    enc = tiny().fit(RNG.normal(size=(6, 20)))
    X = RNG.normal(size=(2, 20, 3))
    with pytest.raises(ValueError, match=r"ChannelIndependent\(FrozenEstimator\(encoder\)\)"):
        enc.transform(X)
    assert ChannelIndependent(FrozenEstimator(enc)).fit(X).transform(X).shape == (2, 4)
    wide = tiny().fit(RNG.normal(size=(6, 20, 2)))
    with pytest.raises(ValueError, match=r"fitted on series with 2 channel\(s\)\.$"):
        wide.transform(X)  # a multivariate encoder gets no such advice
