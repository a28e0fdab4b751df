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

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TIMEOUT

from sslts import all_estimators
from sslts.pretrained import list_pretrained

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import api_pages  # noqa: E402
import api_reference  # noqa: E402
import class_pages  # noqa: E402
import results_page  # noqa: E402
import sslts_docs  # noqa: E402

# The fast subset of the gallery that the build test executes (>= 3 examples).
EXECUTED_EXAMPLES = ("plot_augmentations", "plot_save_load", "plot_grid_search_cache")
SPHINX_STACK = ("sphinx", "sphinx_gallery", "numpydoc", "pydata_sphinx_theme", "myst_parser",
                "sphinx_design")


def test_api_reference_documents_every_exported_name():
    assert api_reference.coverage_errors() == []


def test_coverage_check_reports_a_module_without_a_group(monkeypatch):
    # The check must be able to fail: drop the page of sslts.augment.
    pages = tuple(p for p in api_reference.PAGES if p.slug != "augment")
    monkeypatch.setattr(api_reference, "PAGES", pages)
    errors = api_reference.coverage_errors()
    assert any("sslts.augment.jitter (exported by sslts.augment" in e and "PAGES" in e
               for e in errors)


def _entries(text: str) -> list[str]:
    return re.findall(r"^   ([^:\s]\S*)$", text, flags=re.M)  # not the options


def test_each_public_object_is_documented_once_under_its_import_path():
    pages = api_pages.render_pages()
    entries = [e for name, text in pages.items() if name != "index" for e in _entries(text)]
    assert len(entries) == len(set(entries))
    assert not [e for e in entries if any(part.startswith("_") for part in e.split("."))]
    # Estimators are documented where users import them from: the top-level package.
    assert "TS2VecTransformer" in entries and "methods.ts2vec.TS2VecTransformer" not in entries
    assert "augment.jitter" in entries
    assert "base.store_init_arguments" in _entries(pages["building_blocks"])


def test_each_section_is_a_page_of_its_own():
    pages = api_pages.render_pages()
    index = pages["index"]
    toctree = index.split(".. toctree::", 1)[1]
    assert set(_entries(toctree)) == set(pages) - {"index"}
    assert len(pages) - 1 <= 12  # a short sidebar
    assert not _entries(index.split(".. toctree::", 1)[0])  # no names on the index


def _group_of(path: str) -> str:
    return next(title for title, entries in api_reference.collect().items()
                if path in {e.path for e in entries})


@pytest.mark.parametrize(("type_filter", "group"), [
    ("transformer", "Self-supervised methods"), ("generator", "Generation"),
])
def test_registered_estimators_land_in_their_group_by_type(monkeypatch, type_filter, group):
    # Wherever a new estimator is defined, its type places it: take the modules away
    # from the groups and every estimator still lands in its group.
    bare = tuple(
        api_reference.Page(p.slug, p.title, p.intro, tuple(
            dataclasses.replace(g, modules=()) if g.types else g for g in p.groups))
        for p in api_reference.PAGES
    )
    monkeypatch.setattr(api_reference, "PAGES", bare)
    estimators = all_estimators(type_filter=type_filter)
    assert estimators
    for cls in estimators:
        assert _group_of(f"sslts.{cls.__name__}") == group, cls


def test_other_names_land_in_the_group_of_the_module_users_import_them_from():
    # Defined in sslts.anomaly_scores, imported from sslts.evaluation.
    assert _group_of("sslts.evaluation.point_adjust") == "Protocols and baselines"
    assert _group_of("sslts.Checkpoint") == "Callbacks"  # defined in sslts.callbacks
    assert _group_of("sslts.load") == "Persistence and the estimator registry"  # extra


def test_by_module_groups_are_split_under_the_sub_modules_headings():
    page = api_pages.render_pages()["augment"]
    crops = page.index("Crops and masks\n~~~")
    assert crops < page.index("augment.random_crop") < page.index("Magnitude transforms\n")
    assert api_pages.module_heading("sslts.augment.temporal") == "Temporal transforms"


def test_every_registered_estimator_has_a_guide_page():
    from sslts import EmbeddingAnomalyDetector, EmbeddingForecaster

    for cls in [*all_estimators(), EmbeddingForecaster, EmbeddingAnomalyDetector]:
        assert cls.__name__ in class_pages.GUIDES, (
            f"{cls.__name__}: add its guide page to GUIDES in docs/_ext/class_pages.py")
        page = ROOT / "docs" / f"{class_pages.GUIDES[cls.__name__]}.md"
        assert page.is_file(), f"{cls.__name__}: its guide page {page.name} does not exist"


def test_methods_table_lists_what_users_call_with_scikit_learns_methods_linked():
    from sslts import TS2VecTransformer

    rows = dict(class_pages.method_rows(TS2VecTransformer, "sslts.TS2VecTransformer"))
    refs = " ".join(rows)
    for name in ("fit", "transform", "encode", "save", "load"):
        assert f":meth:`~sslts.TS2VecTransformer.{name}`" in rows, name
    assert ":meth:`fit_transform <sklearn.base.TransformerMixin.fit_transform>`" in rows
    assert ":meth:`get_params <sklearn.base.BaseEstimator.get_params>`" in rows
    assert ":meth:`set_params <sklearn.base.BaseEstimator.set_params>`" in rows
    assert ":meth:`set_output <sklearn.base.TransformerMixin.set_output>`" in rows
    assert rows[":meth:`get_params <sklearn.base.BaseEstimator.get_params>`"].endswith(
        "(from scikit-learn)")
    # Hooks and scikit-learn's metadata routing are not what users call.
    for name in ("build_module", "training_step", "on_fit_start", "embed", "set_fit_request"):
        assert f".{name}`" not in refs, name


def test_methods_table_of_a_base_class_lists_its_hooks():
    from sslts.base import BaseSSLEstimator

    refs = " ".join(ref for ref, _ in class_pages.method_rows(
        BaseSSLEstimator, "sslts.base.BaseSSLEstimator"))
    for name in ("build_module", "training_step", "configure_optimizer", "on_fit_start"):
        assert f"~sslts.base.BaseSSLEstimator.{name}`" in refs, name


def test_methods_table_of_an_encoder_leaves_torchs_methods_to_torch():
    from sslts.encoders import TS2VecEncoder

    refs = " ".join(r for r, _ in class_pages.method_rows(TS2VecEncoder, "sslts.encoders.X"))
    assert "X.forward`" in refs
    assert "parameters" not in refs and "state_dict" not in refs


def test_hidden_hooks_are_the_ones_documented_for_method_authors():
    # A method a user calls must not be hidden on the estimators' pages: every hidden
    # method is one that sslts.base's docstring or the method authors' guide describes.
    import sslts.base

    documented = (sslts.base.__doc__ or "") + (ROOT / "docs" / "new_method.md").read_text(
        encoding="utf-8")
    for name in class_pages.hook_names():
        if callable(getattr(sslts.base.BaseSSLTransformer, name)):
            assert re.search(rf"`{name}\b", documented), name


def test_capability_table_has_a_row_per_registered_estimator():
    table = sslts_docs.render_capabilities()
    rows = [line for line in table.splitlines() if line.startswith("| {class}")]
    assert len(rows) == len(all_estimators())
    ts2vec = next(r for r in rows if "`~sslts.TS2VecTransformer`" in r)
    assert "instance, timestamp" in ts2vec


def test_model_cards_sit_one_heading_level_below_the_pretrained_page():
    text = sslts_docs.render_model_cards()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert [h for h in headings if h.startswith("### ")] == [
        f"### {name}" for name in list_pretrained()]
    assert all(h.startswith("###") for h in headings) and "#### Corpus" in headings


def test_results_pages_come_from_the_benchmark_files(tmp_path):
    pytest.importorskip("matplotlib")
    results = ROOT / "benchmarks" / "results"
    pages = results_page.build(results, tmp_path)
    others = {p.stem for p in results.glob("*.md")} - {results_page.SUITE}
    assert set(pages) == {"index"} | others
    index = pages["index"]
    # The glance table and its plots come first, the suite's wide tables below.
    assert index.index("## At a glance") < index.index("## The benchmark suite")
    assert index.index(results_page.SPEED_PLOT) < index.index("### Classification accuracy")
    assert "at every build of this site" in index and "the build measures nothing" in index
    assert all(f"\n{name}\n" in index for name in others)  # in its toctree
    for image in (results_page.ACCURACY_PLOT, results_page.SPEED_PLOT,
                  results_page.METHODS_PLOT):
        assert (tmp_path / image).stat().st_size > 10_000
    # Every CSV is offered for download, beside its page.
    for csv_file in results.glob("*.csv"):
        assert (tmp_path / csv_file.name).read_bytes() == csv_file.read_bytes()
    assert "{download}`vs_official.csv <vs_official.csv>`" in pages["vs_official"]
    assert "{download}`benchmark_suite.csv <benchmark_suite.csv>`" in index
    # Every figure a page shows is beside it.
    for stem, text in pages.items():
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text):
            assert (tmp_path / image).is_file(), (stem, image)


def test_github_results_page_is_current(tmp_path):
    # docs/results.md is the GitHub copy of the results pages: regenerate it with
    # python benchmarks/make_results_page.py after the results files change.
    from benchmarks import make_results_page

    results = tmp_path / "benchmarks" / "results"  # the same layout: the same links
    shutil.copytree(ROOT / "benchmarks" / "results", results)
    out = tmp_path / "docs" / "results.md"
    make_results_page.main(["--results", str(results), "--out", str(out)])
    current = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == current, "run python benchmarks/make_results_page.py"


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
    results = (out / "_generated" / "results" / "index.html").read_text(encoding="utf-8")
    assert "accuracy_vs_paper.png" in results and "speed_vs_official.png" in results
    assert "benchmark_suite.csv" in results  # the download link
    _check_class_page(out)


def _check_class_page(out: Path) -> None:
    """An estimator's page: its guide, its examples, and a Methods table with sklearn's."""
    page = (out / "api" / "generated" / "sslts.TS2VecTransformer.html").read_text(
        encoding="utf-8")
    assert 'href="../../ts2vec.html"' in page  # the guide
    anchor = re.search(r'href="#(gallery-examples-using-ts2vectransformer)"', page)
    assert anchor and f'id="{anchor.group(1)}"' in page  # the examples, below
    start = page.index("Methods</p>")
    methods = page[start:page.index("</table>", start)]
    for name in ("fit", "transform", "fit_transform", "get_params", "set_params",
                 "set_output", "save"):
        assert re.search(rf">{name}(\(\))?<", methods), name
    # The hooks are documented on the base pages, not as this class's members (the
    # gallery's thumbnails below may still mention them in their descriptions).
    for hook in ("build_module", "training_step"):
        assert f"sslts.TS2VecTransformer.{hook}" not in page, hook
        assert not re.search(rf">{hook}(\(\))?<", methods), hook
    base = (out / "api" / "generated" / "sslts.base.BaseSSLEstimator.html").read_text(
        encoding="utf-8")
    assert "build_module" in base and "training_step" in base


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
