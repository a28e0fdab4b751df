"""The markdown report of ``benchmarks/ncvqvae_generation.py``, written from its CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["LABELS", "THESIS", "at_thesis_budget", "write_report"]

LABELS = {"none": "VQVAE", "bt-slice": "BT-slice", "vib-slice": "VIb-slice",
          "bt-gauss": "BT-gauss", "vib-gauss": "VIb-gauss"}
# The thesis's means over 4 seeds at 1000 + 1000 epochs (the NC-VQVAE repository's
# results CSVs): linear SVM %, KNN %, FID, IS, CAS % per dataset and configuration.
THESIS = {
    "FordA": {"none": (74.2, 70.1, 5.15, 1.16, 86.4), "bt-slice": (89.4, 90.9, 2.36, 1.45, 90.2),
              "vib-slice": (86.1, 86.8, 2.90, 1.41, 89.5),
              "bt-gauss": (82.8, 80.4, 2.28, 1.45, 87.8),
              "vib-gauss": (78.1, 76.2, 3.73, 1.29, 87.0)},
    "ECG5000": {"none": (82.8, 80.0, 1.62, 1.94, 86.6),
                "bt-slice": (84.4, 87.8, 2.56, 1.98, 86.3),
                "vib-slice": (83.8, 88.5, 2.39, 2.00, 89.2),
                "bt-gauss": (83.9, 86.4, 2.47, 2.00, 88.0),
                "vib-gauss": (82.3, 84.4, 1.76, 1.99, 91.0)},
    "ShapesAll": {"none": (30.5, 28.7, 27.64, 4.22, 36.1),
                  "bt-slice": (60.4, 53.3, 32.54, 5.04, 32.9),
                  "vib-slice": (60.2, 53.9, 35.79, 4.76, 36.7),
                  "bt-gauss": (48.0, 39.7, 32.25, 4.56, 42.0),
                  "vib-gauss": (46.0, 40.3, 31.56, 4.71, 40.4)},
    "Mallat": {"none": (76.7, 63.2, 2.09, 3.01, 47.1), "bt-slice": (83.3, 76.0, 3.68, 2.94, 56.3),
               "vib-slice": (84.5, 77.1, 2.40, 2.96, 87.6),
               "bt-gauss": (77.8, 67.7, 2.12, 3.53, 66.1),
               "vib-gauss": (86.4, 68.7, 1.65, 3.72, 90.8)},
    "SonyAIBORobotSurface1": {"none": (67.9, 55.7, 23.71, 1.20, 97.5),
                              "bt-slice": (74.0, 60.8, 31.97, 1.21, 95.7),
                              "vib-slice": (70.8, 57.8, 28.20, 1.32, 97.6),
                              "bt-gauss": (69.9, 53.2, 25.29, 1.28, 97.9),
                              "vib-gauss": (69.2, 54.3, 18.61, 1.44, 98.5)},
    "SonyAIBORobotSurface2": {"none": (85.5, 80.6, 5.42, 1.62, 92.9),
                              "bt-slice": (79.9, 80.3, 4.41, 1.74, 95.1),
                              "vib-slice": (85.2, 79.5, 3.32, 1.79, 97.0),
                              "bt-gauss": (81.5, 80.2, 1.78, 1.81, 96.9),
                              "vib-gauss": (84.9, 80.3, 2.36, 1.79, 96.4)},
}

# metric -> (title, thesis column, scale, digits, better)
TABLES = {
    "svm": ("Stage 1: linear SVM accuracy (%)", 0, 100, 1, "higher"),
    "knn": ("Stage 1: KNN (k=5) accuracy (%)", 1, 100, 1, "higher"),
    "svm_train_mode": ("Stage 1: linear SVM accuracy (%) on features computed as the "
                       "reference code does (batch norm in training mode)", 0, 100, 1,
                       "higher"),
    "fid": ("Stage 2: FID", 2, 1, 2, "lower"),
    "is_mean": ("Stage 2: IS", 3, 1, 2, "higher"),
    "cas": ("Stage 2: CAS (%)", 4, 100, 1, "higher"),
}


def _values(rows, name, config, key, scale=1.0):
    return np.array([float(r[key]) * scale for r in rows
                     if r["dataset"] == name and r["config"] == config])


def _cell(values, digits):
    if len(values) == 0:
        return ""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def _table(rows, names, configs, key) -> list[str]:
    title, column, scale, digits, better = TABLES[key]
    extra = {"fid": ["FCN test acc. %"], "is_mean": ["real TEST IS"]}.get(key, [])
    header = ["dataset", *extra, *(f"sslts {LABELS[c]}" for c in configs),
              *(f"thesis {LABELS[c]}" for c in configs)]
    lines = [f"## {title} ({better} is better)", "", "| " + " | ".join(header) + " |",
             "|---" * len(header) + "|"]
    means = {c: [] for c in configs}
    for name in names:
        cells = [name]
        if key == "fid":
            acc = np.array([float(r["fcn_test_accuracy"]) for r in rows if r["dataset"] == name])
            cells.append(f"{100 * acc.mean():.1f}")
        if key == "is_mean":
            real = np.array([float(r["real_is_mean"]) for r in rows if r["dataset"] == name])
            cells.append(f"{real.mean():.2f}")
        for c in configs:
            values = _values(rows, name, c, key, scale)
            cells.append(_cell(values, digits))
            if len(values):
                means[c].append(values.mean())
        cells += [f"{THESIS[name][c][column]:.{digits}f}" for c in configs]
        lines.append("| " + " | ".join(cells) + " |")
    complete = all(len(v) == len(names) for v in means.values())
    if len(names) > 1 and complete:
        mean = ["**mean**", *[""] * len(extra), *(f"**{np.mean(means[c]):.{digits}f}**"
                                                   for c in configs),
                *(f"**{np.mean([THESIS[n][c][column] for n in names]):.{digits}f}**"
                  for c in configs)]
        lines.append("| " + " | ".join(mean) + " |")
    return lines + [""]


def _cost(rows, names, configs) -> list[str]:
    header = ["dataset", "method", "train × length", "stage-1 epochs / steps", "stage-1 s",
              "prior epochs / steps", "prior s", "evaluation s", "sampling series/s",
              "dead codes", "FCN / CAS epochs"]
    lines = ["## Cost (means over seeds; one CPU core, one thread)", "",
             "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name in names:
        for c in configs:
            sub = [r for r in rows if r["dataset"] == name and r["config"] == c]
            if not sub:
                continue
            r0 = sub[0]

            def mean(key, fmt=".0f", sub=sub):
                return f"{np.mean([float(r[key]) for r in sub]):{fmt}}"

            lines.append("| " + " | ".join([
                name, LABELS[c], f"{r0['n_train']} × {r0['length']}",
                f"{mean('stage1_epochs')} / {mean('stage1_steps')}", mean("stage1_s"),
                f"{mean('prior_epochs')} / {mean('prior_steps')}", mean("prior_s"),
                mean("eval_s"), mean("series_per_s", ".1f"), mean("dead_codes", ".1f"),
                f"{r0['fcn_epochs']} / {r0['cas_epochs']}",
            ]) + " |")
    return lines + [""]


def at_thesis_budget(row: dict) -> bool:
    """Whether a CSV row trained both stages for the thesis's 1000 epochs."""
    return row["stage1_epochs"] == row["prior_epochs"] == "1000"


def _budgets(rows, names) -> str:
    """One sentence per budget: which datasets ran at it, and their total run time."""
    groups: dict[tuple, list[str]] = {}
    for name in names:
        r0 = next(r for r in rows if r["dataset"] == name)
        steps = None if at_thesis_budget(r0) else (r0["stage1_steps"], r0["prior_steps"])
        groups.setdefault((steps, r0["fcn_epochs"], r0["cas_epochs"]), []).append(name)
    parts = []
    for (steps, fcn, cas), group in groups.items():
        sub = [r for r in rows if r["dataset"] in group]
        hours = sum(float(r[k]) for r in sub for k in ("stage1_s", "prior_s", "eval_s")) / 3600
        budget = ("stage 1 and prior at the thesis's 1000 epochs each" if steps is None
                  else f"{steps[0]} stage-1 and {steps[1]} prior optimiser steps")
        parts.append(f"{', '.join(group)}: {budget}, scoring FCN {fcn} epochs, CAS classifier "
                     f"{cas} epochs ({len(sub)} runs, {hours:.1f} core-hours of fits and "
                     "evaluation, the scoring FCN not counted).")
    if any(steps is not None for steps, *_ in groups):
        parts.append("A budget in steps is the largest whose runs fit in well under two "
                     "hours of a 2-core machine; those sets are subsampled as in "
                     "`benchmarks/ncvqvae.py` (at most 384 training and 600 test series, at "
                     "most 256 steps). Means over sets mix the budgets: compare a set's row "
                     "with the thesis, and the sslts columns with each other.")
    return "Budgets. " + " ".join(parts)


def write_report(rows: list[dict], path: Path, notes: str = "") -> None:
    """Rewrite the markdown report from the CSV rows."""
    names = [n for n in THESIS if any(r["dataset"] == n for r in rows)]
    configs = [c for c in LABELS if any(r["config"] == c for r in rows)]
    commits = sorted({r["commit"] for r in rows})
    seeds = sorted({int(r["seed"]) for r in rows})
    lines = [
        "# NC-VQVAE stage 1 and stage 2 (generation) against the thesis",
        "",
        f"Generated by `benchmarks/ncvqvae_generation.py` at commit(s) "
        f"{', '.join(f'`{c}`' for c in commits)}; seeds {seeds}; torch on the CPU, one core "
        "and one thread per run. sslts columns: mean ± std over the seeds; thesis columns: "
        "the mean of its 4 seeds (1000 + 1000 epochs, full-length series).",
        "",
    ]
    lines += [_budgets(rows, names), ""]
    if notes:
        lines += [notes, ""]
    for key in TABLES:
        lines += _table(rows, names, configs, key)
    lines += _cost(rows, names, configs)
    Path(path).write_text("\n".join(lines))
