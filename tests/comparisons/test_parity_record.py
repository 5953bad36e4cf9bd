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


# --------------------------------------------------------------------------- issue 22


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"step": None}, TypeError, "step must be callable, got NoneType"),
        ({"weights": None}, TypeError, "weights must be callable, got NoneType"),
        ({"grads": {"w": 1}}, TypeError, "grads must be callable or None"),
        ({"label": ""}, TypeError, "label must be a non-empty string"),
        ({"schedule": [[1, 2], [3]]}, TypeError, "schedule must be a numeric array"),
        ({"schedule": np.ma.masked_array(SCHEDULE)}, TypeError, "schedule is a masked array"),
        ({"schedule": SCHEDULE.astype(object)}, TypeError, "schedule must hold real numbers"),
        (
            {"schedule": np.full((2, 3), 2**63, np.uint64)},
            ValueError,
            "schedule holds 9223372036854775808, too large for an int64",
        ),
        ({"weights": lambda: {"w": np.zeros(2, np.int64)}}, TypeError, r"\['w'\] is int64"),
        ({"weights": lambda: {"w": np.zeros(2, complex)}}, TypeError, r"is complex128: complex"),
        ({"weights": lambda: {"w": np.zeros(2, object)}}, TypeError, r"\['w'\] is object"),
        (
            {"weights": lambda: {"w": np.ma.masked_array(np.zeros(2), [1, 0])}},
            TypeError,
            r"weights\(\)\['w'\] is a masked array",
        ),
    ],
)
def test_record_names_what_the_porting_trial_found_before_the_first_step(kwargs, error, match):
    test_record_names_a_bad_argument_before_the_first_step(kwargs, error, match)


@pytest.mark.parametrize(
    ("gap", "match"),
    [(None, "got NoneType"), (np.ones(2), r"got ndarray of shape \(2,\)"), ("0.1", "got str")],
)
def test_a_loss_gap_that_returns_no_number_is_named(gap, match):
    step, weights, _ = toy()
    with pytest.raises(TypeError, match=f"loss_gap must return the gap .*{match}"):
        record(step, weights, SCHEDULE, framework="numpy", loss_gap=lambda rows: gap)


def test_grads_are_recorded_with_every_weight_record_but_the_first():
    state = {"w": np.zeros((2, 3)), "g": np.zeros((2, 3))}

    def step(rows):
        state["g"] = np.full((2, 3), float(rows[0]))  # the step's "gradient"
        state["w"] = state["w"] - state["g"]
        return 0.5

    traj = record(
        step,
        lambda: {"w": state["w"]},
        np.arange(20).reshape(10, 2),
        framework="numpy",
        record_every=4,
        grads=lambda: {"w": state["g"]},
    )
    assert traj.record_steps.tolist() == [0, 4, 8, 10]
    assert traj.grad_steps.tolist() == [3, 7, 9]  # the step just taken at each record
    assert traj.grads["w"].shape == (3, 2, 3)
    assert traj.grads["w"][:, 0, 0].tolist() == [6.0, 14.0, 18.0]  # rows[0] of steps 3, 7, 9


def test_grads_of_another_dtype_or_whose_names_change_are_refused():
    step, weights, state = toy()
    with pytest.raises(ValueError, match=r"grads\(\)\['w'\] is float32, but dtype is float64"):
        record(step, weights, SCHEDULE, framework="numpy", grads=lambda: {"w": np.zeros(2, "f")})
    calls = iter(range(100))

    def renamed():
        return {"w" if next(calls) == 0 else "v": state["w"]}

    with pytest.raises(ValueError, match=r"grads\(\) must return the same names"):
        record(step, weights, SCHEDULE, framework="numpy", grads=renamed)


def test_a_non_finite_loss_stops_record_at_that_step_holding_the_run_so_far():
    state = {"w": np.zeros(3)}
    calls = []

    def step(rows):
        calls.append(rows)
        state["w"] = state["w"] + 1.0
        return np.nan if len(calls) == 6 else 1.0 / len(calls)  # step 5

    schedule = np.zeros((1000, 2), dtype=np.int64)
    with pytest.raises(DivergenceError) as info:
        record(step, lambda: state, schedule, framework="numpy", label="my model")
    error = info.value
    assert len(calls) == 6  # stopped at the step, not 995 steps later
    assert error.step == 5 and error.trajectory.steps == 5
    assert error.trajectory.record_steps.tolist() == [0, 1, 2, 3, 4, 5]
    assert error.trajectory.fingerprint.shape == (5,)
    message = str(error)
    assert message.startswith("my model: training diverged at step 5 (loss became nan)")
    assert "the net holds" not in message  # record does not own the model's weights
    assert "its last record is the weights recorded after 5 steps" in message


@pytest.mark.crossframework
def test_a_jax_loss_on_the_cpu_stops_record_one_step_late_at_most():
    need("jax")
    jax = adapters.net_class("jax") and __import__("jax")
    jnp = jax.numpy
    calls = []

    def step(rows):
        calls.append(rows)
        return jnp.asarray(jnp.nan if len(calls) == 6 else 1.0)

    with pinned_precision("jax"), pytest.raises(DivergenceError) as info:
        record(step, lambda: {"w": jnp.zeros(2)}, np.zeros((1000, 2), int), framework="jax")
    assert info.value.step == 5 and len(calls) <= 7
    with pinned_precision("jax"), pytest.raises(DivergenceError) as info:  # the first loss
        record(
            lambda rows: jnp.asarray(jnp.nan),
            lambda: {"w": jnp.zeros(2)},
            SCHEDULE,
            framework="jax",
        )
    assert info.value.step == 0 and info.value.trajectory.weights["w"].shape == (1, 2)


@pytest.mark.crossframework
def test_a_functional_jax_step_needs_no_global_and_agrees_with_the_reference():
    """`state=`: step(state, rows) -> (state, loss); weights(state), grads(state). The
    JAX twin of the book's net keeps its params and the step's gradients in the state."""
    need("jax")
    adapters.net_class("jax")  # imports jax with NumPy's global generator kept
    import jax
    import jax.numpy as jnp
    import optax

    x, t, w, schedule = book_run(max_epoch=2)
    labels = t.argmax(axis=1)

    def loss_fn(params, xb, tb):
        h = jax.nn.sigmoid(xb @ params["W1"] + params["b1"])
        scores = h @ params["W2"] + params["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(scores, tb).mean()

    @jax.jit
    def update(state, xj, lj, rows):
        params, _ = state
        loss, grads = jax.value_and_grad(loss_fn)(params, xj[rows], lj[rows])
        params = jax.tree.map(lambda p, g: p - 1.0 * g, params, grads)
        return (params, grads), loss

    with pinned_precision("jax"):
        xj, lj = jnp.asarray(x), jnp.asarray(labels)
        params = jax.tree.map(jnp.asarray, w)
        got = record(
            lambda state, rows: update(state, xj, lj, rows),
            lambda state: state[0],
            schedule,
            framework="jax",
            grads=lambda state: state[1],
            state=(params, jax.tree.map(jnp.zeros_like, params)),
            label="jax (functional)",
        )
    net, sgd = TwoLayerNet(2, 10, 3, weights=w), SGD(lr=1.0)

    def ref_step(rows):
        loss = net.forward(x[rows], t[rows])
        net.backward()
        sgd.update(net.params, net.grads)
        return loss

    names = ("W1", "b1", "W2", "b2")
    ref = record(
        ref_step,
        lambda: dict(zip(names, net.params, strict=True)),
        schedule,
        framework="numpy",
        loss_gap=lambda rows: book_loss_gap(net.loss_layer.y, labels[rows]),
        grads=lambda: dict(zip(names, net.grads, strict=True)),
    )
    report = compare_trajectories(ref, got)
    assert report.passed and report.steps == 20 and got.grads["W1"].shape == (20, 2, 10)
    assert report.b_name == "jax (functional)"
    np.testing.assert_array_equal(np.asarray(got.state[0]["W2"]), got.weights["W2"][-1])


def test_with_state_a_step_that_returns_no_pair_is_named():
    with pytest.raises(TypeError, match=r"with state=, step must return \(state, loss\)"):
        record(
            lambda s, rows: 0.5, lambda s: {"w": s}, SCHEDULE, framework="numpy", state=np.ones(2)
        )


def test_a_complex_loss_is_refused_by_name():
    with pytest.raises(TypeError, match="step must return a real loss"):
        record(
            lambda rows: np.complex128(1), lambda: {"w": np.zeros(1)}, SCHEDULE, framework="numpy"
        )


def test_complex_records_are_refused_by_compare_trajectories():
    from tests.comparisons.parity_helpers import trajectory

    a, b = trajectory("numpy"), trajectory("torch")
    b.weights["W1"] = b.weights["W1"] + 1e-3j  # once cast to float64, it would "agree"
    with pytest.raises(TypeError, match="weight W1 must hold real numbers, got dtype complex128"):
        compare_trajectories(a, b)


def test_the_summary_counts_updates_in_english_and_says_epsilon_free_only_with_a_gap():
    step, weights, state = toy()
    ref = record(step, weights, SCHEDULE, framework="numpy")
    step, weights, state = toy()

    def off(rows):
        loss = step(rows)
        return loss + 1.0 if rows[0] == 3 else loss  # step 1's loss

    got = record(off, weights, SCHEDULE, framework="numpy", label="mine")
    summary = compare_trajectories(ref, got).summary()
    assert "first diverge after 1 update in the loss of step 1: " in summary
    assert "epsilon-free" not in summary and "1 updates" not in summary


def test_no_module_of_the_parity_package_is_shadowed_by_a_name_it_exports():
    """`import comparisons.parity.X as m` must give the module X: a function of the same
    name exported by the package would be returned instead."""
    import importlib
    import pkgutil
    import types

    import comparisons.parity as package

    names = [m.name for m in pkgutil.iter_modules(package.__path__)]
    assert {"recorded", "taps", "comparison", "hints", "trajectories"} <= set(names)
    for name in names:
        module = importlib.import_module(f"comparisons.parity.{name}")
        assert isinstance(getattr(package, name), types.ModuleType), name
        assert getattr(package, name) is module


@pytest.mark.crossframework
def test_losses_kept_on_a_device_stop_record_at_the_right_step_a_chunk_or_two_late(monkeypatch):
    """A JAX loss on an accelerator is stacked on the device a chunk at a time, not
    converted every step; here the CPU stands in for one (no platform is converted a step
    late). The run stops once the chunk holding the NaN is converted, and the error names
    the NaN's own step."""
    need("jax")
    jax = adapters.net_class("jax") and __import__("jax")
    from adapters import recording

    monkeypatch.setattr(recording, "LAGGED", ())
    calls = []

    def step(rows):
        calls.append(rows)
        return jax.numpy.asarray(jax.numpy.nan if len(calls) == 201 else 1.0)  # step 200

    chunk = recording.CHUNK["losses"]
    with pinned_precision("jax"), pytest.raises(DivergenceError) as info:
        record(step, lambda: {"w": jax.numpy.zeros(2)}, np.zeros((2000, 2), int), framework="jax")
    assert info.value.step == 200 and info.value.trajectory.steps == 200
    assert 200 < len(calls) <= 200 + 2 * chunk  # not the 2000 steps
