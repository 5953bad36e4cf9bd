"""Data-parallel training on GPUs: torch DDP over NCCL (one rank per GPU) and JAX's mesh
of GPUs, against the float64 reference on the CPU. Needs 2 CUDA devices; skipped, with
the reason, elsewhere (the gloo / host-device paths are tests/adapters/test_data_parallel.py).
"""

from __future__ import annotations

import pytest

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from comparisons.run import RunConfig, book_data


def _gpus(framework: str) -> int:
    if framework not in adapters.available():
        return 0
    return adapters.net_class(framework).max_workers("cuda")[0]


pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("framework, mode", [("torch", "eager"), ("jax", "scan"), ("jax", "step")])
def test_two_gpus_match_the_cpu_reference_in_float64(framework, mode):
    if _gpus(framework) < 2:
        pytest.skip(f"{framework} sees fewer than 2 CUDA devices here (NCCL/mesh need 2)")
    x, t, w, schedule = book_data(RunConfig(epochs=30))
    spec = OptimizerSpec("adam", 0.01)
    ref = adapters.build("numpy", w).train(x, t, schedule, spec, max_grad=0.5)
    net = adapters.build(framework, w, device="cuda")
    other = net.train(x, t, schedule, spec, max_grad=0.5, mode=mode, data_parallel=2)
    assert other.steps == ref.steps == 300
    report = parity.compare_trajectories(ref, other)
    assert report.passed, report.summary()


def test_more_workers_than_gpus_is_refused():
    if "torch" not in adapters.available() or _gpus("torch") < 1:
        pytest.skip("torch sees no CUDA device here")
    x, t, w, schedule = book_data(RunConfig(epochs=1))
    net = adapters.build("torch", w, device="cuda")
    n = _gpus("torch") + 1
    with pytest.raises(ValueError, match=f"data_parallel {n} is more workers than the CUDA"):
        net.train(x, t, schedule, OptimizerSpec("sgd", 1.0), data_parallel=n, uneven=True)
