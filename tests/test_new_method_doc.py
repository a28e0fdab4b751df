"""The worked example of docs/new_method.md, run exactly as the page shows it."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import TIMEOUT

DOC = Path(__file__).resolve().parents[1] / "docs" / "new_method.md"

# Runs after the page's code blocks, in the same namespace.
CHECKS = textwrap.dedent(
    """
    import pickle, tempfile
    import numpy as np
    from sklearn.base import clone
    import sslts
    from sslts.callbacks import Checkpoint, Callback

    X = np.random.default_rng(1).normal(size=(24, 50))
    params = dict(n_epochs=4, batch_size=8, random_state=0, device="cpu")
    ref = DenoisingTransformer(**params).fit(X)
    assert ref.noise_history_ == [0.5 * 0.9**k for k in range(4)], ref.noise_history_
    assert ref.transform(X).shape == (24, 32)
    assert ref.set_params(level="timestamp").transform(X).shape == (24, 50, 32)
    ref.set_params(level="instance")
    np.testing.assert_array_equal(clone(ref).fit(X).transform(X), ref.transform(X))
    copy = pickle.loads(pickle.dumps(ref))
    np.testing.assert_array_equal(copy.transform(X), ref.transform(X))

    class CtrlC(Callback):
        def on_epoch_end(self, est, ctx):
            if ctx.epoch == 2:
                raise KeyboardInterrupt

    with tempfile.TemporaryDirectory() as d:
        broken = DenoisingTransformer(**params, callbacks=[CtrlC()])
        try:
            broken.fit(X, checkpoint=Checkpoint(d))
        except KeyboardInterrupt:
            pass
        assert broken.n_epochs_ == 2
        resumed = DenoisingTransformer(**params).fit(X, checkpoint=Checkpoint(d))
        assert resumed.noise_history_ == ref.noise_history_  # method state resumed
        assert resumed.loss_history_ == ref.loss_history_
        np.testing.assert_array_equal(resumed.transform(X), ref.transform(X))

    import doctest
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(DenoisingTransformer, globs=globals()):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 2, runner.summarize()
    print("OK")
    """
)


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
def test_the_worked_example_runs_as_written(tmp_path):
    blocks = _code_blocks(DOC.read_text())
    assert len(blocks) >= 2 and "class DenoisingTransformer" in blocks[0]
    method = blocks[0]
    n_lines = len(method.strip().splitlines())
    assert 50 <= n_lines <= 130, f"the worked example has {n_lines} lines"
    script = tmp_path / "example.py"
    script.write_text("\n".join(blocks) + CHECKS)
    # A separate process: the example's class must not join this session's registry.
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("OK")

