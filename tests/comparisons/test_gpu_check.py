"""comparisons/gpu_check.py on a machine without a GPU: every part runs, says what it
skipped and why, and the run table is exercised through the stand-in CuPy."""

from __future__ import annotations

import json

from comparisons import gpu_check
from tests.scratch import fake_cupy


def test_without_a_gpu_every_part_says_it_skipped(tmp_path, capsys):
    rc = gpu_check.main(["--quick", "--skip-tests", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "skipped: no cuda device" in out and "bench: skipped" in out
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["bench"] is None and all("skipped" in r for r in report["runs"])
    assert (tmp_path / "gpu_check.txt").read_text().startswith("== devices")


def test_the_run_table_with_the_reference_on_a_stand_in_gpu():
    """NumPy on "cuda" through the stand-in CuPy: the same numbers as on the CPU, so every
    precision passes and float64 agrees exactly."""
    with fake_cupy.installed():
        rows = gpu_check.gpu_runs(epochs=3)
    numpy_rows = [r for r in rows if r["framework"] == "numpy"]
    assert [r["dtype"] for r in numpy_rows] == ["float64", "float32", "float16"]
    assert all(r["parity"] == "PASS" for r in numpy_rows)
    assert numpy_rows[0]["max_dW_vs_cpu_float64"] == 0.0
    text = gpu_check.summary(
        {"devices": {}, "tests": {"summary": "-", "returncode": 0, "seconds": 0.0},
         "runs": rows, "bench": None}
    )  # fmt: skip
    assert "numpy      eager  float16" in text
