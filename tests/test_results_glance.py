"""The "results at a glance" rows agree with the results pages their benchmarks wrote.

:mod:`benchmarks.glance` recomputes each method's summary from the results CSV files;
the benchmark scripts printed the same summaries into their markdown pages, so each
summary is checked against the page's own number (the reference), on the committed
files.  The rendering is checked on a small folder written here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from benchmarks import glance

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _rows() -> dict[str, glance.Comparison]:
    return {row.method: row for row in glance.comparisons(RESULTS)}


def _table(stem: str, first_cell: str) -> dict[str, str]:
    """The row of a markdown table (header to cell) whose first cell is ``first_cell``."""
    lines = (RESULTS / f"{stem}.md").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == first_cell:
            header = next(lines[j] for j in range(i - 1, -1, -1)
                          if re.fullmatch(r"\|[-:| ]+\|", lines[j + 1].strip()))
            names = [c.strip() for c in header.strip("|").split("|")]
            return dict(zip(names, cells))
    raise AssertionError(f"no row {first_cell!r} in {stem}.md")


def _number(cell: str) -> float:
    return float(re.match(r"[*\s]*([-\d.]+)", cell).group(1))


@pytest.fixture(scope="module")
def rows():
    return _rows()


def test_ts2vec_row_matches_its_page(rows):
    row = _table("ts2vec_accuracy", "**mean**")
    sslts, paper = rows["TS2Vec"].means()
    assert sslts / 100 == pytest.approx(_number(row["sslts"]), abs=5e-4)
    assert paper / 100 == pytest.approx(_number(row["paper (B=8)"]), abs=5e-4)
    assert len(rows["TS2Vec"].pairs) == 14


def test_forecasting_rows_match_their_pages(rows):
    row = _table("timedrl_forecasting", "**avg**")
    sslts, paper = rows["TimeDRL"].means()
    assert sslts == pytest.approx(_number(row["patches"]), abs=5e-4)
    assert paper == pytest.approx(_number(row["TimeDRL official"]), abs=5e-4)
    text = (RESULTS / "forecaster.md").read_text(encoding="utf-8")
    line = next(s for s in text.splitlines() if s.startswith("| ETTh1 | univariate | 0."))
    cells = [c.strip() for c in line.strip("|").split("|")]
    sslts, paper = rows["EmbeddingForecaster (TS2Vec)"].means()
    assert sslts == pytest.approx(_number(cells[2]), abs=5e-5)
    assert paper == pytest.approx(_number(cells[3]), abs=5e-5)
    # The official code's fit time over sslts's, on the same seeds (the page's fit s).
    official = next(s for s in text.splitlines()
                    if s.startswith("| ETTh1 | univariate, official code | 0."))
    ratio = _number(official.split("|")[-3]) / _number(line.split("|")[-3])
    assert rows["EmbeddingForecaster (TS2Vec)"].speedups["ETTh1"] == pytest.approx(ratio, 1e-2)


def test_selftime_and_ncvqvae_rows_match_their_pages(rows):
    selftime = rows["SelfTime"]
    for dataset, sslts, paper in selftime.pairs:
        row = _table("selftime_linear_eval_long", dataset)
        assert sslts == pytest.approx(_number(row["SelfTime (sslts)"]), abs=5e-3)
        assert paper == pytest.approx(_number(row["paper SelfTime"]), abs=5e-3)
    # The glance keeps to the sets run at the thesis's budget (the Sony sets here).
    ncvqvae = rows["NC-VQVAE"]
    assert {d for d, _, _ in ncvqvae.pairs} == {"SonyAIBORobotSurface1",
                                                 "SonyAIBORobotSurface2"}
    for dataset, sslts, paper in ncvqvae.pairs:
        row = _table("ncvqvae_generation", dataset)
        assert sslts == pytest.approx(_number(row["sslts BT-slice"]), abs=0.1)
        assert paper == pytest.approx(_number(row["thesis BT-slice"]), abs=0.1)


def test_rows_without_published_numbers_say_what_stands_beside_them(rows):
    for name in ("IARS", "InfoNCE", "Barlow Twins", "VIbCReg"):
        row = rows[name]
        assert not row.published and math.isnan(row.means()[1])
    assert "TS2Vec in the same runs" in rows["IARS"].note
    for name in ("InfoNCE", "Barlow Twins", "VIbCReg"):
        assert "TS2Vec in the two-view runs" in rows[name].note
    row = _table("two_view", "**mean**")
    assert rows["VIbCReg"].means()[0] == pytest.approx(_number(row["VIbCReg (ResNet)"]), abs=0.05)
    assert rows["InfoNCE"].means()[0] == pytest.approx(_number(row["InfoNCE (LSTM)"]), abs=0.05)
    # The same defaults' own benchmark gave the same mean.
    assert _number(_table("infonce", "**mean**")["defaults"]) == _number(row["InfoNCE (LSTM)"])
    assert {rows[n].sources for n in ("InfoNCE", "Barlow Twins", "VIbCReg")} == {("two_view",)}


def test_speedups_match_the_official_comparison_page(rows):
    for method, key in (("TS2Vec", "ts2vec"), ("TimeDRL", "timedrl"), ("SelfTime", "selftime")):
        for dataset, ratio in rows[method].speedups.items():
            page = _table_row("vs_official", key, dataset)
            assert ratio == pytest.approx(float(page["fit_s speed-up"]), abs=0.006), dataset
    assert len(rows["TS2Vec"].speedups) == 16


def _table_row(stem: str, method: str, dataset: str) -> dict[str, str]:
    lines = (RESULTS / f"{stem}.md").read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("| method | dataset |"))
    names = [c.strip() for c in header.strip("|").split("|")]
    line = next(line for line in lines if line.startswith(f"| {method} | {dataset} |"))
    return dict(zip(names, [c.strip() for c in line.strip("|").split("|")]))


def test_render_markdown_names_the_file_and_commits_of_each_number(tmp_path):
    (tmp_path / "ts2vec_accuracy.csv").write_text(
        "dataset,seed,paper,sslts\nA,0,0.90,0.80\nA,1,0.90,0.90\nB,0,1.0,1.0\nB,1,1.0,1.0\n")
    (tmp_path / "ts2vec_accuracy.md").write_text("# T\n\ncommit `abc1234`, seeds [0, 1]\n")
    (tmp_path / "anomaly.csv").write_text(
        "method,n_diffs,seed,f1\nts2vec,1,0,0.5\nts2vec,1,1,0.7\nrolling z-score,1,-,1.0\n")
    (tmp_path / "anomaly.md").write_text("# A\n\nno commit here\n")
    rows = glance.comparisons(tmp_path)
    assert [r.method for r in rows] == ["TS2Vec", "EmbeddingAnomalyDetector (TS2Vec)"]
    assert rows[0].means() == pytest.approx((92.5, 95.0)) and rows[0].seeds == 2
    assert rows[0].relative_differences() == pytest.approx([-100 * 0.05 / 0.9, 0.0])
    text = glance.render_markdown(tmp_path, myst=False)
    assert "| TS2Vec | UCR/UEA, RBF-SVM accuracy, paper's budget | 95.0 % | 92.5 % | " \
           "-2.5 points | – | 2 | [ts2vec_accuracy](ts2vec_accuracy.md) |" in text
    assert "- [ts2vec_accuracy](ts2vec_accuracy.md): `abc1234`" in text
    assert "- [anomaly](anomaly.md): no commit recorded" in text
    assert "0.600" in text and "rolling z-score: 1.00" in text
    assert "{class}`TS2Vec <sslts.TS2VecTransformer>`" in glance.render_markdown(tmp_path)
