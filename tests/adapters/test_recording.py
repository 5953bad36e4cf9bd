"""adapters.recording.Recorder: records taken when the adapters take them, kept in the
framework's arrays and returned as NumPy; bad weights and losses refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from adapters import DivergenceError
from adapters.recording import Recorder
from adapters.trajectory import record_steps
from tests.helpers import need


def run(make, steps: int, record_every: int, **kwargs):
    """A toy run: w <- w - 0.1 * (w - i) at step i, in the framework `make` builds
    arrays of; returns the Recorder's result and the expected NumPy result."""
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # (2, 3): non-square
    b = np.zeros(3)
    state = {"W": make(w), "b": make(b)}
    expected_losses, expected = [], [{"W": w.copy(), "b": b.copy()}]
    recorder = Recorder(steps, record_every, **kwargs)
    recorder.start(dict(state))
    for i in range(steps):
        state = {"W": state["W"] - 0.1 * (state["W"] - i), "b": state["b"] + i}
        w, b = w - 0.1 * (w - i), b + i
        expected_losses.append(float(w.sum()))
        expected.append({"W": w.copy(), "b": b.copy()})
        recorder.step(state["W"].sum(), lambda state=state: dict(state))
    marks = record_steps(steps, min(record_every, steps))
    want = {k: np.stack([expected[m][k] for m in marks]) for k in ("W", "b")}
    return recorder.result(), (np.array(expected_losses), want)


def makers():
    out = [("numpy", np.array)]
    try:
        import torch

        out.append(("torch", lambda a: torch.tensor(a, requires_grad=False)))
    except ImportError:
        pass
    try:
        from adapters.precision import import_jax

        jax = import_jax()
        out.append(("jax", lambda a: jax.numpy.asarray(a)))
    except ImportError:
        pass
    return out


@pytest.mark.parametrize("steps, record_every", [(5, 1), (7, 3), (3, 10), (130, 1)])
@pytest.mark.parametrize("kind", ["numpy", "torch", "jax"])
def test_records_are_taken_at_record_steps_and_come_back_as_numpy(kind, steps, record_every):
    need(kind)
    make = dict(makers())[kind]
    if kind == "jax":
        from adapters.precision import pinned_precision

        with pinned_precision("jax", "float64"):
            (losses, weights), (want_losses, want) = run(make, steps, record_every)
    else:
        (losses, weights), (want_losses, want) = run(make, steps, record_every)
    assert losses.dtype == np.float64 and losses.shape == (steps,)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-15)  # torch, JAX sum in their own order
    for k in want:
        assert type(weights[k]) is np.ndarray and weights[k].shape == want[k].shape
        np.testing.assert_allclose(weights[k], want[k], rtol=1e-15)


def test_a_torch_weight_that_tracks_gradients_is_detached_and_copied():
    need("torch")
    import torch

    w = torch.ones(2, 3, requires_grad=True)
    recorder = Recorder(2, 1)
    recorder.start({"W": w})
    for _ in range(2):
        loss = (w * w).sum()
        loss.backward()
        with torch.no_grad():
            w -= 0.5 * w.grad
        w.grad = None
        recorder.step(loss, lambda w=w: {"W": w})
    losses, weights = recorder.result()
    np.testing.assert_array_equal(losses, [6.0, 0.0])
    np.testing.assert_array_equal(weights["W"][:, 0, 0], [1.0, 0.0, 0.0])


def test_numpy_records_are_copies_not_views():
    w = np.ones(3)
    recorder = Recorder(2, 1)
    recorder.start({"w": w})
    for _ in range(2):
        w *= 2  # in place, as the book's optimizers update
        recorder.step(1.0, lambda w=w: {"w": w})
    np.testing.assert_array_equal(recorder.result()[1]["w"][:, 0], [1.0, 2.0, 4.0])


@pytest.mark.parametrize(
    "later, message",
    [
        ({"w": np.ones(4)}, r"weights\(\)\['w'\] must keep its shape"),
        ({"w": np.ones(3, np.float32)}, r"weights\(\)\['w'\] must keep its shape and dtype"),
        ({"v": np.ones(3)}, "same names"),
        ({"w": [1.0, 1.0, 1.0]}, r"weights\(\)\['w'\] changed from a NumPy array to list"),
    ],
)
def test_weights_that_change_names_shapes_or_dtypes_are_refused_by_name(later, message):
    recorder = Recorder(3, 1)
    recorder.start({"w": np.ones(3)})
    with pytest.raises((ValueError, TypeError), match=message):
        recorder.step(1.0, lambda: later)


@pytest.mark.parametrize(
    "loss, message",
    [
        (np.ones(2), "scalar loss, got shape"),
        ("1.0", "loss as a number or a 0-d array, got str"),
        (None, "got NoneType"),
        (True, "got bool"),
    ],
)
def test_a_step_that_returns_no_scalar_loss_is_refused_by_name(loss, message):
    recorder = Recorder(3, 1)
    recorder.start({"w": np.ones(3)})
    with pytest.raises(TypeError, match="step must return .*" + message):
        recorder.step(loss, lambda: {"w": np.ones(3)})


def test_a_non_finite_run_is_a_divergence_error_at_its_step():
    recorder = Recorder(4, 2)
    recorder.start({"w": np.ones(2)})
    for loss in (1.0, 0.5, np.inf, 0.1):
        recorder.step(loss, lambda: {"w": np.ones(2)})
    with pytest.raises(DivergenceError, match="at step 2") as caught:
        recorder.trajectory(framework="numpy", mode="eager", dtype="float64", seconds=0.0)
    assert caught.value.trajectory.steps == 2


def test_an_unfinished_run_has_no_result():
    recorder = Recorder(3, 1)
    recorder.start({"w": np.ones(2)})
    recorder.step(1.0, lambda: {"w": np.ones(2)})
    with pytest.raises(RuntimeError, match="1 of 3 steps"):
        recorder.result()


# --------------------------------------------------------------------------- JAX records
# JAX records are kept as the arrays they are and stacked on the device `CHUNK` at a time
# (adapters/recording.py); these runs are long enough to fill chunks and leave a partial one.


def jax_run(steps, record_every, update, *, donate=False, weights=None):
    """A jitted toy run, w <- update(w, i); returns the recorder's result and the same
    run's records taken with np.array at each step (the truth)."""
    from adapters.precision import import_jax, pinned_precision

    jax = import_jax()
    jnp = jax.numpy
    with pinned_precision("jax", "float64"):
        step = jax.jit(update, donate_argnums=(0,) if donate else ())
        state = {"W": jnp.asarray(np.arange(6.0).reshape(2, 3)), "b": jnp.zeros(3)}
        truth = [{k: np.array(v) for k, v in state.items()}]
        recorder = Recorder(steps, record_every)
        recorder.start(state)
        for i in range(steps):
            state = step(state, i)
            truth.append({k: np.array(v) for k, v in state.items()})
            recorder.step(state["W"][0, 0], weights or (lambda state=state: state))
        marks = record_steps(steps, min(record_every, steps))
        want = {k: np.stack([truth[m][k] for m in marks]) for k in ("W", "b")}
        return recorder.result(), want, [t["W"][0, 0] for t in truth[1:]]


def toy_update(w, i):
    return {"W": w["W"] * 0.5 + i, "b": w["b"] - i}


@pytest.mark.parametrize("donate", [False, True])
def test_jax_records_past_several_chunks_come_back_exactly(donate, jax_losses):
    """300 steps: several full chunks of records and of losses, and a partial one. A step
    that donates its parameters frees the arrays the recorder was handed: it notices after
    the first step and converts each record as it is taken instead."""
    need("jax")
    from adapters.recording import CHUNK

    steps = 2 * CHUNK["losses"] + 44
    (losses, weights), want, want_losses = jax_run(steps, 1, toy_update, donate=donate)
    assert steps > 2 * CHUNK["records"] and steps % CHUNK["records"]  # full and partial
    np.testing.assert_array_equal(losses, want_losses)
    for k in want:
        assert weights[k].dtype == np.float64
        np.testing.assert_array_equal(weights[k], want[k])


def test_a_jax_weight_that_changes_dtype_in_a_chunk_is_named_with_its_step():
    need("jax")
    import jax.numpy as jnp

    def update(w, i):
        return {"W": w["W"] + 1.0, "b": w["b"]}

    def weights_after(n):
        state = {}

        def weights():
            state["calls"] = state.get("calls", 0) + 1
            w = {"W": jnp.ones((2, 3)), "b": jnp.zeros(3)}
            if state["calls"] == n:
                w["b"] = jnp.zeros(3, dtype=jnp.float32)
            return w

        return weights

    with pytest.raises(
        ValueError, match=r"weights\(\)\['b'\] must keep its shape and dtype.*after 7 steps"
    ):
        jax_run(100, 1, update, weights=weights_after(7))


@pytest.fixture(params=["lagged", "stacked"])
def jax_losses(request, monkeypatch):
    """Both ways JAX losses are kept: converted a step late (the CPU's way) and stacked on
    the device in chunks (an accelerator's way, exercised here on the CPU)."""
    from adapters import recording

    if request.param == "stacked":
        monkeypatch.setattr(recording, "LAGGED", ())
    return request.param


@pytest.mark.parametrize("first_loss_shape", [(), (1,)])
def test_a_jax_loss_that_is_not_a_scalar_is_named(first_loss_shape, jax_losses):
    """Found when its chunk is stacked (mixed shapes) or when the losses come to NumPy
    (every loss (1,)): during the run or at its end, never after a result."""
    need("jax")
    from adapters.precision import import_jax, pinned_precision

    jnp = import_jax().numpy
    with pinned_precision("jax", "float64"):
        recorder = Recorder(200, 100)
        recorder.start({"w": jnp.ones(2)})
        with pytest.raises(TypeError, match=r"step must return a scalar loss, got shape \(1,\)"):
            recorder.step(jnp.zeros(first_loss_shape), lambda: {"w": jnp.ones(2)})
            for _ in range(199):
                recorder.step(jnp.ones((1,)), lambda: {"w": jnp.ones(2)})
            recorder.result()


def test_float64_jax_records_stay_float64_when_the_caller_turned_x64_off(jax_losses):
    """The device stacking runs under x64 exactly when a record is 64-bit, whatever the
    caller's switch is when the records come to NumPy."""
    need("jax")
    from adapters.precision import import_jax, pinned_precision

    jnp = import_jax().numpy
    with pinned_precision("jax", "float64"):
        w = jnp.full(3, 1.0 + 2.0**-40)  # not a float32 value
        recorder = Recorder(40, 1)
        recorder.start({"w": w})
        for i in range(40):
            recorder.step(jnp.sum(w), lambda i=i: {"w": w + i})
    losses, weights = recorder.result()  # outside: x64 off again
    assert weights["w"].dtype == np.float64 and losses.dtype == np.float64
    assert weights["w"][1, 0] == 1.0 + 2.0**-40


def test_two_threads_record_jax_runs_of_two_dtypes_at_once():
    """A float64 run and a float32 run recorded at the same time in two threads: the
    device stacking is shared and each thread's x64 switch is its own, so each run comes
    back exactly as recorded one at a time."""
    need("jax")
    import threading

    from adapters.precision import import_jax, pinned_precision

    jax = import_jax()
    jnp = jax.numpy
    steps = 150  # a full chunk of losses and several of records, and partial ones
    results, errors = {}, []
    start = threading.Barrier(2)

    def run(dtype: str) -> None:
        try:
            with pinned_precision("jax", dtype):
                update = jax.jit(lambda w, i: {"w": w["w"] * 0.75 + i / 3})
                state = {"w": jnp.asarray(np.linspace(0.1, 1.0, 6), dtype=dtype)}
                truth = [np.array(state["w"])]
                recorder = Recorder(steps, 1)
                recorder.start(state)
                start.wait()
                for i in range(steps):
                    state = update(state, i)
                    truth.append(np.array(state["w"]))
                    recorder.step(state["w"][0], lambda state=state: state)
                results[dtype] = (recorder.result(), np.stack(truth))
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(d,)) for d in ("float64", "float32")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for dtype, ((losses, weights), truth) in results.items():
        assert weights["w"].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(weights["w"], truth)
        np.testing.assert_array_equal(losses, truth[1:, 0].astype(np.float64))
    assert set(results) == {"float64", "float32"}


def test_the_same_torch_tensors_each_record_follow_in_place_updates_and_data_swaps():
    """weights() returning the same tensor objects every time (from_torch's views, made
    once): the recorder reuses their NumPy views while their memory stays put, and takes
    a new one when `.data` is swapped (new memory, even a new shape is refused)."""
    need("torch")
    import torch

    w = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    view = w.detach().T  # (3, 2), as from_torch gives an nn.Linear weight
    recorder = Recorder(4, 1)
    recorder.start({"W": view})
    with torch.no_grad():
        w += 1.0  # in place: the same memory
        recorder.step(1.0, lambda: {"W": view})
        w.data = torch.full((2, 3), 5.0, dtype=torch.float64)  # new memory under w ...
        view = w.detach().T  # ... and the user's new view of it
        recorder.step(1.0, lambda: {"W": view})
        w.data = torch.full((2, 3), 7.0, dtype=torch.float64)  # the old view is stale now
        recorder.step(1.0, lambda: {"W": view})
        view.data = torch.full((3, 2), 9.0, dtype=torch.float64)  # the same object, moved
        recorder.step(1.0, lambda: {"W": view})
    _, weights = recorder.result()
    assert weights["W"].shape == (5, 3, 2)
    np.testing.assert_array_equal(weights["W"][:, 0, 0], [0.0, 1.0, 5.0, 5.0, 9.0])
    recorder = Recorder(1, 1)
    recorder.start({"W": view})
    view.data = torch.zeros(2, 3, dtype=torch.float64)  # same object, other shape
    with pytest.raises(ValueError, match=r"weights\(\)\['W'\] must keep its shape"):
        recorder.step(1.0, lambda: {"W": view})


def test_run_is_step_after_step_even_when_the_loss_type_changes_midway():
    """Recorder.run (the loop record() and Net.train use) records what calling step()
    for each step records, losses of changing types included."""
    losses = [1.5, np.float64(2.5), np.array(3.5), 4.5, np.float32(5.5), np.array(6.5)]

    def weights_at(i):
        return {"w": np.full(2, float(i))}

    one_by_one = Recorder(len(losses), 2)
    one_by_one.start(weights_at(0))
    for i, loss in enumerate(losses, start=1):
        one_by_one.step(loss, lambda i=i: weights_at(i))
    state = {"i": 0}

    def step(loss):
        state["i"] += 1
        return loss

    looped = Recorder(len(losses), 2)
    looped.start(weights_at(0))
    looped.run(step, lambda: weights_at(state["i"]), losses)
    (a_losses, a_weights), (b_losses, b_weights) = one_by_one.result(), looped.result()
    np.testing.assert_array_equal(a_losses, [1.5, 2.5, 3.5, 4.5, 5.5, 6.5])
    np.testing.assert_array_equal(b_losses, a_losses)
    np.testing.assert_array_equal(b_weights["w"], a_weights["w"])
    assert b_weights["w"][:, 0].tolist() == [0.0, 2.0, 4.0, 6.0]


def test_a_mapping_of_numpy_and_jax_weights_is_recorded_by_each_ones_rule():
    """NumPy weights copied as taken, JAX ones stacked on the device by chunks, in one
    mapping, in the mapping's order."""
    need("jax")
    from adapters.precision import import_jax, pinned_precision

    jnp = import_jax().numpy
    steps = 70  # two full chunks of JAX records and a partial one
    with pinned_precision("jax", "float64"):
        w, b = np.zeros(2), jnp.zeros(3)
        recorder = Recorder(steps, 1)
        recorder.start({"b": b, "w": w})
        for i in range(1, steps + 1):
            w += 1.0  # in place
            b = b + 2.0
            recorder.step(float(i), lambda b=b, w=w: {"b": b, "w": w})
        losses, weights = recorder.result()
    assert list(weights) == ["b", "w"]
    np.testing.assert_array_equal(weights["w"][:, 0], np.arange(steps + 1.0))
    np.testing.assert_array_equal(weights["b"][:, 0], 2.0 * np.arange(steps + 1.0))
    np.testing.assert_array_equal(losses, np.arange(1.0, steps + 1.0))
