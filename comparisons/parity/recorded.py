"""`record`: any model's training run, recorded the way the adapters record theirs.

    ref = record(numpy_step, numpy_weights, schedule, framework="numpy")
    got = record(torch_step, lambda: from_torch(model, NAMES), schedule, framework="torch")
    print(compare_trajectories(ref, got).summary())

`step(rows)` trains on one row of the schedule (an int64 NumPy array of sample indices:
index your own framework's copy of the data with it, so nothing is converted per step)
and returns the step's loss: a Python float, a 0-d NumPy array, a torch scalar tensor or
a JAX scalar. `weights()` returns a mapping of names to NumPy arrays, torch tensors (any
device, gradient-tracking or not) or JAX arrays, in the layout you want compared. They
are recorded before the first step, every `record_every` steps and after the last, by
the recorder the adapters' own training loops use (adapters/recording.py): NumPy and
torch weights are copied into preallocated buffers as they are taken, JAX arrays are
kept as they are and stacked on the device a chunk at a time (the first run in a process
compiles that stacking once per set of weight shapes), and everything becomes NumPy at
the end. `python -m comparisons bench --record` measures what this adds to a loop.

`grads()`, when given, returns the gradients of the step just taken, by name, and they
are recorded with the weights (not with record 0: no step has been taken then), so a
backward pass that differs is found at its gradient, a step before the weights show it.
`label` names the run in every report line. With `state=`, the step is a pure function,
`step(state, rows) -> (state, loss)`, and `weights(state)` / `grads(state)` read the
state: a JAX user keeps no global (the final state is the trajectory's `state`).

The result is the `adapters.Trajectory` the adapters return, so `compare_trajectories`,
the plots and the report take it as it is; it keeps a fingerprint of the schedule, so two
runs fed different batches are told apart. Run each framework under
`pinned_precision(framework, dtype)`: JAX computes in float32 unless x64 is on, and
TF32 rounds float32 matmuls on recent GPUs.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from adapters import checks
from adapters.precision import FRAMEWORKS
from adapters.recording import Recorder
from adapters.trajectory import Trajectory, schedule_fingerprint
from comparisons.parity.arrays import dtype_name, likely_cause

MODE = "record"  # a Trajectory's mode: recorded by `record`, not by an adapter


def record(
    step: Callable[..., Any],
    weights: Callable[..., Mapping[str, Any]],
    schedule: Any,
    *,
    framework: str,
    dtype: str = "float64",
    record_every: int = 1,
    loss_gap: Callable[[np.ndarray], float] | None = None,
    grads: Callable[..., Mapping[str, Any]] | None = None,
    label: str | None = None,
    state: Any = None,
) -> Trajectory:
    """Train with `step` over every row of `schedule`, recording losses and `weights()`.

    `framework` ("numpy", "torch" or "jax") and `dtype` label the run (compare_trajectories
    judges it by its dtype's tolerances); every weight, gradient and loss must be of
    `dtype`. `loss_gap(rows)`, when given, is called after each step and returns how far
    that step's loss sits below the epsilon-free cross-entropy: for the book's
    SoftmaxWithLoss, `book_loss_gap(loss_layer.y, labels[rows])`, so the book's loss
    compares with torch's and optax's (`Trajectory.loss_gap`). `grads()` returns the
    gradients of the step just taken (recorded with the weights, `Trajectory.grads`);
    `label` names the run in reports (default "framework/record"). `state`, when not
    None, makes the step functional: `step(state, rows) -> (state, loss)`,
    `weights(state)`, `grads(state)`; the last state is `Trajectory.state`.

    Bad input is a TypeError/ValueError naming the argument, before the first step: a
    step or weights that is not callable, a schedule that is not a non-empty 2-D array of
    int64 sample indices (masked, ragged, float or too large for int64), an unknown
    framework or dtype, a weight that is not a float array of `dtype` (an integer,
    complex, object or masked array; another float dtype names both dtypes and the likely
    cause). During the run: a loss that is not a real scalar, a `loss_gap` that returns
    no number, `weights()` or `grads()` whose names, shapes or dtypes change. A loss that
    is not finite raises `adapters.DivergenceError` at that step (a JAX loss on the CPU
    is converted one step late, so the run stops one step after it), holding the
    trajectory so far; so do non-finite weights, found at the end.
    """
    for name, fn in (("step", step), ("weights", weights)):
        if not callable(fn):
            raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    for name, fn in (("loss_gap", loss_gap), ("grads", grads)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
    if not isinstance(framework, str) or framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}; got {framework!r}")
    dtype = checks.check_dtype(dtype)
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise TypeError(f"label must be a non-empty string or None, got {label!r}")
    rows = _schedule(schedule)
    if state is not None:
        step, weights, grads, final = _functional(step, weights, grads, state)
    check = _Checks(dtype, framework)
    # the dtypes are checked here, with the cause for `framework`: the recorder is told none
    recorder = Recorder(
        rows.shape[0],
        record_every,
        grads=None if grads is None else check.first_call("grads", grads),
        stop_on_non_finite=True,
    )
    recorder.start(check.mapping("weights", weights()))
    gaps = None if loss_gap is None else np.empty(rows.shape[0])  # (steps,)
    start = time.perf_counter()
    loss = step(rows[0])
    check.loss(loss)
    recorder.step(loss, weights)
    if gaps is None:
        recorder.run(step, weights, rows[1:])
    else:
        gaps[0] = _gap(loss_gap, rows[0])
        for i, batch in enumerate(rows[1:], start=1):
            if recorder.stopped is not None:
                break
            recorder.step(step(batch), weights)
            gaps[i] = _gap(loss_gap, batch)
    seconds = time.perf_counter() - start
    return recorder.trajectory(
        framework=framework,
        mode=MODE,
        dtype=dtype,
        seconds=seconds,
        loss_gap=gaps,
        net=False,
        label=label,
        fingerprint=schedule_fingerprint(rows),
        state=None if state is None else final(),
    )


def _schedule(schedule: Any) -> np.ndarray:
    """The schedule as a (steps, batch) int64 array; TypeError/ValueError naming it."""
    if not isinstance(schedule, np.ndarray | list | tuple):
        raise TypeError(
            f"schedule must be a 2-D integer array (steps, batch), got {type(schedule).__name__}"
        )
    a = checks.as_array(schedule, "schedule")  # refuses masked, ragged and object arrays
    if a.dtype.kind not in "iu":
        raise TypeError(f"schedule must hold integer sample indices, got dtype {a.dtype}")
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"schedule must be a non-empty 2-D array (steps, batch), got {a.shape}")
    if a.dtype.kind == "i" and a.min() < 0:
        raise ValueError(f"schedule must hold sample indices >= 0, got {a.min()}")
    if a.dtype.kind == "u" and a.max() > np.iinfo(np.int64).max:
        raise ValueError(f"schedule holds {a.max()}, too large for an int64 sample index")
    return np.ascontiguousarray(a, dtype=np.int64)


def _functional(step: Callable, weights: Callable, grads: Callable | None, state: Any):
    """(step(rows), weights(), grads(), final()) around a functional step, which keeps
    the state between calls: `step(state, rows) -> (state, loss)`."""
    held = [state]

    def stateful_step(rows: np.ndarray) -> Any:
        out = step(held[0], rows)
        if not isinstance(out, tuple) or len(out) != 2:
            raise TypeError(
                "with state=, step must return (state, loss), got "
                + (f"a tuple of {len(out)}" if isinstance(out, tuple) else type(out).__name__)
            )
        held[0], loss = out
        return loss

    stateful_grads = None if grads is None else (lambda: grads(held[0]))
    return stateful_step, (lambda: weights(held[0])), stateful_grads, (lambda: held[0])


def _gap(loss_gap: Callable, rows: np.ndarray) -> float:
    """loss_gap(rows) as a float; TypeError naming loss_gap when it returns no real number."""
    value = loss_gap(rows)
    if isinstance(value, bool | np.bool_) or not (
        isinstance(value, numbers.Real)
        or (
            getattr(value, "ndim", None) == 0
            and getattr(value, "dtype", np.dtype(object)).kind == "f"
        )
    ):
        shape = getattr(value, "shape", None)
        got = type(value).__name__ + (f" of shape {tuple(shape)}" if shape is not None else "")
        raise TypeError(
            "loss_gap must return the gap of the step's loss as a number (a float or a 0-d "
            f"float array), got {got}"
        )
    return float(value)


class _Checks:
    """What `record` checks of the values a run hands it, with the cause for `framework`."""

    def __init__(self, dtype: str, framework: str) -> None:
        self.dtype, self.framework = dtype, framework

    def mapping(self, what: str, values: Any) -> Any:
        """`values`, after checking each array of the mapping `what()` returned (anything
        else than a mapping: the recorder names its type)."""
        if isinstance(values, Mapping):
            for name, value in values.items():
                self.array(f"{what}()[{name!r}]", value)
        return values

    def first_call(self, what: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        """`fn`, its first result checked as `mapping` checks (the later ones are held to
        the first's dtypes by the recorder)."""
        pending = [True]

        def checked() -> Any:
            values = fn()
            if pending:
                pending.clear()
                self.mapping(what, values)
            return values

        return checked

    def array(self, what: str, value: Any) -> None:
        """TypeError for a masked array or one that is not a float array; ValueError for
        a float array of another dtype than declared, with the likely cause."""
        if isinstance(value, np.ma.MaskedArray):
            raise TypeError(
                f"{what} is a masked array (numpy.ma): its mask would be lost; pass "
                "its .filled(value) or .data"
            )
        if getattr(value, "dtype", None) is None:
            return  # not an array: the recorder names its type
        held = dtype_name(value)
        if "complex" in held:
            raise TypeError(
                f"{what} is {held}: complex weights cannot be compared element by element "
                "here; record the real and imaginary parts as two weights"
            )
        if "float" not in held:
            raise TypeError(f"{what} is {held}: weights must be float arrays of {self.dtype}")
        if held != self.dtype:
            raise ValueError(f"{what} is {held}, but dtype is {self.dtype}: {self.cause(held)}")

    def loss(self, loss: Any) -> None:
        """The first loss: a float of another dtype than declared is a ValueError (a
        Python float carries no dtype and passes; what is no real scalar, the recorder
        names)."""
        held = dtype_name(loss) if hasattr(loss, "dtype") else None
        if held is not None and "float" in held and held != self.dtype:
            raise ValueError(
                f"the loss step returned is {held}, but dtype is {self.dtype}: {self.cause(held)}"
            )

    def cause(self, held: str) -> str:
        """Why a run holds `held` where `dtype` was declared."""
        ranks, dtype, framework = checks.DTYPE_NAMES, self.dtype, self.framework
        if held in ranks and ranks.index(held) > ranks.index(dtype) and framework != "numpy":
            return likely_cause(framework)  # less precision than declared: the usual traps
        if framework == "numpy":
            return f"NumPy keeps the dtype arrays are made in: make the weights {dtype}"
        return f"declare dtype={held!r}, or build the model in {dtype}"
