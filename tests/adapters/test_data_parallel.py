"""Data-parallel training equals the single-process run: numpy by hand, torch DDP over
gloo processes, JAX on a mesh of host devices (tests/conftest.py gives JAX 3 of them).

Equal shards: the same trajectory, within the float64 tolerance (1e-10 on the final
weights) or float32's calibrated bound. Unequal shards: refused, or, when allowed, the
drift from the book's run is found at the step where it starts. A worker that dies ends
the run with one clear error and leaves no process behind.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time

import numpy as np
import pytest

import adapters
from adapters import data_parallel
from comparisons import parity
from tests.adapters.helpers import BOOK_OPTIMIZERS, book_run
from tests.helpers import framework_modes, need

pytestmark = pytest.mark.crossframework

SHORT = 6  # epochs: 60 steps of the book's run
MODES = framework_modes()


@functools.cache
def single(
    case: str, epochs: int = SHORT, dtype: str = "float64", record_every: int = 1
) -> adapters.Trajectory:
    x, t, w, schedule = book_run(max_epoch=epochs)
    spec, max_grad = BOOK_OPTIMIZERS[case]
    net = adapters.build("numpy", w, dtype=dtype)
    return net.train(x, t, schedule, spec, max_grad=max_grad, record_every=record_every)


def parallel(framework, mode, case, n, epochs=SHORT, dtype="float64", **kw):
    x, t, w, schedule = book_run(max_epoch=epochs)
    spec, max_grad = BOOK_OPTIMIZERS[case]
    net = adapters.build(framework, w, dtype=dtype)
    traj = net.train(x, t, schedule, spec, max_grad=max_grad, mode=mode, data_parallel=n, **kw)
    for k, v in net.weights().items():  # the net is left at the trained weights
        np.testing.assert_array_equal(v, traj.weights[k][-1])
    return traj


def uneven_schedule(epochs: int = SHORT) -> np.ndarray:
    """The book's data in batches of 29 (the book's shuffles): 2 workers get 15 and 14 rows."""
    from scratch.trainer import shuffled_batches

    return shuffled_batches(300, 29, epochs, np.random.RandomState(7))


TORCH_CASES = {  # n -> [(case, epochs, dtype, uneven)], each group of ranks started once
    2: [("sgd", SHORT, "float64", False), ("adam", SHORT, "float64", False),
        ("sgd+clip", SHORT, "float32", False), ("sgd", SHORT, "float64", True)],
    3: [("momentum", SHORT, "float64", False), ("adam", SHORT, "float64", False)],
}  # fmt: skip


@functools.cache
def torch_runs(n: int) -> dict:
    """Every torch case for n ranks, on one group of ranks (a start costs seconds)."""
    from adapters import torch_ddp

    x, t, w, _ = book_run(max_epoch=1)
    runs = {}
    with torch_ddp.ranks(n):
        for case, epochs, dtype, uneven in TORCH_CASES[n]:
            schedule = uneven_schedule() if uneven else book_run(max_epoch=epochs)[3]
            spec, max_grad = BOOK_OPTIMIZERS[case]
            net = adapters.build("torch", w, dtype=dtype)
            runs[case, epochs, dtype, uneven] = net.train(
                x, t, schedule, spec, max_grad=max_grad, data_parallel=n, uneven=uneven,
            )  # fmt: skip
            for k, v in net.weights().items():
                np.testing.assert_array_equal(v, runs[case, epochs, dtype, uneven].weights[k][-1])
        runs["diverged at"] = diverged_at("torch", "eager", n)
    return runs


def diverged_at(framework: str, mode: str, n: int) -> int | None:
    """The step at which SGD with lr 1e308 is found to diverge on n workers."""
    x, t, w, schedule = book_run(max_epoch=1)
    try:
        adapters.build(framework, w).train(
            x, t, schedule, adapters.OptimizerSpec("sgd", 1e308), mode=mode, data_parallel=n
        )
    except adapters.DivergenceError as err:
        return err.step
    return None


def assert_same_run(ref: adapters.Trajectory, other: adapters.Trajectory) -> None:
    assert other.steps == ref.steps > 0 and other.framework != "" and other.weights["W1"].size
    report = parity.compare_trajectories(ref, other)
    assert report.passed, report.summary()
    final = max(np.abs(ref.weights[k][-1] - other.weights[k][-1]).max() for k in ref.weights)
    assert final <= 1e-10, report.summary()


def children() -> list[int]:
    """PIDs of this process's live children, from /proc (psutil is not a dependency),
    but multiprocessing's resource tracker: started by the first spawned process (bench
    --data-parallel times gloo that way, in another test of this process), it serves the
    process until it exits."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                tracker = b"multiprocessing.resource_tracker" in f.read()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and not tracker:
            found.append(int(entry))
    return found


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [0, -2, 1.5, 2.0, True, "2", None])
def test_a_bad_worker_count_is_refused_naming_data_parallel(framework, bad, monkeypatch):
    monkeypatch.setattr(data_parallel, "WorkerGroup", None)  # no worker may start
    x, t, w, schedule = book_run(max_epoch=1)
    net = adapters.build(framework, w)
    with pytest.raises(ValueError, match="data_parallel"):
        net.train(x, t, schedule, adapters.OptimizerSpec("sgd", 1.0), data_parallel=bad)


def test_more_workers_than_rows_or_devices_is_refused_before_any_work(framework, monkeypatch):
    monkeypatch.setattr(data_parallel, "WorkerGroup", None)
    x, t, w, schedule = book_run(max_epoch=1)
    net = adapters.build(framework, w)
    spec = adapters.OptimizerSpec("sgd", 1.0)
    with pytest.raises(ValueError, match="data_parallel 31 is larger than the batch size 30"):
        net.train(x, t, schedule, spec, data_parallel=31, uneven=True)
    monkeypatch.setattr(type(net), "max_workers", staticmethod(lambda d: (2, "the GPUs here")))
    gpus = "data_parallel 3 is more workers than the GPUs here: at most 2"
    with pytest.raises(ValueError, match=gpus):
        net.train(x, t, schedule, spec, data_parallel=3)
    np.testing.assert_array_equal(net.weights()["W1"], w["W1"])  # nothing trained


def test_unequal_shards_are_refused_with_the_reason(framework):
    x, t, w, schedule = book_run(max_epoch=1)  # batch 30
    net = adapters.build(framework, w)
    with pytest.raises(ValueError) as err:
        net.train(x, t, schedule, adapters.OptimizerSpec("sgd", 1.0), data_parallel=4)
    text = str(err.value)
    assert "data_parallel 4" in text and "batch size 30" in text and "8, 8, 7, 7" in text
    assert "weighs the samples of a smaller shard more" in text and "uneven=True" in text
    with pytest.raises(TypeError, match="uneven"):
        net.train(x, t, schedule, adapters.OptimizerSpec("sgd", 1.0), data_parallel=2, uneven=1)


def test_shards_are_contiguous_and_cover_the_batch():
    rows = np.arange(30)
    for n in (1, 2, 3, 4, 7, 30):
        parts = data_parallel.shards(rows, n)
        assert len(parts) == n and np.array_equal(np.concatenate(parts), rows)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


# --------------------------------------------------------------------------- equal shards


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("case", list(BOOK_OPTIMIZERS))
def test_numpy_by_hand_equals_the_single_run_for_every_optimizer(case, n):
    assert_same_run(single(case), parallel("numpy", "eager", case, n))


JAX_CASES = [("scan", 2, case) for case in BOOK_OPTIMIZERS] + [
    ("step", 3, case) for case in ("sgd", "momentum", "adam")
]


@pytest.mark.parametrize("mode, n, case", JAX_CASES)
def test_jax_mesh_equals_the_single_run_for_every_optimizer(mode, n, case):
    need("jax")
    assert_same_run(single(case), parallel("jax", mode, case, n))


@pytest.mark.parametrize("framework, mode", [("numpy", "eager"), ("jax", "scan")])
def test_the_books_3000_steps_on_two_workers_equal_the_single_run(framework, mode):
    """Where the whole run is cheap; torch's DDP and JAX's step mode pay a collective per
    step (3000 steps: seconds), and comparisons/data_parallel_measure.py measures them
    over the same 3000 steps (docs/data-parallel.md)."""
    need(framework)
    ref = single("sgd", 300, record_every=50)
    other = parallel(framework, mode, "sgd", 2, 300, record_every=50)
    assert other.steps == 3000 and other.framework == framework
    assert_same_run(ref, other)


@pytest.mark.parametrize("n", [2, 3])
def test_torch_ddp_equals_the_single_run(n):
    need("torch")
    cases = [c for c in TORCH_CASES[n] if c[1] == SHORT and c[2] == "float64" and not c[3]]
    assert cases
    for case in cases:
        assert_same_run(single(case[0]), torch_runs(n)[case])


@pytest.mark.parametrize("framework, mode", MODES, ids=[f"{f}-{m}" for f, m in MODES])
def test_float32_with_two_workers_stays_within_the_calibrated_bound(framework, mode):
    need(framework)
    case = "sgd+clip"
    ref64, ref32 = single(case), single(case, dtype="float32")
    if framework == "torch":
        other = torch_runs(2)[case, SHORT, "float32", False]
    else:
        other = parallel(framework, mode, case, 2, dtype="float32")
    assert other.weights["W1"].dtype == np.float32
    report = parity.compare_trajectories(ref32, other, calibration=(ref64, ref32))
    assert report.passed and report.calibrated, report.summary()


def test_a_data_parallel_run_is_named_by_its_worker_count_not_as_its_reference():
    other = parallel("numpy", "eager", "sgd", 2)
    assert other.workers == 2 and single("sgd").workers == 1
    summary = parity.compare_trajectories(single("sgd"), other).summary()
    assert summary.startswith("numpy/eager vs numpy/eager x 2 workers: agree over 60 steps")


@pytest.mark.parametrize("n", [2, 3])
def test_a_run_that_blows_up_is_found_at_the_same_step_on_any_number_of_workers(n):
    """lr 1e308: the first update overflows the scores, so the loss of step 1 is infinite
    (the book's loss stays finite through its 1e-7; the epsilon-free loss does not). The
    NumPy reference on 2 or 3 workers said step 2: it summed its shards' gaps weighted,
    where each shard's mean overflows, as torch's and JAX's do."""
    need("torch", "jax")
    found = {f"numpy x{k}": diverged_at("numpy", "eager", k) for k in (1, n)}
    found |= {f"jax/{mode} x{n}": diverged_at("jax", mode, n) for mode in ("scan", "step")}
    found[f"torch x{n}"] = torch_runs(n)["diverged at"]
    assert set(found.values()) == {1}, found


# --------------------------------------------------------------------------- unequal shards


def test_unequal_shards_drift_from_the_books_run_and_the_report_says_where():
    """Batch 29 on 2 workers (15 and 14 rows): every framework runs it the way DDP does,
    identically, and the comparison with the single run finds the drift at step 0, where
    the mean of the two shard means first differs from the batch mean."""
    need("torch", "jax")
    x, t, w, _ = book_run(max_epoch=1)
    schedule = uneven_schedule()
    spec = BOOK_OPTIMIZERS["sgd"][0]
    whole = adapters.build("numpy", w).train(x, t, schedule, spec)
    by_hand = adapters.build("numpy", w).train(x, t, schedule, spec, data_parallel=2, uneven=True)
    report = parity.compare_trajectories(whole, by_hand)
    assert not report.passed and report.first_step == 0 and report.first_loss.step == 0
    assert report.first.step == 1  # the first update is where the weights part
    assert "first diverge after 0 updates in the loss of step 0" in report.summary()
    for mode in ("scan", "step"):
        net = adapters.build("jax", w)
        assert_same_run(
            by_hand, net.train(x, t, schedule, spec, mode=mode, data_parallel=2, uneven=True)
        )
    assert_same_run(by_hand, torch_runs(2)["sgd", SHORT, "float64", True])


def test_jax_starts_a_fresh_process_when_this_one_has_too_few_devices():
    """4 workers > the 3 host devices of this process: the run goes to a fresh process with
    4, and this process's JAX is as it was. Batch 30 makes 4 unequal shards (8, 8, 7, 7)."""
    need("jax")
    import jax

    devices = jax.devices("cpu")
    by_hand = parallel("numpy", "eager", "sgd", 4, uneven=True)
    assert_same_run(by_hand, parallel("jax", "scan", "sgd", 4, uneven=True))
    assert jax.devices("cpu") == devices and children() == []


# --------------------------------------------------------------------------- faults


def test_a_killed_worker_ends_the_run_with_one_clear_error_and_no_process_left(monkeypatch):
    need("torch")
    monkeypatch.setenv(data_parallel.KILL_ENV, "1:5")  # rank 1 SIGKILLs itself at step 5
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)}
    threads = threading.active_count()
    start = time.monotonic()
    with pytest.raises(data_parallel.WorkerError) as err:
        parallel("torch", "eager", "sgd", 2)
    assert time.monotonic() - start < 0.5 * data_parallel.COLLECTIVE_TIMEOUT_S  # no hang
    assert (err.value.worker, err.value.step) == (1, 5)
    assert "torch data-parallel worker 1 died at step 5: killed by SIGKILL" in str(err.value)
    assert children() == []  # no worker left, not even a zombie
    assert threading.active_count() == threads
    assert {s: signal.getsignal(s) for s in handlers} == handlers
