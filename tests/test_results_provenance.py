"""Every number on a results page carries the commit it was generated at, in this release.

The results pages (``benchmarks/results/*.md``, rendered as the site's results pages) and
the README and documentation pages that quote them must name the commits of the code
that produced their numbers, each an ancestor of ``HEAD`` and none a working tree with
uncommitted changes (:mod:`benchmarks.provenance`).  Outside a git checkout with its
history (an sdist, a shallow clone) there is nothing to check against, and the page
tests skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from benchmarks import provenance

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

RESULT_PAGES = [pytest.param(p, id=p.name) for p in sorted(RESULTS.glob("*.md"))]
QUOTING_PAGES = [pytest.param(p, id=p.name) for p in provenance.quoting_pages(ROOT)]
needs_history = pytest.mark.skipif(not provenance.git_history(ROOT),
                                   reason="not a git checkout with its full history")


@needs_history
@pytest.mark.parametrize("page", RESULT_PAGES)
def test_results_page_names_commits_of_this_release(page):
    assert provenance.page_problems(page, ROOT) == []


@needs_history
@pytest.mark.parametrize("page", QUOTING_PAGES)
def test_page_quoting_results_carries_their_commits(page):
    assert provenance.quoting_page_problems(page, ROOT) == []


def test_named_commits_reads_the_forms_the_pages_use():
    text = "\n".join([
        "commit `f8ae1a4+dirty`, then merged at aa15379 (one paragraph)",  # 1
        "",
        "commit 917551c plus uncommitted changes",                          # 3
        "",
        "Before: `ba2e9ad`.",                                               # 5
        "After: that commit plus the loop rewrite only.",                   # 6
        "",
        "| 0.987 | 1234567 | deadbeef | official code @7e115cc | x/abc1234 |",  # 8: none
        "rows at ad05b5c, except Car at 12a30b6; the rest at commit 4567890.",  # 9
        "",
        "- file a: `abc1234` with uncommitted changes",                     # 11
        "- file b: `def5678`",                                              # 12: own item
    ])
    found = [(c.sha, c.line, c.modified) for c in provenance.named_commits(text)]
    assert found == [("f8ae1a4", 1, True), ("aa15379", 1, False), ("917551c", 3, True),
                     ("ba2e9ad", 5, True), ("ad05b5c", 9, False), ("12a30b6", 9, False),
                     ("4567890", 9, False), ("abc1234", 11, True), ("def5678", 12, False)]


def test_cited_results_finds_paths_and_backticked_names(tmp_path):
    (tmp_path / "speed.md").write_text("x")
    (tmp_path / "two_view.md").write_text("x")
    text = ("From `benchmarks/results/vs_official.md` and `speed.md`; the guide "
            "[docs/two_view.md](docs/two_view.md) and `notes.md` are not results.")
    assert provenance.cited_results(text, tmp_path) == ["vs_official", "speed"]


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    out = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A repository with two commits on its branch and one on a side branch."""
    _git(tmp_path, "init", "-q", "-b", "main")
    shas = {}
    for name in ("first", "second"):
        (tmp_path / name).write_text(name)
        _git(tmp_path, "add", name)
        _git(tmp_path, "commit", "-q", "-m", name)
        shas[name] = _git(tmp_path, "rev-parse", "HEAD")
    _git(tmp_path, "checkout", "-q", "-b", "side", shas["first"])
    (tmp_path / "side").write_text("side")
    _git(tmp_path, "add", "side")
    _git(tmp_path, "commit", "-q", "-m", "side")
    shas["side"] = _git(tmp_path, "rev-parse", "HEAD")
    _git(tmp_path, "checkout", "-q", "main")
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    return tmp_path, shas


def _page(root: Path, name: str, text: str) -> Path:
    path = root / "benchmarks" / "results" / name
    path.write_text(text, encoding="utf-8")
    return path


def test_page_problems_accept_ancestors_and_refuse_everything_else(repo):
    root, shas = repo
    ok = _page(root, "ok.md", f"# A\n\ncommit {shas['first']}, merged at {shas['second']}.\n")
    assert provenance.page_problems(ok, root) == []
    cases = {
        "none.md": ("# B\n\nno commit here: 0.987, seeds [0, 1, 2].\n", "names no commit"),
        "dirty.md": (f"commit `{shas['second']}+dirty`\n", "uncommitted changes"),
        "words.md": (f"commit {shas['second']} (plus uncommitted work)\n", "uncommitted"),
        "side.md": (f"commit {shas['side']}\n", "not a commit in the history of HEAD"),
        "unknown.md": ("commit 0123abc\n", "not a commit in the history of HEAD"),
    }
    for name, (text, message) in cases.items():
        problems = provenance.page_problems(_page(root, name, text), root)
        assert len(problems) == 1 and message in problems[0], (name, problems)


def test_quoting_page_inherits_the_problems_of_the_pages_it_cites(repo):
    root, shas = repo
    _page(root, "good.md", f"commit {shas['first']}\n")
    _page(root, "bad.md", "no commit\n")
    (root / "docs").mkdir()
    page = root / "docs" / "guide.md"
    page.write_text("From `benchmarks/results/good.md`, `bad.md` and "
                    f"`benchmarks/results/gone.md`; measured at {shas['side']}.\n")
    problems = provenance.quoting_page_problems(page, root)
    assert problems == [
        "guide.md quotes bad.md: names no commit",
        "guide.md: quotes gone.md, which does not exist",
        f"guide.md:1: {shas['side']}: not a commit in the history of HEAD",
    ]
    assert provenance.quoting_pages(root) == [page]


def test_git_history_is_false_outside_a_checkout(tmp_path):
    assert provenance.git_history(tmp_path) is False


def test_git_commit_marks_code_changes_but_not_the_results_a_run_writes(repo):
    root, _ = repo
    rows = _page(root, "rows.csv", "a\n")
    _git(root, "add", str(rows))
    _git(root, "commit", "-q", "-m", "rows")
    short = _git(root, "rev-parse", "--short", "HEAD")
    rows.write_text("a\n1\n")  # a run appending its rows
    assert provenance.git_commit(root) == short
    assert provenance.git_commit(root / "benchmarks") == short
    (root / "first").write_text("changed code")
    assert provenance.git_commit(root / "benchmarks") == short + "+dirty"
