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

The result is the `adapters.Trajectory` the adapters return, so `compare_trajectories`,
the plots and the report take it as it is. Run each framework under
`pinned_precision(framework, dtype)`: JAX computes in float32 unless x64 is on, and
TF32 rounds float32 matmuls on recent GPUs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from adapters import checks
from adapters.precision import FRAMEWORKS
from adapters.recording import Recorder
from adapters.trajectory import Trajectory
from comparisons.parity.arrays import dtype_name, likely_cause

MODE = "record"  # a Trajectory's mode: recorded by `record`, not by an adapter


def record(
    step: Callable[[np.ndarray], Any],
    weights: Callable[[], Mapping[str, Any]],
    schedule: Any,
    *,
    framework: str,
    dtype: str = "float64",
    record_every: int = 1,
    loss_gap: Callable[[np.ndarray], float] | None = None,
) -> Trajectory:
    """Train with `step` over every row of `schedule`, recording losses and `weights()`.

    `framework` ("numpy", "torch" or "jax") and `dtype` label the run (compare_trajectories
    judges it by its dtype's tolerances); every weight and loss must be of `dtype`.
    `loss_gap(rows)`, when given, is called after each step and returns how far that
    step's loss sits below the epsilon-free cross-entropy: for the book's SoftmaxWithLoss,
    `book_loss_gap(loss_layer.y, labels[rows])`, so the book's loss compares with torch's
    and optax's (`Trajectory.loss_gap`).

    Bad input is a TypeError/ValueError naming the argument, before the first step: a
    schedule that is not a non-empty 2-D integer array, an unknown framework or dtype, a
    weight of another dtype than `dtype` (naming the weight, both dtypes and the likely
    cause). During the run: a loss that is not a scalar, `weights()` whose names, shapes
    or dtypes change. A non-finite loss or weight raises `adapters.DivergenceError` at
    that step, holding the trajectory before it.
    """
    for name, fn in (("step", step), ("weights", weights), ("loss_gap", loss_gap)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    if not isinstance(framework, str) or framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}; got {framework!r}")
    dtype = checks.check_dtype(dtype)
    rows = _schedule(schedule)
    # the dtypes are checked here, with the cause for `framework`: the recorder is told none
    recorder = Recorder(rows.shape[0], record_every)
    first = weights()
    if isinstance(first, Mapping):  # anything else: the recorder names the type
        for name, value in first.items():
            _check_dtype(f"weights()[{name!r}]", value, dtype, framework)
    recorder.start(first)
    gaps = None if loss_gap is None else np.empty(rows.shape[0])  # (steps,)
    start = time.perf_counter()
    loss = step(rows[0])
    _check_dtype("the loss step returned", loss, dtype, framework)
    recorder.step(loss, weights)
    if gaps is None:
        recorder.run(step, weights, rows[1:])
    else:
        gaps[0] = loss_gap(rows[0])
        for i, batch in enumerate(rows[1:], start=1):
            recorder.step(step(batch), weights)
            gaps[i] = loss_gap(batch)
    seconds = time.perf_counter() - start
    return recorder.trajectory(
        framework=framework, mode=MODE, dtype=dtype, seconds=seconds, loss_gap=gaps
    )


def _schedule(schedule: Any) -> np.ndarray:
    """The schedule as a (steps, batch) int64 array; TypeError/ValueError naming it."""
    if not isinstance(schedule, np.ndarray | list | tuple):
        raise TypeError(
            f"schedule must be a 2-D integer array (steps, batch), got {type(schedule).__name__}"
        )
    a = np.asarray(schedule)
    if a.dtype.kind not in "iu" or a.dtype == np.bool_:
        raise TypeError(f"schedule must hold integer sample indices, got dtype {a.dtype}")
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"schedule must be a non-empty 2-D array (steps, batch), got {a.shape}")
    if a.min() < 0:
        raise ValueError(f"schedule must hold sample indices >= 0, got {a.min()}")
    return np.ascontiguousarray(a, dtype=np.int64)


def _check_dtype(what: str, value: Any, dtype: str, framework: str) -> None:
    """A float array or scalar of another dtype than declared: ValueError with the cause.
    (A Python float carries no dtype and passes.)"""
    held = dtype_name(value) if hasattr(value, "dtype") else None
    if held is not None and "float" in held and held != dtype:
        raise ValueError(
            f"{what} is {held}, but dtype is {dtype}: {_cause(held, dtype, framework)}"
        )


def _cause(held: str, dtype: str, framework: str) -> str:
    """Why a run holds `held` where `dtype` was declared."""
    ranks = checks.DTYPE_NAMES
    if held in ranks and ranks.index(held) > ranks.index(dtype) and framework != "numpy":
        return likely_cause(framework)  # less precision than declared: the usual traps
    if framework == "numpy":
        return f"NumPy keeps the dtype arrays are made in: make the weights {dtype}"
    return f"declare dtype={held!r}, or build the model in {dtype}"
