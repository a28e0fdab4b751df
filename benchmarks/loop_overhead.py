"""Fit time of every method before and after a change to the training loop, A/B interleaved.

Runs the same fits (GunPoint, fixed budget, seed 0, CPU) with two source trees — by
default the last commit exported to a folder (``--old``) and this working tree — in
alternating fresh processes, ``--repeats`` times, so that a busy machine slows both
sides alike.  Reports the median fit time of each side and their ratio, and checks that
both give the same loss history (the loop rewrite must not change results).

``--micro`` measures the loop machinery alone instead: a free loss (zero times the sum
of the parameters, so backward, optimiser step and weight averaging still run) on a
tiny TS2Vec network, 3,000 steps, one thread; it prints microseconds per step for each
side.  That cost is what a loop rewrite can add, and it is robust to a busy machine.

Usage::

    git archive HEAD | tar -x -C OLD_TREE
    python benchmarks/loop_overhead.py --old OLD_TREE              # nothing else running
    python benchmarks/loop_overhead.py --old OLD_TREE --micro

A developer's A/B tool, not a release result: the report goes to stdout (or ``--out``),
and the findings worth keeping to ``benchmarks/NOTES.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
DATA = HERE.parent / "shared" / "data"
CASES = {  # method: budget
    "TS2VecTransformer": {"n_iters": 60},
    "IARSTransformer": {"n_iters": 60},
    "TimeDRLTransformer": {"n_epochs": 20},
    "SelfTimeTransformer": {"n_epochs": 20},
}

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import sslts
X = sslts.load_dataset("GunPoint", data_home=sys.argv[2])[0]
cls = getattr(sslts, sys.argv[3])
est = cls(random_state=0, device="cpu", **json.loads(sys.argv[4]))
t = time.perf_counter(); est.fit(X); t = time.perf_counter() - t
print(json.dumps({"seconds": t, "loss": est.loss_history_}))
"""


MICRO = """
import sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, torch
torch.set_num_threads(1)
from sslts import TS2VecTransformer

def free(module):
    return sum(p.sum() for p in module.parameters()) * 0.0

class Old(TS2VecTransformer):  # the loop before the hooks called _training_step(rng)
    def _training_step(self, module, batch, rng):
        return free(module)

class New(TS2VecTransformer):
    def training_step(self, module, batch, ctx):
        return free(module)

cls = New if hasattr(TS2VecTransformer, "training_step") else Old
X = np.random.default_rng(0).normal(size=(64, 16)).astype(np.float32)
est = cls(output_dims=4, hidden_dims=4, depth=1, n_iters=3000, batch_size=4, device="cpu",
          random_state=0)
t = time.perf_counter(); est.fit(X); t = time.perf_counter() - t
print(t / est.n_iter_ * 1e6)
"""


def micro(old: Path, repeats: int) -> None:
    times = {"before": [], "after": []}
    for _ in range(repeats):
        for side, tree in (("before", old), ("after", HERE)):
            out = subprocess.run([sys.executable, "-c", MICRO, str(tree)], capture_output=True,
                                 text=True, check=True)
            times[side].append(float(out.stdout.strip().splitlines()[-1]))
    for side, values in times.items():
        print(f"{side}: median {statistics.median(values):.0f} us/step, runs "
              + ", ".join(f"{v:.0f}" for v in values))


def run(tree: Path, name: str, params: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(DATA), name, json.dumps(params)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="source tree of the 'before' side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="markdown report (default: stdout)")
    parser.add_argument("--micro", action="store_true", help="loop machinery only")
    args = parser.parse_args()
    if args.micro:
        micro(Path(args.old), args.repeats)
        return
    rows = []
    for name, params in CASES.items():
        times = {"before": [], "after": []}
        losses = {}
        for r in range(args.repeats):
            order = [("before", Path(args.old)), ("after", HERE)]
            for side, tree in order if r % 2 == 0 else order[::-1]:
                res = run(tree, name, params)
                times[side].append(res["seconds"])
                losses[side] = res["loss"]
        before, after = (statistics.median(times[s]) for s in ("before", "after"))
        same = losses["before"] == losses["after"]
        rows.append((name, params, before, after, after / before, same, times))
        print(f"{name}: before {before:.2f} s, after {after:.2f} s, "
              f"ratio {after / before:.3f}, same losses: {same}", flush=True)
    lines = [
        "# Training-loop overhead: fit time before/after (`benchmarks/loop_overhead.py`)",
        "",
        f"GunPoint (50 series, length 150), CPU, seed 0, {args.repeats} fits per side in "
        "alternating fresh processes on a shared 2-core machine (other work was running: "
        "compare the ratio, not the seconds). `same losses`: identical loss history.",
        "",
        "| method | budget | before (s) | after (s) | after / before | same losses "
        "| all runs (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, params, before, after, ratio, same, times in rows:
        runs = " / ".join(f"{s}: " + ", ".join(f"{t:.2f}" for t in times[s]) for s in times)
        lines.append(f"| {name} | {params} | {before:.2f} | {after:.2f} | {ratio:.3f} | "
                     f"{same} | {runs} |")
    report = "\n".join(lines) + "\n"
    if args.out is None:
        print(report)
    else:
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
