"""The memory the command line checks before a run (comparisons.run.memory_needed) and
before a benchmark (comparisons.bench.memory_needed) holds what a real one takes: the
process's own peak and its workers' (each imports torch), as
`python -m comparisons.memory_measure` measures them."""

from __future__ import annotations

import pytest

from adapters import data_parallel
from comparisons import bench
from comparisons import run as run_module
from comparisons.memory_measure import measure, peaks
from comparisons.run import RunConfig, memory_needed, process_bytes
from tests.helpers import need

pytestmark = pytest.mark.crossframework


def test_the_estimate_holds_a_run_on_two_torch_ranks_without_doubling_it():
    """It missed the process itself and its workers: 1.95 GiB estimated for 2.37 GiB in
    one process and 2.62 GiB with two workers."""
    need("torch")
    config = RunConfig(frameworks=("numpy", "torch"), epochs=2, data_parallel=2)
    got = measure(config)
    assert got["status"] == 0 and len(got["groups"]) == 1 and len(got["groups"][0]) == 2
    assert got["estimate"] == memory_needed(config)
    assert got["total"] <= got["estimate"] <= 1.6 * got["total"], got


def test_the_estimate_counts_the_workers_and_what_each_framework_holds():
    one = RunConfig(frameworks=("numpy", "torch"), epochs=300, hidden_size=300)
    four = RunConfig(frameworks=("numpy", "torch"), epochs=300, hidden_size=300, data_parallel=4)
    assert memory_needed(four) - memory_needed(one) > 4 * data_parallel.RANK_BYTES
    alone = memory_needed(RunConfig(frameworks=("numpy",)))
    assert 64 * 2**20 < alone < memory_needed(RunConfig()) < 2**30  # the book's run


def test_train_and_bench_count_the_process_with_one_function(monkeypatch):
    """bench's estimate left out the process itself (the interpreter and each framework's
    imports): both estimates now start from comparisons.run.process_bytes."""
    frameworks = ("numpy", "torch", "jax")
    book = bench.BenchConfig(sizes=("book",), frameworks=frameworks)
    config = RunConfig(frameworks=frameworks)
    before = bench.memory_needed(book), memory_needed(config)
    assert before[0] > process_bytes(frameworks) == sum(run_module.PROCESS_BYTES.values())
    monkeypatch.setitem(run_module.PROCESS_BYTES, "torch", run_module.PROCESS_BYTES["torch"] + 1)
    after = bench.memory_needed(book), memory_needed(config)
    assert after[0] - before[0] == after[1] - before[1] == 1  # one place decides


def test_the_bench_estimate_holds_a_real_bench():
    need("torch")
    config = bench.BenchConfig(("book",), ("float64",), ("numpy", "torch"), repeats=1, steps=300)
    got = peaks(
        ["bench", "--frameworks", "numpy,torch", "--sizes", "book", "--dtypes", "float64"]
        + ["--repeats", "1", "--steps", "300", "--quiet"]
    )
    assert got["status"] == 0 and got["groups"] == []
    assert got["total"] <= bench.memory_needed(config) <= 1.6 * got["total"], got
