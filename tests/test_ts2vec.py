"""TS2Vec mechanics and its scikit-learn integration on real data."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from sslts import TS2VecTransformer, load_dataset
from sslts.augment import sample_overlapping_crops
from sslts.encoders import SamePadConv, TS2VecEncoder
from sslts.methods.ts2vec import _centre_variable_length, _split_into_sections
from sslts.utils.validation import check_time_series

TINY = dict(output_dims=8, hidden_dims=8, depth=2, n_iters=4, batch_size=4, device="cpu")


@pytest.fixture(scope="module")
def gunpoint():
    X_train, y_train, X_test, y_test = load_dataset("GunPoint")
    return X_train[:, ::3], y_train, X_test[:60, ::3], y_test[:60]


# ---------------------------------------------------------------- encoder
@pytest.mark.parametrize("length", [3, 4, 9])
def test_same_pad_conv_large_dilation_equals_full_convolution(length):
    torch.manual_seed(0)
    conv = SamePadConv(4, 5, kernel_size=3, dilation=8)
    x = torch.randn(2, 4, length)
    reference = torch.nn.functional.conv1d(
        x, conv.conv.weight, conv.conv.bias, padding=8, dilation=8
    )
    torch.testing.assert_close(conv(x), reference)


def test_encoder_masks_missing_timestamps_after_projection():
    torch.manual_seed(0)
    enc = TS2VecEncoder(2, output_dims=3, hidden_dims=4, depth=0, dropout=0.0).eval()
    x = torch.randn(1, 5, 2)
    x_nan = x.clone()
    x_nan[0, 2, 1] = float("nan")  # one missing channel hides the whole timestamp
    mask = torch.ones(1, 5, dtype=torch.bool)
    mask[0, 2] = False
    # Missing value == explicitly masked timestamp (whatever the value was).
    torch.testing.assert_close(enc(x_nan), enc(x, mask))
    assert not torch.isnan(enc(x_nan)).any()


def test_encoder_architecture_matches_paper():
    enc = TS2VecEncoder(1)
    blocks = list(enc.feature_extractor)
    assert len(blocks) == 11
    assert [b.conv1.dilation for b in blocks] == [2**i for i in range(11)]
    assert blocks[-1].projector is not None and blocks[0].projector is None
    assert sum(p.numel() for p in enc.parameters()) == 637_248


# ------------------------------------------------------------------ views
def test_overlapping_crops_share_the_overlap_timestamps():
    T = 50
    x = torch.arange(T, dtype=torch.float32).repeat(6, 1)[..., None] + 100 * torch.arange(6)[
        :, None, None
    ]
    rng = np.random.default_rng(0)
    for _ in range(50):
        crops = sample_overlapping_crops(x, rng)
        o = crops.overlap
        assert 2 <= o <= T
        torch.testing.assert_close(crops.view1[:, -o:], crops.view2[:, :o])
        # Each row stays inside its own series (no wrap, no mixing).
        series = (crops.view1[:, :, 0] // 100).long()
        assert (series == torch.arange(6)[:, None]).all()


def test_sections_and_centring():
    X = np.arange(2 * 7, dtype=float).reshape(2, 7, 1)
    parts = _split_into_sections(X, 3)
    assert parts.shape == (6, 3, 1)
    assert np.isnan(parts[2:, 2]).all() or np.isnan(parts[4:, 2]).all()
    np.testing.assert_array_equal(parts[0, :, 0], [0, 1, 2])
    Y = np.array([[1.0, 2.0, np.nan, np.nan, np.nan]])[..., None]
    centred = _centre_variable_length(Y)[0, :, 0]
    np.testing.assert_array_equal(np.isnan(centred), [True, False, False, True, True])


def test_long_series_are_cut_into_sections_for_training():
    X = np.random.default_rng(0).normal(size=(2, 40, 1))
    est = TS2VecTransformer(max_train_length=10, **TINY)
    assert est.prepare_training_data(X).shape == (8, 10, 1)


# --------------------------------------------------------------- training
def test_default_iteration_rule():
    est = TS2VecTransformer()
    assert est.default_budget(np.zeros((100, 1000, 1))) == (None, 200)
    assert est.default_budget(np.zeros((101, 1000, 1))) == (None, 600)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_averaged_weights_are_the_mean_of_init_and_every_iterate(gunpoint):
    X = gunpoint[0][:16]
    est = TS2VecTransformer(**{**TINY, "n_iters": 1}, random_state=0, warm_start=True)
    # The same seed builds the same network before any step: that is the init.
    fresh = clone(est)
    fresh._initialise(check_time_series(X))
    init = _params(fresh.module_)
    iterates = []
    for _ in range(3):
        iterates.append(_params(est.fit(X).module_))
    for k, avg in enumerate(est.averaged_module_.parameters()):
        expected = torch.stack([init[k]] + [it[k] for it in iterates]).mean(0)
        torch.testing.assert_close(avg, expected, rtol=1e-5, atol=1e-6)
    assert est.n_iter_ == 3


def test_fit_records_history_and_respects_budgets(gunpoint):
    X = gunpoint[0]
    est = TS2VecTransformer(**{**TINY, "n_iters": None, "n_epochs": 2}, random_state=0).fit(X)
    assert est.n_epochs_ == 2 and len(est.loss_history_) == 2
    assert est.n_iter_ == 2 * (len(X) // 4)  # drop_last, as the official loader
    est = TS2VecTransformer(**{**TINY, "n_iters": 7}, random_state=0).fit(X)
    assert est.n_iter_ == 7
    assert all(np.isfinite(est.loss_history_))


def test_training_lowers_the_loss(gunpoint):
    X = gunpoint[0]
    est = TS2VecTransformer(
        output_dims=16, hidden_dims=16, depth=3, n_epochs=8, batch_size=8, device="cpu",
        random_state=0,
    ).fit(X)
    assert np.mean(est.loss_history_[-2:]) < est.loss_history_[0]


def test_warm_start_continues_the_same_model(gunpoint):
    X = gunpoint[0]
    est = TS2VecTransformer(**TINY, random_state=0, warm_start=True).fit(X)
    first = [p.detach().clone() for p in est.module_.parameters()]
    est.fit(X)
    assert est.n_iter_ == 8 and len(est.loss_history_) >= 2
    assert any(not torch.equal(a, b) for a, b in zip(first, est.module_.parameters()))


def test_same_seed_gives_identical_embeddings_and_keeps_global_rng(gunpoint):
    X = gunpoint[0]
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global RNG is the point)
    a = TS2VecTransformer(**TINY, random_state=3).fit_transform(X)
    b = TS2VecTransformer(**TINY, random_state=3).fit_transform(X)
    c = TS2VecTransformer(**TINY, random_state=4).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(torch_state, torch.random.get_rng_state())
    np.testing.assert_array_equal(np_state, np.random.get_state()[1])  # noqa: NPY002


def test_verbose_prints_one_line_per_epoch(gunpoint, capsys):
    TS2VecTransformer(**{**TINY, "n_iters": None, "n_epochs": 2}, verbose=1).fit(gunpoint[0])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "epoch" in ln]
    assert len(lines) == 2 and "loss" in lines[0]


@pytest.mark.parametrize("budget", [{"n_iters": 5}, {"n_iters": None, "n_epochs": 2}])
def test_verbose_2_shows_a_progress_bar(gunpoint, capsys, budget):
    TS2VecTransformer(**{**TINY, **budget}, verbose=2).fit(gunpoint[0])
    err = capsys.readouterr().err
    assert "TS2VecTransformer" in err and "loss=" in err
    assert ("5/5" in err) if budget["n_iters"] else ("2/2" in err)


# -------------------------------------------------------------- transform
def test_levels_and_shapes(gunpoint):
    X = gunpoint[0]
    est = TS2VecTransformer(**TINY, random_state=0).fit(X)
    assert est.transform(X).shape == (len(X), 8)
    assert est.transform(X).dtype == np.float32
    ts = est.encode(X, level="timestamp")
    assert ts.shape == (len(X), X.shape[1], 8)
    # instance = max over timestamps of the timestamp embeddings
    np.testing.assert_allclose(est.transform(X), ts.max(axis=1), rtol=1e-5, atol=1e-6)
    # batching does not change the result
    np.testing.assert_allclose(est.encode(X, batch_size=3), est.transform(X), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="level='patch' is not supported"):
        est.encode(X, level="patch")


def test_instance_embedding_ignores_padding(gunpoint):
    X = gunpoint[0][:4]
    est = TS2VecTransformer(**TINY, random_state=0).fit(X)
    padded = np.concatenate([X, np.full((4, 10, 1), np.nan)], axis=1)
    ts = est.encode(padded, level="timestamp")
    expected = ts[:, : X.shape[1]].max(axis=1)
    np.testing.assert_allclose(est.transform(padded), expected, rtol=1e-6)


def test_pandas_output(gunpoint):
    pd = pytest.importorskip("pandas")
    est = TS2VecTransformer(**TINY, random_state=0).set_output(transform="pandas")
    out = est.fit_transform(gunpoint[0][:, :, 0])
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns[:2]) == ["ts2vectransformer0", "ts2vectransformer1"]


@pytest.mark.parametrize("name", ["GesturePebbleZ1", "JapaneseVowels"])
def test_variable_length_real_data(shared_data, name):
    X_train, _, X_test, _ = load_dataset(name, data_home=shared_data)
    X_train, X_test = X_train[:24], X_test[:10]
    assert np.isnan(X_train).any()
    est = TS2VecTransformer(**TINY, random_state=0).fit(X_train)
    emb = est.transform(X_test)
    assert emb.shape == (10, 8) and np.isfinite(emb).all()
    as_list = [s[~np.isnan(s).any(axis=1)] for s in X_test]
    np.testing.assert_allclose(est.transform(as_list), emb, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ sklearn glue
def test_pipeline_gridsearch_and_cross_validation(gunpoint):
    X, y = gunpoint[0], gunpoint[1]
    pipe = Pipeline([("enc", TS2VecTransformer(**TINY, random_state=0)), ("svm", SVC())])
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()
    grid = GridSearchCV(pipe, {"enc__output_dims": [4, 8], "svm__C": [1.0, 10.0]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["enc__output_dims"] in (4, 8)
    assert grid.predict(gunpoint[2]).shape == (60,)


def test_learns_gunpoint(gunpoint):
    """A short real training run beats chance by a wide margin on held-out data."""
    X_train, y_train, X_test, y_test = load_dataset("GunPoint")
    est = TS2VecTransformer(output_dims=32, hidden_dims=32, depth=4, n_iters=60,
                            device="cpu", random_state=0)
    clf = SVC(C=10).fit(est.fit_transform(X_train), y_train)
    assert clf.score(est.transform(X_test), y_test) > 0.8
