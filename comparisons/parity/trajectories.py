"""Two training runs compared record by record: where do they first part, and why?

`compare_trajectories(a, b)` takes two `adapters.Trajectory` (the adapters' `train`, or
`comparisons.parity.record` for a model of your own) and reports the first step at which
the weights, the loss or (when both recorded them) the gradients disagree, with the
weight and element that differ most there, the phase that parted first (`phase`), a
table of every weight there (`table()`) and the `hints` the records prove
(comparisons/parity/hints.py: another schedule, a transpose, a gate order, a lag, a
constant factor, a few rows, a dtype). A lower precision is judged either by the table's
"trajectory" row or, given the reference's own float64 and low-precision runs, by a
multiple of the reference's own drift (`calibration`). A side whose weights are held in
another dtype than it declares or than the other side's is named in `notes`, and in the
summary when they diverge.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from adapters.checks import DTYPE_NAMES
from comparisons.parity.arrays import dtype_note
from comparisons.parity.comparison import badness, errors
from comparisons.parity.formatting import (
    and_,
    columns,
    fmt_err,
    fmt_index,
    fmt_value,
    jsonable,
    list_text,
)
from comparisons.parity.hints import Hint, Records, Sides, find_hints, grouped
from comparisons.parity.tolerances import (
    LINEAR_RANGE,
    ROUNDING_FACTOR,
    calibrated_bound,
    linear_range_left,
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
        return f"at {self.where()}: {_apart(self, dtype)}"

    def where(self) -> str:
        return f"{self.weight}{fmt_index(self.index)}"


@dataclass(frozen=True)
class GradientDivergence(Divergence):
    """The first gradient record at which two runs disagree: `step` is the step whose
    gradient it is (computed from the weights after `step` updates), `weight` the name
    the gradient is recorded under."""

    def describe(self, dtype: str) -> str:
        return f"in the gradient of step {self.step} at {self.where()}: {_apart(self, dtype)}"


@dataclass(frozen=True)
class LossDivergence:
    """The first step whose losses disagree: `values` are the two losses compared, made
    epsilon-free by adding each side's `loss_gap` when one has one (`epsilon_free`)."""

    step: int
    values: tuple[float, float]
    error: float
    tol: float
    epsilon_free: bool = False

    def describe(self, dtype: str) -> str:
        how = " (epsilon-free)" if self.epsilon_free else ""
        return f"in the loss of step {self.step}{how}: {_apart(self, dtype)}"


@dataclass(frozen=True)
class Row:
    """One weight (or gradient) at a record, for `TrajectoryReport.table()`: the largest
    |d|, how many elements exceed their tolerance, the worst element and its two values."""

    name: str
    max_error: float
    outside: int
    size: int
    index: tuple[int, ...] | None
    values: tuple[float, float] | None


def _updates(n: int) -> str:
    return f"{n} update" + ("" if n == 1 else "s")


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

    With gradients on both sides, `first_gradient` is the first failing gradient record
    (its step is the step whose gradient it is, `first_gradient_step`), and a backward pass
    that differs is found there, before the update it makes. `schedule_step` is the first
    step fed another batch (from the runs' fingerprints); such runs never pass. `phase`
    says what parted first; `hints` why (comparisons/parity/hints.py); `rows` is every
    weight at the first divergence, as `table()` prints them.

    `calibration` says what judged the run beside the table: "" (the table alone),
    "precision" (the reference's own drift from float64) or "rounding" (the reference's
    own drift from its rounding twins, float64 runs); `table_step` is then the first step
    at which the table's rows alone would fail (None where they hold throughout), and
    `twin_drift` the rounding twins' largest distance from the reference.
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
    first_gradient: GradientDivergence | None = None
    schedule_step: int | None = None
    hints: tuple[Hint, ...] = ()
    rows: list[Row] = field(default_factory=list)
    rows_at: str = ""  # what `rows` are: "the weights after 3 updates", ...
    hint_tags: dict[Hint, str] = field(default_factory=dict, repr=False)
    calibration: str = ""  # "", "precision" or "rounding": what the bounds were widened by
    table_step: int | None = None  # calibrated: the first step the table's rows alone fail
    twin_drift: float | None = None  # "rounding": max |W_twin - W_ref| over the run and twins

    @property
    def passed(self) -> bool:
        """True when every weight record, every loss and every gradient agree, and both
        runs were fed the same batches."""
        return (
            self.first is None
            and self.first_loss is None
            and self.first_gradient is None
            and self.schedule_step is None
        )

    @property
    def first_step(self) -> int | None:
        """Updates after which the runs first disagree (weights, loss or gradients); None
        if never."""
        steps = [d.step for d, _ in self._parted()]
        return min(steps) if steps else None

    @property
    def first_gradient_step(self) -> int | None:
        """The first step whose gradients disagree (both runs recorded them); None if none."""
        return None if self.first_gradient is None else self.first_gradient.step

    @property
    def phase(self) -> str | None:
        """What parted first, in the order a step computes: "weights" (the update before,
        or the initial weights), "loss" (the forward pass), "gradients" (the backward
        pass); None when they agree."""
        parted = self._parted()
        return parted[0][1] if parted else None

    def _parted(self) -> list[tuple[Divergence | LossDivergence, str]]:
        """The first divergence of each kind, in the order a step makes them: the weights
        after s updates, then step s's loss, then its gradients."""
        found = [
            (d, which)
            for d, which in (
                (self.first, "weights"),
                (self.first_loss, "loss"),
                (self.first_gradient, "gradients"),
            )
            if d is not None
        ]
        order = ("weights", "loss", "gradients")
        return sorted(found, key=lambda f: (f[0].step, order.index(f[1])))

    @property
    def max_weight_error(self) -> float:
        """max |W_a - W_b| at the final record."""
        return float(self.error_curve[-1])

    def summary(self) -> str:
        """One line: "a vs b: agree over N steps (...)", or where they first diverge, then
        the other kinds of record from where they part, and the first hint in words."""
        head = f"{self.a_name} vs {self.b_name}"
        dw = float(np.max(self.error_curve))
        dl = float(np.max(self.loss_error)) if self.steps else 0.0
        agree = f"max |dW| {dw:.2g}, max |dloss| {dl:.2g}; {self.dtype}"
        if self.passed:
            if self.rounding_calibrated:
                text = (
                    f"{head}: agree over {self.steps} steps within {ROUNDING_FACTOR:g}x the "
                    f"reference's own rounding drift ({agree}; {self.calibration_text()})"
                )
                return "; note: ".join([text, *self.notes])  # where the twins part, if they do
            return f"{head}: agree over {self.steps} steps ({agree})"
        parted = self._parted()
        if parted:
            (first, _), *rest = parted
            text = f"{head}: first diverge after {_updates(first.step)} "
            text += first.describe(self.dtype)
            for d, which in rest:
                text += f"; {_then(d, which, self.dtype)}"
        else:  # only the schedules differ
            text = f"{head}: the records agree over {self.steps} steps ({agree}), but"
            text += " the runs were fed different batches"
        if self.rounding_calibrated:
            text += f" (judged within {ROUNDING_FACTOR:g}x the reference's own rounding drift;"
            text += f" {self.calibration_text()})"
        hint = self.hint_text()
        notes = [note for note in self.notes if note not in hint]  # a dtype hint is its note
        return "; note: ".join([text, *notes]) + "; " + hint

    @property
    def rounding_calibrated(self) -> bool:
        """True when the verdict is the rounding twins', not the table's alone: judged
        against the reference's rounding twins, where the table's rows alone fail."""
        return self.calibration == "rounding" and self.table_step is not None

    def calibration_text(self) -> str:
        """What a rounding-calibrated verdict rests on, in words; "" for any other."""
        if not self.rounding_calibrated:
            return ""
        return (
            f"calibrated: the table's {self.dtype} rows alone fail from step {self.table_step}, "
            f"and the reference with its sums in other orders parts from itself by up to "
            f"{self.twin_drift:.2g} in the weights: this run amplifies rounding"
        )

    def hint_text(self) -> str:
        """The first hint in words ("hint (scaled, b1): ..."), or a plain statement that
        no known pattern fits; "" when the runs agree."""
        if self.passed:
            return ""
        if not self.hints:
            return (
                "no hint: the records fit no known pattern (another schedule, a transpose, "
                "a block order, a lag, a constant factor, a few rows, a dtype); compare "
                "the activations of the step where they part (tap, torch_activations)"
            )
        groups = grouped(self.hints)
        kind, names, detail = groups[0]
        also = f"; the same for {and_(names[1:])}" if len(names) > 1 else ""
        more = len(self.hints) - len(names)
        more_text = f" (+{more} more in .hints)" if more else ""
        return f"hint ({kind}, {names[0]}): {detail}{also}{more_text}"

    def table(self) -> str:
        """Every weight (or gradient) at the first divergence: max |d|, the elements
        outside tolerance ("64 / 400"), the worst element, both values there and its
        hint; at the last record when the runs agree. The hints follow in full."""
        a, b = self.a_name, self.b_name
        head = ("weight", "max |d|", "outside tol", "worst", a, b, "hint")
        tags = {}
        for hint in self.hints:
            tags.setdefault(hint.name, self.hint_tags.get(hint, hint.kind))
        lines = [
            (
                row.name,
                fmt_err(row.max_error),
                f"{row.outside} / {row.size}",
                fmt_index(row.index) if row.outside else "-",
                fmt_value(row.values[0], self.dtype) if row.outside else "-",
                fmt_value(row.values[1], self.dtype) if row.outside else "-",
                tags.get(row.name, "-"),
            )
            for row in self.rows
        ]
        title = f"{a} vs {b}, {self.rows_at} (tol {self.atol:.2g} + {self.rtol:.2g} * |{a}|):"
        out = [title, *columns([head, *lines])]
        out += [
            f"hint ({kind}, {', '.join(names)}): {detail}"
            for kind, names, detail in grouped(self.hints)
        ]
        if not self.passed and not self.hints:
            out.append(self.hint_text())
        return "\n".join(out)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (arrays as lists, NaN and inf as None)."""
        out = jsonable(self)
        out.pop("hint_tags")
        return {
            **out,
            "hints": [hint._asdict() for hint in self.hints],
            "first_step": self.first_step,
            "first_gradient_step": self.first_gradient_step,
            "phase": self.phase,
            "max_weight_error": jsonable(self.max_weight_error),
            "passed": self.passed,
            "rounding_calibrated": self.rounding_calibrated,
            "summary": self.summary(),
        }


def compare_trajectories(
    a: Trajectory,
    b: Trajectory,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    calibration: tuple[Trajectory, ...] | None = None,
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

    `calibration=(ref, *twins)`, the reference's float64 run and its rounding twins (the
    same run with its sums in other orders: comparisons/rounding.py), judges a float64
    comparison against the reference's own sensitivity to rounding: each tolerance is
    raised to ROUNDING_FACTOR times the twins' largest distance from the reference at that
    record or step where that is larger, counted inside float64's linear range only
    (tolerances.py says why); `table_step` says where the table alone would have failed.
    Gradients recorded by every calibration run calibrate the gradients the same way.
    """
    a_name, b_name = _names(a, b)
    weight_names = _check_same_run(a, b, f"a ({a_name})", f"b ({b_name})")
    dtype = lower_precision(_run_dtype(a), _run_dtype(b))
    tol = override(tolerance(dtype, "trajectory"), rtol, atol)
    record_steps = np.asarray(a.record_steps, dtype=np.int64)  # (records,)
    records = record_steps.shape[0]

    weights = _records("weights", record_steps, a.weights, b.weights, weight_names, tol)
    # the epsilon-free losses: the reference records how far the book's 1e-7 moved its own
    loss_a = np.asarray(a.losses) + _loss_gap(a)
    loss_b = np.asarray(b.losses) + _loss_gap(b)
    # a loss sums over the widest layer's units: its row grows with that length
    loss_tol = reduction_tolerance(tolerance(dtype, "loss"), dtype, _widest(a))
    loss_error, loss_allowed = errors(loss_a, loss_b, loss_tol)  # (steps,)
    # gradients along a run drift as the weights do: they are held to the same tolerance
    grads = None
    grad_names = _check_same_grads(a, b, f"a ({a_name})", f"b ({b_name})")
    if grad_names:
        grad_steps = record_steps[1:] - 1  # (records - 1,): the step of each gradient
        grads = _records("gradients", grad_steps, a.grads, b.grads, grad_names, tol)
    cal = None
    table_step = None
    if calibration is not None:
        cal = _calibration(a, calibration, weight_names, grad_names, dtype)
        table_step = _table_step(weights, grads, loss_error, loss_allowed)
        for k in weight_names:  # (records,) -> (records, 1, ...) against (records, *shape)
            error = weights.error[k]
            bound = cal.weights.reshape(records, *[1] * (error.ndim - 1))
            floor = weights.allowed[k] if cal.rounding else tol.atol  # rounding only widens
            weights.allowed[k] = np.broadcast_to(np.maximum(floor, bound), error.shape)
        loss_allowed = np.maximum(loss_allowed, cal.loss)
        if grads is not None and cal.grads is not None:
            for k in grad_names:
                bound = cal.grads.reshape(-1, *[1] * (grads.error[k].ndim - 1))
                grads.allowed[k] = np.maximum(grads.allowed[k], bound)
    weights = _first_failing(weights)
    grads = None if grads is None else _first_failing(grads)

    bad_losses = np.flatnonzero(~(loss_error <= loss_allowed))
    first_loss = None
    if bad_losses.size:
        i = int(bad_losses[0])
        first_loss = LossDivergence(
            step=i,
            values=(float(loss_a[i]), float(loss_b[i])),
            error=float(loss_error[i]),
            tol=float(loss_allowed[i]),
            epsilon_free=a.loss_gap is not None or b.loss_gap is not None,
        )
    schedule_step = _schedule_step(a, b)
    notes = _dtype_notes((a, f"a ({a_name})"), (b, f"b ({b_name})"), dtype)
    one_sided = [name for name, traj in ((a_name, a), (b_name, b)) if traj.grads]
    if len(one_sided) == 1:
        notes.append(("", f"only {one_sided[0]} recorded gradients: they were not compared"))
    if cal is not None and cal.note:
        notes.append(("", cal.note))
    report = TrajectoryReport(
        a_name=a_name,
        b_name=b_name,
        dtype=dtype,
        steps=int(np.asarray(a.losses).shape[0]),
        record_steps=record_steps,
        error_curve=_per_record(weights.error, records, np.max),  # NaN where a weight is NaN
        loss_error=loss_error,
        loss_allowed=loss_allowed,
        rtol=tol.rtol,
        atol=tol.atol,
        calibrated=calibration is not None,
        calibration="" if cal is None else ("rounding" if cal.rounding else "precision"),
        table_step=table_step,
        twin_drift=None if cal is None or not cal.rounding else cal.drift,
        first=_divergence(Divergence, weights),
        first_loss=first_loss,
        notes=[note for _, note in notes],
        first_gradient=None if grads is None else _divergence(GradientDivergence, grads),
        schedule_step=schedule_step,
    )
    # the table at the first weight or gradient divergence, in the order a step makes them
    # (at the last record when none)
    shown = [rec for rec in (weights, grads) if rec is not None and rec.first is not None]
    # the weights after s updates, then step s's gradients (made from those weights)
    shown.sort(key=lambda rec: (rec.steps[rec.first], rec.what == "gradients"))
    at = shown[0] if shown else weights
    r = at.first if at.first is not None else records - 1
    report.rows = [_row(at, k, r) for k in at.a]
    report.rows_at = _at(at, r)
    if not report.passed:  # the hints: only once the runs have parted
        sides = Sides(a_name, b_name, a.framework, b.framework)
        report.hints, report.hint_tags = find_hints(
            sides,
            shown,
            (a.fingerprint, b.fingerprint),
            (loss_a, loss_b, loss_allowed, None if first_loss is None else first_loss.step),
            [(names, note) for names, note in notes if names],  # the dtype notes
        )
    return report


def _records(
    what: str,
    steps: np.ndarray,
    a: dict[str, np.ndarray],
    b: dict[str, np.ndarray],
    names: list[str],
    tol: Any,
) -> Records:
    """Both runs' records of `names`, as float64, with their errors and tolerances."""
    ra, rb, error, allowed = {}, {}, {}, {}
    for k in names:
        ra[k] = np.asarray(a[k], dtype=np.float64)
        rb[k] = np.asarray(b[k], dtype=np.float64)
        error[k], allowed[k] = errors(ra[k], rb[k], tol)
    return Records(what, steps, ra, rb, error, allowed, None)


def _first_failing(rec: Records) -> Records:
    """`rec` with `first`, its first record where an element is outside its tolerance."""
    n = len(rec.steps)
    if not n:  # no records (a run stopped before its first gradient)
        return rec
    failed = {k: ~(rec.error[k] <= rec.allowed[k]) for k in rec.a}  # NaN fails
    bad = np.flatnonzero(_per_record(failed, n, np.any))
    return dataclasses.replace(rec, first=int(bad[0]) if bad.size else None)


def _per_record(values: dict[str, np.ndarray], records: int, reduce: Any) -> np.ndarray:
    """(records,): `reduce` over every element of every array at each record."""
    if not values:
        return np.zeros(records)
    return reduce([reduce(v.reshape(records, -1), axis=1) for v in values.values()], axis=0)


def _divergence(kind: type[Divergence], rec: Records) -> Divergence | None:
    """The element worst relative to its allowance at the first failing record."""
    if rec.first is None:
        return None
    r = rec.first
    worst_k, worst_i, worst = None, None, -1.0
    for k in rec.a:
        bad = badness(rec.error[k][r], rec.allowed[k][r])
        if not bad.size:
            continue
        i = np.unravel_index(np.argmax(bad), bad.shape)
        if bad[i] > worst:
            worst_k, worst_i, worst = k, i, float(bad[i])
    index = tuple(int(j) for j in worst_i)
    return kind(
        step=int(rec.steps[r]),
        weight=worst_k,
        index=index,
        values=(float(rec.a[worst_k][r][index]), float(rec.b[worst_k][r][index])),
        error=float(rec.error[worst_k][r][index]),
        tol=float(rec.allowed[worst_k][r][index]),
    )


def _row(rec: Records, name: str, r: int) -> Row:
    error, allowed = rec.error[name][r], rec.allowed[name][r]
    outside = ~(error <= allowed)
    if not error.size:
        return Row(name, 0.0, 0, 0, None, None)
    i = np.unravel_index(np.argmax(badness(error, allowed)), error.shape)
    index = tuple(int(j) for j in i)
    return Row(
        name=name,
        max_error=float(np.max(error)),
        outside=int(np.count_nonzero(outside)),
        size=int(error.size),
        index=index,
        values=(float(rec.a[name][r][index]), float(rec.b[name][r][index])),
    )


def _at(rec: Records, r: int) -> str:
    """ "the weights after 3 updates", "the gradients of step 2": what record r is."""
    s = int(rec.steps[r])
    return (
        f"the gradients of step {s}"
        if rec.what == "gradients"
        else f"the weights after {_updates(s)}"
    )


def _then(d: Divergence | LossDivergence, which: str, dtype: str) -> str:
    """A later kind of divergence, in a summary: "the loss from step 1: ..."."""
    if which == "loss":
        how = " (epsilon-free)" if d.epsilon_free else ""
        return f"the loss from step {d.step}{how}: {_apart(d, dtype)}"
    if which == "gradients":
        return f"gradients from step {d.step} at {d.where()}: {_apart(d, dtype)}"
    return f"weights from {_updates(d.step)} {d.describe(dtype)}"


def _names(a: Trajectory, b: Trajectory) -> tuple[str, str]:
    """The runs' names in reports (labels, or framework/mode), told apart when equal."""
    a_name, b_name = _run_name(a), _run_name(b)
    if a_name == b_name:
        return f"{a_name} (a)", f"{b_name} (b)"
    return a_name, b_name


def _schedule_step(a: Trajectory, b: Trajectory) -> int | None:
    """The first step the two runs were fed different batches, by their fingerprints;
    None when they agree or a run has none."""
    fa, fb = a.fingerprint, b.fingerprint
    if fa is None or fb is None:
        return None
    fa, fb = np.asarray(fa), np.asarray(fb)
    if fa.shape != fb.shape:
        return 0
    differ = np.flatnonzero(fa != fb)
    return int(differ[0]) if differ.size else None


def _run_name(traj: Trajectory) -> str:
    return traj.name


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


def _dtype_notes(
    a: tuple[Trajectory, str], b: tuple[Trajectory, str], dtype: str
) -> list[tuple[str, str]]:
    """(weight names, note): one note per way the two runs' weights are held."""
    held = defaultdict(list)  # (a's dtype, b's dtype) -> weight names
    for k in a[0].weights:
        held[(_held_dtype(a[0], k), _held_dtype(b[0], k))].append(k)
    notes = []
    for (a_dtype, b_dtype), names in held.items():
        sides = ((a[1], a_dtype, a[0].framework), (b[1], b_dtype, b[0].framework))
        note = dtype_note(", ".join(names), sides, dtype)
        if note is not None:
            notes.append((", ".join(names), note))
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
            raise ValueError(_shapes_differ(f"weight {k}", sa, sb, a_label, b_label, b))
        if sa[0] != ra.size:
            raise ValueError(f"{a_label} holds {sa[0]} records of {k} for {ra.size} record_steps")
        for traj, label in ((a, a_label), (b, b_label)):
            _check_real(traj.weights[k], f"{label}: weight {k}")
    for traj, label in ((a, a_label), (b, b_label)):
        if traj.loss_gap is not None and np.shape(traj.loss_gap) != (steps,):
            raise ValueError(
                f"{label}: loss_gap has shape {np.shape(traj.loss_gap)}, expected ({steps},)"
            )
    return list(a.weights)


def _check_same_grads(a: Trajectory, b: Trajectory, a_label: str, b_label: str) -> list[str]:
    """The gradient names (a's order) when both runs recorded gradients of the same names
    and shapes, one record fewer than weights; [] when a run has none; ValueError if not."""
    if not a.grads or not b.grads:
        return []
    if set(a.grads) != set(b.grads):
        only_a = sorted(set(a.grads) - set(b.grads))
        only_b = sorted(set(b.grads) - set(a.grads))
        raise ValueError(
            f"gradient names differ: only in {a_label}: {only_a}; only in {b_label}: {only_b}"
        )
    records = np.shape(a.record_steps)[0] - 1
    for k in a.grads:
        sa, sb = np.shape(a.grads[k]), np.shape(b.grads[k])
        if sa != sb:
            raise ValueError(_shapes_differ(f"gradient {k}", sa, sb, a_label, b_label, b))
        if sa[0] != records:
            raise ValueError(
                f"{a_label} holds {sa[0]} gradient records of {k}; expected {records}, one "
                "with each weight record after the first"
            )
        for traj, label in ((a, a_label), (b, b_label)):
            _check_real(traj.grads[k], f"{label}: gradient {k}")
    return list(a.grads)


def _check_real(values: Any, what: str) -> None:
    """TypeError unless `values` holds real numbers (a complex array would lose its
    imaginary part, and compare as equal, once made float64)."""
    kind = np.asarray(values).dtype.kind
    if kind not in "fiu":
        raise TypeError(f"{what} must hold real numbers, got dtype {np.asarray(values).dtype}")


def _shapes_differ(
    what: str, sa: tuple, sb: tuple, a_label: str, b_label: str, b: Trajectory
) -> str:
    """The message for records of `what` whose shapes differ; when b holds the transpose,
    it says so (records of a 2-D weight: (records, in, out) against (records, out, in))."""
    text = f"{what} has shape {sa[1:]} in {a_label}, {sb[1:]} in {b_label}"
    if len(sa) == len(sb) == 3 and sa[1:] == sb[:0:-1]:
        if b.framework == "torch":
            why = "torch's nn.Linear stores (out, in); from_torch gives your (in, out)"
        else:
            why = "one side stores (out, in) where the other has (in, out)"
        text += f": {b_label} holds it transposed ({why})"
    return text


@dataclass(frozen=True)
class Calibration:
    """The calibrated allowances: per weight record, per step, per gradient record (None
    unless every calibration run recorded gradients); `rounding` for rounding twins, whose
    largest weight drift is `drift`; `note` says where the twins leave float64's linear
    range ("" where they stay inside)."""

    weights: np.ndarray  # (records,)
    loss: np.ndarray  # (steps,)
    grads: np.ndarray | None  # (records - 1,)
    rounding: bool
    drift: float
    note: str


def _calibration(
    a: Trajectory,
    calibration: tuple[Trajectory, ...],
    weight_names: list[str],
    grad_names: list[str],
    dtype: str,
) -> Calibration:
    """The calibrated bounds from the reference's own runs (tolerances.py's
    calibrated_bound): its lower-precision drift from float64, or its rounding twins'."""
    expected = (
        "calibration must be (reference in float64, reference in a lower precision) or "
        "(reference in float64, its float64 rounding twins ...) on the same run"
    )
    if not isinstance(calibration, tuple | list) or len(calibration) < 2:
        raise ValueError(f"{expected}, got {type(calibration).__name__} {calibration!r:.80}")
    ref64, *others = calibration
    dtypes = [_run_dtype(run) for run in (ref64, *others)]
    rounding = set(dtypes) == {"float64"}
    if dtypes[0] != "float64" or not (rounding or len(others) == 1):
        raise ValueError(f"{expected}, got dtypes ({', '.join(dtypes)})")
    if rounding and dtype != "float64":
        raise ValueError(
            f"rounding twins (float64 runs) calibrate a float64 comparison, not a {dtype} one: "
            f"pass (reference float64, reference {dtype})"
        )
    _check_same_run(a, ref64, f"a ({_run_name(a)})", "the float64 calibration run")
    record_steps = np.asarray(ref64.record_steps, dtype=np.int64)
    records = record_steps.shape[0]
    loss64 = np.asarray(ref64.losses, np.float64) + _loss_gap(ref64)
    w_drift = w_scale = loss_drift = g_drift = np.zeros(0)
    calibrate_grads = bool(grad_names)
    for i, other in enumerate(others):  # the largest drift of any twin, per record and step
        what = f"the rounding twin {i + 1}" if rounding else f"the {other.dtype} calibration run"
        _check_same_run(ref64, other, "the float64 calibration run", what)
        drift, w_scale = _drift(ref64.weights, other.weights, weight_names, records)
        w_drift = np.maximum(w_drift, drift) if i else drift
        loss = np.abs(np.asarray(other.losses, np.float64) + _loss_gap(other) - loss64)
        loss_drift = np.maximum(loss_drift, loss) if i else loss
        calibrate_grads &= bool(_check_same_grads(ref64, other, "the float64 run", what))
        if calibrate_grads:
            drift = _drift(ref64.grads, other.grads, grad_names, records - 1)[0]
            g_drift = np.maximum(g_drift, drift) if i else drift
    # rounding twins count until their weights leave float64's linear range (step `left`)
    left = linear_range_left(w_drift, w_scale) if rounding else None
    left_step = None if left is None else int(record_steps[left])
    weights = calibrated_bound(
        w_drift,
        rounding,
        counted=None if left is None else np.arange(records) <= left,
        cap=LINEAR_RANGE * w_scale if rounding else None,
    )

    def before_left(steps: np.ndarray) -> np.ndarray | None:
        return None if left_step is None else steps < left_step

    loss = calibrated_bound(loss_drift, rounding, counted=before_left(np.arange(len(loss64))))
    grads = None
    if calibrate_grads:
        grads = calibrated_bound(g_drift, rounding, counted=before_left(record_steps[1:] - 1))
    note = ""
    if left is not None:
        note = (
            f"the reference's rounding twins leave float64's linear range after {left_step} "
            f"updates (their weights {w_drift[left]:.2g} from its, more than "
            f"{LINEAR_RANGE:.2g} x max |W| {w_scale[left]:.2g}): from there rounding alone "
            "changes this run, and no float64 comparison can tell a bug from it; the "
            "calibrated bounds stay at the largest they reached before"
        )
    return Calibration(
        weights=weights,
        loss=loss,
        grads=grads,
        rounding=rounding,
        drift=float(np.max(w_drift)),
        note=note,
    )


def _drift(
    ref: dict[str, np.ndarray], other: dict[str, np.ndarray], names: list[str], records: int
) -> tuple[np.ndarray, np.ndarray]:
    """(records,) max |other - ref| over every element of `names` at each record, and
    (records,) the reference's largest |value| there."""

    def per_record(arrays: list[np.ndarray]) -> np.ndarray:
        return np.max([v.reshape(records, -1).max(axis=1, initial=0.0) for v in arrays], axis=0)

    ref64 = {k: np.asarray(ref[k], np.float64) for k in names}
    drift = per_record([np.abs(np.asarray(other[k], np.float64) - ref64[k]) for k in names])
    return drift, per_record([np.abs(ref64[k]) for k in names])


def _table_step(
    weights: Records, grads: Records | None, loss_error: np.ndarray, loss_allowed: np.ndarray
) -> int | None:
    """The first step at which the table's rows alone fail (weights, loss or gradients),
    before a calibration widens them; None where they hold throughout."""
    steps = []
    for rec in (weights, grads):
        if rec is not None and (first := _first_failing(rec).first) is not None:
            steps.append(int(rec.steps[first]))
    bad = np.flatnonzero(~(loss_error <= loss_allowed))
    if bad.size:
        steps.append(int(bad[0]))
    return min(steps, default=None)
