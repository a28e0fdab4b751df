"""The scaling recipes of ``docs/gpu_and_scale.md`` run as the page prints them.

Each test takes its script and command from the page itself (so page and test cannot
drift apart), writes the script into a temporary folder and runs it there as a user
would: ``torchrun`` with two CPU processes (gloo), and a grid search through joblib's
Dask backend on a ``dask.distributed`` LocalCluster of two worker processes.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import sslts

PAGE = Path(__file__).resolve().parents[1] / "docs" / "gpu_and_scale.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


def documented_script(first_line: str) -> str:
    """The page's Python block that starts with ``first_line`` (e.g. ``# train.py``)."""
    found = [b for b in _blocks("python") if b.startswith(first_line + "\n")]
    assert len(found) == 1, f"{PAGE.name} should hold one Python block starting {first_line!r}"
    return found[0]


def documented_command(prefix: str) -> list[str]:
    """The page's shell command that starts with ``prefix``, its comment removed."""
    lines = [line for block in _blocks("bash") for line in block.splitlines()
             if line.startswith(prefix)]
    assert len(lines) == 1, f"{PAGE.name} should hold one command starting {prefix!r}"
    return shlex.split(lines[0], comments=True)


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


@pytest.mark.slow
def test_torchrun_recipe_trains_on_two_cpu_processes_and_saves_one_model(tmp_path):
    (tmp_path / "train.py").write_text(documented_script("# train.py"), encoding="utf-8")
    command = documented_command("torchrun --standalone")
    assert command[-1] == "train.py" and command[command.index("--nproc-per-node") + 1] == "2"
    # The test environment's torchrun (the console script of the interpreter running it).
    command = [sys.executable, "-m", "torch.distributed.run", *command[1:]]
    proc = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    enc = sslts.load(tmp_path / "ts2vec.pt")
    assert enc.n_iter_ == 50
    X = sslts.load_dataset("GunPoint")[2][:5]
    assert enc.transform(X).shape == (5, enc.output_dims)


@pytest.mark.slow
def test_dask_recipe_runs_the_grid_search_on_a_local_cluster(tmp_path):
    pytest.importorskip("dask.distributed")
    script = documented_script("# grid.py")
    assert 'joblib.parallel_backend("dask")' in script and "LocalCluster(" in script
    (tmp_path / "grid.py").write_text(script, encoding="utf-8")
    proc = subprocess.run([sys.executable, "grid.py"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    best, score = proc.stdout.strip().splitlines()[-1].rsplit("} ", 1)
    assert best.startswith("{'enc__output_dims': ") and 0.5 <= float(score) <= 1.0
