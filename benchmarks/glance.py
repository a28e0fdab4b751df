"""Results at a glance: one row per method, sslts beside the paper and the official code.

Each row reads the committed results files (``benchmarks/results/*.csv``) of the
benchmark that measures the method on its paper's main protocol, and the published
numbers of ``benchmarks/reference/`` (or the benchmark's own transcription of them);
nothing is measured here.  :data:`ROWS` lists one reader per method: a benchmark that
measures a new method adds its reader there.  :func:`official_speedups` reads the
fit-time ratios against the official implementations (``vs_official.csv``).

:func:`render_markdown` writes the table with the file and the commit(s) each number
comes from (:mod:`benchmarks.provenance`); the documentation build draws the plots from
the same rows (``docs/_ext/results_page.py``).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, median

from benchmarks.ncvqvae_generation_report import (  # the thesis's tables, transcribed
    THESIS,
    at_thesis_budget,
)
from benchmarks.provenance import named_commits

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REFERENCE = ROOT / "benchmarks" / "reference"


@dataclass
class Comparison:
    """One method on its main protocol: per-item sslts and published numbers.

    Parameters
    ----------
    method : str
        Display name (``"TS2Vec"``).
    estimator : str
        The sslts class (``"TS2VecTransformer"``).
    protocol : str
        Data, metric and budget, in a few words.
    sources : tuple of str
        Stems of the results files the numbers come from.
    metric : str
        ``"accuracy %"``, ``"MSE"`` or ``"F1"``.
    higher_is_better : bool
    pairs : list of (str, float, float)
        ``(dataset or horizon, sslts, published)``, NaN where nothing is published.
    seeds : int
        Seeds per item behind the sslts numbers.
    note : str, default=""
        What stands in for a missing published number (e.g. TS2Vec in the same runs).
    speedups : dict of str to float, default={}
        Fit time of the official implementation over sslts's, per dataset, same budget.
    speed_source : str, default=""
        The results file of ``speedups``.
    """

    method: str
    estimator: str
    protocol: str
    sources: tuple[str, ...]
    metric: str
    higher_is_better: bool
    pairs: list[tuple[str, float, float]]
    seeds: int
    note: str = ""
    speedups: dict[str, float] = field(default_factory=dict)
    speed_source: str = ""

    @property
    def published(self) -> list[tuple[str, float, float]]:
        """The pairs that have a published number."""
        return [p for p in self.pairs if not math.isnan(p[2])]

    def means(self) -> tuple[float, float]:
        """Mean sslts and mean published number, over the items that have both.

        Without published numbers: the sslts mean over every item, and NaN.
        """
        pairs = self.published or self.pairs
        paper = mean(p[2] for p in pairs) if self.published else math.nan
        return mean(p[1] for p in pairs), paper

    def relative_differences(self) -> list[float]:
        """Per item, how much better sslts is than the paper, in percent of the paper."""
        sign = 1 if self.higher_is_better else -1
        return [sign * 100 * (s - p) / p for _, s, p in self.published]


def read_csv(stem: str, folder: Path = RESULTS) -> list[dict[str, str]]:
    """The rows of ``<folder>/<stem>.csv``."""
    with open(folder / f"{stem}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _mean_by(rows, key: str, value: str, scale: float = 1.0) -> dict[str, float]:
    groups: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(float(row[value]) * scale)
    return {k: mean(v) for k, v in groups.items()}


def _seeds(rows) -> int:
    per_item = defaultdict(set)
    for row in rows:
        per_item[tuple(v for k, v in row.items() if k in ("dataset", "horizon"))].add(row["seed"])
    return min(len(s) for s in per_item.values())


def _reference(stem: str, method: str, metric: str, setting: str | None = None) -> dict:
    rows = read_csv(stem, REFERENCE)
    return {(r["dataset"], r["setting"]): float(r["value"]) for r in rows
            if r["method"] == method and r["metric"] == metric
            and (setting is None or r["setting"].startswith(setting))}


def ts2vec(results: Path) -> Comparison:
    """TS2Vec, paper budget: RBF-SVM accuracy on UCR/UEA sets of TS2Vec's Tables 9-10."""
    rows = read_csv("ts2vec_accuracy", results)
    sslts = _mean_by(rows, "dataset", "sslts", 100)
    paper = _mean_by(rows, "dataset", "paper", 100)
    return Comparison("TS2Vec", "TS2VecTransformer", "UCR/UEA, RBF-SVM accuracy, paper's "
                      "budget", ("ts2vec_accuracy",), "accuracy %", True,
                      [(d, sslts[d], paper[d]) for d in sslts], _seeds(rows))


def iars(results: Path) -> Comparison:
    """IARS against TS2Vec in the same process (no published numbers transcribed)."""
    rows = read_csv("iars_vs_ts2vec", results)
    sslts = _mean_by(rows, "dataset", "iars_acc", 100)
    ts2vec_acc = mean(_mean_by(rows, "dataset", "ts2vec_acc", 100).values())
    ratio = mean(float(r["ratio"]) for r in rows)
    return Comparison("IARS", "IARSTransformer", "UCR/UEA long series, RBF-SVM accuracy",
                      ("iars_vs_ts2vec",), "accuracy %", True,
                      [(d, v, math.nan) for d, v in sslts.items()], _seeds(rows),
                      f"TS2Vec in the same runs: {ts2vec_acc:.1f} %, fit time "
                      f"{ratio:.2f}× TS2Vec's")


def timedrl(results: Path) -> Comparison:
    """TimeDRL, ETTh1 multivariate forecasting: ridge probe on the patch tokens."""
    rows = [r for r in read_csv("timedrl_forecasting", results) if r["features"] == "patches"]
    sslts = _mean_by(rows, "horizon", "mse")
    paper = _reference("timedrl_repo_results", "TimeDRL", "mse", "multivariate")
    pairs = [(f"H={h}", v, paper.get(("ETTh1", f"multivariate H={h}"), math.nan))
             for h, v in sslts.items()]
    return Comparison("TimeDRL", "TimeDRLTransformer", "ETTh1 multivariate forecasting, MSE "
                      "over 5 horizons (lower is better)", ("timedrl_forecasting",), "MSE",
                      False, pairs, _seeds(rows))


def selftime(results: Path) -> Comparison:
    """SelfTime, linear evaluation on the paper's 50/25/25 splits (its Table 2)."""
    rows = read_csv("selftime_linear_eval_long", results)
    sslts = _mean_by(rows, "dataset", "selftime")
    paper = {d: 100 * v for (d, _), v in _reference("selftime_table2", "SelfTime",
                                                    "accuracy").items()}
    return Comparison("SelfTime", "SelfTimeTransformer", "UCR, linear evaluation accuracy "
                      "(the paper's splits), shortened pre-training",
                      ("selftime_linear_eval_long",), "accuracy %", True,
                      [(d, v, paper.get(d, math.nan)) for d, v in sslts.items()],
                      _seeds(rows))


_TWO_VIEW = {"infonce": ("InfoNCE", "InfoNCETransformer"),
             "barlowtwins": ("Barlow Twins", "BarlowTwinsTransformer"),
             "vibcreg": ("VIbCReg", "VIbCRegTransformer")}


def two_view(results: Path) -> list[Comparison]:
    """The two-view methods on the 16-dataset suite, beside TS2Vec in the same runs."""
    rows = [r for r in read_csv("two_view", results)
            if r["part"] == "suite" and r["protocol"] == "svm"]
    ts2vec_acc = mean(_mean_by([r for r in rows if r["method"] == "ts2vec"], "dataset",
                               "accuracy", 100).values())
    out = []
    for key, (name, estimator) in _TWO_VIEW.items():
        own = [r for r in rows if r["method"] == key]
        acc = _mean_by(own, "dataset", "accuracy", 100)
        note = f"TS2Vec in the two-view runs: {ts2vec_acc:.1f} %"
        out.append(Comparison(name, estimator, "16 UCR/UEA sets, RBF-SVM accuracy",
                              ("two_view",), "accuracy %", True,
                              [(d, v, math.nan) for d, v in acc.items()], _seeds(own), note))
    return out


def ncvqvae(results: Path) -> Comparison:
    """NC-VQVAE (Barlow Twins branch, slice view) against the thesis at its budget."""
    # Only the sets run at the thesis's budget compare with its numbers.
    rows = [r for r in read_csv("ncvqvae_generation", results)
            if r["config"] == "bt-slice" and at_thesis_budget(r)]
    sslts = _mean_by(rows, "dataset", "svm", 100)
    return Comparison("NC-VQVAE", "NCVQVAETransformer", f"{' and '.join(sslts)}: stage-1 "
                      "linear-SVM accuracy, the thesis's 1000 epochs", ("ncvqvae_generation",),
                      "accuracy %", True,
                      [(d, v, THESIS[d]["bt-slice"][0]) for d, v in sslts.items()],
                      _seeds(rows))


def forecaster(results: Path) -> Comparison:
    """EmbeddingForecaster on a TS2Vec encoder, ETTh1 univariate (TS2Vec's Table 7).

    The official TS2Vec code ran the same protocol: its fit time over sslts's, on the
    seeds both ran, is the speed-up.
    """
    rows = [r for r in read_csv("forecaster", results) if r["dataset"] == "ETTh1"]
    own = [r for r in rows if r["setting"] == "univariate"]
    sslts = _mean_by(own, "horizon", "mse")
    paper = _mean_by(own, "horizon", "paper_mse")
    official = {r["seed"]: float(r["fit_seconds"]) for r in rows
                if r["setting"] == "univariate, official code"}
    fits = {r["seed"]: float(r["fit_seconds"]) for r in own if r["seed"] in official}
    speedups = {"ETTh1": mean(official[k] for k in fits) / mean(fits.values())} if fits else {}
    return Comparison("EmbeddingForecaster (TS2Vec)", "EmbeddingForecaster",
                      "ETTh1 univariate forecasting, MSE over 5 horizons (lower is better)",
                      ("forecaster",), "MSE", False,
                      [(f"H={h}", sslts[h], paper[h]) for h in sslts], _seeds(own),
                      speedups=speedups, speed_source="forecaster" if speedups else "")


def anomaly(results: Path) -> Comparison:
    """EmbeddingAnomalyDetector (TS2Vec) on one UCR anomaly series, first differences."""
    rows = read_csv("anomaly", results)
    own = [r for r in rows if r["method"] == "ts2vec" and r["n_diffs"] == "1"]
    zscore = [r for r in rows if r["method"].startswith("rolling") and r["n_diffs"] == "1"]
    note = f"rolling z-score: {float(zscore[0]['f1']):.2f}" if zscore else ""
    return Comparison("EmbeddingAnomalyDetector (TS2Vec)", "EmbeddingAnomalyDetector",
                      "one UCR anomaly series, point-adjusted F1", ("anomaly",), "F1", True,
                      [("InternalBleeding16", mean(float(r["f1"]) for r in own), math.nan)],
                      len(own), note)


# One reader per method; each returns one Comparison or a list of them.
ROWS = (ts2vec, iars, timedrl, selftime, two_view, ncvqvae, forecaster, anomaly)


def comparisons(results: Path = RESULTS) -> list[Comparison]:
    """Every method's row, in :data:`ROWS` order; a reader whose file is missing is skipped.

    The methods that ``vs_official`` compares with their official code get its fit-time
    ratios.

    Parameters
    ----------
    results : pathlib.Path, default=``benchmarks/results``

    Returns
    -------
    list of Comparison
    """
    out: list[Comparison] = []
    for reader in ROWS:
        try:
            found = reader(results)
        except FileNotFoundError:
            continue
        out += found if isinstance(found, list) else [found]
    speedups = official_speedups(results)
    for row in out:
        if row.method in speedups and not row.speedups:
            row.speedups, row.speed_source = speedups[row.method], "vs_official"
    return out


_OFFICIAL = {"ts2vec": "TS2Vec", "timedrl": "TimeDRL", "selftime": "SelfTime"}


def official_speedups(results: Path = RESULTS) -> dict[str, dict[str, float]]:
    """Fit time official / sslts per dataset (means over seeds), from ``vs_official.csv``.

    Parameters
    ----------
    results : pathlib.Path, default=``benchmarks/results``

    Returns
    -------
    dict
        ``{method: {dataset: ratio}}``; above 1, sslts fits faster.
    """
    if not (results / "vs_official.csv").is_file():
        return {}
    times: dict = defaultdict(lambda: defaultdict(list))
    for row in read_csv("vs_official", results):
        times[(row["method"], row["dataset"])][row["code"]].append(float(row["fit_s"]))
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (method, dataset), by_code in sorted(times.items()):
        if method in _OFFICIAL and by_code["official"] and by_code["sslts"]:
            ratio = mean(by_code["official"]) / mean(by_code["sslts"])
            out[_OFFICIAL[method]][dataset] = ratio
    return dict(out)


def commits_of(stem: str, results: Path = RESULTS) -> str:
    """The commits a results page names, as a short text (``"no commit recorded"``).

    Parameters
    ----------
    stem : str
        The results file, without its extension.
    results : pathlib.Path, default=``benchmarks/results``

    Returns
    -------
    str
    """
    page = results / f"{stem}.md"
    if not page.is_file():
        return "no results page"
    found = dict.fromkeys((c.sha, c.modified)
                          for c in named_commits(page.read_text(encoding="utf-8")))
    texts = [f"`{sha}`" + (" with uncommitted changes" if modified else "")
             for sha, modified in found]
    return ", ".join(texts) or "no commit recorded"


def _number(value: float, metric: str) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.1f} %" if metric.endswith("%") else f"{value:.3f}"


def _difference(row: Comparison) -> str:
    sslts, paper = row.means()
    if math.isnan(paper):
        return row.note or "–"
    if row.metric.endswith("%"):
        return f"{sslts - paper:+.1f} points"
    return f"{100 * (sslts - paper) / paper:+.1f} %"


def _speed(row: Comparison) -> str:
    if not row.speedups:
        return "–"
    ratios = list(row.speedups.values())
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}× ({next(iter(row.speedups))})"
    return (f"{median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}, "
            f"{len(ratios)} datasets)")


def render_markdown(results: Path = RESULTS, link=lambda stem: f"{stem}.md",
                    myst: bool = True) -> str:
    """The "results at a glance" table and the commits behind it, as markdown.

    Parameters
    ----------
    results : pathlib.Path, default=``benchmarks/results``
    link : callable, default=``stem -> "<stem>.md"``
        The link target of a results page, from the page that shows the table.
    myst : bool, default=True
        Link each method to its API page (MyST roles, for the documentation site);
        False writes plain markdown (for GitHub).

    Returns
    -------
    str
    """
    rows = comparisons(results)
    lines = ["| method | protocol | paper | sslts | sslts − paper | fit speed-up vs the "
             "official code | seeds | source |", "|---|---|---:|---:|---|---|---:|---|"]
    used: list[str] = []
    for row in rows:
        sslts, paper = row.means()
        sources = list(dict.fromkeys([*row.sources, row.speed_source] if row.speed_source
                                     else row.sources))
        used += [s for s in sources if s not in used]
        lines.append(" | ".join([
            f"| {{class}}`{row.method} <sslts.{row.estimator}>`" if myst else f"| {row.method}",
            row.protocol,
            _number(paper, row.metric), _number(sslts, row.metric), _difference(row),
            _speed(row), str(row.seeds),
            ", ".join(f"[{s}]({link(s)})" for s in sources) + " |"]))
    lines += ["", "Commits each file's numbers were generated at (as its page records them):",
              ""]
    lines += [f"- [{stem}]({link(stem)}): {commits_of(stem, results)}" for stem in used]
    return "\n".join(lines) + "\n"
