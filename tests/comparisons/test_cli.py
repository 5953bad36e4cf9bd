"""The command line end to end: the default run, --json, check, drift, and bad options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import adapters
from comparisons import cli
from comparisons.drift import drift_rows
from comparisons.run import RunConfig
from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """`python -m comparisons --out DIR`, the README's main command, in a subprocess."""
    out = tmp_path_factory.mktemp("cli") / "comparison-output"
    proc = subprocess.run(
        [sys.executable, "-m", "comparisons", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, out


@pytest.mark.crossframework
def test_default_run_writes_the_table_plots_and_both_reports(default_run):
    need("torch", "jax")
    proc, out = default_run
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "| epoch 1 |  iter 10 / 10 | loss 1.13"  # the book's first line
    assert "| epoch 300 |  iter 10 / 10 | loss 0.11" in lines  # and its last
    table = [ln.split() for ln in lines if ln.split()[:1] in (["numpy"], ["torch"], ["jax"])]
    assert {row[0] for row in table} == set(adapters.available())
    assert [row[1] for row in table] == ["eager", "eager", "scan", "step"]
    assert all(row[-1] in ("reference", "PASS") for row in table)
    assert all(row[3] == "97.0%" for row in table)
    for name in ("loss_curves.png", "differences.png", "decision_boundaries.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # self-contained
    assert '<section id="rosetta">' in html and "allow_tf32=False" in html
    md = (out / "report.md").read_text()
    assert "torch/eager: agree over 3000 steps" in md and "## Precision settings" in md
    # the precision matrix, on by default: every precision, the storage case, no FAIL
    matrix = proc.stdout.split("precision matrix")[1].splitlines()
    cells = {tuple(ln.split()[:2]) for ln in matrix if ln.split()[:1]}
    for cell in [("float16", "numpy/eager"), ("bfloat16", "torch/eager"), ("float16", "storage")]:
        assert cell in cells, cell
    assert "FAIL" not in proc.stdout
    assert "## Precision matrix" in md and "save_params" in md
    assert "<h2>Precision matrix</h2>" in html


def test_json_output_parses(tmp_path, capsys):
    rc = cli.main(
        [
            "--frameworks",
            "numpy",
            "--epochs",
            "2",
            "--json",
            "--quiet",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["epochs"] == 2 and payload["passed"] is True
    assert [r["framework"] for r in payload["results"]] == ["numpy"]
    assert payload["results"][0]["steps"] == 20


@pytest.mark.crossframework
def test_json_output_carries_every_verdict(tmp_path, capsys):
    need("torch", "jax")
    rc = cli.main(
        [
            "--epochs",
            "2",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--json",
            "--quiet",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert rc == 0 and payload["passed"]
    assert len(payload["verdicts"]) == 3 and all(v["passed"] for v in payload["verdicts"])


BAD = [
    ["--frameworks", "numpy,tensorflow"],
    ["--frameworks", "numpy,numpy"],
    ["--optimizer", "adamw"],
    ["--optimizer", "sgd", "--momentum", "0.9"],
    ["--optimizer", "momentum", "--momentum", "1.5"],
    ["--lr", "-1"],
    ["--lr", "nan"],
    ["--epochs", "0"],
    ["--epochs", "ten"],
    ["--batch-size", "301"],
    ["--hidden-size", "-3"],
    ["--dtype", "float8"],
    ["--device", "tpu"],
    ["--seed", "-1"],
    ["--max-grad", "0"],
    ["--flavor", "keras"],
    ["--bogus"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_options_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, argv):
    out = tmp_path / "out"
    assert cli.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("scratch-parity: error: ")
    assert not out.exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep me")
    assert cli.main(["--out", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err and f.read_text() == "keep me"


def test_bad_option_in_a_real_process_exits_2():
    proc = subprocess.run(
        [sys.executable, "-m", "comparisons", "--epochs", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "scratch-parity: error: argument --epochs: expected a positive integer, got '0'"
    ]


@pytest.mark.crossframework
def test_check_passes_and_fails_when_an_adapter_is_made_to_differ(monkeypatch, capsys):
    need("torch", "jax")
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert "check: PASS" in out and "PASS  numpy/eager vs torch/eager" in out
    assert out.count("(x 2 workers)") == 4
    from adapters import torch_adapter

    original = torch_adapter.to_module

    def perturbed(weights, dtype, device):  # W1[0, 0] nudged by one part in 1e9
        w = {k: v.copy() for k, v in weights.items()}
        w["W1"][0, 0] *= 1 + 1e-9
        return original(w, dtype, device)

    monkeypatch.setattr(torch_adapter, "to_module", perturbed)
    from comparisons import check

    # (the data-parallel part's workers are fresh processes the patch does not reach)
    monkeypatch.setattr(check, "check_data_parallel", lambda *args: True)
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "check: FAIL" in out and "torch" in out


def test_rosetta_prints_and_refuses_a_narrow_width(capsys):
    assert cli.main(["rosetta", "--width", "150"]) == 0
    assert "Gradient clipping" in capsys.readouterr().out
    assert cli.main(["rosetta", "--width", "10"]) == 2


@pytest.mark.crossframework
def test_drift_rows_come_from_real_runs():
    need("torch", "jax")
    rows = drift_rows(["numpy", "torch", "jax"], RunConfig(epochs=3), say=lambda _m: None)
    by = {(r["optimizer"], r["framework"]): r for r in rows}
    assert len(rows) == 12
    for fw in ("torch", "jax"):  # stock SGD and momentum are the book's math
        assert by[("sgd", fw)]["first_diverging_step"] is None
        assert by[("momentum", fw)]["first_diverging_step"] is None
        for name in ("nesterov", "adagrad", "rmsprop", "adam"):  # the rest part at once
            assert by[(name, fw)]["first_diverging_step"] == 1
            assert by[(name, fw)]["max_abs_dweights"] > 1e-6
