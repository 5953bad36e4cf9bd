"""comparisons.parity.record: a model of your own recorded the way the adapters record
theirs (the same Trajectory, bit for bit for the book's net), and every bad input named."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import DivergenceError, OptimizerSpec
from adapters.precision import pinned_precision as adapters_pinned_precision
from comparisons.parity import (
    book_loss_gap,
    compare_trajectories,
    from_torch,
    pinned_precision,
    record,
    to_torch,
)
from scratch import TwoLayerNet
from scratch.optimizers import SGD
from tests.adapters.helpers import book_run
from tests.helpers import need

JAX_CAUSE = "JAX computes in float32 unless x64 is on: use pinned_precision"


def numpy_model(w, x, t):
    """The book's TwoLayerNet and SGD as a user would drive them: (step, weights, gap)."""
    net, sgd = TwoLayerNet(2, w["W1"].shape[1], 3, weights=w), SGD(lr=1.0)

    def step(rows):
        loss = net.forward(x[rows], t[rows])
        net.backward()
        sgd.update(net.params, net.grads)
        return loss

    def weights():
        return dict(zip(("W1", "b1", "W2", "b2"), net.params, strict=True))

    def gap(rows):
        return book_loss_gap(net.loss_layer.y, t[rows])

    return step, weights, gap


def test_record_is_the_adapters_trajectory_bit_for_bit():
    x, t, w, schedule = book_run(max_epoch=3)  # 30 steps
    step, weights, gap = numpy_model(w, x, t)
    got = record(step, weights, schedule, framework="numpy", record_every=4, loss_gap=gap)
    ran = adapters.build("numpy", w).train(
        x, t, schedule, OptimizerSpec("sgd", 1.0), record_every=4
    )
    assert isinstance(got, adapters.Trajectory)
    assert (got.framework, got.mode, got.dtype) == ("numpy", "record", "float64")
    assert got.record_steps.tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 30]
    np.testing.assert_array_equal(got.losses, ran.losses)
    for k in ran.weights:
        np.testing.assert_array_equal(got.weights[k], ran.weights[k])
    np.testing.assert_allclose(got.loss_gap, ran.loss_gap, rtol=1e-12)
    assert compare_trajectories(ran, got).passed


@pytest.mark.crossframework
def test_a_torch_model_of_your_own_agrees_with_the_torch_adapter():
    need("torch")
    import torch
    import torch.nn.functional as F
    from torch import nn

    x, t, w, schedule = book_run(max_epoch=3)
    with torch.random.fork_rng(devices=[]):  # Linear's initial draw leaves torch's RNG alone
        model = nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 3)).double()
    names = {"W1": "0.weight", "b1": "0.bias", "W2": "2.weight", "b2": "2.bias"}
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    xt, lt = torch.from_numpy(x), torch.from_numpy(t.argmax(axis=1))

    def step(rows):
        rows = torch.from_numpy(rows)
        loss = F.cross_entropy(model(xt[rows]), lt[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    with pinned_precision("torch"):
        to_torch(model, w, names=names)
        got = record(step, lambda: from_torch(model, names), schedule, framework="torch")
    ref_step, ref_weights, gap = numpy_model(w, x, t)
    ref = record(ref_step, ref_weights, schedule, framework="numpy", loss_gap=gap)
    report = compare_trajectories(ref, got)
    assert report.passed and report.steps == 30, report.summary()
    assert got.weights["W1"].shape == (31, 2, 10)  # your (in, out) layout, every step


def test_pinned_precision_is_the_adapters_one_and_names_a_bad_framework():
    assert pinned_precision is adapters_pinned_precision
    with pytest.raises(ValueError, match="framework"):
        with pinned_precision("tensorflow"):
            pass


def toy():
    """A one-weight model: step(rows) moves w by the mean of the rows."""
    state = {"w": np.zeros((2, 3))}

    def step(rows):
        state["w"] = state["w"] + rows.mean()
        return float(rows.mean())

    return step, lambda: {"w": state["w"]}, state


SCHEDULE = np.arange(12).reshape(4, 3)  # 4 steps of 3 rows


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"step": 3}, TypeError, "step must be callable"),
        ({"weights": {"w": np.zeros(2)}}, TypeError, "weights must be callable"),
        ({"loss_gap": 0.1}, TypeError, "loss_gap must be callable"),
        ({"schedule": np.arange(6)}, ValueError, "schedule must be a non-empty 2-D"),
        ({"schedule": np.zeros((0, 3), int)}, ValueError, "schedule must be a non-empty 2-D"),
        ({"schedule": np.ones((2, 3))}, TypeError, "schedule must hold integer"),
        ({"schedule": "rows"}, TypeError, "schedule must be a 2-D integer array"),
        ({"schedule": -SCHEDULE}, ValueError, "schedule must hold sample indices >= 0"),
        ({"framework": "tensorflow"}, ValueError, "framework must be one of"),
        ({"dtype": "float8"}, ValueError, "dtype must be one of"),
        ({"record_every": 0}, ValueError, "record_every must be a positive int"),
    ],
)
def test_record_names_a_bad_argument_before_the_first_step(kwargs, error, match):
    step, weights, state = toy()
    calls = []
    args = {"step": lambda rows: calls.append(rows) or step(rows), "weights": weights}
    args.update(schedule=SCHEDULE, framework="numpy")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        record(args.pop("step"), args.pop("weights"), args.pop("schedule"), **args)
    assert calls == []  # refused before any work


def test_step_gets_int64_rows_and_a_list_schedule_works():
    seen = []

    def step(rows):
        seen.append(rows)
        return 0.5

    traj = record(step, lambda: {"w": np.zeros(1)}, [[1, 2], [3, 4]], framework="numpy")
    assert all(r.dtype == np.int64 and r.shape == (2,) for r in seen)
    assert traj.losses.tolist() == [0.5, 0.5] and traj.record_steps.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("loss", "error", "match"),
    [(np.ones(2), TypeError, "scalar"), ("0.5", TypeError, "step must return")],
)
def test_a_step_that_returns_no_scalar_is_refused(loss, error, match):
    with pytest.raises(error, match=match):
        record(lambda rows: loss, lambda: {"w": np.zeros(1)}, SCHEDULE, framework="numpy")


def test_weights_whose_names_or_shapes_change_are_refused():
    step, _, state = toy()
    calls = iter(range(100))

    def renamed():
        return {"w" if next(calls) == 0 else "v": state["w"]}

    with pytest.raises(ValueError, match="weights"):
        record(step, renamed, SCHEDULE, framework="numpy")
    sizes = iter(range(1, 100))

    def growing():
        return {"w": np.zeros(next(sizes))}

    with pytest.raises(ValueError, match="weights"):
        record(step, growing, SCHEDULE, framework="numpy")


def test_a_non_finite_loss_or_weight_is_a_divergence_error_at_that_step():
    step, weights, state = toy()

    def blows_up(rows):
        loss = step(rows)
        return np.inf if rows[0] == 6 else loss  # step 2 (rows 6, 7, 8)

    with pytest.raises(DivergenceError) as info:
        record(blows_up, weights, SCHEDULE, framework="numpy")
    assert info.value.step == 2 and info.value.trajectory.steps == 2

    def nan_weights(rows):
        loss = step(rows)
        if rows[0] == 3:
            state["w"] = state["w"] * np.nan  # the weights after step 1
        return loss

    with pytest.raises(DivergenceError) as info:
        record(nan_weights, weights, SCHEDULE, framework="numpy")
    assert info.value.step == 2


def test_a_weight_of_another_dtype_is_refused_with_the_cause():
    step, _, state = toy()
    with pytest.raises(ValueError, match=r"weights\(\)\['w'\] is float32.*float64") as info:
        record(step, lambda: {"w": state["w"].astype(np.float32)}, SCHEDULE, framework="numpy")
    assert "NumPy" in str(info.value)
    with pytest.raises(ValueError, match="float32"):
        record(lambda rows: np.float32(0.5), lambda: {"w": state["w"]}, SCHEDULE, framework="numpy")


@pytest.mark.crossframework
def test_a_jax_twin_without_x64_is_refused_naming_the_trap():
    need("jax")
    adapters.net_class("jax")  # imports jax with NumPy's global generator kept
    import jax.numpy as jnp

    params = {"W1": jnp.zeros((2, 3))}  # x64 off: float32
    with pytest.raises(ValueError) as info:
        record(lambda rows: jnp.sum(params["W1"]), lambda: params, SCHEDULE, framework="jax")
    message = str(info.value)
    assert "weights()['W1'] is float32" in message and "float64" in message
    assert JAX_CAUSE in message
    with pinned_precision("jax"):
        params = {"W1": jnp.zeros((2, 3))}
        traj = record(lambda rows: jnp.sum(params["W1"]), lambda: params, SCHEDULE, framework="jax")
    assert traj.weights["W1"].dtype == np.float64 and traj.steps == 4
