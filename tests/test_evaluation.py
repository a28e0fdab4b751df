"""Evaluation protocols on the real shared data, against slow reference code."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sslts import IARSTransformer, TimeDRLTransformer, TS2VecTransformer, load_dataset
from sslts.encoders import TS2VecEncoder
from sslts.evaluation import (
    RIDGE_ALPHAS,
    adjusted_errors,
    calendar_features,
    causal_encode,
    discord_distance,
    dominant_period,
    evaluate_anomaly_detection,
    evaluate_anomaly_scores,
    evaluate_classification,
    evaluate_forecasting,
    fit_knn,
    fit_ridge,
    fit_svm,
    forecast_samples,
    load_ett,
    load_ucr_anomaly,
    mask_last_encode,
    masked_errors,
    point_adjust,
    point_adjusted_scores,
    rolling_zscore,
    split_for_fit,
    suppress_nearby,
    ts2vec_normalise,
    ts2vec_threshold,
)

ANOMALY = "anomaly/UCR_Anomaly_135_InternalBleeding16"


def tiny_ts2vec(**kw):
    params = dict(output_dims=8, hidden_dims=8, depth=2, n_iters=3, device="cpu",
                  random_state=0)
    return TS2VecTransformer(**{**params, **kw})


@pytest.fixture(scope="module")
def gunpoint(shared_data):
    return load_dataset("GunPoint", data_home=shared_data)


@pytest.fixture(scope="module")
def etth1(shared_data):
    return load_ett("ETTh1", shared_data, univariate=True)


# --------------------------------------------------------------- classification
def test_svm_protocol_on_raw_gunpoint_values(gunpoint):
    X_train, y_train, X_test, y_test = gunpoint
    clf = fit_svm(X_train[..., 0], y_train)
    # 50 series, 2 classes: the grid search runs and picks a C from the grid.
    assert clf.C in (1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000, 10000, np.inf)
    accuracy = np.mean(clf.predict(X_test[..., 0]) == y_test)
    # An RBF SVM on raw GunPoint lies between 1-NN-ED (0.913) and chance (0.5).
    assert 0.8 <= accuracy <= 1.0


def test_svm_protocol_uses_hard_margin_on_small_training_sets(shared_data):
    X_train, y_train, _, _ = load_dataset("Coffee", data_home=shared_data)  # 28 series
    assert fit_svm(X_train[..., 0], y_train).C == np.inf


def test_svm_protocol_is_bounded_on_non_separable_embeddings():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5))
    y = rng.integers(0, 2, 30)
    X[15:], y[15:] = X[:15], 1 - y[:15]  # identical embeddings, opposite labels
    # Unbounded, this hard-margin fit never ends; bounded, it stops and says so.
    with pytest.warns(ConvergenceWarning, match="max_iter=1000"):
        clf = fit_svm(X, y, max_iter=1000)
    assert clf.C == np.inf and clf.max_iter == 1000
    assert fit_svm(X[:6], [0, 0, 0, 1, 1, 1]).max_iter == 10_000_000
    with pytest.raises(ValueError, match="max_iter must be"):
        fit_svm(X, y, max_iter=0)


def test_knn_probe_matches_brute_force_vote(gunpoint):
    X_train, y_train, X_test, _ = (a[..., 0] if a.ndim == 3 else a for a in gunpoint)
    pred = fit_knn(X_train, y_train, n_neighbors=5).predict(X_test)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    A, B = (X_train - mean) / std, (X_test - mean) / std
    classes = np.unique(y_train)
    expected = []
    for b in B:
        nearest = np.argsort(((A - b) ** 2).sum(axis=1), kind="stable")[:5]
        votes = np.bincount(np.searchsorted(classes, y_train[nearest]), minlength=len(classes))
        expected.append(classes[np.argmax(votes)])
    np.testing.assert_array_equal(pred, expected)


def test_ts2vec_normalise_scales_only_unnormalised_ucr_sets(shared_data):
    X_train, _, X_test, _ = load_dataset("Chinatown", data_home=shared_data)
    A, B = ts2vec_normalise("Chinatown", X_train, X_test)
    assert abs(np.nanmean(A)) < 1e-9 and abs(np.nanstd(A) - 1) < 1e-9
    np.testing.assert_allclose(B, (X_test - np.nanmean(X_train)) / np.nanstd(X_train))
    X_train, _, X_test, _ = load_dataset("ECG200", data_home=shared_data)
    A, _ = ts2vec_normalise("ECG200", X_train, X_test)
    np.testing.assert_array_equal(A, X_train)


def test_evaluate_classification_end_to_end(gunpoint):
    scores = evaluate_classification(tiny_ts2vec(), *gunpoint, protocols=("svm", "logistic"))
    assert set(scores) == {"svm", "logistic"}
    assert all(0.5 <= s <= 1 for s in scores.values())
    with pytest.raises(ValueError, match="Unknown protocol"):
        evaluate_classification(tiny_ts2vec(), *gunpoint, protocols=("forest",))


# ------------------------------------------------------------------ forecasting
def test_calendar_features_match_pandas(shared_data):
    pd = pytest.importorskip("pandas")
    dates = pd.to_datetime(pd.read_csv(shared_data / "forecast/ETTm1.csv")["date"])
    dates = dates.iloc[::97]  # every 97th row: all minutes, weekdays and year ends
    expected = np.stack([dates.dt.minute, dates.dt.hour, dates.dt.day_of_week, dates.dt.day,
                         dates.dt.day_of_year, dates.dt.month,
                         dates.dt.isocalendar().week.astype(int)], axis=1)
    got = calendar_features(dates.to_numpy().astype("datetime64[m]"))
    np.testing.assert_array_equal(got, expected)


def test_load_ett_split_and_scaling(shared_data, etth1):
    pd = pytest.importorskip("pandas")
    raw = pd.read_csv(shared_data / "forecast/ETTh1.csv")["OT"].to_numpy()
    assert etth1.data.shape == (1, 14400, 8)
    assert (etth1.train, etth1.valid, etth1.test) == (slice(0, 8640), slice(8640, 11520),
                                                     slice(11520, 14400))
    mean, std = raw[:8640].mean(), raw[:8640].std()
    np.testing.assert_allclose(etth1.data[0, :, -1], (raw[:14400] - mean) / std, rtol=1e-5,
                               atol=1e-5)
    assert etth1.horizons == (24, 48, 168, 336, 720)


def test_forecast_samples_match_loop(etth1):
    feats = etth1.data[:, :60, :5]  # any per-timestamp features
    targets = etth1.data[:, :60, -1:]
    X, Y = forecast_samples(feats, targets, horizon=7, drop=3)
    rows_x, rows_y = [], []
    for t in range(3, 60 - 7):
        rows_x.append(feats[0, t])
        rows_y.append(np.concatenate([targets[0, t + k] for k in range(1, 8)]))
    np.testing.assert_array_equal(X, rows_x)
    np.testing.assert_array_equal(Y, rows_y)


def test_causal_encode_matches_window_loop_and_ignores_the_future(etth1):
    X = etth1.data[:, :90]
    enc = tiny_ts2vec().fit(X)
    got = causal_encode(enc, X, padding=10)
    padded = np.concatenate([np.full((1, 10, X.shape[2]), np.nan, np.float32), X], axis=1)
    for t in (0, 5, 10, 47, 89):
        window = padded[:, t : t + 11]
        ref = enc.encode(window, level="timestamp")[0, -1]
        np.testing.assert_allclose(got[0, t], ref, rtol=1e-4, atol=1e-5)
    future_changed = X.copy()
    future_changed[:, 50:] += 3.0
    np.testing.assert_array_equal(causal_encode(enc, future_changed, padding=10)[:, :50],
                                  got[:, :50])


def test_fit_ridge_picks_the_alpha_with_the_best_validation_score(etth1):
    rng = np.random.default_rng(0)
    X = etth1.data[0, :600, :7].astype(np.float64) + 0.1 * rng.normal(size=(600, 7))
    Y = etth1.data[0, 1:601, -1:].astype(np.float64)
    model = fit_ridge(X[:400], Y[:400], X[400:], Y[400:])
    scores = []
    for alpha in RIDGE_ALPHAS:  # closed-form ridge with an unpenalised intercept
        mx, my = X[:400].mean(axis=0), Y[:400].mean(axis=0)
        A = X[:400] - mx
        W = np.linalg.solve(A.T @ A + alpha * np.eye(7), A.T @ (Y[:400] - my))
        err = (X[400:] - mx) @ W + my - Y[400:]
        scores.append(np.sqrt(np.mean(err**2)) + np.mean(np.abs(err)))
    assert model.alpha == RIDGE_ALPHAS[int(np.argmin(scores))]


def test_split_for_fit_cuts_non_overlapping_windows(etth1):
    parts = split_for_fit(etth1.data[:, :1000], 201)
    assert parts.shape == (4, 201, 8)
    np.testing.assert_array_equal(parts[2], etth1.data[0, 402:603])
    assert split_for_fit(etth1.data[:, :300], 201).shape == (1, 300, 8)


def test_forecasting_on_etth1_end_to_end(etth1):
    result = evaluate_forecasting(tiny_ts2vec(), etth1, horizons=(24, 48), padding=20)
    assert set(result["horizons"]) == {24, 48}
    for res in result["horizons"].values():
        assert res["alpha"] in RIDGE_ALPHAS
        # The embedding sees the current oil temperature: far better than predicting
        # the training mean (MSE about 1 on standardised data).
        assert 0 < res["mse"] < 0.5 and 0 < res["mae"] < 0.6
    assert result["horizons"][24]["mse"] < result["horizons"][48]["mse"]


# --------------------------------------------------------------------- anomaly
@pytest.mark.parametrize("method", ["ts2vec", "timedrl"])
def test_masked_embedding_ignores_the_hidden_value(shared_data, method):
    values = load_ucr_anomaly(shared_data / ANOMALY).values[:400]
    windows = np.lib.stride_tricks.sliding_window_view(
        (values - values.mean()) / values.std(), 33)[::40, :, None].astype(np.float32)
    if method == "ts2vec":
        enc = tiny_ts2vec().fit(windows)  # its network takes a mask: the official path
    else:
        enc = TimeDRLTransformer(output_dims=8, n_heads=1, n_layers=1, patch_len=4, stride=2,
                                 n_iters=2, device="cpu", random_state=0).fit(windows)
    masked = mask_last_encode(enc, windows)[:, -1]
    changed = windows.copy()
    changed[:, -1] += 5.0
    np.testing.assert_allclose(mask_last_encode(enc, changed)[:, -1], masked, atol=1e-6)
    plain = enc.encode(windows, level="timestamp")[:, -1]
    assert masked.shape == plain.shape
    assert np.abs(masked - plain).sum(axis=1).min() > 0


def test_masking_matches_zeroing_the_hidden_vector(shared_data):
    # TS2Vec's mask_last zeroes the last step after the input projection.
    values = load_ucr_anomaly(shared_data / ANOMALY).values[:64]
    x = torch.tensor((values - values.mean()) / values.std(), dtype=torch.float32)
    x = x.reshape(1, -1, 1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        module = TS2VecEncoder(1, output_dims=8, hidden_dims=8, depth=3).eval()
    keep = torch.ones(1, 64, dtype=torch.bool)
    keep[:, -1] = False
    zero_bias = module.input_fc.bias.detach().clone()
    with torch.no_grad():
        masked = module(x, keep)
        # Same network with the last step's projection forced to zero: x = 0 and no
        # bias at that step only is emulated by subtracting the bias there.
        x0 = x.clone()
        x0[:, -1] = 0.0
        module.input_fc.register_forward_hook(
            lambda m, inp, out: torch.cat([out[:, :-1], out[:, -1:] - zero_bias], dim=1))
        reference = module(x0)
    torch.testing.assert_close(masked, reference)


@pytest.mark.parametrize("min_periods", [None, 1, 3])
def test_adjusted_errors_match_loop(min_periods):
    errors = np.abs(np.sin(np.arange(60.0))) + 0.1
    errors[[0, 30]] = np.nan
    got = adjusted_errors(errors, window=5, min_periods=min_periods)
    need = 5 if min_periods is None else min_periods  # the official: 5 observed errors
    for t in range(60):
        past = errors[max(0, t - 5) : t]
        if (~np.isnan(past)).sum() < need or np.isnan(errors[t]):
            assert np.isnan(got[t])
        else:
            ma = np.nanmean(past)
            assert got[t] == pytest.approx((errors[t] - ma) / ma)
    assert np.isnan(got[31:36]).all() == (min_periods is None)


def test_suppress_nearby_keeps_the_first_of_each_burst():
    pred = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(suppress_nearby(pred, delay=3),
                                  [1, 1, 0, 0, 0, 1, 0, 0, 0, 1])


def test_point_adjust_matches_segment_loop(shared_data):
    labels = load_ucr_anomaly(shared_data / ANOMALY).labels[4100:4300]
    rng = np.random.default_rng(1)
    for delay in (0, 3, 7):
        for _ in range(20):
            pred = (rng.random(len(labels)) < 0.03).astype(int)
            expected = pred.copy()
            t = 0
            while t < len(labels):
                if not labels[t]:
                    t += 1
                    continue
                end = t
                while end < len(labels) and labels[end]:
                    end += 1
                expected[t:end] = int(pred[t : min(t + delay + 1, end)].sum() > 0)
                t = end
            np.testing.assert_array_equal(point_adjust(pred, labels, delay), expected)


@pytest.mark.parametrize("n_diffs", [0, 1])
def test_anomaly_protocol_equals_the_official_single_pass(shared_data, n_diffs):
    """The detector-based protocol against a re-statement of the official flow."""
    full = load_ucr_anomaly(shared_data / ANOMALY)
    # A shorter stretch around the anomaly (4187-4198) keeps the test fast.
    keep = np.r_[0:600, 3900:4500]
    series = type(full)(values=full.values[keep], labels=full.labels[keep], n_train=600)
    enc = tiny_ts2vec().fit(series.values[None, :600, None])
    res = evaluate_anomaly_detection(enc, series, padding=16, fit=False, n_diffs=n_diffs)
    # Official: difference the whole series, z-normalise with the training part, one
    # causal pass over train + test, moving mean across the boundary, threshold from
    # the training scores after the first 22, suppression on the test part.
    values, labels, n = np.diff(series.values, n_diffs), series.labels[n_diffs:], 600 - n_diffs
    z = (values - values[:n].mean()) / values[:n].std()
    adjusted = adjusted_errors(masked_errors(enc, z, padding=16))
    threshold = np.mean(adjusted[22:n]) + 4 * np.std(adjusted[22:n])
    predictions = suppress_nearby((adjusted[n:] > threshold).astype(int), 7)
    assert res["threshold"] == pytest.approx(threshold, rel=1e-6)
    np.testing.assert_array_equal(res["predictions"], predictions)
    expected = point_adjusted_scores(predictions, labels[n:], 7)
    assert res["f1"] == pytest.approx(expected["f1"]) and res["n_diffs"] == n_diffs


def test_anomaly_protocol_end_to_end(shared_data):
    pytest.importorskip("statsmodels")
    series = load_ucr_anomaly(shared_data / ANOMALY)
    assert (series.n_train, len(series.values), series.labels.sum()) == (1200, 7501, 12)
    res = evaluate_anomaly_detection(tiny_ts2vec(), series, padding=16)
    assert res["n_diffs"] == 0  # the ADF test finds the training part stationary
    assert res["predictions"].shape == (7501 - 1200,)
    assert 0 <= res["f1"] <= 1 and np.isfinite(res["threshold"])


def test_decision_rule_on_any_scores():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=300)
    labels = np.zeros(300, int)
    labels[250:255] = 1
    scores[251] = 50.0
    res = evaluate_anomaly_scores(scores, labels, 200, delay=3)
    assert res["threshold"] == pytest.approx(ts2vec_threshold(scores[:200]))
    assert res["threshold"] == pytest.approx(scores[22:200].mean() + 4 * scores[22:200].std())
    assert res["f1"] == 1.0 and res["predictions"][51] == 1
    with pytest.raises(ValueError, match="one entry per timestamp"):
        evaluate_anomaly_scores(scores[:-1], labels, 200)


def test_rolling_zscore_matches_loop():
    x = np.random.default_rng(1).normal(size=80)
    x[40] = np.nan
    got = rolling_zscore(x, window=7)
    for t in range(80):
        past = x[max(0, t - 7) : t]
        past = past[~np.isnan(past)]
        expected = abs(x[t] - past.mean()) / past.std() if len(past) >= 2 else 0.0
        assert got[t] == pytest.approx(0.0 if np.isnan(expected) else expected)


def test_discord_distance_matches_brute_force():
    x = np.sin(np.arange(120) / 3.0) + 0.1 * np.random.default_rng(2).normal(size=120)
    m, n_train = 9, 50
    got = discord_distance(x, n_train, m)

    def znorm(a):
        return (a - a.mean()) / a.std()

    for t in range(m - 1, 120):
        q = znorm(x[t - m + 1 : t + 1])
        dists = [np.linalg.norm(q - znorm(x[s : s + m])) for s in range(n_train - m + 1)
                 if abs(s - (t - m + 1)) >= m]  # overlapping (trivial) matches excluded
        assert got[t] == pytest.approx(min(dists), rel=1e-6, abs=1e-6)
    assert (got[: m - 1] == 0).all()
    with pytest.raises(ValueError, match="n_train"):
        discord_distance(x, 10, m)


def test_dominant_period_finds_the_cycle(shared_data):
    series = load_ucr_anomaly(shared_data / ANOMALY)
    period = dominant_period(series.values[: series.n_train])
    # Brute force: the lag of the largest autocorrelation between 50 and 300 steps.
    x = series.values[: series.n_train] - series.values[: series.n_train].mean()
    acf = [np.dot(x[:-k], x[k:]) for k in range(50, 301)]
    assert period == 50 + int(np.argmax(acf))


# -------------------------------------------------------------- plots and runner
def test_plots_draw(gunpoint):
    plt = pytest.importorskip("matplotlib.pyplot")
    from sslts import plotting

    enc = tiny_ts2vec(n_epochs=2, n_iters=None).fit(gunpoint[0])
    ax = plotting.plot_embedding_tsne(enc.transform(gunpoint[0]), gunpoint[1])
    assert len(ax.collections) == 2  # one scatter per class
    assert len(plotting.plot_loss_history(enc).lines[0].get_xdata()) == 2
    ax = plotting.plot_forecast(np.arange(5.0), np.arange(5.0) + 1, history=np.zeros(3))
    assert len(ax.lines) == 4
    with pytest.raises(TypeError, match="IARSTransformer"):
        plotting.plot_resolutions(enc)
    iars = IARSTransformer(output_dims=4, hidden_dims=4, depth=1, n_epochs=2, device="cpu",
                           selection_frequency="epoch", random_state=0).fit(gunpoint[0])
    assert len(plotting.plot_resolutions(iars)[0].lines[0].get_xdata()) == 2
    plt.close("all")


def test_benchmark_reference_and_paper_lookup():
    from benchmarks._report import load_reference, paper_value
    from benchmarks.run import parse_overrides

    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "reference"
    ref = load_reference(folder)
    row = {"method": "ts2vec", "task": "classification", "dataset": "GunPoint",
           "setting": "svm", "metric": "accuracy"}
    assert paper_value(ref, row)[0] == 0.980
    row.update(method="1nn_dtw_d", dataset="ECG200")
    assert paper_value(ref, row)[0] == 0.770
    row.update(method="ts2vec", task="forecasting", dataset="ETTh1",
               setting="univariate H=168", metric="mse")
    assert paper_value(ref, row)[0] == 0.134
    with open(folder / "ts2vec_table9_ucr.csv", newline="") as fh:
        assert len({r["dataset"] for r in csv.DictReader(fh)}) >= 30
    assert parse_overrides(["ts2vec.n_iters=20", "iars.selection=paper"]) == {
        "ts2vec": {"n_iters": 20}, "iars": {"selection": "paper"}}


@pytest.mark.benchmark
def test_quick_suite_writes_every_output(shared_data, tmp_path):
    from benchmarks.run import main

    main(["--quick", "--methods", "ts2vec", "--datasets", "GunPoint", "--anomaly",
          "--data-home", str(shared_data), "--out", str(tmp_path)])
    with open(tmp_path / "benchmark_suite.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["task"] for r in rows} == {"classification", "forecasting", "anomaly"}
    assert not [r for r in rows if r["error"]]
    page = (tmp_path / "benchmark_suite.md").read_text()
    assert "| GunPoint |" in page and "0.980" in page  # the paper number beside sslts


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: point_adjust(np.zeros(5), np.zeros(4), 3), "one length"),
        (lambda: point_adjust([0, 2], [0, 1], 1), "only 0 and 1"),
        (lambda: point_adjust([0, 1], [0, 1], -1), "non-negative"),
        (lambda: suppress_nearby(np.zeros((2, 2)), 3), "1-D"),
        (lambda: ts2vec_normalise("GunPoint", np.zeros(5), np.zeros(5)), "n_channels"),
        (lambda: ts2vec_normalise("X", np.zeros((2, 5, 2)), np.zeros((2, 5, 3))), "channels"),
    ],
    ids=["length", "values", "delay", "ndim", "normalise-1d", "normalise-channels"],
)
def test_protocol_helpers_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
