"""The GPU paths (§1.5.2): torch CUDA, JAX GPU and the reference on CuPy, against the
float64 reference on the CPU; the TF32 trap where the GPU has TF32.

Marked `gpu` and skipped, with the reason, on machines without a CUDA device (CI has
none). comparisons/gpu_check.py runs them on a GPU machine with the benchmark.
"""

from __future__ import annotations

import importlib.util

import pytest

import adapters
from adapters import OptimizerSpec
from comparisons import parity, run
from comparisons.run import RunConfig, book_data


def _cuda(framework: str) -> bool:
    if framework not in adapters.available():
        return False
    return adapters.net_class(framework).device_available("cuda")


def _any_cuda() -> bool:
    if importlib.util.find_spec("torch") is not None and _cuda("torch"):
        return True
    return _cuda("jax") or _cuda("numpy")


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not _any_cuda(),
        reason="no CUDA device here (CI has none): run comparisons/gpu_check.py on a GPU machine",
    ),
]

SGD = OptimizerSpec("sgd", 1.0)
GPU_FRAMEWORKS = ["numpy", "torch", "jax"]  # numpy on cuda: the scratch code on CuPy


def need_cuda(framework: str) -> None:
    if not _cuda(framework):
        why = "CuPy is not installed" if framework == "numpy" else f"{framework} sees no GPU"
        pytest.skip(f"{framework} cannot use cuda here: {why}")


@pytest.fixture(scope="module")
def book():
    x, t, w, schedule = book_data(RunConfig())
    ref64 = adapters.build("numpy", w).train(x, t, schedule, SGD, record_every=10)
    ref32 = adapters.build("numpy", w, dtype="float32").train(x, t, schedule, SGD, record_every=10)
    return x, t, w, schedule, ref64, ref32


@pytest.mark.parametrize("framework", GPU_FRAMEWORKS)
def test_float64_on_the_gpu_matches_the_cpu_reference(book, framework):
    need_cuda(framework)
    x, t, w, schedule, ref64, _ = book
    for mode in adapters.net_class(framework).MODES:
        net = adapters.build(framework, w, device="cuda")
        traj = net.train(x, t, schedule, SGD, record_every=10, mode=mode)
        report = parity.compare_trajectories(ref64, traj)
        assert report.passed and report.steps == 3000, report.summary()  # the float64 row


@pytest.mark.parametrize("framework", GPU_FRAMEWORKS)
def test_float32_on_the_gpu_in_parity_mode_stays_calibrated(book, framework):
    need_cuda(framework)
    x, t, w, schedule, ref64, ref32 = book
    net = adapters.build(framework, w, dtype="float32", device="cuda")
    traj = net.train(x, t, schedule, SGD, record_every=10)
    report = parity.compare_trajectories(ref32, traj, calibration=(ref64, ref32))
    assert report.passed, report.summary()


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_on_the_gpu_stays_calibrated(book, framework, dtype):
    need_cuda(framework)
    x, t, w, schedule, ref64, _ = book
    cpu = adapters.build(framework, w, dtype=dtype).train(x, t, schedule, SGD, record_every=10)
    gpu = adapters.build(framework, w, dtype=dtype, device="cuda")
    traj = gpu.train(x, t, schedule, SGD, record_every=10)
    report = parity.compare_trajectories(cpu, traj, calibration=(ref64, cpu))
    assert report.passed, report.summary()


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_the_tf32_trap_shows_and_is_named(book, framework):
    """With TF32 allowed, float32 drifts from float64 far more than the pinned run does
    (about 1e-2 against 2e-5 for a hand-written run on an H200), and the note says why."""
    need_cuda(framework)
    if not adapters.net_class(framework).tf32_capable("cuda"):
        pytest.skip("this GPU has no TF32 (compute capability below 8.0)")
    x, t, w, schedule, ref64, ref32 = book
    pinned = adapters.build(framework, w, dtype="float32", device="cuda")
    trap = adapters.build(framework, w, dtype="float32", device="cuda", tf32=True)
    d_pinned = parity.compare_trajectories(
        ref64, pinned.train(x, t, schedule, SGD, record_every=10)
    )
    d_trap = parity.compare_trajectories(ref64, trap.train(x, t, schedule, SGD, record_every=10))
    assert d_trap.max_weight_error > 10 * d_pinned.max_weight_error
    config = RunConfig(frameworks=("numpy", framework), dtype="float32", device="cuda", tf32=True)
    results = run.run(config)
    assert "cause of the drift" in results.tf32_note and framework in results.tf32_note


def test_the_reference_runs_unchanged_on_cupy_arrays(book):
    need_cuda("numpy")
    import cupy

    x, t, w, schedule, ref64, _ = book
    net = adapters.build("numpy", w, device="cuda")
    assert isinstance(net.module.params[0], cupy.ndarray)
    traj = net.train(x, t, schedule, SGD, record_every=10)
    report = parity.compare_trajectories(ref64, traj)
    assert report.passed and report.steps == 3000, report.summary()  # losses included
