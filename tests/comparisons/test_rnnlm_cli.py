"""`python -m comparisons ... --model M` for the language models: the side-by-side run with
its table, perplexity per epoch, plots, report and --json; check; bench beside the book's
code; bad options refused in one line before any work."""

from __future__ import annotations

import json

import pytest

from comparisons.rnnlm.bench import BOOK, bench_rows
from tests.helpers import need, run_cli

pytestmark = pytest.mark.crossframework


@pytest.fixture(scope="module")
def simple_rnnlm_run(tmp_path_factory):
    """SimpleRnnlm's default run, shortened to 4 epochs (76 steps), in every framework
    and mode."""
    need("torch", "jax")
    out = tmp_path_factory.mktemp("rnnlm") / "out"
    status, stdout, stderr = run_cli(
        "--model", "simple_rnnlm", "--epochs", "4", "--out", str(out), "--json", "--quiet"
    )
    return status, json.loads(stdout), stderr, out


def test_the_run_passes_in_every_framework_and_mode_with_perplexity_per_epoch(simple_rnnlm_run):
    status, payload, stderr, out = simple_rnnlm_run
    assert status == 0 and payload["passed"] and stderr == ""
    runs = [(r["framework"], r["mode"]) for r in payload["results"]]
    assert runs == [("numpy", "eager"), ("torch", "eager"), ("jax", "scan"), ("jax", "step")]
    assert all(r["steps"] == 76 for r in payload["results"])  # 4 epochs of 19 blocks
    config = payload["config"]
    assert (config["epochs"], config["optimizer"], config["hyper"]["lr"]) == (4, "sgd", 1.0)
    assert (config["time_size"], config["batch_size"], config["max_grad"]) == (5, 10, None)
    assert 0 < payload["max_abs_dweights"] <= 1e-10
    ref = payload["results"][0]["perplexity_per_epoch"]
    assert len(ref) == 4 and ref[0] > ref[-1]  # it learns
    for r in payload["results"][1:]:
        assert r["perplexity_per_epoch"] == pytest.approx(ref, rel=1e-12)
    assert {p.name for p in out.iterdir()} == {
        "perplexity.png", "differences.png", "report.md", "report.html",
    }  # fmt: skip
    report = (out / "report.md").read_text()
    assert "SimpleRnnlm (ch05/simple_rnnlm.py)" in report and "Parity verdicts: PASS" in report
    assert "## Perplexity per epoch" in report


def test_the_table_shows_perplexity_per_epoch(tmp_path):
    need("torch")
    status, stdout, _ = run_cli(
        "--model", "better_rnnlm", "--epochs", "1", "--frameworks", "numpy,torch",
        "--out", str(tmp_path / "o"), "--quiet",
    )  # fmt: skip
    assert status == 0
    lines = stdout.splitlines()
    assert lines[0].split()[:4] == ["framework", "mode", "perplexity,", "epoch"]
    assert "perplexity per epoch:" in lines
    epoch_rows = lines[lines.index("perplexity per epoch:") + 3 :]
    assert epoch_rows[0].split()[0] == "1" and len(epoch_rows[0].split()) == 3


def test_check_of_a_model_passes():
    need("torch")
    status, stdout, _ = run_cli("check", "--model", "rnnlm", "--frameworks", "numpy,torch")
    assert status == 0
    assert stdout.count("PASS  numpy/eager vs torch/eager") == 1
    assert stdout.rstrip().endswith("check rnnlm: PASS, every framework agrees with the reference")


def test_bench_times_the_books_code_beside_the_reference():
    rows = bench_rows("simple_rnnlm", ["numpy"], ("float32",), repeats=1)
    assert [r["run"] for r in rows] == [BOOK, "numpy/eager"]
    assert all(r["steps"] == 228 and r["per_step_s"] > 0 for r in rows)
    assert rows[0]["vs_book"] == 1.0 and rows[1]["speedup_vs_numpy"] == 1.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "rnnlm", "--tf32"], "--tf32 does not apply to --model rnnlm"),
        (["--model", "better_rnnlm", "--dtype", "bfloat16"], "runs in float64 or float32"),
        (["--model", "rnnlm", "--batch-size", "250"], "time_size 5 is too long for the data"),
        (["--model", "simple_rnnlm", "--max-grad", "0"], "max-grad"),
        (["--model", "rnnlm", "--lr", "-1"], "lr"),
        (["check", "--model", "rnnlm", "--frameworks", "numpy"], "needs two of numpy, torch, jax"),
        (["bench", "--model", "rnnlm", "--sizes", "book"], "--sizes does not apply"),
    ],
)
def test_bad_options_are_one_line_and_exit_status_2(argv, message, tmp_path):
    status, stdout, stderr = run_cli(
        *argv, *(["--out", str(tmp_path / "o")] if argv[0] == "--model" else [])
    )
    assert status == 2 and stdout == ""
    assert stderr.count("\n") == 1 and message in stderr, stderr
    assert not (tmp_path / "o").exists()
