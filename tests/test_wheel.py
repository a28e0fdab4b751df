"""The built distributions: what a user installs from a wheel works without the repository.

:func:`dist` builds the sdist and, from it, the wheel (``python -m build``, without
build isolation so that it needs no network) from a copy of the sources. Two tests read
the archives; two install the wheel, not an editable checkout, into a fresh virtual
environment and run ``import sslts``, the bundled-data loaders, the shipped pretrained
model and the main job from a folder outside the repository. Under pytest-xdist the
workers share one build and one environment (a file lock guards them).

The new environment gets its dependencies (torch, scikit-learn, ...) from the test
environment through a path entry in a ``.pth`` file rather than from an index: that keeps
the test offline and fast, and a path entry does not run the test environment's own
``.pth`` hooks, so the editable sslts installed there stays invisible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from filelock import FileLock

import sslts

ROOT = Path(__file__).resolve().parents[1]
# Files a user needs that are not Python modules (the wheel must carry every one).
DATA_FILES = (
    "sslts/py.typed",
    "sslts/data/README.md",
    "sslts/data/GunPoint/GunPoint_TRAIN.tsv.gz",
    "sslts/data/GunPoint/GunPoint_TEST.tsv.gz",
    "sslts/data/BasicMotions/BasicMotions_TRAIN.ts.gz",
    "sslts/data/BasicMotions/BasicMotions_TEST.ts.gz",
    "sslts/data/JapaneseVowels/JapaneseVowels_TRAIN.ts.gz",
    "sslts/data/JapaneseVowels/JapaneseVowels_TEST.ts.gz",
    "sslts/data/forecast/ETTh1.csv.gz",
    "sslts/data/anomaly/135_UCR_Anomaly_InternalBleeding16_TRAIN.csv.gz",
    "sslts/data/anomaly/135_UCR_Anomaly_InternalBleeding16_TEST.csv.gz",
    "sslts/pretrained/ts2vec-ucr-uea.pt",
    "sslts/pretrained/ts2vec-ucr-uea.json",
    "sslts/pretrained/ts2vec-ucr-uea.md",
)
CHECK_INSTALLED = """
import json, sys
from importlib import metadata
import sslts
from sslts.datasets import fetch_ett, fetch_ucr_anomaly, load_dataset
from sslts.evaluation import load_ett, load_ucr_anomaly
from sslts.pretrained import load_pretrained, model_card

shapes = [load_dataset(name, download=False)[0].shape
          for name in ("GunPoint", "BasicMotions", "JapaneseVowels")]
ett = load_ett("ETTh1", fetch_ett("ETTh1", download=False))
anomaly = load_ucr_anomaly(fetch_ucr_anomaly("InternalBleeding16"))
X = load_dataset("BasicMotions", download=False)[2][:3]
pretrained = list(load_pretrained("ts2vec-ucr-uea").transform(X).shape)
card = model_card("ts2vec-ucr-uea").splitlines()[0]
print(json.dumps({"file": sslts.__file__, "version": sslts.__version__,
                  "metadata_version": metadata.version("sslts"), "shapes": shapes,
                  "ett": list(ett.data.shape), "anomaly": len(anomaly.values),
                  "pretrained": pretrained, "card": card}))
"""


def _package_files(root: Path) -> set[str]:
    """Every file of the package in the source tree, relative to the root (no bytecode)."""
    return {
        p.relative_to(root).as_posix()
        for p in (root / "sslts").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _shared(tmp_path_factory, name: str, make) -> Path:
    """``make(folder)`` once per test session, even across pytest-xdist workers."""
    folder = tmp_path_factory.getbasetemp().parent / name
    with FileLock(f"{folder}.lock"):
        if not (folder / ".done").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / ".done").touch()
    return folder


def _build(out: Path) -> None:
    # From a copy: building writes egg-info next to the sources, and the checkout's
    # virtual environment and build outputs do not belong in an sdist.
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "dist", "build", "*.egg-info", "__pycache__", "_build",
        "_generated", "auto_examples", "generated", ".pytest_cache", ".ruff_cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    pytest.importorskip("build")
    return _shared(tmp_path_factory, "sslts_dist", _build)


def _only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.slow
def test_wheel_carries_every_package_file_and_the_licence(dist):
    wheel = _only(dist, f"sslts-{sslts.__version__}-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = set(
        subprocess.run(["git", "ls-files", "sslts"], cwd=ROOT, capture_output=True,
                       text=True).stdout.split()
    ) or _package_files(ROOT)  # not a git checkout: every file of the package
    assert set(DATA_FILES) <= tracked, "a bundled file is not committed"
    assert tracked - names == set()
    info = f"sslts-{sslts.__version__}.dist-info"
    assert f"{info}/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    assert "License-Expression: BSD-3-Clause" in metadata
    assert f"Version: {sslts.__version__}" in metadata


@pytest.mark.slow
def test_sdist_carries_the_data_release_files_tests_and_examples(dist):
    sdist = _only(dist, f"sslts-{sslts.__version__}.tar.gz")
    prefix = f"sslts-{sslts.__version__}/"
    names = {n.removeprefix(prefix) for n in tarfile.open(sdist).getnames()}
    release = {"LICENSE", "README.md", "CHANGELOG.md", "CITATION.cff", "pyproject.toml"}
    assert release | set(DATA_FILES) <= names
    assert "tests/test_wheel.py" in names
    assert any(n.startswith("examples/") and n.endswith(".py") for n in names)


def _install(wheel: Path, env_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    # The test environment's packages, after the new environment's own.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "test_environment.pth").write_text("\n".join(sorted(deps)) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--no-cache-dir", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> tuple[Path, dict]:
    """A fresh venv with the wheel installed, and the environment to run it in."""
    wheel = _only(dist, "*.whl")
    folder = _shared(tmp_path_factory, "sslts_venv", lambda d: _install(wheel, d / "env"))
    env_dir = folder / "env"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "SSLTS_DATA", "VIRTUAL_ENV")}
    env.update(SSLTS_CACHE=str(tmp_path_factory.mktemp("cache")), OMP_NUM_THREADS="1",
               PYTHONNOUSERSITE="1", PATH=f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}")
    return env_dir / "bin" / "python", env


@pytest.mark.slow
def test_installed_wheel_imports_and_reads_its_bundled_data(installed, tmp_path):
    python, env = installed
    proc = subprocess.run([str(python), "-c", CHECK_INSTALLED], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    site = Path(python).parents[1]
    assert Path(report["file"]).is_relative_to(site), report["file"]  # not the checkout
    assert report["version"] == report["metadata_version"] == sslts.__version__
    assert report["shapes"] == [[50, 150, 1], [40, 100, 6], [270, 29, 12]]
    assert report["ett"] == [1, 14400, 14] and report["anomaly"] == 7501
    # The shipped pretrained model loads from the wheel, offline, and embeds 6 channels
    # (side by side: its pooling is "concat").
    assert report["pretrained"] == [3, 6 * 320] and report["card"] == "# ts2vec-ucr-uea"


@pytest.mark.slow
def test_installed_wheel_runs_the_main_job_and_its_command(installed, tmp_path):
    python, env = installed
    proc = subprocess.run(
        [str(python), "-m", "sslts", "--dataset", "GunPoint", "--n-iters", "5",
         "--device", "cpu"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "accuracy:" in proc.stdout and "device:   cpu" in proc.stdout
    command = subprocess.run([str(Path(python).parent / "sslts"), "--help"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=120)
    assert command.returncode == 0 and "--dataset" in command.stdout
