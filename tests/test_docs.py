"""The documentation site: its generated pages, and a warnings-as-errors Sphinx build.

The fast tests check what ``docs/_ext`` generates (API reference, capability table,
results pages, gallery order) without Sphinx. :func:`test_site_builds` builds the whole
site with ``sphinx-build -W`` (warnings are errors) from a copy of ``docs/``,
``examples/`` and ``benchmarks/`` in a temporary folder, executing the gallery examples
in :data:`EXECUTED_EXAMPLES` (bundled data only, about a minute of training on two
cores); the other examples are rendered without running them there, and
:func:`test_gallery_example_runs_from_its_downloaded_file` runs each of those alone, as a
user who downloaded it would. To build the full site with every example executed, from
the repository root (about 5 minutes on two cores, on an otherwise idle machine)::

    python -m sphinx -W -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TIMEOUT

from sslts import all_estimators

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import api_reference  # noqa: E402
import results_page  # noqa: E402
import sslts_docs  # noqa: E402

# The fast subset of the gallery that the build test executes (>= 3 examples).
EXECUTED_EXAMPLES = ("plot_augmentations", "plot_save_load", "plot_grid_search_cache")
SPHINX_STACK = ("sphinx", "sphinx_gallery", "numpydoc", "pydata_sphinx_theme", "myst_parser",
                "sphinx_design")


def test_api_reference_documents_every_exported_name():
    assert api_reference.coverage_errors() == []


def test_coverage_check_reports_a_module_without_a_section(monkeypatch):
    # The check must be able to fail: drop the section of sslts.augment.
    sections = tuple(s for s in api_reference.SECTIONS if "sslts.augment" not in s.modules)
    monkeypatch.setattr(api_reference, "SECTIONS", sections)
    errors = api_reference.coverage_errors()
    assert any("public module sslts.augment " in e and "SECTIONS" in e for e in errors)


def test_internal_helpers_stay_out_of_the_reference():
    entries = re.findall(r"^   ([^:\s]\S*)$", api_reference.render_index(), flags=re.M)
    for path in api_reference.INTERNAL:
        assert path.removeprefix("sslts.") not in entries, path


def test_api_index_lists_each_object_once_under_its_import_path():
    text = api_reference.render_index()
    entries = re.findall(r"^   ([^:\s]\S*)$", text, flags=re.M)  # not the options
    assert len(entries) == len(set(entries))
    # Estimators are documented where users import them from: the top-level package.
    assert "TS2VecTransformer" in entries and "methods.ts2vec.TS2VecTransformer" not in entries
    assert "augment.jitter" in entries


def test_capability_table_has_a_row_per_registered_estimator():
    table = sslts_docs.render_capabilities()
    rows = [line for line in table.splitlines() if line.startswith("| {class}")]
    assert len(rows) == len(all_estimators())
    ts2vec = next(r for r in rows if "`~sslts.TS2VecTransformer`" in r)
    assert "instance, timestamp" in ts2vec


def test_results_pages_come_from_the_benchmark_files(tmp_path):
    pytest.importorskip("matplotlib")
    results = ROOT / "benchmarks" / "results"
    pages = results_page.build(results, tmp_path)
    others = {p.stem for p in results.glob("*.md")} - {results_page.SUITE}
    assert set(pages) == {"index"} | others
    assert "## Classification accuracy" in pages["index"]
    assert all(f"\n{name}\n" in pages["index"] for name in others)  # in its toctree
    for image in (results_page.ACCURACY_PLOT, results_page.METHODS_PLOT):
        assert (tmp_path / image).stat().st_size > 10_000


def test_svm_accuracies_read_the_suite_rows():
    rows = [
        {"task": "classification", "method": "ts2vec", "dataset": "A", "setting": "svm",
         "value": "0.9", "paper": "0.95"},
        {"task": "classification", "method": "ts2vec", "dataset": "A", "setting": "knn",
         "value": "0.1", "paper": ""},
        {"task": "forecasting", "method": "ts2vec", "dataset": "E", "setting": "H=24",
         "value": "0.3", "paper": ""},
    ]
    assert results_page.svm_accuracies(rows) == {"ts2vec": {"A": (0.9, 0.95)}}


def test_gallery_order_puts_listed_examples_first_and_new_ones_after():
    key = sslts_docs.ExampleOrder("examples")
    names = ["plot_zz_new.py", "plot_save_load.py", "plot_aa_new.py", "plot_grid_search_cache.py"]
    assert sorted(names, key=key) == [
        "plot_grid_search_cache.py", "plot_save_load.py", "plot_aa_new.py", "plot_zz_new.py"
    ]


def gallery_examples() -> list[Path]:
    """Every gallery example, in its section folder."""
    return sorted((ROOT / "examples").glob("*/plot_*.py"))


def test_gallery_sections_are_the_documented_ones():
    sections = {p.parent.name for p in gallery_examples()}
    assert sections == set(sslts_docs.GALLERY_SECTIONS)
    for name in sslts_docs.GALLERY_SECTIONS:  # sphinx-gallery needs each section's title
        assert (ROOT / "examples" / name / "README.rst").is_file(), name
    assert not list((ROOT / "examples").glob("plot_*.py")), "examples belong in a section"


def test_every_gallery_example_has_a_title():
    # sphinx-gallery needs a docstring that starts with a title to render an example.
    for path in gallery_examples():
        text = path.read_text(encoding="utf-8")
        assert re.match(r'"""\n[^\n]+\n=+\n', text), f"{path.name}: no title docstring"


def _copy_site_sources(dest: Path) -> Path:
    shutil.copy(ROOT / "CITATION.cff", dest)  # the citation page reads it
    for folder in ("docs", "examples"):
        shutil.copytree(ROOT / folder, dest / folder,
                        ignore=shutil.ignore_patterns("_build", "_generated", "generated",
                                                      "auto_examples", "__pycache__"))
    shutil.copytree(ROOT / "benchmarks", dest / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "docs" / "api" / "index.rst").unlink(missing_ok=True)
    return dest / "docs"


def test_site_builds(tmp_path):
    for module in SPHINX_STACK:
        pytest.importorskip(module)
    docs = _copy_site_sources(tmp_path)
    out = tmp_path / "html"
    env = {
        **os.environ,
        "SSLTS_GALLERY_PATTERN": "|".join(EXECUTED_EXAMPLES),
        "SSLTS_DOCS_OFFLINE": "1",  # no network in CI: cross-project links render as text
        "MPLBACKEND": "Agg",
    }
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-d", str(tmp_path / "doctrees"), str(docs), str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert (out / "index.html").is_file()
    for entries in api_reference.collect().values():
        for entry in entries:
            assert (out / "api" / "generated" / f"{entry.path}.html").is_file(), entry.path
    for name in EXECUTED_EXAMPLES:
        page = next((out / "auto_examples").glob(f"*/{name}.html")).read_text(encoding="utf-8")
        # Executed: its printed output or its figures are on the page (an example that
        # is only rendered has neither).
        executed = "sphx-glr-script-out" in page or f"sphx_glr_{name}_001" in page
        assert executed, f"{name} was not executed"
    assert "accuracy_vs_paper.png" in (out / "_generated" / "results" / "index.html").read_text()


STANDALONE_EXAMPLES = [p for p in gallery_examples() if p.stem not in EXECUTED_EXAMPLES]


def test_every_example_runs_in_one_of_the_two_tests():
    executed = {p.stem for p in gallery_examples()} & set(EXECUTED_EXAMPLES)
    assert executed == set(EXECUTED_EXAMPLES), "an executed example is missing"
    assert len(STANDALONE_EXAMPLES) + len(executed) == len(gallery_examples())


@pytest.mark.slow
@pytest.mark.parametrize("example", STANDALONE_EXAMPLES, ids=lambda p: p.stem)
def test_gallery_example_runs_from_its_downloaded_file(example, tmp_path):
    # Alone in an empty folder, outside the repository, with an empty data cache: it
    # may rely only on sslts (bundled data), never on files around the checkout.
    pytest.importorskip("matplotlib")
    shutil.copy(example, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "SSLTS_DATA"}
    env.update(MPLBACKEND="Agg", SSLTS_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, example.name], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
