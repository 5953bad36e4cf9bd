"""The memory the command line checks before a run (comparisons.run.memory_needed) holds
what a real run takes: the process's own peak and its workers' (each imports torch), as
`python -m comparisons.memory_measure` measures them."""

from __future__ import annotations

import pytest

from adapters import data_parallel
from comparisons.memory_measure import measure
from comparisons.run import RunConfig, memory_needed
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
