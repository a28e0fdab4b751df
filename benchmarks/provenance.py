"""Which commit each results page was generated at, and whether this release contains it.

Every number on a results page (``benchmarks/results/*.md``, and the documentation pages
that quote them) must name the commit of the code that produced it, and that commit
must be in the history of the release: an ancestor of ``HEAD``, not a working tree with
uncommitted changes.  :func:`page_problems` lists what keeps a page from that;
``tests/test_results_provenance.py`` runs it on every page.

A commit is any 7 to 40 character hexadecimal word with a digit and a letter in it
(``f8ae1a4``, ``616e5ef``), or any right after the word "commit" (``commit 1234567``),
unless written ``name@<sha>`` (a commit of another
repository, such as an official implementation).  It is *modified* when it is written
``<sha>+dirty``, or when the paragraph naming it says the code had changes on top of it
("plus uncommitted work", "+ working tree", "that commit plus ..."); a list item or a
table row is a paragraph of its own.

Usage, from the repository root (lists every page with a problem)::

    python -m benchmarks.provenance
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# "@" before a hash names a commit of another repository ("the official code @7e115cc").
_HEX = re.compile(r"(?<![0-9A-Za-z_./@-])([0-9a-f]{7,40})(\+dirty)?(?![0-9A-Za-z_-])")
# How the pages say in words that the code was a commit plus changes not committed.
_MODIFIED = re.compile(r"uncommitted|working tree|\bcommit plus\b", re.IGNORECASE)
# A documentation page quotes a results page by naming its file: with its folder, or
# alone in backticks after a first mention ("`seeds_timedrl_official.md`").
_CITATION = re.compile(r"benchmarks/results/([\w.-]+)\.(?:md|csv|\{md,csv\})")
_BARE_CITATION = re.compile(r"`([\w.-]+)\.(?:md|csv)`")


@dataclass(frozen=True)
class Commit:
    """A commit named on a page.

    Parameters
    ----------
    sha : str
        The abbreviated or full hash as written.
    line : int
        The 1-based line that names it.
    modified : bool
        Whether the page says the code had uncommitted changes on top of it.
    """

    sha: str
    line: int
    modified: bool


def named_commits(text: str) -> list[Commit]:
    """The commits a page names, in order.

    Parameters
    ----------
    text : str
        The page's markdown.

    Returns
    -------
    list of Commit

    Examples
    --------
    >>> named_commits("commit `f8ae1a4+dirty`; merged at aa15379, official code @7e115cc")
    [Commit(sha='f8ae1a4', line=1, modified=True), Commit(sha='aa15379', line=1, modified=False)]
    >>> named_commits("commit 616e5ef, seeds [0, 1, 2]\\n\\nthen c01a93f plus uncommitted work")
    [Commit(sha='616e5ef', line=1, modified=False), Commit(sha='c01a93f', line=3, modified=True)]
    >>> named_commits("| 1234567 | deadbeef | 0.987 |")  # numbers and words: not commits
    []
    >>> named_commits("at commit `1234567`")  # unless named as one
    [Commit(sha='1234567', line=1, modified=False)]
    """
    found = []
    for line, block in _blocks(text):
        modified = bool(_MODIFIED.search(block))
        for match in _HEX.finditer(block):
            sha = match.group(1)
            after_word = re.search(r"commits?[\s`]*$", block[:match.start()])
            if after_word or (re.search(r"\d", sha) and re.search(r"[a-f]", sha)):
                at = line + block.count("\n", 0, match.start())
                found.append(Commit(sha, at, modified or bool(match.group(2))))
    return found


_ITEM = re.compile(r"\s*(?:[-*+]|\d+\.)\s|\|")  # a list item or a table row starts a block


def _blocks(text: str) -> list[tuple[int, str]]:
    """Paragraphs, list items and table rows, each with its first line's number."""
    blocks: list[tuple[int, list[str]]] = []
    fresh = True
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            fresh = True
            continue
        if fresh or _ITEM.match(line):
            blocks.append((number, []))
        blocks[-1][1].append(line)
        fresh = False
    return [(number, "\n".join(lines)) for number, lines in blocks]

def git_commit(cwd: Path | None = None) -> str:
    """Short hash of ``HEAD``, with ``+dirty`` when tracked files have uncommitted changes.

    Changes under ``benchmarks/results/`` (the outputs the benchmarks write) do not
    count.

    Every benchmark records the commit its results come from with this, so that
    :func:`page_problems` can check it.

    Parameters
    ----------
    cwd : pathlib.Path, optional
        A folder of the checkout (default: the repository root).

    Returns
    -------
    str
        ``"unknown"`` outside a git checkout.
    """
    cwd = cwd or ROOT

    def git(*cmd) -> str:
        try:
            return subprocess.run(["git", *cmd], capture_output=True, text=True, cwd=cwd,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown"
    # The results a run appends to are outputs, not code: writing them must not make
    # the run's own later rows look uncommitted.
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                  ":(top,exclude)benchmarks/results")
    return head + ("+dirty" if changed else "")


#: Options whose values are this machine's folders; a page names the option, not the path.
FOLDER_OPTIONS = {"--data-home": "DATA_HOME", "--out": "OUT"}


def shareable_command(module: str, argv: list[str]) -> str:
    """The command line a results page records, with folders replaced by placeholders.

    Parameters
    ----------
    module : str
        The benchmark's module, e.g. ``"benchmarks.run"``.
    argv : list of str
        Its arguments (``sys.argv[1:]``).

    Returns
    -------
    str
        ``python -m <module> <argv>``, shell-quoted, with the value after each of
        :data:`FOLDER_OPTIONS` (or after ``--option=``) replaced by its placeholder.

    Examples
    --------
    >>> shareable_command("benchmarks.run", ["--data-home", "/home/me/data", "--seed", "1"])
    'python -m benchmarks.run --data-home DATA_HOME --seed 1'
    >>> shareable_command("benchmarks.run", ["--out=/tmp/x", "--note", "a b"])
    "python -m benchmarks.run --out=OUT --note 'a b'"
    """
    words = []
    for i, arg in enumerate(argv):
        option, equals, _ = arg.partition("=")
        if equals and option in FOLDER_OPTIONS:
            arg = f"{option}={FOLDER_OPTIONS[option]}"
        elif i and argv[i - 1] in FOLDER_OPTIONS:
            arg = FOLDER_OPTIONS[argv[i - 1]]
        words.append(arg)
    return " ".join(["python", "-m", module, shlex.join(words)]).rstrip()


def git_history(root: Path = ROOT) -> bool:
    """Whether ``root`` is a git checkout with its full history (not an sdist or shallow).

    Parameters
    ----------
    root : pathlib.Path, default=the repository root

    Returns
    -------
    bool
    """
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--is-shallow-repository"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == "false"


def is_ancestor(sha: str, root: Path = ROOT) -> bool:
    """Whether commit ``sha`` is in the history of ``HEAD`` (``git merge-base --is-ancestor``).

    Parameters
    ----------
    sha : str
    root : pathlib.Path, default=the repository root

    Returns
    -------
    bool
        False also for a hash that names no commit of the repository.
    """
    out = subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", sha, "HEAD"],
                         capture_output=True, text=True, timeout=30)
    return out.returncode == 0


def page_problems(path: Path, root: Path = ROOT) -> list[str]:
    """Why the numbers of a results page do not carry a commit of this release.

    Parameters
    ----------
    path : pathlib.Path
        A markdown results page.
    root : pathlib.Path, default=the repository root
        The git checkout whose ``HEAD`` the commits must be ancestors of.

    Returns
    -------
    list of str
        One message per problem; empty when the page names at least one commit and every
        commit it names is an unmodified ancestor of ``HEAD``.
    """
    commits = named_commits(path.read_text(encoding="utf-8"))
    if not commits:
        return [f"{path.name}: names no commit"]
    problems = []
    for commit in commits:
        where = f"{path.name}:{commit.line}: {commit.sha}"
        if commit.modified:
            problems.append(f"{where}: generated from uncommitted changes on top of it")
        elif not is_ancestor(commit.sha, root):
            problems.append(f"{where}: not a commit in the history of HEAD")
    return problems


def cited_results(text: str, results: Path = RESULTS) -> list[str]:
    """The results files (stems) that a documentation page quotes, in order, once each.

    Parameters
    ----------
    text : str
    results : pathlib.Path, default=``benchmarks/results``
        The folder of the results files, whose names a page may cite without the folder.

    Returns
    -------
    list of str

    Examples
    --------
    >>> cited_results("`benchmarks/results/vs_official.md`, `speed.md` and `notes.md`")
    ['vs_official', 'speed']
    """
    known = {p.stem for p in results.glob("*.md")}
    found = [(m.start(), m.group(1)) for m in _CITATION.finditer(text)]
    found += [(m.start(), m.group(1)) for m in _BARE_CITATION.finditer(text)
              if m.group(1) in known]
    return list(dict.fromkeys(stem for _, stem in sorted(found)))


def quoting_pages(root: Path = ROOT) -> list[Path]:
    """The README and documentation pages that quote results pages or name commits.

    Parameters
    ----------
    root : pathlib.Path, default=the repository root

    Returns
    -------
    list of pathlib.Path
    """
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    results = root / "benchmarks" / "results"
    texts = {p: p.read_text(encoding="utf-8") for p in pages if p.is_file()}
    return [p for p, text in texts.items() if cited_results(text, results) or named_commits(text)]


def quoting_page_problems(path: Path, root: Path = ROOT) -> list[str]:
    """Why a page that quotes results does not carry the commits of its numbers.

    A page carries them through the results pages it cites (each must exist and pass
    :func:`page_problems`) and through any commit it names itself.

    Parameters
    ----------
    path : pathlib.Path
    root : pathlib.Path, default=the repository root

    Returns
    -------
    list of str
    """
    text = path.read_text(encoding="utf-8")
    problems = []
    for stem in cited_results(text, root / "benchmarks" / "results"):
        source = root / "benchmarks" / "results" / f"{stem}.md"
        if not source.is_file():
            problems.append(f"{path.name}: quotes {source.name}, which does not exist")
            continue
        problems += [f"{path.name} quotes {p}" for p in page_problems(source, root)]
    for commit in named_commits(text):
        where = f"{path.name}:{commit.line}: {commit.sha}"
        if commit.modified:
            problems.append(f"{where}: generated from uncommitted changes on top of it")
        elif not is_ancestor(commit.sha, root):
            problems.append(f"{where}: not a commit in the history of HEAD")
    return problems


def main() -> int:
    """Print the problems of every results page and quoting page; 1 when there are any."""
    if not git_history(ROOT):
        print("not a git checkout with its full history: nothing to check")
        return 0
    problems = [p for page in sorted(RESULTS.glob("*.md")) for p in page_problems(page)]
    problems += [p for page in quoting_pages() for p in quoting_page_problems(page)]
    print("\n".join(problems) or "every results page names commits of this release")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
