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
