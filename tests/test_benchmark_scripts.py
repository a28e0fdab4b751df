"""Mechanics of the benchmark scripts that results are quoted from.

``benchmarks.seeds`` (arms against the official code), ``benchmarks/forecaster.py``'s
summary (sslts against the official code) and ``benchmarks.official.OfficialTimeDRL``:
small, fast checks that each computes what its tables claim.
"""

import csv
from pathlib import Path

import numpy as np
import pytest

import sslts
from benchmarks import forecaster, official
from benchmarks.seeds import methods, parse_arm

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_arm_methods_are_every_estimator_and_the_official_timedrl():
    table = methods()
    assert table.pop("timedrl_official") is official.OfficialTimeDRL
    assert table["ts2vec"] is sslts.TS2VecTransformer
    assert set(table.values()) == {
        getattr(sslts, n) for n in sslts.__all__
        if n.endswith("Transformer") and n != "BaseSSLTransformer"}


def test_parse_arm():
    assert parse_arm("timedrl") == ("timedrl", "timedrl", {})
    assert parse_arm("conv=timedrl:token_embedding=conv,min_epoch_steps=1") == (
        "conv", "timedrl", {"token_embedding": "conv", "min_epoch_steps": 1})
    with pytest.raises(SystemExit, match="unknown method 'nope'"):
        parse_arm("x=nope:a=1")


def _forecast_rows(setting, seeds, mse):
    return [{"dataset": "ETTh1", "setting": setting, "horizon": h, "mse": mse[s], "mae": 0.1,
             "paper_mse": 0.1, "paper_mae": 0.1, "alpha": 1.0, "seed": s, "n_iters": 200,
             "fit_seconds": 1.0, "test_seconds": 1.0} for s in seeds for h in (24, 48)]


def test_forecaster_ratio_uses_the_seeds_both_codes_ran(tmp_path):
    ours = _forecast_rows("univariate", [0, 1, 2], {0: 0.10, 1: 0.20, 2: 0.90})
    theirs = _forecast_rows("univariate, official code", [0, 1], {0: 0.20, 1: 0.20})
    forecaster.write(ours + theirs, tmp_path, "header")
    page = (tmp_path / "forecaster.md").read_text()
    # Seed 2 ran only in sslts and must not enter the ratio: (0.1 + 0.2) / 2 / 0.2.
    assert "- ETTh1 univariate, seeds 0, 1: 0.1500 / 0.2000 = 0.750" in page
    with open(tmp_path / "forecaster.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(ours + theirs)


def test_official_timedrl_without_the_peers_says_so(monkeypatch):
    monkeypatch.setattr(official, "import_official", lambda *a, **k: None)
    official._timedrl_modules.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="no official TimeDRL tree"):
            official.OfficialTimeDRL(n_epochs=1).fit(np.zeros((4, 32, 1), np.float32))
    finally:
        official._timedrl_modules.cache_clear()


@pytest.mark.skipif(not (official.PEERS / "timedrl").is_dir(), reason="needs ../shared/peers")
@pytest.mark.parametrize("n_series", [9, 33])
def test_official_timedrl_counts_the_steps_of_its_loop(n_series, monkeypatch):
    pytest.importorskip("einops", reason="the official TimeDRL code imports einops")
    steps = []
    real_step = official.torch.optim.AdamW.step
    monkeypatch.setattr(official.torch.optim.AdamW, "step",
                        lambda self, *a, **k: (steps.append(1), real_step(self, *a, **k))[1])
    X = np.random.default_rng(0).normal(size=(n_series, 32, 2)).astype(np.float32)
    enc = official.OfficialTimeDRL(n_epochs=2, batch_size=8, patch_len=8, stride=4)
    features = enc.fit(X).encode(X)
    assert enc.n_iter_ == len(steps) == 2 * -(-(n_series - 1) // 8)
    assert features.shape == (n_series, 64) and np.isfinite(features).all()


def test_sampling_speed_page_reports_each_dataset(shared_data, tmp_path):
    from benchmarks import ncvqvae_sampling

    ncvqvae_sampling.main(["--data-home", str(shared_data), "--datasets",
                           "SonyAIBORobotSurface1", "--n-samples", "8", "--repeats", "1",
                           "--train-iters", "1", "--prior-hidden", "16", "--prior-layers", "1",
                           "--out", str(tmp_path)])
    with open(tmp_path / "ncvqvae_sampling.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["dataset"] == "SonyAIBORobotSurface1" and int(row["length"]) == 70
    assert float(row["unconditional_series_per_s"]) > 0 < float(row["conditional_series_per_s"])
    page = (tmp_path / "ncvqvae_sampling.md").read_text()
    assert "| SonyAIBORobotSurface1 | 70 |" in page and "commit " in page
