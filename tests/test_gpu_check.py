"""``benchmarks/gpu_check.py`` runs end to end as a CPU smoke test.

On a machine with CUDA the same script measures the GPU paths; here it must run
every registered method through float32 and bf16, the pickle round trip into a
process without GPU and the 1-process group fit, and write its two result files.
"""

import importlib.util
import json
import math
from pathlib import Path

import pytest

from sslts import all_estimators

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_smoke_run_covers_every_method_and_check(tmp_path):
    result = load_script().main(["--smoke", "--out", str(tmp_path)])
    assert result["smoke"]
    names = {cls.__name__ for cls in all_estimators(type_filter="transformer")}
    ran = {(r["method"], r["variant"].split()[-1]) for r in result["variants"]
           if "skipped" not in r}
    device = result["device"]
    for name in names:
        assert (name, "float32") in ran and (name, "bf16") in ran, name
    for row in result["variants"]:
        if "skipped" not in row:
            assert 0.0 <= row["accuracy"] <= 1.0 and math.isfinite(row["fit_s"])
        if "rel_error_same_weights" in row:  # bf16 of the same weights: close, not equal
            assert 0.0 <= row["rel_error_same_weights"] < 0.1  # 0: no op ran under autocast
    pickled = {c["method"] for c in result["checks"] if c.get("check") == "pickle"}
    assert pickled == names
    assert all(c["ok"] for c in result["checks"]), result["checks"]
    assert any(c.get("check") == "distributed" for c in result["checks"])
    generated = {c["method"] for c in result["checks"] if c.get("check") == "generator"}
    assert generated == {cls.__name__ for cls in all_estimators(type_filter="generator")}
    saved = json.loads((tmp_path / "gpu_check.json").read_text())
    assert saved["device"] == device and len(saved["variants"]) == len(result["variants"])
    assert "smoke run" in (tmp_path / "gpu_check.md").read_text()
    assert not (tmp_path / "gpu_check_work").exists()
