"""Divergence: a run that blows up stops with DivergenceError in every framework and mode,
at the same step, naming the step and the framework; the steps before it are kept, and
the net is left at the last finite weights recorded.

What it takes to blow this net up: its gradients are bounded (the sigmoid and the softmax
saturate), so with SGD the weights grow only linearly in lr. An lr of 1e4 (or 1e100)
gives absurd but finite losses and weights in every framework, which is not divergence;
an lr near the float's largest value (1e308 in float64, 1e38 in float32) makes them
overflow. The book's loss, -log(p + 1e-7), stays finite (at most 16.1 per sample) when a
label's score overflows to -inf, where torch's and optax's loss is inf; so divergence is
judged on the loss, on the epsilon-free loss (losses + loss_gap) and on the recorded
weights (`adapters.trajectory.divergence`).
"""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import DivergenceError, OptimizerSpec, Trajectory
from adapters.trajectory import divergence
from tests.adapters.problems import blowup_problem, last_update_problem
from tests.helpers import need

RUNS = [("numpy", None), ("torch", None), ("jax", "scan"), ("jax", "step")]
LR_AT_THE_EDGE = {"float64": 1e308, "float32": 1e38}


# --------------------------------------------------------------------------- what counts


def synthetic(losses, records, gap=None, record_steps=None) -> Trajectory:
    losses = np.asarray(losses, dtype=np.float64)
    w = np.asarray(records, dtype=np.float64)  # (records,)
    steps = record_steps if record_steps is not None else np.arange(len(w))
    return Trajectory(
        losses=losses,
        record_steps=np.asarray(steps),
        weights={"W1": w[:, None, None] * np.ones((1, 2, 3)), "b1": np.zeros((len(w), 3))},
        framework="numpy",
        mode="eager",
        dtype="float64",
        seconds=0.0,
        loss_gap=None if gap is None else np.asarray(gap, dtype=np.float64),
    )


@pytest.mark.parametrize(
    "losses, records, gap, step, words",
    [
        ([1.0, 2.0, 3.0], [0, 1, 2, 3], None, None, None),
        ([1.0, np.nan, 3.0], [0, 1, 2, 3], None, 1, "loss became nan"),
        ([1.0, 2.0, np.inf], [0, 1, 2, 3], None, 2, "loss became inf"),
        ([1.0, 16.1, 16.1], [0, 1, 2, 3], [0.0, np.inf, 0.0], 1, "epsilon-free"),
        ([1.0, 2.0, 3.0], [0, 1, np.inf, np.nan], None, 2, "weights after 2 steps"),
        ([1.0, 2.0, 3.0], [0, 1, 2, np.inf], None, 3, "weights after 3 steps"),  # last update
        ([1.0, 2.0, np.nan], [0, 1, np.inf, 3], None, 2, "loss"),  # a tie: the loss is named
    ],
)
def test_divergence_takes_the_first_non_finite_loss_exact_loss_or_weights(
    losses, records, gap, step, words
):
    found = divergence(synthetic(losses, records, gap))
    if step is None:
        assert found is None
    else:
        assert found[0] == step and words in found[1]


def test_divergence_error_keeps_only_finite_records_before_the_step():
    traj = synthetic([1.0, 2.0, 3.0, 4.0], [0, 2, np.inf], record_steps=[0, 2, 4])
    error = DivergenceError("jax", 4, traj, "the weights after 4 steps are not finite")
    kept = error.trajectory
    assert kept.steps == 4 and kept.diverged_at == 4
    np.testing.assert_array_equal(kept.record_steps, [0, 2])
    assert all(np.all(np.isfinite(v)) for v in kept.weights.values())
    assert str(error).startswith("jax: training diverged at step 4 (the weights after 4 steps")
    assert "recorded after 2 steps" in str(error)


# --------------------------------------------------------------------------- every framework


def train_until_divergence(framework, mode, dtype, problem, steps=None, record_every=1):
    need(framework)
    if problem == "blowup":
        w, x, t, schedule = blowup_problem()
        lr = LR_AT_THE_EDGE[dtype]
    else:
        w, x, t = last_update_problem()
        schedule = np.tile(np.arange(4), (steps, 1))  # (steps, 4)
        lr = {"float64": 1e308, "float32": 3e38}[dtype]
    net = adapters.build(framework, w, dtype=dtype)
    with pytest.raises(DivergenceError) as info:
        net.train(x, t, schedule, OptimizerSpec("sgd", lr), mode=mode, record_every=record_every)
    error = info.value
    kept = error.trajectory
    # the message names framework and step; the steps before are kept; the net is left
    # at the last finite record, which the kept trajectory ends with
    assert str(error).startswith(f"{framework}: training diverged at step {error.step} (")
    assert error.framework == framework and kept.framework == framework
    assert kept.steps == error.step == kept.diverged_at
    assert np.all(np.isfinite(kept.losses))
    assert kept.record_steps.size >= 1 and kept.record_steps[-1] <= error.step
    for name, held in net.weights().items():
        assert np.all(np.isfinite(kept.weights[name]))
        np.testing.assert_array_equal(held, kept.weights[name][-1])
    return error


@pytest.mark.crossframework
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_and_jax_stop_at_the_same_step_when_the_scores_overflow(dtype):
    """Recording every 3 steps: the net falls back to the last record before step 2, the
    initial weights."""
    need("torch", "jax")
    errors = {
        run: train_until_divergence(*run, dtype, "blowup", record_every=3) for run in RUNS[1:]
    }
    assert {e.step for e in errors.values()} == {2}, errors
    for error in errors.values():
        np.testing.assert_array_equal(error.trajectory.record_steps, [0])  # next record: 3
        assert "initial weights" in str(error)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reference_stops_with_torch_and_jax_when_the_scores_overflow(dtype):
    """At step 2, as torch and jax do (above) in float64; in float32 at most one step later,
    its own float32 rounding keeping a score below the overflow one step longer. NumPy
    only, so that this known failure is not a skipped cross-framework test."""
    step = train_until_divergence("numpy", None, dtype, "blowup", record_every=3).step
    assert step == 2 if dtype == "float64" else step in (2, 3)


@pytest.mark.crossframework
@pytest.mark.parametrize(
    "dtype, steps",
    [("float64", 1), ("float32", 1), ("float64", 3)],
    ids=["last-update-float64", "last-update-float32", "then-nan-float64"],
)
def test_every_framework_stops_at_the_same_step_when_an_update_overflows(dtype, steps):
    """One step: every loss is finite and only the recorded weights betray the overflow
    (without the weights check the run would return inf weights silently). Three steps:
    the next loss is NaN everywhere, and the reference raises no NumPy warning."""
    need("torch", "jax")
    found = {run: train_until_divergence(*run, dtype, "last_update", steps=steps) for run in RUNS}
    assert {e.step for e in found.values()} == {1}, found
    for error in found.values():
        reason = "weights after 1 step are not finite" if steps == 1 else "loss became nan"
        assert reason in str(error) and "initial weights" in str(error)


@pytest.mark.crossframework
@pytest.mark.parametrize("framework, mode", RUNS[1:3], ids=["torch", "jax-scan"])
def test_an_absurd_but_finite_run_is_not_divergence(framework, mode):
    need(framework)
    w, x, t, schedule = blowup_problem()
    net = adapters.build(framework, w)
    traj = net.train(x, t, schedule, OptimizerSpec("sgd", 1e4), mode=mode)
    assert traj.diverged_at is None and traj.losses.max() > 1e3
