"""comparisons/gpu_check.py wherever the suite runs: on a machine without a GPU every part
says what it skipped and why; with one, the parts run on it. The run table is also
exercised through the stand-in CuPy."""

from __future__ import annotations

import json

import adapters
from comparisons import gpu_check
from tests.scratch import fake_cupy


def test_every_part_runs_on_the_gpu_or_says_why_it_skipped(tmp_path, capsys):
    rc = gpu_check.main(["--quick", "--skip-tests", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert (tmp_path / "gpu_check.txt").read_text().startswith("== devices")
    cuda = {fw: adapters.net_class(fw).device_available("cuda") for fw in adapters.available()}
    for fw, has_cuda in cuda.items():
        rows = [r for r in report["runs"] if r["framework"] == fw]
        if has_cuda:  # every precision it has ran on the GPU and was judged
            assert rows and all(r["parity"] in ("PASS", "FAIL") for r in rows), rows
            assert {r["dtype"] for r in rows} >= {"float64", "float32"}
        else:
            assert [set(r) for r in rows] == [{"framework", "skipped"}], rows
            assert "skipped: no cuda device" in out
    gpu_bench = any(cuda.get(fw, False) for fw in ("torch", "jax"))
    assert (report["bench"] is not None) == gpu_bench
    assert ("bench: skipped" in out) != gpu_bench
    if gpu_bench:
        assert {r["device"] for r in report["bench"]["rows"]} <= {"cuda", "cpu"}
    failed = any(r.get("parity") == "FAIL" and not r.get("tf32_capable") for r in report["runs"])
    assert rc == (1 if failed else 0)


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
