"""Writing the benchmark suite's results: CSV, JSON and markdown with paper numbers."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

__all__ = ["load_reference", "merge_previous", "paper_value", "read_rows", "render_markdown",
           "write_outputs"]

CSV_FIELDS = [
    "task", "method", "dataset", "setting", "metric", "value", "paper", "paper_source",
    "fit_seconds", "transform_seconds", "eval_seconds", "peak_rss_mb", "peak_cuda_mb",
    "device", "n_iter", "alpha", "params", "error",
]
# Which published column sits beside each sslts method: (reference table, method column).
PAPER_COLUMNS = {
    "ts2vec": [("Table 9", "TS2Vec B=8"), ("Table 10", "TS2Vec"), ("Table 7", "TS2Vec"),
               ("Table 8", "TS2Vec")],
    "selftime": [("Table 2", "SelfTime")],
    "timedrl": [("classification/*.json", "TimeDRL"),
                ("forecasting_univariate/*.json", "TimeDRL"),
                ("forecasting_multivariate/*.json", "TimeDRL")],
    "1nn_dtw_d": [("Table 9", "DTW"), ("Table 10", "DTW")],
}
BASELINE_LABELS = {"1nn_euclidean": "1-NN-ED", "1nn_dtw_d": "1-NN-DTW-D",
                   "1nn_dtw_i": "1-NN-DTW-I"}
BASELINES = tuple(BASELINE_LABELS)


def load_reference(folder: Path) -> dict:
    """Index every reference CSV row by (table, method, task, dataset, setting, metric).

    The setting is kept only for forecasting (horizon); classification numbers are
    matched whatever the sslts protocol, and their protocol is in ``source``.
    """
    index = {}
    for path in sorted(Path(folder).glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                setting = r["setting"] if r["task"] == "forecasting" else ""
                key = (r["table"], r["method"], r["task"], r["dataset"], setting, r["metric"])
                index[key] = (float(r["value"]), f"{r['source']}, {r['table']}")
    return index


def paper_value(reference: dict, row: dict):
    """``(value, source)`` of the published number beside ``row``, or ``(None, "")``."""
    setting = row["setting"] if row["task"] == "forecasting" else ""
    for table, column in PAPER_COLUMNS.get(row["method"], []):
        key = (table, column, row["task"], row["dataset"], setting, row["metric"])
        if key in reference:
            return reference[key]
    return None, ""


def write_outputs(rows: list[dict], meta: dict, out: Path, reference_dir: Path):
    """Write ``benchmark_suite.{csv,json,md}`` into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    reference = load_reference(reference_dir)
    for row in rows:
        row["paper"], row["paper_source"] = paper_value(reference, row)
    paths = [out / f"benchmark_suite.{ext}" for ext in ("csv", "json", "md")]
    with open(paths[0], "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _plain(v) for k, v in row.items()} for row in rows)
    paths[1].write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    paths[2].write_text(render_markdown(rows, meta), encoding="utf-8")
    return paths


def merge_previous(rows: list[dict], meta: dict, out: Path):
    """Previous results in ``out`` with this run's jobs replaced or added.

    Returns the merged rows and the previous metadata with this run recorded under
    ``"appended"``.
    """
    previous = read_rows(out / "benchmark_suite.csv")
    old_meta = json.loads((out / "benchmark_suite.json").read_text(encoding="utf-8"))
    jobs = {(r["task"], r["method"], r["dataset"]) for r in rows}
    kept = [r for r in previous if (r["task"], r["method"], r["dataset"]) not in jobs]
    old_meta.setdefault("appended", []).append(
        {k: meta[k] for k in ("command", "commit", "date", "budgets")})
    return kept + rows, old_meta


def _plain(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def read_rows(path: Path) -> list[dict]:
    """Rows of a ``benchmark_suite.csv`` with numbers parsed back."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in ("value", "paper", "fit_seconds", "transform_seconds", "eval_seconds",
                    "peak_rss_mb"):
            row[key] = float(row[key]) if row.get(key) not in (None, "") else None
    return rows


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in body]


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def render_markdown(rows: list[dict], meta: dict) -> str:
    """The results as markdown tables (sslts beside the papers' numbers)."""
    methods = _ordered(r["method"] for r in rows if r["method"] not in BASELINES
                       and r["method"] != "1nn")
    lines = _header(meta)
    lines += _classification_section(rows, methods)
    lines += _probe_section(rows, methods)
    lines += _cost_section(rows, methods)
    lines += _forecast_section(rows, methods)
    lines += _anomaly_section(rows)
    errors = [r for r in rows if r.get("error")]
    if errors:
        lines += ["", "## Failures", ""]
        lines += [f"- {r['task']} / {r['method']} / {r['dataset']}: `{r['error']}`"
                  for r in errors]
    return "\n".join(lines) + "\n"


def _header(meta: dict) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    lines = [
        "# sslts benchmark suite", "",
        f"- command: `{meta['command']}`",
        f"- commit: `{meta['commit']}`, date: {meta['date']}",
        f"- device: {meta['device']}, CPU threads: {meta['cpu_threads']}, seed: {meta['seed']}",
        f"- versions: {versions}",
        "- per-method parameters (on top of each estimator's defaults):",
    ]
    for task, budgets in meta["budgets"].items():
        lines.append(f"  - {task}:")
        lines += [f"    - `{m}`: `{json.dumps(p, sort_keys=True)}`" for m, p in budgets.items()]
    for extra in meta.get("appended", []):
        lines.append(f"- then merged in: `{extra['command']}` at `{extra['commit']}`, "
                     f"{extra['date']}")
    return lines + [
        "", "Paper numbers: see `benchmarks/reference/README.md` for which published column "
        "sits beside each method. '–' = no published number for this dataset.",
    ]


def _lookup(rows, task, metric="accuracy") -> dict:
    return {(r["method"], r["dataset"], r["setting"]): r for r in rows
            if r["task"] == task and r["metric"] == metric}


def _mean_row(body: list[list[str]], label: str) -> list[str]:
    out = [label]
    for col in range(1, len(body[0])):
        vals = [float(r[col]) for r in body if r[col] not in ("–", "")]
        out.append(f"{np.mean(vals):.3f} ({len(vals)})" if vals else "–")
    return out


def _classification_section(rows, methods) -> list[str]:
    acc = _lookup(rows, "classification")
    datasets = _ordered(r["dataset"] for r in rows if r["task"] == "classification")
    if not datasets:
        return []
    baselines = [b for b in BASELINES if any(k[0] == b for k in acc)]
    header = ["dataset"]
    for m in methods:
        header += [f"{m} (sslts)", f"{m} (paper)"]
    header += [BASELINE_LABELS[b] for b in baselines] + ["DTW (paper)"]
    body = []
    for d in datasets:
        line = [d]
        for m in methods:
            r = acc.get((m, d, "svm"))
            line += [_fmt(r and r["value"]), _fmt(r and r["paper"])]
        line += [_fmt(acc[(b, d, "1-NN")]["value"]) if (b, d, "1-NN") in acc else "–"
                 for b in baselines]
        dtw = acc.get(("1nn_dtw_d", d, "1-NN"))
        line.append(_fmt(dtw and dtw["paper"]))
        body.append(line)
    return ["", "## Classification accuracy (TS2Vec's SVM protocol)", "",
            *_table(header, body + [_mean_row(body, "mean (n)")])]


def _probe_section(rows, methods) -> list[str]:
    acc = _lookup(rows, "classification")
    probes = [p for p in ("knn", "logistic", "linear_svm")
              if any(k[2] == p for k in acc)]
    datasets = _ordered(k[1] for k in acc if k[0] in methods)
    if not probes or not datasets:
        return []
    header = ["dataset"] + [f"{m} {p}" for m in methods for p in probes]
    body = [[d] + [_fmt(acc[(m, d, p)]["value"]) if (m, d, p) in acc else "–"
                   for m in methods for p in probes] for d in datasets]
    return ["", "## Other probes on the same embeddings (accuracy)", "",
            "knn = 5-NN on standardised embeddings; logistic = TS2Vec's/IARS's one-vs-rest "
            "logistic regression; linear_svm = LinearSVC, C = 1.", "",
            *_table(header, body + [_mean_row(body, "mean (n)")])]


def _cost_section(rows, methods) -> list[str]:
    first = {}
    for r in rows:
        if r["method"] in methods and r.get("fit_seconds") is not None:
            first.setdefault((r["task"], r["dataset"], r["method"]), r)
    keys = _ordered((t, d) for t, d, _ in first)
    if not keys:
        return []
    header = ["task", "dataset"] + [f"{m}: fit / transform / eval s, peak MB" for m in methods]
    body = []
    for t, d in keys:
        cells = []
        for m in methods:
            r = first.get((t, d, m))
            cells.append("–" if r is None else
                         f"{_fmt(r['fit_seconds'], 1)} / {_fmt(r['transform_seconds'], 1)} / "
                         f"{_fmt(r.get('eval_seconds'), 1)}, {_fmt(r['peak_rss_mb'], 0)}")
        body.append([t, d] + cells)
    return ["", "## Cost", "",
            "Fit = self-supervised training; transform = embedding train + test (forecasting: "
            "causal sliding encoding of every timestamp; anomaly: with and without the masked "
            "last step); eval = the SVM protocol (classification) or the ridge fit for the "
            "first horizon (forecasting). Peak MB = process RSS high-water mark during the job "
            "(includes the interpreter and libraries, about 400 MB).", "",
            *_table(header, body)]


def _forecast_section(rows, methods) -> list[str]:
    fc = [r for r in rows if r["task"] == "forecasting" and r["metric"] in ("mse", "mae")]
    if not fc:
        return []
    cells = defaultdict(dict)
    for r in fc:
        cells[(r["dataset"], r["setting"])][(r["method"], r["metric"])] = r
    fmethods = [m for m in methods if any(k[0] == m for c in cells.values() for k in c)]
    header = ["dataset", "setting"]
    for m in fmethods:
        header += [f"{m} MSE", "paper", f"{m} MAE", "paper"]
    body = []
    for (d, s), c in cells.items():
        line = [d, s]
        for m in fmethods:
            for metric in ("mse", "mae"):
                r = c.get((m, metric))
                line += [_fmt(r and r["value"]), _fmt(r and r["paper"])]
        body.append(line)
    return ["", "## Forecasting (TS2Vec's ETT protocol; MSE / MAE on standardised data)", "",
            *_table(header, body)]


def _anomaly_section(rows) -> list[str]:
    an = defaultdict(dict)
    for r in rows:
        if r["task"] == "anomaly" and r["metric"] != "error":
            an[(r["method"], r["dataset"])][r["metric"]] = r["value"]
    if not an:
        return []
    body = [[m, d] + [_fmt(v.get(k)) for k in ("f1", "precision", "recall")]
            for (m, d), v in an.items()]
    return ["", "## Anomaly detection (TS2Vec's protocol, point-adjusted, delay 7)", "",
            "No published number exists for this series (TS2Vec reports Yahoo and KPI).", "",
            *_table(["method", "series", "F1", "precision", "recall"], body)]
