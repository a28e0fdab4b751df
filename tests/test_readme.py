"""The README's quickstart idiom: ``Pipeline(memory=...)`` trains the encoder once per fold.

A grid over the classifier's parameters only must not retrain the self-supervised
encoder for every candidate: with ``memory`` each cross-validation fold fits it once,
plus once for the final refit. The fast test checks the idiom on a tiny encoder; the
slow one runs the README's Python blocks as written and counts the fits of its grid.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from sslts import BaseSSLTransformer, TS2VecTransformer

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def fit_calls(monkeypatch):
    """Every ``BaseSSLTransformer.fit`` call (whatever the subclass) appends its estimator."""
    calls = []
    fit = BaseSSLTransformer.fit

    def counting_fit(self, X, y=None, **kwargs):
        calls.append(type(self).__name__)
        return fit(self, X, y, **kwargs)

    monkeypatch.setattr(BaseSSLTransformer, "fit", counting_fit)
    return calls


def _two_classes(n=24, t=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    steps = np.linspace(0, 2 * np.pi, t)
    X = np.sin(steps[None, :] * (1 + y[:, None])) + 0.1 * rng.normal(size=(n, t))
    return X, y


def _grid(memory):
    enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_iters=2, batch_size=4,
                            device="cpu", random_state=0)
    pipe = Pipeline([("enc", enc), ("svm", SVC())], memory=memory)
    return GridSearchCV(pipe, {"svm__C": [0.1, 1, 10, 100]}, cv=3)


def test_memory_fits_the_encoder_once_per_fold_plus_the_refit(tmp_path, fit_calls):
    X, y = _two_classes()
    _grid(memory=str(tmp_path)).fit(X, y)
    assert len(fit_calls) == 3 + 1


def test_without_memory_every_candidate_refits_the_encoder(fit_calls):
    # The control: what the cache saves (4 candidates x 3 folds, plus the refit).
    X, y = _two_classes()
    _grid(memory=None).fit(X, y)
    assert len(fit_calls) == 4 * 3 + 1


def test_a_rerun_reuses_every_cached_encoder(tmp_path, fit_calls):
    X, y = _two_classes()
    _grid(memory=str(tmp_path)).fit(X, y)
    first = len(fit_calls)
    _grid(memory=str(tmp_path)).fit(X, y)
    assert len(fit_calls) == first  # a second run (e.g. a re-run notebook) trains nothing


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_quickstart_uses_the_cache():
    blocks = _python_blocks(README.read_text(encoding="utf-8"))
    grids = [b for b in blocks if "GridSearchCV(" in b]
    assert grids, "the README quickstart should show a GridSearchCV"
    for block in grids:
        assert "memory=" in block, "a grid over the classifier needs Pipeline(memory=...)"
        assert "enc__" not in block, "a grid over encoder parameters retrains it per candidate"


@pytest.mark.slow
def test_readme_python_blocks_run_and_hit_the_cache(tmp_path, monkeypatch, fit_calls):
    monkeypatch.chdir(tmp_path)  # the blocks write a cache folder and a model file
    blocks = _python_blocks(README.read_text(encoding="utf-8"))
    for block in blocks:
        before = len(fit_calls)
        namespace = {}
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
        grid = namespace.get("grid")
        if isinstance(grid, GridSearchCV):
            n_folds = grid.n_splits_
            assert len(fit_calls) - before == n_folds + 1, fit_calls


def test_ci_runs_exactly_the_readme_test_command():
    text = README.read_text(encoding="utf-8")
    commands = [c.strip() for c in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]
    tests = [c for c in commands if "pytest" in c]
    assert len(tests) == 1, "the README should give one test command"
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests[0] in ci, ".ci/run must run the README's test command as written"
