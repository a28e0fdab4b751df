"""The site's results pages, drawn from the committed files in ``benchmarks/results/``.

Nothing is measured by the documentation build: it reads the results files that the
benchmark scripts wrote (each records its command, commit, machine and seeds).

- ``results/index.md``: the "results at a glance" table (:mod:`benchmarks.glance`: one
  row per method, with the file and commit of each number), two plots drawn from the
  same rows (sslts against the papers, fit time against the official code), then the
  benchmark suite's tables (``benchmarks/make_results_page.py``) and a table of
  contents of
- ``results/<name>.md``: every other ``benchmarks/results/*.md``, one page each, so a
  benchmark that writes a new results file shows up on the site without a docs change;
- the CSV files beside them, linked for download.
"""

from __future__ import annotations

import csv
import math
import re
import shutil
from collections import defaultdict
from pathlib import Path
from statistics import median

from benchmarks import glance, make_results_page

SUITE = "benchmark_suite"
ACCURACY_PLOT = "accuracy_vs_paper.png"
SPEED_PLOT = "speed_vs_official.png"
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


def _dot_rows(rows: list[tuple[str, list[float], float]], path: Path, *, line: float,
              xlabel: str, title: str, colours: tuple[str, str]) -> None:
    """One row of dots per label, its summary as a diamond, a reference line; a PNG."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.55 * len(rows) + 1.4), dpi=100)
    for i, (_, values, summary) in enumerate(rows):
        ax.scatter(values, [i] * len(values), s=20, alpha=0.6, color=colours[0])
        ax.scatter([summary], [i], s=70, marker="D", color=colours[1], zorder=3)
    ax.axvline(line, color="0.5", lw=1)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, title=title)
    ax.grid(axis="x", color="0.9")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_against_papers(rows: list[glance.Comparison], path: Path) -> None:
    """Per method, how far each sslts number is from the published one, in percent.

    Parameters
    ----------
    rows : list of Comparison
        :func:`benchmarks.glance.comparisons`; the rows without published numbers are
        left out.
    path : pathlib.Path
        PNG file to write.
    """
    dots = []
    for row in rows:
        if row.published:
            unit = "horizons" if row.metric == "MSE" else "datasets"
            diffs = row.relative_differences()
            dots.append((f"{row.method}\n{row.metric}, {len(diffs)} {unit}", diffs,
                         sum(diffs) / len(diffs)))
    _dot_rows(dots, path, line=0, colours=("C0", "C1"), title="sslts against the papers",
              xlabel="sslts vs the published number, % of it (right of 0: sslts better)\n"
                     "dots: datasets or horizons; diamonds: means")


def plot_speedups(rows: list[glance.Comparison], path: Path) -> None:
    """Per method, the official code's fit time over sslts's, one dot per dataset.

    Parameters
    ----------
    rows : list of Comparison
        :func:`benchmarks.glance.comparisons`; the rows without a timing against the
        official code are left out.
    path : pathlib.Path
        PNG file to write.
    """
    dots = [(f"{row.method}\n{len(row.speedups)} dataset{'s' * (len(row.speedups) > 1)}",
             list(row.speedups.values()), median(row.speedups.values()))
            for row in rows if row.speedups]
    _dot_rows(dots, path, line=1, colours=("C2", "C3"),
              title="Fit time against the official code",
              xlabel="official code's fit time / sslts's (right of 1: sslts faster)\n"
                     "dots: datasets; diamonds: medians")


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


def _download(name: str, target: Path) -> str:
    return f"{{download}}`{name} <{name}>`" if (target / name).is_file() else ""


def _suite_page(results: Path, target: Path) -> str:
    others = sorted(p.stem for p in results.glob("*.md") if p.stem != SUITE)
    suite = re.sub(r"^## ", "### ", make_results_page.suite_markdown(results), flags=re.M)
    return "\n".join([
        "# Results", "",
        "These pages are drawn, at every build of this site, from the results files "
        "committed in `benchmarks/results/`; the build measures nothing. Each file records "
        "the command, the commit of the code, the machine and the seeds behind its numbers, "
        "and the scripts in `benchmarks/` regenerate them.", "",
        "## At a glance", "",
        "Each method on its paper's main protocol, from the benchmark that measures it: "
        "the published number, sslts's, and the fit-time ratio against the official "
        "code where both were run with the same budget.", "",
        glance.render_markdown(results),
        f"![sslts against the published numbers]({ACCURACY_PLOT})", "",
        f"![fit time against the official code]({SPEED_PLOT})", "",
        "## The benchmark suite", "",
        f"Data: {_download(f'{SUITE}.csv', target)}.", "",
        f"![accuracy per dataset]({METHODS_PLOT})", "",
        suite.strip(), "",
        "## Per-method benchmarks", "",
        "```{toctree}", ":maxdepth: 1", "", *others, "```", "",
    ])


def _benchmark_page(source: Path, target: Path) -> str:
    text = source.read_text(encoding="utf-8")
    if not text.startswith("# "):
        text = f"# {source.stem}\n\n{text}"
    data = _download(f"{source.stem}.csv", target)
    footer = f"*Source: `benchmarks/results/{source.name}`" + (f"; data: {data}" if data else "")
    return f"{text.rstrip()}\n\n{footer}.*\n"


def copy_data(results: Path, target: Path) -> list[str]:
    """Copy the results CSV files and plots into ``target``, when they changed.

    The CSV files are offered for download; the PNG plots are the figures that the
    results pages (and the user guide) show.

    Parameters
    ----------
    results : pathlib.Path
        The ``benchmarks/results`` folder.
    target : pathlib.Path
        Folder of the generated results pages.

    Returns
    -------
    list of str
        The names of the files now in ``target``.
    """
    names = []
    for source in sorted([*results.glob("*.csv"), *results.glob("*.png")]):
        copy = target / source.name
        if not copy.is_file() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)  # unchanged files keep their time stamps
        names.append(source.name)
    drawn = {ACCURACY_PLOT, SPEED_PLOT, METHODS_PLOT}  # drawn by build, not copied
    for stale in {*target.glob("*.csv"), *target.glob("*.png")} - {target / n for n in names}:
        if stale.name not in drawn:
            stale.unlink()
    return names


def build(results: Path, target: Path) -> dict[str, str]:
    """Draw the plots and copy the CSV files into ``target``; return the pages' text.

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
    copy_data(results, target)
    rows = glance.comparisons(results)
    plot_against_papers(rows, target / ACCURACY_PLOT)
    plot_speedups(rows, target / SPEED_PLOT)
    plot_accuracy_by_method(svm_accuracies(read_suite(results)), target / METHODS_PLOT)
    pages = {"index": _suite_page(results, target)}
    pages.update({p.stem: _benchmark_page(p, target) for p in results.glob("*.md")
                  if p.stem != SUITE})
    return _distinct_titles(pages)


def _distinct_titles(pages: dict[str, str]) -> dict[str, str]:
    """Append the file name to titles that several results files share (e.g. reruns)."""
    titles = [text.split("\n", 1)[0] for text in pages.values()]
    out = {}
    for stem, text in pages.items():
        title, rest = text.split("\n", 1)
        out[stem] = f"{title} ({stem})\n{rest}" if titles.count(title) > 1 else text
    return out
