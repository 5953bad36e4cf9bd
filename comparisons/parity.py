"""Parity checks: do two implementations agree, and if not, where do they part?

This is the project's `np.testing.assert_allclose`, with the report a porter needs:
for every named array the largest absolute and relative error, the distance in ULPs,
the index of the worst element and both values there, against one tolerance table
(`TOLERANCES`, the only one in the project). On top of `compare` sit three views:

- `compare_losses`: the book's loss against an epsilon-free cross-entropy (torch, optax);
- `compare_all`: every pair among numpy, torch and jax, naming the odd one out;
- `compare_trajectories`: two training runs, reporting the first step, weight and
  element at which they diverge.

An element passes when |other - ref| <= atol + rtol * |ref|, the rule of `np.allclose`
with `ref` as the reference. NaN never passes; equal infinities do (as in `np.isclose`).
NumPy only: this module works whichever frameworks are installed.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from adapters.checks import DTYPE_NAMES, round_bfloat16
from scratch.functions import BOOK_LOG_EPS, epsilon_gap

if TYPE_CHECKING:
    from adapters.trajectory import Trajectory

# --------------------------------------------------------------------------- tolerances


class Tolerance(NamedTuple):
    """An element passes when |other - ref| <= atol + rtol * |ref|."""

    rtol: float
    atol: float


DTYPES = DTYPE_NAMES  # float64, float32, float16, bfloat16: highest precision first
QUANTITIES = ("forward", "loss", "gradient", "trajectory")

# Every atol below exists for elements whose exact value is (nearly) zero: a bias
# gradient summed over the batch, a pre-activation where x @ W cancels. Their rounding
# error is a few ULPs of the *terms* that were summed, which is huge relative to the
# result itself, so rtol alone would fail two correct implementations there.
#
# The float32 rows are calibrated against the reference's own float32-vs-float64 error:
# the book's run (spiral data, hidden 10, batch 30, SGD lr 1.0, 3000 steps) is run by the
# reference in float64 and in float32 from the same weights, and forward outputs and
# gradients are evaluated on all 300 points at the initial and at the trained weights.
# Each row leaves room for two independent float32 implementations (each as far from the
# exact values as the reference is) with a margin; the numbers measured are quoted.
TOLERANCES: dict[tuple[str, str], Tolerance] = {
    # float64: rounding is ~1e-16 relative; rtol 1e-12 leaves three orders of magnitude
    # for a different summation order (BLAS, XLA) and still catches any real mistake.
    ("float64", "forward"): Tolerance(rtol=1e-12, atol=1e-15),
    ("float64", "loss"): Tolerance(rtol=1e-12, atol=1e-15),
    ("float64", "gradient"): Tolerance(rtol=1e-12, atol=1e-15),
    # after 3000 steps of the book's run the final weights agree within 1e-10 (the
    # design target is 1e-12; rounding differences grow along the run)
    ("float64", "trajectory"): Tolerance(rtol=1e-10, atol=1e-12),
    # calibrated: the reference's float32 activations differ from its float64 ones by at
    # most 2.2e-6 (a score of 8.8, trained weights) and by 1.1e-6 at a score of -0.025
    # where x @ W cancels; atol 3e-6 and rtol 1e-5 hold both twice over.
    ("float32", "forward"): Tolerance(rtol=1e-5, atol=3e-6),
    # calibrated: the reference's float32 loss differs from its float64 loss by 2.5e-8
    # (trained) and 1.7e-9 (initial); 1e-6 + 1e-5 * |loss| is 40x that or more.
    ("float32", "loss"): Tolerance(rtol=1e-5, atol=1e-6),
    # calibrated: the reference's float32 gradients differ from its float64 ones by at
    # most 5.3e-8 absolute but up to 2e-4 relative (near-zero W2 entries at the initial
    # weights); atol 1e-6 covers those, rtol 1e-4 the large entries.
    ("float32", "gradient"): Tolerance(rtol=1e-4, atol=1e-6),
    # calibrated: over the book's run the reference's float32 weights drift from its
    # float64 weights by up to 2.6e-5 (|W| up to 13); above the atol floor 1e-5 that needs
    # rtol 1e-4, and ten times it is taken (see CALIBRATION_FACTOR). Passing a calibration
    # pair to `compare_trajectories` replaces this row by a per-record bound.
    ("float32", "trajectory"): Tolerance(rtol=1e-3, atol=1e-5),
    # float16: calibrated the same way (comparisons.precision.reference_error measures it;
    # tests/comparisons/test_precision.py checks every row still holds twice that).
    # The reference's float16 scores differ from its float64 ones by up to 1.2e-2
    # (trained weights: scores near 30, where a float16 ULP is 0.03; half an ULP is the
    # best any implementation can do), and by 3.9e-4 relative beyond atol 1e-2.
    ("float16", "forward"): Tolerance(rtol=2e-3, atol=3e-2),
    # the reference's float16 loss is 1.5e-4 from its float64 one, torch's 8.3e-4 (0.85 of
    # a float16 ULP at 1.1); two ULPs relative, as torch.testing's float16 rtol 1e-3 x 2.
    ("float16", "loss"): Tolerance(rtol=2e-3, atol=1e-4),
    # the reference's float16 gradients are up to 2.0e-3 off (initial weights): the bias
    # gradient `np.sum(dout, axis=0)` adds 300 values of 1e-3 one after another in
    # float16 (a strided sum: no pairwise summation), losing 28% of db2 = 7.3e-3. torch
    # and XLA accumulate in float32 (1.5e-4, 4.7e-4). The row holds two references.
    ("float16", "gradient"): Tolerance(rtol=1e-2, atol=5e-3),
    # over the book's run the reference's float16 weights end 0.49 from its float64
    # weights (|W| up to 13): a float16 run ends at another point of the same basin. This
    # row only says two runs stayed together; the calibrated bound is what tests use.
    ("float16", "trajectory"): Tolerance(rtol=0.4, atol=1.0),
    # bfloat16: NumPy has none, so the reference cannot measure its own bfloat16 error.
    # torch and JAX are compared with the float64 reference (and with each other); rtol
    # is torch.testing's bfloat16 default, 1.6e-2 (two bfloat16 ULPs), and each row holds
    # twice what torch and JAX measure (comparisons.precision.reference_error): scores
    # 0.13 off (a bfloat16 ULP at 30 is 0.25), loss 1.1e-2 at 1.1, gradients 2.0e-3.
    ("bfloat16", "forward"): Tolerance(rtol=1.6e-2, atol=0.3),
    ("bfloat16", "loss"): Tolerance(rtol=1.6e-2, atol=5e-3),
    ("bfloat16", "gradient"): Tolerance(rtol=1.6e-2, atol=5e-3),
    # torch's and JAX's bfloat16 weights end about 5 from the float64 ones (|W| up to 13)
    ("bfloat16", "trajectory"): Tolerance(rtol=1.0, atol=5.0),
}

# Another framework's float32 rounding is of the same size as the reference's own, so
# its distance from the reference should be of the order of the reference's own float32
# drift: ten times that drift is a safe bound, and still small enough to catch a real
# difference (a wrong update rule moves the weights by far more than rounding does).
CALIBRATION_FACTOR = 10.0

BOOK_LOSS_EPS = BOOK_LOG_EPS  # 1e-7, inside the log of the book's reported loss


def tolerance(dtype: str, quantity: str) -> Tolerance:
    """The table's tolerance for `quantity` computed in `dtype`; ValueError when unknown."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: the tolerance table has {', '.join(DTYPES)}")
    if quantity not in QUANTITIES:
        raise ValueError(
            f"unknown quantity {quantity!r}: the tolerance table has {', '.join(QUANTITIES)}"
        )
    return TOLERANCES[(dtype, quantity)]


def _override(tol: Tolerance, rtol: float | None, atol: float | None) -> Tolerance:
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return Tolerance(
        rtol=tol.rtol if rtol is None else float(rtol),
        atol=tol.atol if atol is None else float(atol),
    )


# --------------------------------------------------------------------------- ULPs


def ulp_distance(a: ArrayLike, b: ArrayLike, dtype: Any = "float64") -> np.ndarray:
    """How many representable `dtype` floats lie between a and b (0 when equal), elementwise.

    Both are rounded to `dtype` (float64, float32, float16, or bfloat16, counted on
    float32's line with the low 16 bits dropped) first. Adjacent floats are 1 apart;
    -0.0 and 0.0 are 0 apart; the count runs across zero (the smallest subnormals either
    side of it are 2 apart). The result is float64 so that a NaN, which has no place on
    the line of floats, can give NaN.
    """
    bfloat16 = isinstance(dtype, str) and dtype == "bfloat16"
    dt = np.dtype(np.float32 if bfloat16 else dtype)
    if dt not in (np.float64, np.float32, np.float16):
        raise ValueError(
            f"ulp_distance: dtype must be float64, float32, float16 or bfloat16, got {dtype!r}"
        )
    with np.errstate(over="ignore"):  # a float64 beyond float32's range rounds to inf
        a = np.asarray(a, dtype=dt)
        b = np.asarray(b, dtype=dt)
        if bfloat16:
            a, b = round_bfloat16(a), round_bfloat16(b)
    a, b = np.broadcast_arrays(a, b)
    ia, ib = _ordered_bits(a), _ordered_bits(b)
    if bfloat16:  # a bfloat16 is a float32 whose low 16 bits are zero
        ia, ib = ia // 65536, ib // 65536
    hi, lo = np.maximum(ia, ib), np.minimum(ia, ib)
    # hi - lo can exceed int64 (from -max to +max); it is exact modulo 2**64 in uint64
    with np.errstate(over="ignore"):
        count = (hi.astype(np.uint64) - lo.astype(np.uint64)).astype(np.float64)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, count)


def _ordered_bits(x: np.ndarray) -> np.ndarray:
    """The float's bits as an int64 that increases with the float (-0.0 and 0.0 give 0)."""
    signed = {8: np.int64, 4: np.int32, 2: np.int16}[x.dtype.itemsize]
    bits = x.view(signed).astype(np.int64)
    # IEEE floats are sign-magnitude: a set sign bit makes the int negative, but more
    # negative floats have *larger* magnitudes. Mirror them: -0.0 -> 0, -tiny -> -1, ...
    lowest = np.int64(np.iinfo(signed).min)
    return np.where(bits < 0, lowest - bits, bits)


# --------------------------------------------------------------------------- compare


@dataclass
class Entry:
    """One named array of a comparison: its worst element and the verdict.

    `worst_index` is the element whose error is largest relative to its allowance
    (atol + rtol * |ref|); `ref_value` and `other_value` are the two values there. The
    numbers are None when the arrays could not be compared (see `note`).
    """

    name: str
    shape: tuple[int, ...]
    max_abs: float | None
    max_rel: float | None
    max_ulps: float | None
    worst_index: tuple[int, ...] | None
    ref_value: float | None
    other_value: float | None
    rtol: float
    atol: float
    passed: bool
    note: str = ""

    def allowance(self) -> float | None:
        """atol + rtol * |ref| at the worst element."""
        if self.ref_value is None or not np.isfinite(self.ref_value):
            return None if self.ref_value is None else self.atol
        return self.atol + self.rtol * abs(self.ref_value)

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready values (tuples as lists, NaN and inf as None)."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "max_abs": _json_float(self.max_abs),
            "max_rel": _json_float(self.max_rel),
            "max_ulps": _json_float(self.max_ulps),
            "worst_index": None if self.worst_index is None else list(self.worst_index),
            "ref_value": _json_float(self.ref_value),
            "other_value": _json_float(self.other_value),
            "rtol": self.rtol,
            "atol": self.atol,
            "passed": self.passed,
            "note": self.note,
        }


@dataclass
class Report:
    """The result of `compare`: one Entry per name of the reference, and notes."""

    ref_name: str
    other_name: str
    dtype: str
    quantity: str
    entries: list[Entry]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every entry passed."""
        return all(e.passed for e in self.entries)

    def first_failure(self) -> Entry | None:
        """The first failing entry, in the reference's order (the earliest layer or weight)."""
        return next((e for e in self.entries if not e.passed), None)

    def describe_failure(self) -> str | None:
        """One line on the first failing entry, e.g. `W1[3, 2]: 0.12 vs 0.13, |d| 0.01 > ...`."""
        entry = self.first_failure()
        return None if entry is None else _describe(entry, self.dtype)

    def table(self) -> str:
        """A fixed-width text table, one row per entry, headed by what was compared."""
        head = ("name", "shape", "max abs", "max rel", "ulps", "worst index")
        head += ("ref value", "other value", "tol", "verdict")
        rows = [
            (
                e.name,
                str(e.shape),
                _fmt_err(e.max_abs),
                _fmt_err(e.max_rel),
                _fmt_ulps(e.max_ulps),
                _fmt_index(e.worst_index),
                _fmt_value(e.ref_value, self.dtype),
                _fmt_value(e.other_value, self.dtype),
                f"{e.rtol:g}/{e.atol:g}",
                "PASS" if e.passed else "FAIL",
            )
            for e in self.entries
        ]
        lines = [f"{self.ref_name} vs {self.other_name} ({self.dtype}, {self.quantity})"]
        lines += _columns([head, *rows])
        lines.append("tol = rtol/atol: an element passes when |other - ref| <= atol + rtol * |ref|")
        lines += [f"{e.name}: {e.note}" for e in self.entries if e.note]
        lines += [f"note: {n}" for n in self.notes]
        failed = sum(not e.passed for e in self.entries)
        lines.append(
            f"PASS: all {len(self.entries)} agree"
            if not failed
            else f"FAIL: {failed} of {len(self.entries)} differ"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "ref_name": self.ref_name,
            "other_name": self.other_name,
            "dtype": self.dtype,
            "quantity": self.quantity,
            "passed": self.passed,
            "entries": [e.to_dict() for e in self.entries],
            "notes": list(self.notes),
        }


def compare(
    ref: Mapping[str, ArrayLike | float],
    other: Mapping[str, ArrayLike | float],
    *,
    dtype: str = "float64",
    quantity: str = "forward",
    names: tuple[str, str] = ("reference", "other"),
    rtol: float | None = None,
    atol: float | None = None,
    notes: Sequence[str] = (),
) -> Report:
    """Compare named arrays of `other` against those of `ref`, key by key in ref's order.

    The tolerance is `tolerance(dtype, quantity)`; `rtol`/`atol` override it (a caller
    that loosens it says why). ULPs are counted in `dtype`. A key missing from `other`,
    a shape mismatch or a NaN makes a failed entry; keys only in `other` are noted.
    Nothing to compare (no keys, a zero-size array) is a ValueError.
    """
    for label, mapping in (("ref", ref), ("other", other)):
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"compare: {label} must be a mapping of names to arrays, "
                f"got {type(mapping).__name__}"
            )
    if len(ref) == 0:
        raise ValueError("compare: ref has no arrays; a parity check must compare something")
    tol = _override(tolerance(dtype, quantity), rtol, atol)
    ref_name, other_name = names
    entries = []
    for key, value in ref.items():
        r = _as_array(value, f"{ref_name}[{key!r}]")
        if r.size == 0:
            raise ValueError(
                f"compare: {ref_name}[{key!r}] is empty (shape {r.shape}); "
                "a parity check must compare something"
            )
        if key not in other:
            entries.append(_unmatched(str(key), r, tol, f"missing from {other_name}"))
            continue
        o = _as_array(other[key], f"{other_name}[{key!r}]")
        if o.shape != r.shape:
            note = f"shape mismatch: {ref_name} {r.shape}, {other_name} {o.shape}"
            entries.append(_unmatched(str(key), r, tol, note))
            continue
        entries.append(_compare_arrays(str(key), r, o, tol, dtype, names))
    all_notes = list(notes)
    extra = [str(k) for k in other if k not in ref]
    if extra:
        all_notes.append(f"only in {other_name}, not compared: {', '.join(extra)}")
    return Report(ref_name, other_name, dtype, quantity, entries, all_notes)


def assert_close(
    ref: Mapping[str, ArrayLike | float], other: Mapping[str, ArrayLike | float], **kwargs: Any
) -> Report:
    """`compare(ref, other, **kwargs)`; AssertionError with the table when anything fails."""
    report = compare(ref, other, **kwargs)
    if not report.passed:
        raise AssertionError("\n" + report.table())
    return report


def _as_array(value: Any, what: str) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"compare: {what} must hold real numbers, got dtype {a.dtype}")
    return a


def _unmatched(name: str, r: np.ndarray, tol: Tolerance, note: str) -> Entry:
    return Entry(name, tuple(r.shape), None, None, None, None, None, None, *tol, False, note)


def _errors(r: np.ndarray, o: np.ndarray, tol: Tolerance) -> tuple[np.ndarray, np.ndarray]:
    """Absolute error and allowance per element, in float64 (NaN error where NaN)."""
    r = r.astype(np.float64)
    o = o.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(o - r)
    err = np.where(np.isinf(r) & (r == o), 0.0, err)  # inf - inf is NaN; equal infs agree
    allowed = tol.atol + tol.rtol * np.where(np.isfinite(r), np.abs(r), 0.0)
    return err, allowed


def _badness(err: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """err / allowed, with NaN errors and errors against a zero allowance as inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / allowed)
    return np.where(np.isnan(err), np.inf, ratio)


def _compare_arrays(
    name: str, r: np.ndarray, o: np.ndarray, tol: Tolerance, dtype: str, names: tuple[str, str]
) -> Entry:
    err, allowed = _errors(r, o, tol)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(err == 0, 0.0, err / np.abs(r.astype(np.float64)))
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(_badness(err, allowed)), r.shape))
    nans = [
        f"NaN in {who} at {n} element{'s' if n > 1 else ''}"
        for who, a in zip(names, (r, o), strict=True)
        if (n := int(np.count_nonzero(np.isnan(a))))
    ]
    return Entry(
        name=name,
        shape=tuple(r.shape),
        max_abs=float(np.max(err)),
        max_rel=float(np.max(rel)),
        max_ulps=float(np.max(ulp_distance(r, o, dtype))),
        worst_index=worst,
        ref_value=float(r[worst]),
        other_value=float(o[worst]),
        rtol=tol.rtol,
        atol=tol.atol,
        passed=bool(np.all(err <= allowed)),  # NaN <= x is False: NaN always fails
        note="; ".join(nans),
    )


# --------------------------------------------------------------------------- the book's loss


def book_loss_gap(probs: ArrayLike, labels: ArrayLike) -> float:
    """How far the book's loss sits below the epsilon-free cross-entropy, exactly.

    The book reports -mean(log(p + 1e-7)) (common/functions.py, cross_entropy_error);
    torch's F.cross_entropy and optax's softmax_cross_entropy compute -mean(log p), with
    p = probs[arange(N), labels]. The gap is mean(log(p + 1e-7) - log p) =
    mean(log1p(1e-7 / p)) > 0. `labels` are indices (N,) or one-hot rows (N, C).
    """
    return epsilon_gap(_label_probs(probs, labels))


def _label_probs(probs: ArrayLike, labels: ArrayLike) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"probs must be a non-empty (N, C) array, got shape {probs.shape}")
    if labels.shape == probs.shape:  # one-hot (N, C) -> indices (N,)
        labels = labels.argmax(axis=1)
    if labels.shape != probs.shape[:1] or labels.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be indices ({probs.shape[0]},) or one-hot {probs.shape}, "
            f"got shape {labels.shape} dtype {labels.dtype}"
        )
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"labels must lie in [0, {probs.shape[1]})")
    p = probs[np.arange(probs.shape[0]), labels]  # (N,)
    if not np.all((p > 0) & (p <= 1)):
        raise ValueError(
            "the probabilities of the labels must lie in (0, 1]; at p = 0 the epsilon-free "
            "cross-entropy is infinite"
        )
    return p


def compare_losses(
    ref_book_loss: float,
    other_exact_loss: float,
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    dtype: str = "float64",
    names: tuple[str, str] = ("reference", "other"),
) -> Report:
    """Compare the book's loss (with 1e-7 in the log) with an epsilon-free cross-entropy.

    `ref_book_loss + book_loss_gap(probs, labels)` is compared with `other_exact_loss`
    at the "loss" tolerance; `probs` are the reference's softmax outputs. The report's
    note says how much of the raw difference the epsilon explains.
    """
    gap = book_loss_gap(probs, labels)
    ref, other = float(ref_book_loss), float(other_exact_loss)
    note = (
        f"the book adds {BOOK_LOSS_EPS:g} inside the log of the reported loss; torch's "
        f"F.cross_entropy and optax's softmax_cross_entropy do not. {names[0]}'s loss is "
        f"compared after adding mean(log1p({BOOK_LOSS_EPS:g} / p)) = {gap:.6g}: the raw "
        f"difference was {abs(other - ref):.3g}, explained by the epsilon up to "
        f"{abs(other - (ref + gap)):.3g}"
    )
    return compare(
        {"loss": ref + gap},
        {"loss": other},
        dtype=dtype,
        quantity="loss",
        names=names,
        notes=[note],
    )


# --------------------------------------------------------------------------- three frameworks


@dataclass
class ThreeWayReport:
    """Every pair among two or more frameworks, compared (the first named as reference)."""

    names: tuple[str, ...]
    dtype: str
    quantity: str
    reports: list[Report]  # (names[i], names[j]) for i < j, in that order

    def pair(self, a: str, b: str) -> Report:
        """The report comparing frameworks `a` and `b` (in either order)."""
        for report in self.reports:
            if {report.ref_name, report.other_name} == {a, b}:
                return report
        raise KeyError(f"no comparison of {a} with {b}; compared: {', '.join(self.names)}")

    @property
    def passed(self) -> bool:
        """True when every pair agrees."""
        return all(r.passed for r in self.reports)

    @property
    def odd_one_out(self) -> str | None:
        """The framework that differs from all others while those agree among themselves."""
        if len(self.names) < 3:
            return None  # with two, nothing says which of them is the odd one
        for name in self.names:
            if all(r.passed != (name in (r.ref_name, r.other_name)) for r in self.reports):
                return name
        return None

    def summary(self) -> str:
        """One line, e.g. "numpy and jax agree; torch differs from both (W1[3, 2]: ...)"."""
        odd = self.odd_one_out
        if self.passed:
            return f"{_and(self.names)} agree ({self.dtype}, {self.quantity})"
        if odd is not None:
            rest = [n for n in self.names if n != odd]
            against = self.pair(rest[0], odd)
            return (
                f"{_and(rest)} agree; {odd} differs from "
                f"{'both' if len(rest) == 2 else 'all others'} "
                f"({against.describe_failure()}; against {rest[0]})"
            )
        return "; ".join(
            f"{r.ref_name} and {r.other_name} "
            + ("agree" if r.passed else f"differ ({r.describe_failure()})")
            for r in self.reports
        )

    def table(self) -> str:
        """The summary, then the table of every pair."""
        return "\n\n".join([self.summary(), *(r.table() for r in self.reports)])

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """The three-way comparison as JSON-ready values."""
        return {
            "names": list(self.names),
            "dtype": self.dtype,
            "quantity": self.quantity,
            "passed": self.passed,
            "odd_one_out": self.odd_one_out,
            "summary": self.summary(),
            "pairs": [r.to_dict() for r in self.reports],
        }


def compare_all(
    results: Mapping[str, Mapping[str, ArrayLike | float]],
    *,
    dtype: str = "float64",
    quantity: str = "forward",
) -> ThreeWayReport:
    """Compare the named arrays of every pair of frameworks, e.g. numpy, torch and jax.

    `results` maps a framework name to its arrays; the first framework of each pair is
    the reference. Needs at least two frameworks.
    """
    names = tuple(results)
    if len(names) < 2:
        raise ValueError(f"compare_all needs two frameworks or more, got {list(names)}")
    reports = [
        compare(results[a], results[b], dtype=dtype, quantity=quantity, names=(a, b))
        for a, b in itertools.combinations(names, 2)
    ]
    return ThreeWayReport(names, dtype, quantity, reports)


# --------------------------------------------------------------------------- trajectories


@dataclass
class TrajectoryReport:
    """Two training runs compared record by record and step by step.

    `error_curve[k]` is max |W_a - W_b| over every weight at `record_steps[k]`;
    `loss_error[i]` is |loss_a - loss_b| at step i, each made epsilon-free first by adding
    its `loss_gap` (the reference's book loss carries 1e-7 inside the log). `first_step`
    is the number of updates after which they first disagree: a weight record at step s
    counts as s, and the loss of step i, computed from the weights after i updates, as i.
    `first_weight_step` is the step of the first failing weight record; `first_weight`,
    `first_index`, `first_values`, `first_error` and `first_tol` describe its worst element (error
    relative to allowance); `first_loss_step` and `first_loss_values` the first failing
    loss. `max_weight_error` is `error_curve[-1]`, the error of the final weights.
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
    first_step: int | None
    first_weight_step: int | None
    first_weight: str | None
    first_index: tuple[int, ...] | None
    first_values: tuple[float, float] | None
    first_error: float | None
    first_tol: float | None
    first_loss_step: int | None
    first_loss_values: tuple[float, float] | None
    max_weight_error: float  # at the final record

    @property
    def passed(self) -> bool:
        """True when every weight record and every loss agree."""
        return self.first_step is None

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
        parts = []  # (updates, which, what differs there)
        if self.first_weight is not None:
            a, b = self.first_values
            where = f"{self.first_weight}{_fmt_index(self.first_index)}"
            what = f"at {where}: {_fmt_value(a, self.dtype)} vs {_fmt_value(b, self.dtype)}"
            bound = f"(|d| {self.first_error:.2g} > tol {self.first_tol:.2g})"
            parts.append((self.first_weight_step, "weights", f"{what} {bound}"))
        if self.first_loss_step is not None:
            i = self.first_loss_step
            a, b = self.first_loss_values
            what = f"in the loss of step {i}: {_fmt_value(a, self.dtype)} vs "
            what += _fmt_value(b, self.dtype)
            bound = f"(|d| {self.loss_error[i]:.2g} > tol {self.loss_allowed[i]:.2g})"
            parts.append((i, "loss", f"{what} {bound}"))
        parts.sort(key=lambda part: part[0])  # stable: weights first at the same step
        step, _, what = parts[0]
        text = f"{head}: first diverge after {step} updates {what}"
        if len(parts) == 2:
            step, which, what = parts[1]
            text += f"; {which} from {step} updates {what}"
        return text

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (arrays as lists, NaN and inf as None)."""
        return {
            "a_name": self.a_name,
            "b_name": self.b_name,
            "dtype": self.dtype,
            "steps": self.steps,
            "record_steps": [int(s) for s in self.record_steps],
            "error_curve": [_json_float(e) for e in self.error_curve],
            "loss_error": [_json_float(e) for e in self.loss_error],
            "loss_allowed": [_json_float(e) for e in self.loss_allowed],
            "rtol": self.rtol,
            "atol": self.atol,
            "calibrated": self.calibrated,
            "first_step": self.first_step,
            "first_weight_step": self.first_weight_step,
            "first_weight": self.first_weight,
            "first_index": None if self.first_index is None else list(self.first_index),
            "first_values": _json_pair(self.first_values),
            "first_error": _json_float(self.first_error),
            "first_tol": _json_float(self.first_tol),
            "first_loss_step": self.first_loss_step,
            "first_loss_values": _json_pair(self.first_loss_values),
            "max_weight_error": _json_float(self.max_weight_error),
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
    tol = _override(tolerance(dtype, "trajectory"), rtol, atol)
    record_steps = np.asarray(a.record_steps, dtype=np.int64)  # (records,)
    records = record_steps.shape[0]

    errors, allowed = {}, {}
    for k in weight_names:
        errors[k], allowed[k] = _errors(np.asarray(a.weights[k]), np.asarray(b.weights[k]), tol)
    # the epsilon-free losses: the reference records how far the book's 1e-7 moved its own
    loss_error, loss_allowed = _errors(
        np.asarray(a.losses) + _loss_gap(a),
        np.asarray(b.losses) + _loss_gap(b),
        tolerance(dtype, "loss"),
    )  # (steps,) each
    if calibration is not None:
        weight_bound, loss_bound = _calibrated_bounds(a, calibration, weight_names)
        for k in weight_names:  # (records,) -> (records, 1, ...) against (records, *shape)
            bound = weight_bound.reshape(records, *[1] * (errors[k].ndim - 1))
            allowed[k] = np.broadcast_to(np.maximum(tol.atol, bound), errors[k].shape)
        loss_allowed = np.maximum(loss_allowed, loss_bound)

    def per_record(values: dict[str, np.ndarray], reduce: Any) -> np.ndarray:
        return reduce([reduce(v.reshape(records, -1), axis=1) for v in values.values()], axis=0)

    error_curve = per_record(errors, np.max)  # (records,), NaN where a weight is NaN
    failed = {k: ~(errors[k] <= allowed[k]) for k in weight_names}  # NaN fails
    bad_records = np.flatnonzero(per_record(failed, np.any))
    bad_losses = np.flatnonzero(~(loss_error <= loss_allowed))

    first = dict.fromkeys(("weight_step", "weight", "index", "values", "error", "tol"))
    if bad_records.size:
        r = int(bad_records[0])
        worst_k, worst_i, worst = None, None, -1.0
        for k in weight_names:  # the element worst relative to its allowance, at record r
            badness = _badness(errors[k][r], allowed[k][r])
            i = np.unravel_index(np.argmax(badness), badness.shape)
            if badness[i] > worst:
                worst_k, worst_i, worst = k, i, float(badness[i])
        index = tuple(int(j) for j in worst_i)
        first.update(
            weight_step=int(record_steps[r]),
            weight=worst_k,
            index=index,
            values=(float(a.weights[worst_k][r][index]), float(b.weights[worst_k][r][index])),
            error=float(errors[worst_k][r][index]),
            tol=float(allowed[worst_k][r][index]),
        )
    first_loss = int(bad_losses[0]) if bad_losses.size else None
    candidates = [s for s in (first["weight_step"], first_loss) if s is not None]
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
        first_step=min(candidates) if candidates else None,
        first_weight_step=first["weight_step"],
        first_weight=first["weight"],
        first_index=first["index"],
        first_values=first["values"],
        first_error=first["error"],
        first_tol=first["tol"],
        first_loss_step=first_loss,
        first_loss_values=(
            None
            if first_loss is None
            else (float(a.losses[first_loss]), float(b.losses[first_loss]))
        ),
        max_weight_error=float(error_curve[-1]),
    )


def lower_precision(*dtypes: str) -> str:
    """The lowest precision among `dtypes` (float64 > float32 > float16 > bfloat16, by
    mantissa bits): the one whose tolerances apply when they are compared."""
    for d in dtypes:
        if d not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {d!r}")
    return max(dtypes, key=DTYPES.index)


def _run_name(traj: Trajectory) -> str:
    return f"{traj.framework}/{traj.mode}"


def _run_dtype(traj: Trajectory) -> str:
    if traj.dtype not in DTYPES:
        raise ValueError(
            f"{_run_name(traj)}: dtype must be one of {', '.join(DTYPES)}, got {traj.dtype!r}"
        )
    return traj.dtype


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
            f"record_steps differ: {a_label} records after {_list_text(ra)} updates, "
            f"{b_label} after {_list_text(rb)}"
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


# --------------------------------------------------------------------------- formatting


def _describe(entry: Entry, dtype: str) -> str:
    """`W1[3, 2]: 0.12 vs 0.13, |d| 0.01 > tol 1.1e-12`, or the note when not comparable."""
    if entry.worst_index is None:
        return f"{entry.name}: {entry.note}"
    ref, other = entry.ref_value, entry.other_value
    text = f"{_where(entry.name, entry.worst_index)}: {_fmt_value(ref, dtype)} vs "
    text += _fmt_value(other, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        d = abs(other - ref)
    if np.isfinite(d):
        return text + f", |d| {d:.2g} > tol {entry.allowance():.2g}"
    return text + (f", {entry.note}" if entry.note else "")


def _where(name: str, index: tuple[int, ...]) -> str:
    return name + (_fmt_index(index) if index else "")


def _fmt_index(index: tuple[int, ...] | None) -> str:
    return "-" if index is None else "[" + ", ".join(str(i) for i in index) + "]"


def _fmt_err(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _fmt_ulps(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{int(x)}" if np.isfinite(x) and x < 1e6 else f"{x:.3g}"


def _fmt_value(x: float | None, dtype: str) -> str:
    """The shortest text that gives back the value (in float32 or float16 when it is one;
    a bfloat16 is printed as the float32 it is)."""
    if x is None:
        return "-"
    if dtype in ("float32", "float16", "bfloat16"):
        with np.errstate(over="ignore"):
            short = np.float16(x) if dtype == "float16" else np.float32(x)
        if float(short) == x:
            return str(short)
    return repr(float(x))


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _list_text(values: np.ndarray) -> str:
    shown = [str(int(v)) for v in values]
    if len(shown) > 8:
        shown = [*shown[:4], "...", *shown[-2:]]
    return f"[{', '.join(shown)}] ({len(values)} records)"


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _json_float(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _json_pair(pair: tuple[float, float] | None) -> list[float | None] | None:
    return None if pair is None else [_json_float(v) for v in pair]


__all__ = [
    "BOOK_LOSS_EPS",
    "CALIBRATION_FACTOR",
    "DTYPES",
    "QUANTITIES",
    "TOLERANCES",
    "Entry",
    "Report",
    "ThreeWayReport",
    "Tolerance",
    "TrajectoryReport",
    "assert_close",
    "book_loss_gap",
    "compare",
    "compare_all",
    "compare_losses",
    "compare_trajectories",
    "lower_precision",
    "tolerance",
    "ulp_distance",
]
