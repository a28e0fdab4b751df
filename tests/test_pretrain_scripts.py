"""benchmarks.pretrain and benchmarks.pretrained_eval: corpus, resumable stages, export,
and the numbers of the report."""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest

import sslts
from benchmarks import pretrain, pretrained_report
from benchmarks.pretrained_eval import FIELDS, long_series
from sslts import ChannelIndependent


def test_left_out_sets_are_varied_and_never_in_the_corpus():
    assert len(pretrain.LEFT_OUT) >= 8
    assert set(pretrain.LEFT_OUT).isdisjoint(pretrain.CORPUS)
    assert set(pretrain.LEFT_OUT) & set(pretrain.UEA)  # at least one multivariate set
    assert set(pretrain.VALIDATION) <= set(pretrain.CORPUS)
    assert set(pretrain.CORPUS) | set(pretrain.LEFT_OUT) == set(pretrain.UCR + pretrain.UEA)


def test_sections_cover_the_series_in_order():
    X = np.arange(2 * 11 * 2, dtype=float).reshape(2, 11, 2)
    out = pretrain.sections(X, 4)
    assert out.shape == (6, 4, 2)
    for i in range(2):  # the sections of series i, rejoined without padding, are series i
        parts = out[i::2]
        rejoined = np.concatenate([p[~np.isnan(p).all(axis=1)] for p in parts])
        np.testing.assert_array_equal(rejoined, X[i])
    assert pretrain.sections(X, 11) is X


def test_corpus_dataset_caps_univariate_series(shared_data):
    X, n_train = pretrain.corpus_dataset("RacketSports", shared_data, 512, 60, 0)
    assert n_train == 151 and X.shape == (10, 30, 6)  # 60 univariate series of 6 channels
    again, _ = pretrain.corpus_dataset("RacketSports", shared_data, 512, 60, 0)
    np.testing.assert_array_equal(X, again)


TINY = pretrain.ModelSpec("tiny", {"n_iters": 2, "output_dims": 4, "hidden_dims": 4,
                                   "depth": 1, "batch_size": 4}, stages=2)
CORPUS = [np.random.default_rng(0).normal(size=(6, 20, 2)).astype(np.float32),
          np.random.default_rng(1).normal(size=(4, 12, 1)).astype(np.float32)]


def test_stages_resume_to_the_weights_of_an_uninterrupted_run(tmp_path):
    whole = pretrain.train(TINY, CORPUS, tmp_path / "whole", 2, log=lambda *_: None)
    pretrain.train(TINY, CORPUS, tmp_path / "cut", 1, log=lambda *_: None)
    resumed = pretrain.train(TINY, CORPUS, tmp_path / "cut", 2, log=lambda *_: None)
    a, b = sslts.load(whole[-1]), sslts.load(resumed[-1])
    assert a.estimator_.n_iter_ == b.estimator_.n_iter_ == 4
    X = CORPUS[0]
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    records = pretrain.stage_records(tmp_path / "cut", TINY, 2)
    assert [r["n_iter"] for r in records] == [2, 4]


def test_export_ships_the_average_without_optimiser_state(tmp_path):
    paths = pretrain.train(TINY, CORPUS, tmp_path / "work", 2, log=lambda *_: None)
    table = [{"dataset": "toy", "archive": "UCR", "n_train": 6, "channels": 2,
              "univariate_series": 12}]
    records = pretrain.stage_records(tmp_path / "work", TINY, 2)
    info = pretrain.export(TINY, paths[-1], table, records, folder=tmp_path / "ship")
    shipped = tmp_path / "ship" / "tiny.pt"
    assert info["sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert json.loads((tmp_path / "ship" / "tiny.json").read_text())["training"]["n_iter"] == 4
    trained, model = sslts.load(paths[-1]), ChannelIndependent.load(shipped)
    inner = model.estimator_
    assert inner._optimizer_state is None and inner._n_averaged == 1
    assert inner.get_params()["warm_start"] is False and inner.n_iters is None
    for name, tensor in trained.estimator_.averaged_module_.state_dict().items():
        assert np.array_equal(inner.module_.state_dict()[name], tensor)
    np.testing.assert_array_equal(model.transform(CORPUS[0]), trained.transform(CORPUS[0]))


def _rows(arm, accuracies, fit, dataset="A"):
    return [{"model": "m", "dataset": dataset, "seed": s, "fraction": 1.0, "arm": arm,
             "accuracy": a, "fit_seconds": fit, "transform_seconds": 1.0}
            for s, a in enumerate(accuracies)]


def test_report_verdict_compares_means_and_fit_times(tmp_path):
    rows = (_rows("zero-shot", [0.8, 0.8, 0.8], 0.5) + _rows("ts2vec", [0.9, 0.7, 0.8], 40.0)
            + _rows("fine-tune 25%", [0.85, 0.85, 0.85], 10.0)
            + _rows("zero-shot", [0.5] * 3, 0.5, "B") + _rows("ts2vec", [0.6] * 3, 60.0, "B")
            + _rows("fine-tune 25%", [0.6] * 3, 15.0, "B"))
    with open(tmp_path / "pretrained_eval_a.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    page = pretrained_report.write_report(tmp_path).read_text()
    assert "per-dataset TS2Vec reaches **70.0 %**" in page
    assert "- zero-shot mean: 65.0 % (-5.0 points; at least as accurate on 1 of 2" in page
    assert "- fine-tune 25% mean: 72.5 % (+2.5 points; at least as accurate on 2 of 2" in page
    assert "25 s of fitting against 100 s (0.25x)" in page
    assert "| A | 80.0 ± 0.0 | 85.0 ± 0.0 | 80.0 ± 8.2 |" in page


def test_long_series_is_finite_and_as_long_as_asked():
    X = long_series(1000, 3)
    assert X.shape == (1, 1000, 3) and np.isfinite(X).all()


@pytest.mark.parametrize("name", sorted(pretrain.MODELS))
def test_every_model_spec_trains_ts2vec_defaults_but_the_stage_size(name):
    spec = pretrain.MODELS[name]
    assert set(spec.params) == {"n_iters"}
    assert spec.pooling in ("mean", "max", "concat")
