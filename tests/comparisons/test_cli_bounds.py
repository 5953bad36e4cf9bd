"""Bounds and lists on the command line, in real processes: `bench --repeats 1000000000`
(a year) is refused with the bound said; an empty name in a list (`numpy,,torch`) is
refused; `bench --data-parallel` times what --frameworks and --dtypes name; the uneven-shard
message names --allow-uneven once. And `--beta1 0` trains in every framework (in this
process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from comparisons import bench, cli
from tests.comparisons.processes import env, train_argv
from tests.helpers import need

MODULE = [sys.executable, "-m", "comparisons"]


def run(argv: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env(), capture_output=True, timeout=300)


def refused(proc: subprocess.CompletedProcess, words: str) -> None:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("scratch-parity: error:") and words in err, err
    assert proc.stdout == b""


@pytest.mark.parametrize("repeats", [str(bench.MAX_REPEATS + 1), "1000000000"])
def test_bench_repeats_beyond_the_bound_are_refused_with_the_bound(tmp_path, repeats):
    proc = run([*MODULE, "bench", "--frameworks", "numpy", "--repeats", repeats], tmp_path)
    refused(proc, f"argument --repeats: at most {bench.MAX_REPEATS}, got {repeats}")


def test_the_bound_is_accepted_and_said_in_the_help(capsys):
    argv = ["bench", "--frameworks", "numpy", "--repeats", str(bench.MAX_REPEATS)]
    assert cli.bench_config(cli.parse(argv)).repeats == bench.MAX_REPEATS
    assert cli.main(["bench", "--help"]) == 0
    assert f"at most {bench.MAX_REPEATS}" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    "argv",
    [
        ["--frameworks", "numpy,,torch"],
        ["--frameworks", "numpy,"],
        ["--frameworks", ",numpy"],
        ["--precisions", "float64,,float32"],
        ["bench", "--frameworks", "numpy,,torch"],
        ["bench", "--sizes", "book,"],
        ["bench", "--dtypes", "float64,,float32"],
        ["check", "--frameworks", "numpy,,torch"],
        ["drift", "--frameworks", "torch,,jax"],
        ["rosetta", "--frameworks", "numpy,,torch"],
        ["rosetta", "--concept", "affine,,sgd"],
    ],
)
def test_an_empty_name_in_a_list_is_refused(tmp_path, monkeypatch, capsys, argv):
    """In this process (the parser is the same); one real process below."""
    monkeypatch.chdir(tmp_path)
    assert cli.main([*argv, *(["--out", "o"] if argv[0].startswith("--") else [])]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and repr(argv[-1]) in err, err
    assert list(tmp_path.iterdir()) == []


def test_an_empty_framework_name_is_refused_by_a_real_process(tmp_path):
    proc = run([*MODULE, "--frameworks", "numpy,,torch", "--out", "o"], tmp_path)
    refused(
        proc,
        "argument --frameworks: expected a comma-separated list of frameworks, got "
        "'numpy,,torch' (an empty name)",
    )
    assert list(tmp_path.iterdir()) == []


def test_bench_data_parallel_times_the_frameworks_and_dtypes_asked_for(tmp_path):
    argv = [*MODULE, "bench", "--data-parallel", "--frameworks", "numpy", "--dtypes", "float32"]
    proc = run([*argv, "--sizes", "book", "--steps", "3", "--json", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["size"], r["dtype"], r["run"]) for r in rows] == [("book", "float32", "numpy/eager")]
    assert rows[0]["n1_seconds"] > 0 and rows[0]["n2_seconds"] > 0


def test_bench_data_parallel_defaults_and_refusals():
    config = cli.bench_config(cli.parse(["bench", "--data-parallel", "--frameworks", "numpy"]))
    assert config.sizes == ("book", "medium") and config.dtypes == ("float64",)
    assert config.frameworks == ("numpy",) and config.repeats == bench.DEFAULT_REPEATS
    quick = ["bench", "--data-parallel", "--frameworks", "numpy", "--steps", "3"]
    assert cli.bench_config(cli.parse(quick)).repeats == 1
    assert cli.bench_config(cli.parse([*quick, "--repeats", "4"])).repeats == 4


def test_the_uneven_shard_message_names_allow_uneven_once(tmp_path):
    proc = run(train_argv(tmp_path / "out", 1, "--data-parallel", "4"), tmp_path)
    refused(proc, "pass --allow-uneven to run it anyway")
    assert proc.stderr.count(b"allow-uneven") == 1 and b"uneven=True" not in proc.stderr


@pytest.mark.crossframework
def test_adam_with_betas_of_zero_trains_in_jax_too(tmp_path, capsys):
    """NumPy and torch trained, then JAX died with "math domain error" (every framework
    with every edge value: tests/adapters/test_optimizer_edges.py). In this process: the
    error was JAX's arithmetic, not the process's (a real process costs seconds of imports)."""
    need("jax")
    more = ["--optimizer", "adam", "--beta1", "0", "--beta2", "-0", "--json", "--quiet"]
    argv = ["--frameworks", "numpy,jax", "--epochs", "1", "--precisions", "none"]
    status = cli.main([*argv, "--out", str(tmp_path / "o"), *more])
    out, err = capsys.readouterr()
    assert status == 0, err
    results = json.loads(out)
    assert {r["framework"] for r in results["results"]} == {"numpy", "jax"}
    assert results["passed"] and results["config"]["hyper"]["beta1"] == 0
