"""Two training runs compared record by record: where do they first part?

`compare_trajectories(a, b)` takes two `adapters.Trajectory` (the adapters' `train`, or
`comparisons.parity.record` for a model of your own) and reports the first step at which
the weights or the loss disagree, with the weight and element that differ most there.
A lower precision is judged either by the table's "trajectory" row or, given the
reference's own float64 and low-precision runs, by a multiple of the reference's own
drift (`calibration`). A side whose weights are held in another dtype than it declares
or than the other side's is named in `notes`, and in the summary when they diverge.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from adapters.checks import DTYPE_NAMES
from comparisons.parity.arrays import dtype_note
from comparisons.parity.compare import badness, errors
from comparisons.parity.formatting import fmt_index, fmt_value, jsonable, list_text
from comparisons.parity.tolerances import (
    CALIBRATION_FACTOR,
    lower_precision,
    override,
    reduction_tolerance,
    tolerance,
)

if TYPE_CHECKING:
    from adapters.trajectory import Trajectory


@dataclass(frozen=True)
class Divergence:
    """The first weight record at which two runs disagree, at its worst element.

    `step` is the number of updates made when the record was taken; `weight[index]` is
    the element whose error is largest relative to its allowance, `values` the two runs'
    values there, `error` their distance and `tol` the allowance it exceeds.
    """

    step: int
    weight: str
    index: tuple[int, ...]
    values: tuple[float, float]
    error: float
    tol: float

    def describe(self, dtype: str) -> str:
        return f"at {self.weight}{fmt_index(self.index)}: {_apart(self, dtype)}"


@dataclass(frozen=True)
class LossDivergence:
    """The first step whose losses disagree: `values` are the two losses compared, made
    epsilon-free by adding each side's `loss_gap` (the values `error` is taken of)."""

    step: int
    values: tuple[float, float]
    error: float
    tol: float

    def describe(self, dtype: str) -> str:
        return f"in the loss of step {self.step} (epsilon-free): {_apart(self, dtype)}"


def _apart(d: Divergence | LossDivergence, dtype: str) -> str:
    """`0.12 vs 0.13 (|d| 0.01 > tol 1.1e-12)`: a divergence's two values, how far apart."""
    a, b = d.values
    return f"{fmt_value(a, dtype)} vs {fmt_value(b, dtype)} (|d| {d.error:.2g} > tol {d.tol:.2g})"


@dataclass
class TrajectoryReport:
    """Two training runs compared record by record and step by step.

    `error_curve[k]` is max |W_a - W_b| over every weight at `record_steps[k]`;
    `loss_error[i]` is |loss_a - loss_b| at step i, each made epsilon-free first by adding
    its `loss_gap` (the reference's book loss carries 1e-7 inside the log). `first` is
    the first failing weight record (None when all agree), `first_loss` the first failing
    loss. `first_step` is the number of updates after which they first disagree: a weight
    record at step s counts as s, and the loss of step i, computed from the weights after
    i updates, as i. `notes` name a side whose weights are held in another dtype than the
    comparison's, with the likely cause ("JAX computes in float32 unless x64 is on").
    """

    a_name: str
    b_name: str
    dtype: str
    steps: int
    record_steps: np.ndarray  # (records,)
    error_curve: np.ndarray  # (records,)
    loss_error: np.ndarray  # (steps,)
    loss_allowed: np.ndarray  # (steps,) the loss tolerance
    rtol: float
    atol: float
    calibrated: bool
    first: Divergence | None
    first_loss: LossDivergence | None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every weight record and every loss agree."""
        return self.first is None and self.first_loss is None

    @property
    def first_step(self) -> int | None:
        """Updates after which the runs first disagree (weights or loss); None if never."""
        steps = [d.step for d in (self.first, self.first_loss) if d is not None]
        return min(steps) if steps else None

    @property
    def max_weight_error(self) -> float:
        """max |W_a - W_b| at the final record."""
        return float(self.error_curve[-1])

    def summary(self) -> str:
        """One line: "a vs b: agree over N steps (...)" or where they first diverge."""
        head = f"{self.a_name} vs {self.b_name}"
        if self.passed:
            dw = float(np.max(self.error_curve))
            dl = float(np.max(self.loss_error)) if self.steps else 0.0
            return (
                f"{head}: agree over {self.steps} steps "
                f"(max |dW| {dw:.2g}, max |dloss| {dl:.2g}; {self.dtype})"
            )
        parts = [  # (updates, which): weights first at the same step
            (d.step, which, d.describe(self.dtype))
            for d, which in ((self.first, "weights"), (self.first_loss, "loss"))
            if d is not None
        ]
        parts.sort(key=lambda part: part[0])  # stable
        step, _, what = parts[0]
        text = f"{head}: first diverge after {step} updates {what}"
        if len(parts) == 2:
            step, which, what = parts[1]
            text += f"; {which} from {step} updates {what}"
        return "; note: ".join([text, *self.notes])

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (arrays as lists, NaN and inf as None)."""
        return {
            **jsonable(self),
            "first_step": self.first_step,
            "max_weight_error": jsonable(self.max_weight_error),
            "passed": self.passed,
            "summary": self.summary(),
        }


def compare_trajectories(
    a: Trajectory,
    b: Trajectory,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    calibration: tuple[Trajectory, Trajectory] | None = None,
) -> TrajectoryReport:
    """Compare two training runs; report the first step, weight and element that differ.

    Both must record the same steps and the same weights (ValueError naming the
    mismatch). Weights use the "trajectory" tolerance of the lower precision of the two
    (`rtol`/`atol` override it), with `a` as the reference; losses use the "loss"
    tolerance, after each side's `loss_gap` is added (the book's loss sits below the
    epsilon-free cross-entropy by exactly that much; None means no epsilon).

    `calibration=(ref64, ref_low)`, the reference's own run in float64 and in a lower
    precision (float32, float16; for bfloat16, which NumPy lacks, the run that stands in
    for it), replaces the weight tolerance by max(atol, CALIBRATION_FACTOR *
    max|ref_low - ref64|) at each record, and raises the loss tolerance to
    CALIBRATION_FACTOR * |loss_low - loss64| at steps where that is larger; both take
    the largest drift up to that record or step.
    """
    a_name, b_name = _run_name(a), _run_name(b)
    weight_names = _check_same_run(a, b, f"a ({a_name})", f"b ({b_name})")
    dtype = lower_precision(_run_dtype(a), _run_dtype(b))
    tol = override(tolerance(dtype, "trajectory"), rtol, atol)
    record_steps = np.asarray(a.record_steps, dtype=np.int64)  # (records,)
    records = record_steps.shape[0]

    error, allowed = {}, {}
    for k in weight_names:
        error[k], allowed[k] = errors(np.asarray(a.weights[k]), np.asarray(b.weights[k]), tol)
    # the epsilon-free losses: the reference records how far the book's 1e-7 moved its own
    loss_a = np.asarray(a.losses) + _loss_gap(a)
    loss_b = np.asarray(b.losses) + _loss_gap(b)
    # a loss sums over the widest layer's units: its row grows with that length
    loss_tol = reduction_tolerance(tolerance(dtype, "loss"), dtype, _widest(a))
    loss_error, loss_allowed = errors(loss_a, loss_b, loss_tol)  # (steps,)
    if calibration is not None:
        weight_bound, loss_bound = _calibrated_bounds(a, calibration, weight_names)
        for k in weight_names:  # (records,) -> (records, 1, ...) against (records, *shape)
            bound = weight_bound.reshape(records, *[1] * (error[k].ndim - 1))
            allowed[k] = np.broadcast_to(np.maximum(tol.atol, bound), error[k].shape)
        loss_allowed = np.maximum(loss_allowed, loss_bound)

    def per_record(values: dict[str, np.ndarray], reduce: Any) -> np.ndarray:
        return reduce([reduce(v.reshape(records, -1), axis=1) for v in values.values()], axis=0)

    error_curve = per_record(error, np.max)  # (records,), NaN where a weight is NaN
    failed = {k: ~(error[k] <= allowed[k]) for k in weight_names}  # NaN fails
    bad_records = np.flatnonzero(per_record(failed, np.any))
    bad_losses = np.flatnonzero(~(loss_error <= loss_allowed))

    first = None
    if bad_records.size:
        r = int(bad_records[0])
        worst_k, worst_i, worst = None, None, -1.0
        for k in weight_names:  # the element worst relative to its allowance, at record r
            bad = badness(error[k][r], allowed[k][r])
            i = np.unravel_index(np.argmax(bad), bad.shape)
            if bad[i] > worst:
                worst_k, worst_i, worst = k, i, float(bad[i])
        index = tuple(int(j) for j in worst_i)
        first = Divergence(
            step=int(record_steps[r]),
            weight=worst_k,
            index=index,
            values=(float(a.weights[worst_k][r][index]), float(b.weights[worst_k][r][index])),
            error=float(error[worst_k][r][index]),
            tol=float(allowed[worst_k][r][index]),
        )
    first_loss = None
    if bad_losses.size:
        i = int(bad_losses[0])
        first_loss = LossDivergence(
            step=i,
            values=(float(loss_a[i]), float(loss_b[i])),
            error=float(loss_error[i]),
            tol=float(loss_allowed[i]),
        )
    return TrajectoryReport(
        a_name=a_name,
        b_name=b_name,
        dtype=dtype,
        steps=int(np.asarray(a.losses).shape[0]),
        record_steps=record_steps,
        error_curve=error_curve,
        loss_error=loss_error,
        loss_allowed=loss_allowed,
        rtol=tol.rtol,
        atol=tol.atol,
        calibrated=calibration is not None,
        first=first,
        first_loss=first_loss,
        notes=_dtype_notes((a, f"a ({a_name})"), (b, f"b ({b_name})"), dtype),
    )


def _run_name(traj: Trajectory) -> str:
    workers = f" x {traj.workers} workers" if traj.workers > 1 else ""  # not its reference
    return f"{traj.framework}/{traj.mode}{workers}"


def _widest(traj: Trajectory) -> int:
    """The longest sum a step makes over a weight's axis: its largest dimension (a dense
    layer's fan-in or fan-out; 1 for scalars)."""
    return max(max(np.shape(w)[1:], default=1) for w in traj.weights.values())


def _run_dtype(traj: Trajectory) -> str:
    if traj.dtype not in DTYPE_NAMES:
        raise ValueError(
            f"{_run_name(traj)}: dtype must be one of {', '.join(DTYPE_NAMES)}, got {traj.dtype!r}"
        )
    return traj.dtype


def _held_dtype(traj: Trajectory, name: str) -> str:
    """The dtype `traj` holds weight `name` in (a bfloat16 run's float32 arrays are bfloat16)."""
    held = np.asarray(traj.weights[name]).dtype.name
    return "bfloat16" if traj.dtype == "bfloat16" and held == "float32" else held


def _dtype_notes(a: tuple[Trajectory, str], b: tuple[Trajectory, str], dtype: str) -> list[str]:
    """One note per way the two runs' weights are held, naming the weights it applies to."""
    held = defaultdict(list)  # (a's dtype, b's dtype) -> weight names
    for k in a[0].weights:
        held[(_held_dtype(a[0], k), _held_dtype(b[0], k))].append(k)
    notes = []
    for (a_dtype, b_dtype), names in held.items():
        sides = ((a[1], a_dtype, a[0].framework), (b[1], b_dtype, b[0].framework))
        note = dtype_note(", ".join(names), sides, dtype)
        if note is not None:
            notes.append(note)
    return notes


def _loss_gap(traj: Trajectory) -> np.ndarray | float:
    return 0.0 if traj.loss_gap is None else np.asarray(traj.loss_gap, np.float64)


def _check_same_run(a: Trajectory, b: Trajectory, a_label: str, b_label: str) -> list[str]:
    """The weight names (a's order) when a and b record the same run; ValueError if not."""
    steps = np.shape(a.losses)[0]
    if np.shape(b.losses)[0] != steps:
        raise ValueError(f"{a_label} has {steps} steps, {b_label} has {np.shape(b.losses)[0]}")
    ra, rb = np.asarray(a.record_steps), np.asarray(b.record_steps)
    if ra.shape != rb.shape or not np.array_equal(ra, rb):
        raise ValueError(
            f"record_steps differ: {a_label} records after {list_text(ra)} updates, "
            f"{b_label} after {list_text(rb)}"
        )
    if ra.size == 0:
        raise ValueError(f"{a_label} has no weight records; there is nothing to compare")
    if set(a.weights) != set(b.weights):
        only_a = sorted(set(a.weights) - set(b.weights))
        only_b = sorted(set(b.weights) - set(a.weights))
        raise ValueError(
            f"weight names differ: only in {a_label}: {only_a}; only in {b_label}: {only_b}"
        )
    for k in a.weights:
        sa, sb = np.shape(a.weights[k]), np.shape(b.weights[k])
        if sa != sb:
            raise ValueError(f"weight {k} has shape {sa} in {a_label}, {sb} in {b_label}")
        if sa[0] != ra.size:
            raise ValueError(f"{a_label} holds {sa[0]} records of {k} for {ra.size} record_steps")
    for traj, label in ((a, a_label), (b, b_label)):
        if traj.loss_gap is not None and np.shape(traj.loss_gap) != (steps,):
            raise ValueError(
                f"{label}: loss_gap has shape {np.shape(traj.loss_gap)}, expected ({steps},)"
            )
    return list(a.weights)


def _calibrated_bounds(
    a: Trajectory, calibration: tuple[Trajectory, Trajectory], weight_names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """CALIBRATION_FACTOR times the reference's own low-precision drift: per record, per
    step."""
    if len(calibration) != 2:
        raise ValueError(
            "calibration must be a pair (reference float64, reference in a lower precision)"
        )
    ref64, ref32 = calibration
    if _run_dtype(ref64) != "float64" or _run_dtype(ref32) == "float64":
        raise ValueError(
            "calibration must be (reference in float64, reference in a lower precision) on "
            f"the same run, got dtypes ({ref64.dtype}, {ref32.dtype})"
        )
    low = f"the {ref32.dtype} calibration run"
    _check_same_run(a, ref64, f"a ({_run_name(a)})", "the float64 calibration run")
    _check_same_run(ref64, ref32, "the float64 calibration run", low)
    records = np.shape(ref64.record_steps)[0]
    drift = np.max(
        [
            np.abs(
                np.asarray(ref32.weights[k], np.float64) - np.asarray(ref64.weights[k], np.float64)
            )
            .reshape(records, -1)
            .max(axis=1)
            for k in weight_names
        ],
        axis=0,
    )  # (records,)
    loss_drift = np.abs(
        np.asarray(ref32.losses, np.float64) - np.asarray(ref64.losses, np.float64)
    )  # (steps,)
    # the largest drift so far, not the drift at that step alone: at low precision the
    # reference's own error at one step is noisy (it may happen to be near 0 there)
    drift, loss_drift = np.maximum.accumulate(drift), np.maximum.accumulate(loss_drift)
    return CALIBRATION_FACTOR * drift, CALIBRATION_FACTOR * loss_drift
