"""sslts.pretrained: the shipped models load offline, embed anything, fine-tune, fail clearly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

import sslts
import sslts.pretrained as pretrained
from sslts import ChannelIndependent, TS2VecTransformer, load_dataset
from sslts.pretrained import list_pretrained, load_pretrained, model_card

NAME = "ts2vec-ucr-uea"
RNG = np.random.default_rng(0)


def test_the_shipped_models_are_listed_with_their_files():
    assert NAME in list_pretrained()
    for name in list_pretrained():
        info = json.loads((pretrained._FOLDER / f"{name}.json").read_text())
        assert info["name"] == name and (pretrained._FOLDER / info["file"]).is_file()
        assert info["bytes"] < 8_000_000  # a few MB: it ships inside the wheel
        corpus = {row["dataset"] for row in info["corpus"]}
        assert corpus.isdisjoint(info["left_out"]) and len(info["left_out"]) >= 8
        assert all(row["univariate_series"] > 0 for row in info["corpus"])


def test_model_card_has_corpus_budget_commit_seed_evaluation_and_terms():
    card = model_card(NAME)
    assert card.splitlines()[0] == f"# {NAME}"
    for needle in ("## Corpus", "| FordA | UCR |", "optimiser steps", "commit", "seed 0",
                   "## Evaluation", "zero-shot", "## Data terms", "UCR", "UEA"):
        assert needle in card, needle


def test_loaded_model_embeds_any_channel_count():
    model = load_pretrained(NAME)
    assert isinstance(model, ChannelIndependent) and model.estimator_.n_iter_ > 0
    mean = load_pretrained(NAME, pooling="mean")
    for channels in (1, 3, 24):
        X = RNG.normal(size=(2, 60, channels))
        Z = model.transform(X)  # the shipped pooling concatenates the channels
        assert Z.shape == (2, channels * 320) and np.isfinite(Z).all()
        assert mean.transform(X).shape == (2, 320)
    variable = [RNG.normal(size=(40, 2)), RNG.normal(size=(90, 5))]
    assert mean.transform(variable).shape == (2, 320)
    with pytest.raises(ValueError, match="same channel count.*pooling='mean'"):
        model.transform(variable)


def test_default_pooling_is_the_metadata_one_and_can_be_overridden():
    description = json.loads((pretrained._FOLDER / f"{NAME}.json").read_text())
    assert description["pooling"] == "concat"
    assert load_pretrained(NAME).pooling == "concat"
    assert load_pretrained(NAME, pooling="max").pooling == "max"
    assert load_pretrained(NAME).set_params(pooling="mean").pooling == "mean"


def test_univariate_encoder_gives_the_same_embeddings_and_refuses_other_channels():
    X = load_dataset("GunPoint")[0][:5]
    encoder = load_pretrained(NAME, channel_independent=False)
    assert isinstance(encoder, TS2VecTransformer) and encoder.n_channels_ == 1
    np.testing.assert_array_equal(encoder.transform(X), load_pretrained(NAME).transform(X))
    with pytest.raises(ValueError, match=r"3 channel\(s\) but TS2VecTransformer was fitted "
                                         r"on series with 1 channel\(s\).*ChannelIndependent"):
        encoder.transform(RNG.normal(size=(2, 50, 3)))


def test_pooling_can_be_chosen_at_load():
    X = RNG.normal(size=(3, 50, 4))
    concat = load_pretrained(NAME).transform(X)
    mean = load_pretrained(NAME).set_params(pooling="mean").transform(X)
    assert concat.shape == (3, 4 * 320)
    np.testing.assert_allclose(concat.reshape(3, 4, 320).mean(axis=1), mean, rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ValueError, match="pooling"):
        load_pretrained(NAME, pooling="sum").transform(X)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=rf"Unknown pretrained model 'ts2vec'.*'{NAME}'"):
        load_pretrained("ts2vec")
    with pytest.raises(ValueError, match="Unknown pretrained model"):
        model_card("nope")


@pytest.fixture
def copied_folder(tmp_path, monkeypatch):
    """The shipped models in a folder of their own, so that a test may damage them."""
    folder = tmp_path / "pretrained"
    shutil.copytree(pretrained._FOLDER, folder, ignore=shutil.ignore_patterns("*.py",
                                                                               "__pycache__"))
    monkeypatch.setattr(pretrained, "_FOLDER", folder)
    return folder


def test_damaged_weight_file_is_refused_before_it_is_read(copied_folder):
    path = copied_folder / f"{NAME}.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is damaged: its SHA-256 .* Reinstall sslts"):
        load_pretrained(NAME)
    path.write_bytes(bytes(data[:1000]))  # truncated
    with pytest.raises(ValueError, match="is damaged"):
        load_pretrained(NAME)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="are missing"):
        load_pretrained(NAME)


def test_weights_are_read_with_weights_only(monkeypatch):
    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_pretrained(NAME)
    assert calls and all(flag is True for flag in calls)


def test_fine_tuning_is_a_warm_start_from_the_pretrained_weights():
    X = load_dataset("GunPoint")[0][:16]
    zero_shot = load_pretrained(NAME)
    model = load_pretrained(NAME)
    start = model.estimator_.n_iter_
    before = {k: v.clone() for k, v in model.estimator_.module_.state_dict().items()}
    model.set_params(estimator__warm_start=True, estimator__n_iters=2, estimator__lr=1e-4,
                     estimator__device="cpu")
    model.fit(X)
    inner = model.estimator_
    assert inner.n_iter_ == start + 2 and inner._n_averaged == 3  # from the shipped average
    assert any(not torch.equal(before[k], v) for k, v in inner.module_.state_dict().items())
    assert all(g["lr"] == 1e-4 for g in inner._optimizer_state["param_groups"])
    tuned, base = model.transform(X), zero_shot.transform(X)
    assert not np.array_equal(tuned, base)
    np.testing.assert_array_equal(load_pretrained(NAME).transform(X), base)  # no leak


def test_sslts_load_reads_the_shipped_file_and_a_frozen_model_keeps_its_weights():
    model = sslts.load(pretrained._FOLDER / f"{NAME}.pt")
    X_train, y_train, X_test, y_test = load_dataset("GunPoint")
    np.testing.assert_array_equal(model.transform(X_test[:4]),
                                  load_pretrained(NAME).transform(X_test[:4]))
    pipe = make_pipeline(FrozenEstimator(model), SVC(C=10)).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.7
