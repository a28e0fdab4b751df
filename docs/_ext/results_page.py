"""The site's results pages, generated from ``benchmarks/results/`` at every build.

- ``results/index.md``: the benchmark suite's tables (written by
  ``benchmarks/make_results_page.py``, the same script that writes ``docs/results.md``),
  two plots drawn from ``benchmark_suite.csv``, and a table of contents of
- ``results/<name>.md``: every other ``benchmarks/results/*.md``, one page each, so a
  benchmark that writes a new results file shows up on the site without a docs change.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from contextlib import redirect_stdout
from pathlib import Path

SUITE = "benchmark_suite"
ACCURACY_PLOT = "accuracy_vs_paper.png"
METHODS_PLOT = "accuracy_by_method.png"
# The suite's names of the baselines, as the tables print them.
LABELS = {"1nn_euclidean": "1-NN-ED", "1nn_dtw_d": "1-NN-DTW-D", "1nn_dtw_i": "1-NN-DTW-I"}


def read_suite(results: Path) -> list[dict[str, str]]:
    """Rows of ``benchmark_suite.csv`` that hold a finite value.

    Parameters
    ----------
    results : pathlib.Path
        The ``benchmarks/results`` folder.

    Returns
    -------
    list of dict
        The CSV rows (column name to text).
    """
    with open(results / f"{SUITE}.csv", newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["value"] and math.isfinite(float(r["value"]))]


def svm_accuracies(rows: list[dict[str, str]]) -> dict[str, dict[str, tuple[float, float]]]:
    """Classification accuracy with TS2Vec's SVM protocol (or a 1-NN baseline's).

    Parameters
    ----------
    rows : list of dict
        Rows from :func:`read_suite`.

    Returns
    -------
    dict
        ``{method: {dataset: (sslts value, paper value or NaN)}}``.
    """
    out: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    for r in rows:
        if r["task"] == "classification" and r["setting"] in ("svm", "1-NN"):
            paper = float(r["paper"]) if r["paper"] else math.nan
            out[r["method"]][r["dataset"]] = (float(r["value"]), paper)
    return dict(out)


def plot_accuracy_vs_paper(acc: dict, path: Path) -> None:
    """Scatter of sslts accuracy against the published accuracy, one colour per method.

    Parameters
    ----------
    acc : dict
        Output of :func:`svm_accuracies`.
    path : pathlib.Path
        PNG file to write.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    for method, by_dataset in sorted(acc.items()):
        pairs = [(p, v) for v, p in by_dataset.values() if not math.isnan(p)]
        if pairs:
            label = f"{LABELS.get(method, method)} ({len(pairs)})"
            ax.scatter(*zip(*pairs), label=label, s=22, alpha=0.8)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, zorder=0)
    lo = min(min(v, p) for d in acc.values() for v, p in d.values() if not math.isnan(p))
    ax.set(
        xlim=(lo - 0.03, 1.01),
        ylim=(lo - 0.03, 1.01),
        aspect="equal",
        xlabel="published accuracy",
        ylabel="sslts accuracy (CPU budget)",
        title="Classification: sslts vs the papers",
    )
    ax.legend(fontsize=8, loc="lower right", title="method (datasets)", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_accuracy_by_method(acc: dict, path: Path) -> None:
    """Per-dataset accuracy of every method and baseline, datasets as rows.

    Parameters
    ----------
    acc : dict
        Output of :func:`svm_accuracies`.
    path : pathlib.Path
        PNG file to write.
    """
    import matplotlib.pyplot as plt

    methods = sorted(acc, key=lambda m: (m.startswith("1nn"), m))
    datasets = sorted({d for by in acc.values() for d in by}, key=lambda d: d.lower())
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(datasets) + 1.2), dpi=100)
    for k, method in enumerate(methods):
        ys = [i for i, d in enumerate(datasets) if d in acc[method]]
        xs = [acc[method][datasets[i]][0] for i in ys]
        marker = "x" if method.startswith("1nn") else "o"
        ax.scatter(
            xs,
            [y + 0.08 * (k - len(methods) / 2) for y in ys],
            s=18,
            marker=marker,
            label=LABELS.get(method, method),
        )
    ax.set_yticks(range(len(datasets)), datasets, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="test accuracy", title="Accuracy per dataset (SVM protocol; x = 1-NN)")
    ax.grid(axis="x", color="0.9")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _suite_page(results: Path, out: Path) -> str:
    from benchmarks import make_results_page

    tables = out / "suite_tables.md"
    with redirect_stdout(io.StringIO()):  # it reports the file it wrote
        make_results_page.main(["--results", str(results), "--out", str(tables)])
    body = tables.read_text(encoding="utf-8").split("\n", 1)[1]  # without "# Results"
    tables.unlink()
    others = sorted(p.stem for p in results.glob("*.md") if p.stem != SUITE)
    return "\n".join(
        [
            "# Results",
            "",
            "Generated from `benchmarks/results/` at every build of this site. The suite",
            "trains every method on the same data with one command; the per-method",
            "benchmarks below it go deeper (longer budgets, more seeds, timings).",
            "",
            f"![sslts vs published accuracy]({ACCURACY_PLOT})",
            f"![accuracy per dataset]({METHODS_PLOT})",
            "",
            body.strip(),
            "",
            "## Per-method benchmarks",
            "",
            "```{toctree}",
            ":maxdepth: 1",
            "",
            *others,
            "```",
            "",
        ]
    )


def _benchmark_page(source: Path) -> str:
    text = source.read_text(encoding="utf-8")
    if not text.startswith("# "):
        text = f"# {source.stem}\n\n{text}"
    return f"{text.rstrip()}\n\n*Source: `benchmarks/results/{source.name}`.*\n"


def build(results: Path, target: Path) -> dict[str, str]:
    """Draw the plots into ``target`` and return the pages' text.

    Parameters
    ----------
    results : pathlib.Path
        The ``benchmarks/results`` folder.
    target : pathlib.Path
        Folder of the generated results pages (the plots are written there).

    Returns
    -------
    dict of str to str
        Page name (``"index"`` and one per benchmark file) to MyST markdown.
    """
    import matplotlib

    matplotlib.use("Agg")
    target.mkdir(parents=True, exist_ok=True)
    acc = svm_accuracies(read_suite(results))
    plot_accuracy_vs_paper(acc, target / ACCURACY_PLOT)
    plot_accuracy_by_method(acc, target / METHODS_PLOT)
    pages = {"index": _suite_page(results, target)}
    pages.update({p.stem: _benchmark_page(p) for p in results.glob("*.md") if p.stem != SUITE})
    return _distinct_titles(pages)


def _distinct_titles(pages: dict[str, str]) -> dict[str, str]:
    """Append the file name to titles that several results files share (e.g. reruns)."""
    titles = [text.split("\n", 1)[0] for text in pages.values()]
    out = {}
    for stem, text in pages.items():
        title, rest = text.split("\n", 1)
        out[stem] = f"{title} ({stem})\n{rest}" if titles.count(title) > 1 else text
    return out
