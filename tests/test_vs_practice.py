"""``benchmarks.vs_practice``: label subsets, resumable CSVs, baselines, reports.

Tiny configurations only: the point is that each piece computes what the tables claim
(checked against direct re-statements: scikit-learn's Ridge, explicit loops,
sslts's own discord distance), not the numbers of the long runs.
"""

import csv
import json

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from benchmarks import vs_practice
from benchmarks.practice import anomaly, classification, forecasting, report, suite
from benchmarks.practice import features as F
from benchmarks.practice.common import ResultStore, changed_params, parse_params
from sslts import TS2VecTransformer
from sslts.evaluation import discord_distance, fit_ridge

TINY = {"output_dims": 8, "hidden_dims": 8, "depth": 2, "n_iters": 2}


# ------------------------------------------------------------ label subsets
@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.1, 0.2, 0.5, 1.0])
def test_label_subset_is_stratified_with_one_per_class(fraction):
    y = np.array(["a"] * 3 + ["b"] * 40 + ["c"] * 157)
    idx = classification.label_subset(y, fraction, "toy", 0)
    assert np.all(np.diff(idx) > 0)
    for label, n in (("a", 3), ("b", 40), ("c", 157)):
        expected = max(1, int(np.floor(fraction * n + 0.5)))  # half rounds up
        assert int(np.sum(y[idx] == label)) == expected


def test_label_subset_is_a_fixed_nested_function_of_dataset_seed_fraction():
    y = np.repeat(np.arange(4), 25)
    first = classification.label_subset(y, 0.2, "GunPoint", 1)
    assert np.array_equal(first, classification.label_subset(y.copy(), 0.2, "GunPoint", 1))
    assert not np.array_equal(first, classification.label_subset(y, 0.2, "GunPoint", 2))
    assert not np.array_equal(first, classification.label_subset(y, 0.2, "ECG200", 1))
    fractions = [0.01, 0.05, 0.1, 0.2, 1.0]
    subsets = [set(classification.label_subset(y, f, "GunPoint", 1)) for f in fractions]
    assert all(a <= b for a, b in zip(subsets, subsets[1:]))  # nested
    assert subsets[-1] == set(range(len(y)))
    with pytest.raises(ValueError, match="fraction must lie in"):
        classification.label_subset(y, 0.0, "GunPoint", 1)


# ----------------------------------------------------------- resumable CSV
def test_store_resumes_and_retries_failures(tmp_path):
    path = tmp_path / "r.csv"
    fields, key = ["dataset", "seed", "fraction", "accuracy", "error"], ["dataset", "seed",
                                                                          "fraction"]
    store = ResultStore(path, fields, key)
    store.add({"dataset": "A", "seed": 0, "fraction": 0.1, "accuracy": 0.5})
    store.add({"dataset": "A", "seed": 1, "fraction": 0.1, "error": "Boom"})
    again = ResultStore(path, fields, key)
    assert again.done(dataset="A", seed=0, fraction=0.1)
    assert not again.done(dataset="A", seed=1, fraction=0.1)  # a failure is retried
    assert not again.done(dataset="A", seed=0, fraction=1.0)
    again.add({"dataset": "A", "seed": 1, "fraction": 0.1, "accuracy": 0.7})
    with open(path, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 3  # appended, never rewritten
    assert report.latest(again.rows, key)[-1]["accuracy"] == "0.7"
    with pytest.raises(ValueError, match="has columns"):
        ResultStore(path, fields[:-1], key)


def test_parse_and_changed_params():
    assert parse_params("a=1,b=x,c=[1, 2],encoder__d=None") == {
        "a": 1, "b": "x", "c": [1, 2], "encoder__d": None}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_params("a")
    model = forecasting.make_forecaster({"use_embedding": "auto", "encoder__n_iters": 3},
                                        7, [24], 10)
    described = changed_params(model)
    assert described["encoder__class"] == "TS2VecTransformer"
    assert described["encoder__n_iters"] == 3 and described["encoder__random_state"] == 7
    assert "padding" not in described  # left at its default
    # heads on the lags alone (the default) get no encoder, whatever encoder__* says
    assert forecasting.make_forecaster({"encoder__n_iters": 3}, 7, [24], 10).encoder is None


# ---------------------------------------------------- classification pieces
def test_fill_missing_interpolates_and_extends():
    X = np.array([[[np.nan, 0.0], [1.0, np.nan], [np.nan, np.nan], [3.0, np.nan]]])
    out = F.fill_missing(X, min_length=6)
    assert out.shape == (1, 6, 2)
    assert np.allclose(out[0, :, 0], [1, 1, 2, 3, 3, 3])
    assert np.allclose(out[0, :, 1], 0.0)


def test_block_ridge_standardises_each_block():
    rng = np.random.default_rng(0)
    features = np.hstack([rng.normal(size=(30, 2)) * 100, rng.normal(size=(30, 8))])
    y = (features[:, 0] > 0).astype(int)
    model = F.block_ridge([2, 8])(features, y)
    union = model[0].transform(features)
    # each standardised block has total variance 1 (its columns weighted 1/sqrt(width))
    assert np.allclose(union[:, :2].var(axis=0).sum(), 1.0)
    assert np.allclose(union[:, 2:].var(axis=0).sum(), 1.0)


def test_minirocket_features_take_multivariate_series():
    X = np.random.default_rng(0).normal(size=(6, 12, 2))
    out = F.rocket_features("minirocket", X, X[:2], 0, n_kernels=84)
    assert out.train.shape[0] == 6 and out.test.shape == (2, out.train.shape[1])
    assert out.fit_seconds >= 0 and out.params["n_kernels"] == 84


def test_catch22_features_per_channel():
    X = np.random.default_rng(0).normal(size=(3, 40, 2))
    out = F.catch22_features(X, X[:1])
    assert out.train.shape == (3, 48) and out.test.shape == (1, 48)
    assert np.allclose(out.train[:, 22], X[:, :, 0].mean(axis=1))  # catch24's mean
    assert np.allclose(out.train[:, 24 + 22], X[:, :, 1].mean(axis=1))  # channel 2's


def _fake_rocket(kind, X_train, X_test, seed, **params):
    """A cheap stand-in for aeon's kernels (the real one is tested above)."""
    proj = np.random.default_rng(seed).normal(size=(X_train.shape[1] * X_train.shape[2], 16))
    return F.Features(X_train.reshape(len(X_train), -1) @ proj,
                      X_test.reshape(len(X_test), -1) @ proj, params={"kind": kind})


def _fake_catch22(X_train, X_test):
    return F.Features(X_train.mean(axis=1), X_test.mean(axis=1))


def test_classification_runs_every_arm_and_resumes(shared_data, tmp_path, monkeypatch):
    monkeypatch.setattr(F, "catch22_features", _fake_catch22)  # tested above
    monkeypatch.setattr(F, "rocket_features", _fake_rocket)
    monkeypatch.setattr(F, "warm_up", lambda: None)
    store = ResultStore(tmp_path / "c.csv", classification.FIELDS, classification.KEY)
    encoders = {"ts2vec": (TS2VecTransformer, TINY)}
    arms = classification.build_arms(["ts2vec"], "ts2vec")
    assert [a.family for a in arms].count("sslts") == 2
    datasets, fractions = ["Chinatown", "BasicMotions"], [0.1, 1.0]
    classification.run_classification(store, datasets, [0], fractions, arms, encoders,
                                      shared_data, log=lambda *_: None)
    rows = store.rows
    assert len(rows) == len(datasets) * len(fractions) * len(arms)
    assert not any(r["error"] for r in rows)
    assert all(0 <= float(r["accuracy"]) <= 1 for r in rows)
    chinatown = [r for r in rows if r["dataset"] == "Chinatown" and r["fraction"] == "0.1"]
    assert {r["n_labelled"] for r in chinatown} == {"2"}  # 20 series, 2 classes
    enc = [r for r in rows if r["arm"] == "ts2vec+linear"]
    assert {r["n_iter"] for r in enc} == {"2"} and all(float(r["fit_seconds"]) > 0 for r in enc)

    def refuse(*args, **kwargs):
        raise AssertionError("a stored row was computed again")

    monkeypatch.setattr(F, "encoder_features", refuse)
    classification.run_classification(ResultStore(tmp_path / "c.csv", classification.FIELDS,
                                                  classification.KEY), datasets, [0],
                                      fractions, arms, encoders, shared_data)


def test_one_nn_arms_run_once_with_all_labels(tmp_path):
    store = ResultStore(tmp_path / "c.csv", classification.FIELDS, classification.KEY)
    arms = classification.build_arms([], None)
    todo = classification.pending(store, "X", [0, 1], [0.1, 1.0], arms)
    full = {a.name for f, a in todo[1] if f == 1.0}
    assert "minirocket" in full and not {"1nn_ed", "1nn_dtw"} & full


def test_suite_and_estimates(shared_data, monkeypatch):
    assert len(suite.SUITE) == 16 and "GunPoint" in suite.SUITE
    monkeypatch.setattr(suite, "list_datasets", lambda home: [
        "GunPoint", "ECG200", "Coffee", "Chinatown", "FordA"])
    small = suite.estimate_seconds(suite.Shape(50, 150, 150, 1))
    assert suite.estimate_seconds(suite.Shape(500, 1500, 150, 1)) > small > 0
    chosen = suite.choose_datasets(shared_data, 0.5, suite=("GunPoint",))
    assert chosen[0][0] == "GunPoint" and sum(s for _, s in chosen[1:]) <= 0.5 * 3600
    assert [s for _, s in chosen[1:]] == sorted(s for _, s in chosen[1:])


# ------------------------------------------------------------- forecasting
def test_naive_forecasts_match_loops():
    y = np.arange(40.0)[:, None] ** 1.5
    origins = np.array([30, 33])
    for t, forecast in zip(origins, forecasting.seasonal_naive(y, origins, 7, 3)):
        expected = [y[t + j - 3 * int(np.ceil(j / 3)), 0] for j in range(1, 8)]
        assert np.allclose(forecast[:, 0], expected)
    assert np.allclose(forecasting.last_value(y, origins, 4)[:, :, 0], y[origins] * np.ones(4))


def _lag_matrices(y, origins, lags, h):
    X = np.stack([y[t - lags + 1 : t + 1].ravel() for t in origins])
    Y = np.stack([y[t + 1 : t + 1 + h].ravel() for t in origins])
    return X, Y


@pytest.mark.parametrize("refit", [False, True])
def test_lag_ridge_equals_sklearn_ridge_with_fit_ridge_penalty(refit):
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=(700, 2)), axis=0) / 10
    lags, h = 12, 5
    train, valid = np.arange(lags - 1, 400 - h), np.arange(400, 600 - h)
    both = np.arange(lags - 1, 600 - h)
    model = forecasting.LagRidge(lags, h).fit(y, train, valid, both if refit else None)
    reference = fit_ridge(*_lag_matrices(y, train, lags, h), *_lag_matrices(y, valid, lags, h))
    assert model.alpha_ == reference.alpha
    if refit:
        reference = Ridge(alpha=model.alpha_).fit(*_lag_matrices(y, both, lags, h))
    test = np.arange(600, 700 - h)
    expected = reference.predict(_lag_matrices(y, test, lags, h)[0]).reshape(-1, h, 2)
    assert np.allclose(model.predict(y, test), expected, atol=1e-8)


def test_forecast_errors_match_direct_computation():
    y = np.random.default_rng(1).normal(size=(50, 3))
    origins = np.arange(10, 40)
    mse, mae = forecasting.forecast_errors(lambda o: forecasting.last_value(y, o, 4), y,
                                           origins, 4)
    err = np.stack([y[t + 1 : t + 5] - y[t] for t in origins])
    assert np.isclose(mse, np.mean(err**2)) and np.isclose(mae, np.mean(np.abs(err)))


def test_forecasting_runs_on_a_cut_of_etth1(shared_data, tmp_path):
    store = ResultStore(tmp_path / "f.csv", forecasting.FIELDS, forecasting.KEY)
    encoder = {f"encoder__{k}": v for k, v in TINY.items()}
    arms = {"emb": {"padding": 24, "use_embedding": "auto", **encoder},
            "fc": {"padding": 24}}
    forecasting.run_forecasting(
        store, ["ETTh1"], ["univariate"], [1, 2], arms, shared_data, lags=48,
        prepare=lambda ds: forecasting.shrink(ds, 300, 200, 200, (24, 48)),
        log=lambda *_: None)
    rows = store.rows
    # deterministic arms (no encoder) once, the arm with an encoder once per seed
    assert {(r["arm"], r["seed"], r["horizon"]) for r in rows} == {
        (a, s, h) for a, s in [("last_value", "0"), ("seasonal_naive", "0"), ("lag_ridge", "0"),
                               ("fc", "0"), ("emb", "1"), ("emb", "2")] for h in ("24", "48")}
    assert not any(r["error"] for r in rows)
    assert all(float(r["mse"]) > 0 for r in rows)
    # the heads' options are named even at their defaults
    params = {r["arm"]: json.loads(r["params"]) for r in rows if r["arm"] in arms}
    assert tuple(params["fc"][k] for k in forecasting.HEAD_OPTIONS) == (
        "auto", None, "padding", False)
    assert tuple(params["emb"][k] for k in forecasting.HEAD_OPTIONS) == (
        "auto", None, "padding", "auto")
    # the lags alone: no encoder steps, no covariates
    fc = [r for r in rows if r["arm"] == "fc"]
    assert all(r["n_iter"] == "0" and r["uses_embedding"] == "False" for r in fc)
    assert not params["fc"]["covariates"] and params["emb"]["covariates"]
    assert report.default_head_arms(rows) == {"fc"}


# ---------------------------------------------------------------- anomaly
def test_ucr_top1_rule():
    labels = np.zeros(2000, int)
    labels[1000:1300] = 1  # 300 steps: the margin widens to the anomaly's length
    scores = np.zeros(2000)
    for location, correct in ((700, True), (699, False), (1599, True), (1600, False)):
        scores[:] = 0
        scores[location] = 1
        assert anomaly.ucr_top1(scores, labels, 500) == (correct, location)


def _brute_stump(T_A, m, T_B=None, ignore_trivial=True):
    """stumpy.stump's column 0 by brute force: z-normalised nearest-neighbour distances."""
    def windows(x):
        w = np.lib.stride_tricks.sliding_window_view(np.asarray(x, float), m)
        return (w - w.mean(1, keepdims=True)) / w.std(1, keepdims=True)

    A = windows(T_A)
    B = A if T_B is None else windows(T_B)
    d = np.sqrt(np.maximum(((A[:, None] - B[None]) ** 2).sum(-1), 0))
    if T_B is None and ignore_trivial:  # stumpy's exclusion zone: ceil(m / 4)
        offsets = np.abs(np.arange(len(A))[:, None] - np.arange(len(B)))
        d[offsets <= int(np.ceil(m / 4))] = np.inf
    return np.stack([d.min(1), d.argmin(1)], axis=1).astype(object)


def _series():
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(300) * 2 * np.pi / 25) + 0.1 * rng.normal(size=300)
    x[250:253] += 2
    return x, 100, 25


@pytest.mark.parametrize("mode", ["ab", "self"])
def test_matrix_profile_places_discords_on_centres(mode, monkeypatch):
    import types

    monkeypatch.setitem(__import__("sys").modules, "stumpy",
                        types.SimpleNamespace(stump=_brute_stump))
    x, n, m = _series()
    scores = anomaly.matrix_profile(x, n, m, mode)
    starts = np.arange(n, len(x) - m + 1)
    if mode == "ab":  # sslts's discord distance places each subsequence on its last step
        expected = discord_distance(x, n, m)[starts + m - 1]
    else:
        expected = _brute_stump(x, m)[n:, 0].astype(float)
    assert np.allclose(scores[starts + m // 2], expected, atol=1e-9)
    assert np.allclose(scores[: n + m // 2], scores[starts + m // 2].min())
    assert 250 - m // 2 <= np.argmax(scores) <= 253 + m // 2


@pytest.mark.slow  # stumpy compiles its kernels in every new process (about 30 s)
def test_stumpy_matrix_profile_equals_the_brute_force():
    pytest.importorskip("stumpy")
    x, n, m = _series()
    for mode in ("ab", "self"):
        real = anomaly.matrix_profile(x, n, m, mode)
        import sys
        import types

        stumpy = sys.modules["stumpy"]
        sys.modules["stumpy"] = types.SimpleNamespace(stump=_brute_stump)
        try:
            brute = anomaly.matrix_profile(x, n, m, mode)
        finally:
            sys.modules["stumpy"] = stumpy
        assert np.allclose(real, brute, atol=1e-6)


# ----------------------------------------------------------------- reports
def _classification_rows():
    rows = []
    for d, base in (("A", 0.6), ("B", 0.8)):
        for seed in (0, 1):
            for fraction in (0.1, 1.0):
                for arm, family, bonus in (("ts2vec+linear", "sslts", 0.1),
                                           ("minirocket", "baseline", 0.0)):
                    rows.append({"dataset": d, "seed": str(seed), "fraction": str(fraction),
                                 "arm": arm, "family": family,
                                 "accuracy": str(base + bonus + 0.02 * seed),
                                 "fit_seconds": "2", "transform_seconds": "1",
                                 "probe_seconds": "0.5", "commit": "abc", "error": ""})
    return rows


def test_classification_summary_and_report(tmp_path):
    rows = _classification_rows()
    summary = report.classification_summary(rows)
    mean, std, per_data = summary[0.1]["arms"]["ts2vec+linear"]
    assert np.isclose(mean, np.mean([0.71, 0.91]))  # (0.7 + 0.72) / 2, (0.9 + 0.92) / 2
    assert np.isclose(std, 0.01) and set(per_data) == {"A", "B"}
    page = report.render_classification(rows, tmp_path, "cmd", ["A", "B"]).read_text()
    assert "Who wins" in page and "ts2vec+linear +10.0 pts, wins 2/2" in page
    for name in ("accuracy_vs_labels", "accuracy_vs_time"):
        assert (tmp_path / f"vs_practice_classification_{name}.png").stat().st_size > 0


def test_forecasting_and_anomaly_reports(tmp_path):
    rows = [{"dataset": "ETTh1", "setting": "univariate", "arm": arm, "seed": "0",
             "horizon": str(h), "mse": str(mse * h / 24), "mae": "0.1", "alpha": "",
             "fit_seconds": "1", "predict_seconds": "1", "n_iter": "", "params": "",
             "commit": "abc", "error": ""}
            for arm, mse in (("last_value", 0.1), ("seasonal_naive", 0.2), ("lag_ridge", 0.08),
                             ("forecaster", 0.09)) for h in (24, 48)]
    page = report.render_forecasting(rows, tmp_path, "cmd").read_text()
    # forecaster 0.135 vs best naive 0.15 (ratio 0.9) and the ridge 0.12 (1.125)
    assert ("| ETTh1 | univariate | forecaster | 1 | 0.1350 | 0.1500 | 0.900 | 0.1200 | 1.125 "
            "| no |") in page
    rows = [{"series": "S", "arm": "mp_ab", "seed": "0", "roc_auc": "0.9", "top1_correct": "1",
             "top1_location": "10", "anomaly_start": "9", "anomaly_end": "12", "window": "5",
             "fit_seconds": "0", "score_seconds": "1", "params": "", "commit": "abc",
             "error": ""}]
    page = report.render_anomaly(rows, tmp_path, "cmd").read_text()
    assert "| S | mp_ab | 0.900 | 1/1 | 10 | 9-12 |" in page


def test_command_line_quick_flags(tmp_path):
    args = vs_practice.parse_args(["--task", "anomaly", "--quick", "--out", str(tmp_path)])
    assert args.tag == "quick"
    assert vs_practice.labelled_params(["d", "e:n_diffs=1"], {"padding": 5}) == {
        "d": {"padding": 5}, "e": {"padding": 5, "n_diffs": 1}}


def test_the_page_records_the_command_without_this_machines_folders(tmp_path):
    rows = [{"series": "S", "arm": "mp_ab", "seed": "0", "roc_auc": "0.9", "top1_correct": "1",
             "top1_location": "10", "anomaly_start": "9", "anomaly_end": "12", "window": "5",
             "fit_seconds": "0", "score_seconds": "1", "params": "", "commit": "abc",
             "error": ""}]
    store = ResultStore(tmp_path / "vs_practice_anomaly.csv", anomaly.FIELDS, anomaly.KEY)
    for row in rows:
        store.add(row)
    secret = str(tmp_path / "my data")
    vs_practice.main(["--task", "anomaly", "--report-only", "--data-home", secret,
                      "--out", str(tmp_path)])
    page = (tmp_path / "vs_practice_anomaly.md").read_text()
    assert "--data-home DATA_HOME --out OUT" in page
    assert str(tmp_path) not in page


def test_the_default_forecaster_arm_is_found_from_its_recorded_head_options():
    def row(arm, **params):
        return {"arm": arm, "params": json.dumps(params)}

    heads = {"baseline": "auto", "season": None, "use_embedding": False}
    rows = [row("explicit", lags=200, **heads),  # the default padding, in steps
            row("named", lags="padding", padding=24, **heads),
            row("short", lags=24, **heads),  # fewer lags than the window
            row("paper", baseline=None, season=None, lags=0, use_embedding=True),
            row("lag_ridge", lags=200, **heads)]  # a baseline arm is never the default
    assert report.default_head_arms(rows) == {"explicit", "named"}
