"""The main job runs end to end and prints what the README promises."""

import subprocess
import sys

from conftest import TIMEOUT


def test_main_job_prints_accuracy_time_and_device():
    result = subprocess.run(
        [sys.executable, "-m", "sslts", "--dataset", "GunPoint", "--n-iters", "3",
         "--device", "cpu"],
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "device:   cpu" in out
    assert "fit time:" in out and "(3 iterations)" in out
    accuracy = float(out.split("accuracy:")[1].split()[0])
    assert 0.0 <= accuracy <= 1.0


def test_main_job_rejects_unknown_method():
    result = subprocess.run(
        [sys.executable, "-m", "sslts", "--method", "nope"], capture_output=True, text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_main_job_passes_n_threads_to_the_estimator(monkeypatch, capsys):
    from sslts import TS2VecTransformer
    from sslts.__main__ import main

    seen = []
    original = TS2VecTransformer.fit

    def fit(self, X, *args, **kwargs):
        seen.append(self.n_threads)
        return original(self, X, *args, **kwargs)

    monkeypatch.setattr(TS2VecTransformer, "fit", fit)
    assert main(["--dataset", "GunPoint", "--n-iters", "2", "--device", "cpu",
                 "--n-threads", "1"]) == 0
    assert seen == [1] and "accuracy:" in capsys.readouterr().out
