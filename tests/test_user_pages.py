"""Pages users read carry no lab notes: no issue numbers, machine paths or benchmark-run remarks.

User pages are the README, the documentation sources (``docs/*.md``), the gallery
(``examples/``) and everything under ``sslts/`` (docstrings, comments, error messages and
the bundled data's notice). A page that must tell users where to put a file names a
placeholder ("the path you pass", ``<data_home>``), never a folder of the machine the
documentation was written on. Every hit fails with its file and line; there is no
allowlist.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (what it is, pattern). Case-insensitive; each hit is one line of one page.
PATTERNS = (
    ("issue number", r"\b(?:issue|pull request|PR)s?\s*#?\d+"),
    ("issue number", r"(?<![\w&/=#])#\d+\b"),
    ("machine path", r"/work/"),
    ("machine path", r"\.\./shared\b|\bshared/(?:data|peers|reference|notes)\b"),
    ("CPU lock", r"\bflock\b|\bsslts_cpu\b|/tmp/\S*\.lock\b|\bCPU lock\b"),
    ("note on the benchmark machine", r"\bother agents?\b|\bagents?'?s? jobs\b"),
    ("note on the benchmark machine",
     r"\bother (?:jobs|work|benchmarks) (?:ran|running|still running|kept running|were "
     r"running|on the machine)\b|\bseveral other jobs\b"),
    ("note on the benchmark machine",
     r"\bno session\b|\bsessions? (?:so far )?had (?:a|no) GPU\b|\bruns? had a GPU\b"),
)
_COMPILED = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in PATTERNS)


def user_pages(root: Path = ROOT) -> list[Path]:
    """The README, ``docs/*.md``, the gallery and the package's text files.

    Generated folders (``docs/_build``, ``docs/_generated``, the API stubs) are not
    scanned: their sources are.
    """
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    pages += sorted(p for p in (root / "examples").rglob("*") if p.suffix in (".py", ".rst"))
    pages += sorted(p for p in (root / "sslts").rglob("*")
                    if p.suffix in (".py", ".md", ".txt") and "__pycache__" not in p.parts)
    return pages


def lab_notes(path: Path, root: Path = ROOT) -> list[str]:
    """``"file:line: [kind] text"`` for every line of ``path`` that holds a lab note."""
    hits = []
    text = path.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in _COMPILED:
            if pattern.search(line):
                hits.append(f"{path.relative_to(root)}:{lineno}: [{kind}] {line.strip()}")
                break
    return hits


def test_user_pages_carry_no_lab_notes():
    hits = [hit for page in user_pages() for hit in lab_notes(page)]
    assert not hits, "lab notes in user pages:\n" + "\n".join(hits)


def test_results_pages_carry_no_lab_notes():
    pages = sorted((ROOT / "benchmarks" / "results").glob("*.md"))
    hits = [hit for page in pages for hit in lab_notes(page)]
    assert not hits, "lab notes in the results pages:\n" + "\n".join(hits)


def test_the_scan_covers_every_kind_of_page():
    names = {p.relative_to(ROOT).as_posix() for p in user_pages()}
    assert {"README.md", "docs/index.md", "examples/downstream/plot_anomaly.py", "sslts/base.py",
            "sslts/data/README.md"} <= names


def test_each_pattern_catches_its_kind_and_spares_ordinary_text(tmp_path):
    (tmp_path / "page.md").write_text(
        "\n".join([
            "Fixed in issue 13.",                               # 1
            "See #17 for the discussion.",                      # 2
            "load_dataset('ECG200', data_home='/work/data')",   # 3
            "the official code in ../shared/peers",             # 4
            "Run it under flock /tmp/sslts_cpu.lock",           # 5
            "Measured while ~3 other agents' jobs ran.",        # 6
            "No session so far had a GPU.",                     # 7
            "Lee & Aune, CVPR 2021; colour #1f77b4; x[#]",      # 8: ordinary
            "On a machine shared with other processes, use n_threads=1.",  # 9: ordinary
            "Pass the path you pass to --official as data_home.",  # 10: ordinary
        ]) + "\n",
        encoding="utf-8",
    )
    hits = lab_notes(tmp_path / "page.md", root=tmp_path)
    assert [int(h.split(":")[1]) for h in hits] == [1, 2, 3, 4, 5, 6, 7]
