"""The package's import graph: imports run one way, from the top floor down.

The floors, each importing only from its own floor or below (``docs/new_method.md``,
"Where things live")::

    6  sslts (the package), sslts.__main__      what users import, the command line
    5  sslts.evaluation                         the papers' protocols and baselines
    4  forecaster, detector, adapters, ...      estimators built on a fitted encoder
    3  sslts.methods                            one module per paper
    2  sslts.base                               the scikit-learn contract
    1  loop, context, callbacks, persistence    the machinery every fit runs
    0  leaves: utils, losses, augment, encoders pure functions and networks

A new module must be given a floor below (the test says so), so that where it may
import from is decided once.  The graph is read from the source with :mod:`ast`, so
imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "sslts"

# Longest matching prefix wins.
FLOORS = {
    "sslts.utils": 0,
    "sslts.losses": 0,
    "sslts.augment": 0,
    "sslts.encoders": 0,
    "sslts.exceptions": 0,
    "sslts.schedules": 0,
    "sslts.distributed": 0,
    "sslts.forecast_head": 4,
    "sslts.forecast_selection": 4,
    "sslts._registry": 0,
    "sslts._conventions": 0,
    "sslts._version": 0,
    "sslts._accelerate": 0,
    "sslts._persistence": 1,
    "sslts.callbacks": 1,
    "sslts._context": 1,
    "sslts._loop": 1,
    "sslts._inference": 1,
    "sslts.encoding": 1,
    "sslts.datasets": 1,
    "sslts.base": 2,
    "sslts._estimator": 2,
    "sslts.methods": 3,
    "sslts._wrapping": 4,
    "sslts.forecaster": 4,
    "sslts.anomaly_scores": 4,
    "sslts.anomaly_detector": 4,
    "sslts.generator": 4,
    "sslts.pretrained": 4,
    "sslts.channel_independent": 4,
    "sslts.plotting": 4,
    "sslts._adapters": 4,
    "sslts.aeon": 4,
    "sslts.sktime": 4,
    "sslts.evaluation": 5,
    "sslts.__main__": 6,
    "sslts": 6,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The sslts modules ``name`` imports (a ``from pkg import sub`` counts as ``pkg.sub``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] == "sslts")
    return {t for t in found if t in known and t != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def floor(name: str) -> int | None:
    keys = [k for k in FLOORS if name == k or name.startswith(k + ".")]
    return FLOORS[max(keys, key=len)] if keys else None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_circle():
    assert cycles(graph()) == [], "import circles (break them by moving the shared code down)"


def test_every_module_has_a_floor():
    missing = [name for name in modules() if floor(name) is None]
    assert not missing, f"give these modules a floor in FLOORS (this file): {missing}"


def test_imports_run_down_the_floors():
    upward = [
        f"{source} (floor {floor(source)}) imports {target} (floor {floor(target)})"
        for source, targets in graph().items() for target in sorted(targets)
        if floor(target) is not None and floor(source) is not None
        and floor(target) > floor(source)
    ]
    assert not upward, "imports that run up the floors:\n" + "\n".join(upward)


def test_no_estimator_depends_on_the_evaluation_protocols():
    into_evaluation = [
        f"{source} -> {target}" for source, targets in graph().items()
        for target in targets
        if target.startswith("sslts.evaluation") and not source.startswith("sslts.evaluation")
        and source not in ("sslts", "sslts.__main__")
    ]
    assert not into_evaluation, into_evaluation


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
])
def test_the_cycle_finder_finds_circles(edges, expected):
    assert cycles(edges) == expected


def test_the_graph_sees_imports_inside_functions(tmp_path, monkeypatch):
    pkg = tmp_path / "sslts"
    (pkg / "evaluation").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "evaluation" / "__init__.py").write_text("")
    (pkg / "forecaster.py").write_text("def f():\n    from .evaluation import x\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", pkg)
    assert graph()["sslts.forecaster"] == {"sslts.evaluation"}
