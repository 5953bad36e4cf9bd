"""Net.train(grads=True): every framework and mode records, with each weight record after
the first, the gradients of the step just taken, as the backward pass made them (before
clip_grads scales them), and they agree with the reference's; every trajectory keeps its
schedule's fingerprint."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from adapters.trajectory import schedule_fingerprint
from comparisons.parity import compare_trajectories
from tests.adapters.helpers import book_run
from tests.helpers import need

RUNS = [("torch", None), ("jax", "scan"), ("jax", "step")]
CLIP = 0.05  # below the book run's early gradient norms: every step is clipped


def test_the_references_gradients_are_those_of_the_weights_before_each_step():
    x, t, w, schedule = book_run(max_epoch=1)  # 10 steps
    spec = OptimizerSpec("sgd", 1.0)
    traj = adapters.build("numpy", w).train(x, t, schedule, spec, grads=True, max_grad=CLIP)
    assert traj.grad_steps.tolist() == list(range(10))
    np.testing.assert_array_equal(traj.fingerprint, schedule_fingerprint(schedule))
    clipped = 0
    for k, step in enumerate(traj.grad_steps):
        before = {name: v[k] for name, v in traj.weights.items()}  # after `step` updates
        rows = schedule[step]
        made = adapters.build("numpy", before).gradients(x[rows], t[rows])
        norm = np.sqrt(sum(np.sum(g**2) for g in made.values()))
        clipped += norm > CLIP
        for name, g in made.items():  # as backward made them, not as clip_grads left them
            np.testing.assert_allclose(traj.grads[name][k], g, rtol=1e-13, atol=1e-16)
    assert clipped == 10


@pytest.mark.crossframework
@pytest.mark.parametrize(("framework", "mode"), RUNS)
def test_every_framework_and_mode_records_the_references_gradients(framework, mode):
    """record_every 3 over 10 steps: records after 0, 3, 6, 9 and 10 (off the grid), so
    the gradients of steps 2, 5, 8 and 9; every step clipped."""
    need(framework)
    x, t, w, schedule = book_run(max_epoch=1)
    spec = OptimizerSpec("sgd", 1.0)
    kw = {"grads": True, "max_grad": CLIP, "record_every": 3}
    ref = adapters.build("numpy", w).train(x, t, schedule, spec, **kw)
    got = adapters.build(framework, w).train(x, t, schedule, spec, mode=mode, **kw)
    assert got.record_steps.tolist() == [0, 3, 6, 9, 10]
    assert got.grad_steps.tolist() == [2, 5, 8, 9]
    assert {k: v.shape for k, v in got.grads.items()} == {
        "W1": (4, 2, 10),
        "b1": (4, 10),
        "W2": (4, 10, 3),
        "b2": (4, 3),
    }
    assert all(np.any(v != 0) for v in got.grads.values())
    report = compare_trajectories(ref, got)
    assert report.passed and report.first_gradient_step is None, report.summary()
    np.testing.assert_array_equal(got.fingerprint, ref.fingerprint)


def test_grads_is_a_flag_of_single_process_runs():
    x, t, w, schedule = book_run(max_epoch=1)
    net = adapters.build("numpy", w)
    with pytest.raises(TypeError, match="grads must be True or False"):
        net.train(x, t, schedule, OptimizerSpec("sgd", 1.0), grads="yes")
    with pytest.raises(ValueError, match="grads=True records the gradients of a single-process"):
        net.train(x, t, schedule, OptimizerSpec("sgd", 1.0), grads=True, data_parallel=2)
    assert net.train(x, t, schedule, OptimizerSpec("sgd", 1.0)).grads is None  # off by default
