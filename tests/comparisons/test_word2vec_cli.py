"""`python -m comparisons ... --model M` for the word2vec models: the side-by-side run with
its table, plots, report and --json; check; bench beside the book's code; bad options
refused in one line before any work."""

from __future__ import annotations

import json

import pytest

import adapters
from comparisons.word2vec.bench import BOOK, adapter_run, bench_rows
from comparisons.word2vec.run import Word2vecConfig, run_data
from tests.helpers import need, run_cli

pytestmark = pytest.mark.crossframework


@pytest.fixture(scope="module")
def simple_cbow_run(tmp_path_factory):
    """ch03's run, shortened to 100 epochs (200 steps), in every framework and mode."""
    need("torch", "jax")
    out = tmp_path_factory.mktemp("w2v") / "out"
    status, stdout, stderr = run_cli(
        "--model", "simple_cbow", "--epoch", "100", "--out", str(out), "--json", "--quiet"
    )  # "--epoch": an abbreviation of --epochs is still an option the user gave
    return status, json.loads(stdout), stderr, out


def test_the_run_passes_in_every_framework_and_mode_and_writes_its_report(simple_cbow_run):
    status, payload, stderr, out = simple_cbow_run
    assert status == 0 and payload["passed"] and stderr == ""
    runs = [(r["framework"], r["mode"]) for r in payload["results"]]
    assert runs == [("numpy", "eager"), ("torch", "eager"), ("jax", "scan"), ("jax", "step")]
    assert all(r["steps"] == 200 for r in payload["results"])  # 100 epochs of 2 batches
    assert payload["config"]["epochs"] == 100 and payload["config"]["optimizer"] == "adam"
    assert 0 < payload["max_abs_dweights"] <= 1e-10
    assert {p.name for p in out.iterdir()} == {
        "loss_curves.png", "differences.png", "report.md", "report.html",
    }  # fmt: skip
    report = (out / "report.md").read_text()
    assert "SimpleCBOW (ch03/simple_cbow.py)" in report and "Parity verdicts: PASS" in report
    nearest = {(n["query"], n["run"]): n["nearest"] for n in payload["neighbours"]}
    assert len({tuple(v) for v in nearest.values()}) <= 2  # the same words in every run


def test_check_of_a_model_passes():
    need("torch", "jax")
    status, stdout, _ = run_cli("check", "--model", "simple_skip_gram")
    assert status == 0
    assert stdout.count("PASS  numpy/eager vs") == 6  # sgd and adam, torch + jax's 2 modes
    assert stdout.rstrip().endswith(
        "check simple_skip_gram: PASS, every framework agrees with the reference"
    )


def test_bench_times_the_books_code_beside_the_reference():
    rows = bench_rows("simple_cbow", ["numpy"], ("float64",), repeats=1)
    assert [r["run"] for r in rows] == [BOOK, "numpy/eager"]
    assert all(r["steps"] == 2000 and r["per_step_s"] > 0 for r in rows)
    assert rows[0]["vs_book"] == 1.0


def test_bench_times_the_step_recording_only_before_and_after(monkeypatch):
    """As the book's-code row records nothing, an adapter's row keeps two records (the
    start and the end), not one a step."""
    trained = []
    build = adapters.build

    def spy(*args, **kwargs):
        net = build(*args, **kwargs)
        train = net.train
        net.train = lambda *a, **k: trained.append(train(*a, **k)) or trained[-1]
        return net

    monkeypatch.setattr(adapters, "build", spy)
    config = Word2vecConfig(model="simple_cbow", frameworks=("numpy",), epochs=2)
    data, _ = run_data(config)
    adapter_run(config, data, "numpy", "eager")()
    (traj,) = trained
    steps = len(data.schedule)
    assert steps > 2 and list(traj.record_steps) == [0, steps]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--model", "cbow", "--precisions", "float32"],
            "--precisions does not apply to --model cbow",
        ),
        (["--model", "skip_gram", "--data-parallel", "2"], "--data-parallel does not apply"),
        (["--model", "cbow", "--tf32"], "--tf32 does not apply"),
        (["--model", "cbow", "--dtype", "bfloat16"], "runs in float64 or float32"),
        (["--model", "cbow", "--batch-size", "99999"], "--batch-size 99999 exceeds the 8629"),
        (["--model", "cbow", "--lr", "0.1", "--beta1", "2"], "adam beta1 must lie in"),
        (["--model", "word2vec"], "invalid choice: 'word2vec'"),
        (["check", "--model", "cbow", "--frameworks", "numpy"], "needs two of numpy, torch, jax"),
        (["bench", "--model", "cbow", "--sizes", "book"], "--sizes does not apply"),
    ],
)
def test_bad_options_are_one_line_and_exit_status_2(argv, message, tmp_path):
    status, stdout, stderr = run_cli(
        *argv, *(["--out", str(tmp_path / "o")] if argv[0] == "--model" else [])
    )
    assert status == 2 and stdout == ""
    assert stderr.count("\n") == 1 and message in stderr
    assert not (tmp_path / "o").exists()
