"""EmbeddingAnomalyDetector: TS2Vec's streaming anomaly protocol as an outlier detector."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sslts import TS2VecTransformer
from sslts.anomaly_detector import EmbeddingAnomalyDetector
from sslts.evaluation import point_adjusted_scores


def tiny_encoder(**kw):
    params = dict(output_dims=4, hidden_dims=4, depth=1, n_iters=2, batch_size=4, device="cpu",
                  random_state=0)
    return TS2VecTransformer(**{**params, **kw})


def signal(n=160, seed=0, spikes=(120,)):
    rng = np.random.default_rng(seed)
    x = np.sin(2 * np.pi * np.arange(n) / 16) + 0.05 * rng.normal(size=n)
    for s in spikes:
        if s < n:
            x[s] += 4.0
    return x


@pytest.fixture(scope="module")
def detector():
    enc = tiny_encoder(output_dims=8, hidden_dims=8, depth=2, n_iters=20)
    return EmbeddingAnomalyDetector(enc, padding=12, ma_window=5, n_diffs=0).fit(
        signal(100, spikes=()))


# ------------------------------------------------------------ slow references
def slow_scores(det, x):
    """One forward pass per timestamp and a Python moving mean (n_diffs=0)."""
    z = (np.asarray(x, np.float64).reshape(len(x), -1) - det.mean_) / det.scale_
    net = det.encoder_.averaged_module_.eval()
    errors = np.zeros(len(z))
    for t in range(len(z)):
        lo = max(0, t - det.padding)
        window = np.full((det.padding + 1, z.shape[1]), np.nan, np.float32)
        window[det.padding - (t - lo):] = z[lo : t + 1]
        w = torch.tensor(window[None])
        keep = torch.ones(1, det.padding + 1, dtype=torch.bool)
        keep[0, -1] = False
        with torch.no_grad():
            errors[t] = (net(w)[0, -1] - net(w, keep)[0, -1]).abs().sum().item()
    scores = np.zeros(len(z))
    for t in range(1, len(z)):
        m = errors[max(0, t - det.ma_window) : t].mean()
        scores[t] = (errors[t] - m) / m
    return scores


# -------------------------------------------------------------- the protocol
def test_scores_follow_the_ts2vec_definition(detector):
    x = signal(160)
    np.testing.assert_allclose(detector.score_samples(x), slow_scores(detector, x),
                               rtol=1e-3, atol=1e-4)


def test_the_spike_scores_highest_and_is_predicted(detector):
    x = signal(160)
    scores = detector.score_samples(x)
    assert int(np.argmax(scores)) == 120
    assert detector.predict(x)[120] == -1
    labels = np.zeros(160, int)
    labels[120:123] = 1
    assert detector.score(x, labels) == pytest.approx(point_adjusted_scores(
        (detector.predict(x) == -1).astype(int), labels, detector.delay)["f1"])


def test_threshold_rules(detector):
    x = signal(100, spikes=())
    reference = detector.score_samples(x)[detector.ma_window + 1 :]
    assert detector.threshold_ == pytest.approx(reference.mean() + 4 * reference.std())
    frozen = FrozenEstimator(detector.encoder_)
    params = dict(padding=12, ma_window=5, n_diffs=0)
    q = EmbeddingAnomalyDetector(frozen, contamination=0.1, **params).fit(x)
    assert q.threshold_ == pytest.approx(np.quantile(reference, 0.9))
    assert EmbeddingAnomalyDetector(frozen, threshold=2.5, **params).fit(x).threshold_ == 2.5
    narrow = EmbeddingAnomalyDetector(frozen, beta=1.0, **params).fit(x)
    assert narrow.threshold_ == pytest.approx(reference.mean() + reference.std())


def test_predict_and_decision_function_agree(detector):
    x = signal(160, spikes=(60, 61, 62, 120))
    decision = detector.decision_function(x)
    np.testing.assert_allclose(decision, detector.threshold_ - detector.score_samples(x))
    unthinned = clone(detector).set_params(delay=0)
    unthinned.__dict__.update({k: v for k, v in vars(detector).items() if k.endswith("_")})
    np.testing.assert_array_equal(unthinned.predict(x) == -1, decision < 0)
    # With delay, a burst keeps its first positive only.
    pred = detector.predict(x)
    assert set(np.flatnonzero(pred == -1)) <= set(np.flatnonzero(decision < 0))
    assert not ((pred[1:] == -1) & (pred[:-1] == -1)).any()


def test_differencing_is_applied_before_scoring(detector):
    x = np.cumsum(signal(160, seed=3))  # a random-walk-like series
    frozen = FrozenEstimator(detector.encoder_)
    diffed = EmbeddingAnomalyDetector(frozen, padding=12, ma_window=5, n_diffs=1).fit(x[:100])
    plain = EmbeddingAnomalyDetector(frozen, padding=12, ma_window=5,
                                      n_diffs=0).fit(np.diff(x[:100]))
    scores = diffed.score_samples(x)
    assert scores[0] == 0
    np.testing.assert_allclose(scores[1:], plain.score_samples(np.diff(x)))
    assert diffed.threshold_ == pytest.approx(plain.threshold_)


def test_adf_rule_differences_a_random_walk_only():
    pytest.importorskip("statsmodels")
    from sslts.evaluation import adf_differences

    rng = np.random.default_rng(0)
    noise = rng.normal(size=400)
    assert adf_differences(noise) == 0
    assert adf_differences(np.cumsum(noise)) == 1
    assert adf_differences(np.cumsum(np.cumsum(noise))) == 2


def test_many_series_are_scored_one_by_one(detector):
    a, b = signal(160, seed=1), signal(130, seed=2, spikes=(90,))
    stacked = np.full((2, 160, 1), np.nan)
    stacked[0, :, 0], stacked[1, :130, 0] = a, b
    scores = detector.score_samples(stacked)
    assert scores.shape == (2, 160) and np.isnan(scores[1, 130:]).all()
    np.testing.assert_allclose(scores[1, :130], detector.score_samples(b))
    listed = detector.score_samples([a, b])
    assert isinstance(listed, list) and listed[1].shape == (130,)
    assert detector.predict(stacked).shape == (2, 160)
    assert (detector.predict(stacked)[1, 130:] == 1).all()  # padding is never anomalous
    labels = np.zeros((2, 160))
    labels[1, 90:92] = 1
    labels[1, 130:] = np.nan
    assert 0 <= detector.score(stacked, labels) <= 1


def test_multivariate_series():
    X = np.stack([signal(120, seed=4), signal(120, seed=5, spikes=(100,))], axis=1)
    det = EmbeddingAnomalyDetector(tiny_encoder(), padding=8, ma_window=5).fit(X[:80])
    assert det.n_features_in_ == 2 and det.mean_.shape == (2,)
    assert det.score_samples(X).shape == (120,)
    with pytest.raises(ValueError, match="expecting 2 features"):
        det.score_samples(X[:, 0])


def test_fit_does_not_modify_its_input():
    x = signal(100, spikes=())
    copy = x.copy()
    EmbeddingAnomalyDetector(tiny_encoder(), padding=8, ma_window=5, n_diffs=1).fit(x)
    np.testing.assert_array_equal(x, copy)


@pytest.mark.parametrize(
    "params, data, match",
    [
        ({"contamination": 0.7}, None, "contamination"),
        ({"n_diffs": "kpss"}, None, "n_diffs"),
        ({"padding": -1}, None, "padding"),
        ({}, np.zeros(5), "too short"),
        ({"n_diffs": 6}, np.zeros(5), "n_diffs=6"),
        ({}, np.full(50, np.nan), "entirely missing"),
    ],
)
def test_bad_parameters_and_data_raise(params, data, match):
    est = EmbeddingAnomalyDetector(tiny_encoder(), **{"padding": 8, "ma_window": 5, **params})
    with pytest.raises(ValueError, match=match):
        est.fit(signal(60) if data is None else data)


# ------------------------------------------------------------ scikit-learn
def test_clone_pickle_pipeline_and_grid_search(detector):
    x = signal(160)
    restored = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(restored.score_samples(x), detector.score_samples(x))
    assert clone(detector).get_params()["padding"] == 12
    pipe = Pipeline([("detect", clone(detector))]).fit(x[:100])
    assert pipe.predict(x).shape == (160,)
    X = np.stack([signal(150, seed=s, spikes=(110 + s,)) for s in range(4)])[..., None]
    y = np.zeros((4, 150))
    for s in range(4):
        y[s, 110 + s] = 1
    search = GridSearchCV(EmbeddingAnomalyDetector(FrozenEstimator(detector.encoder_),
                                                   padding=12, ma_window=5),
                          {"beta": [2.0, 50.0]}, cv=KFold(2)).fit(X, y)
    assert search.best_params_["beta"] == 2.0  # a threshold of 50 std finds nothing


# 1-D input is one univariate series and a list holds several series, which the
# tabular checks do not expect; the time axis makes order and subsets matter; and
# predict thins bursts, so its count of outliers is not n_samples * contamination.
NOT_APPLICABLE = {
    "check_fit_score_takes_y": "score needs 0/1 labels per timestamp",
    "check_outliers_fit_predict": "predict thins bursts (delay); the threshold skips "
                                  "the first ma_window + 1 scores",
    "check_outliers_train": "a list holds several series; decision_function has "
                            "scikit-learn's sign while score_samples is an anomaly score",
    "check_methods_sample_order_invariance": "the scores depend on the order of time",
    "check_methods_subset_invariance": "the scores depend on the past of each step",
    "check_fit1d": "1-D input is one univariate series",
}


@parametrize_with_checks([EmbeddingAnomalyDetector(tiny_encoder(), padding=3, ma_window=3)])
def test_sklearn_estimator_checks(estimator, check):
    name = getattr(check, "func", check).__name__
    if name in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[name])
    check(estimator)
