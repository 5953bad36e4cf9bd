"""Named arrays compared against a reference: the project's `np.testing.assert_allclose`.

For every name of the reference `compare` reports the largest absolute and relative
error, the distance in ULPs, the worst element (relative to its allowance) and both
values there, with one verdict per name against the tolerance table. The entries keep
the reference's order, so for activations recorded layer by layer
`Report.first_failure()` is the first diverging layer of the model.

NaN never passes; equal infinities do (as in `np.isclose`). The arrays may be NumPy
arrays, torch tensors or JAX arrays. A side held in another dtype than the one compared
at is noted, not failed (a float32 run against the float64 reference at float32's
tolerance is a fair question), and a failure line says which side was float32 and the
likely cause ("JAX computes in float32 unless x64 is on: use pinned_precision").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from comparisons.parity.arrays import dtype_name, dtype_note, framework_of, to_numpy
from comparisons.parity.formatting import (
    columns,
    fmt_err,
    fmt_index,
    fmt_ulps,
    fmt_value,
    jsonable,
    where,
)
from comparisons.parity.tolerances import Tolerance, override, tolerance
from comparisons.parity.ulps import ulp_distance


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

    def describe(self, dtype: str) -> str:
        """`W1[3, 2]: 0.12 vs 0.13, |d| 0.01 > tol 1.1e-12`, or the note when not comparable."""
        if self.worst_index is None:
            return f"{self.name}: {self.note}"
        ref, other = self.ref_value, self.other_value
        text = f"{where(self.name, self.worst_index)}: {fmt_value(ref, dtype)} vs "
        text += fmt_value(other, dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            d = abs(other - ref)
        if np.isfinite(d):
            text += f", |d| {d:.2g} > tol {self.allowance():.2g}"
        return text + (f"; {self.note}" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready values (tuples as lists, NaN and inf as None)."""
        return jsonable(self)


@dataclass
class Report:
    """The result of `compare`: one Entry per name of the reference, and notes.

    `first_failure()` is the first failing entry in the reference's order: compare the
    activations of two implementations of any model, layer by layer, and it names the
    first diverging layer (`summary()` says "first diverging: layer2").
    """

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
        """The first failing entry, in the reference's order (the earliest layer or weight);
        None when all pass."""
        return next((e for e in self.entries if not e.passed), None)

    def describe_failure(self) -> str | None:
        """One line on the first failing entry, e.g. `W1[3, 2]: 0.12 vs 0.13, |d| 0.01 > ...`."""
        entry = self.first_failure()
        return None if entry is None else entry.describe(self.dtype)

    def verdict(self) -> str:
        """`PASS: all 4 agree`, or `FAIL: 2 of 4 differ; first diverging: layer2`."""
        failed = sum(not e.passed for e in self.entries)
        if not failed:
            return f"PASS: all {len(self.entries)} agree"
        first = self.first_failure()
        return f"FAIL: {failed} of {len(self.entries)} differ; first diverging: {first.name}"

    def summary(self) -> str:
        """One line: what was compared and the verdict, with the first failure's numbers."""
        text = f"{self.ref_name} vs {self.other_name} ({self.dtype}, {self.quantity}): "
        text += self.verdict()
        if not self.passed:
            text += f" ({self.describe_failure()})"
        return text

    def table(self) -> str:
        """A fixed-width text table, one row per entry, headed by what was compared."""
        head = ("name", "shape", "max abs", "max rel", "ulps", "worst index")
        head += ("ref value", "other value", "tol", "verdict")
        rows = [
            (
                e.name,
                str(e.shape),
                fmt_err(e.max_abs),
                fmt_err(e.max_rel),
                fmt_ulps(e.max_ulps),
                fmt_index(e.worst_index),
                fmt_value(e.ref_value, self.dtype),
                fmt_value(e.other_value, self.dtype),
                f"{e.rtol:g}/{e.atol:g}",
                "PASS" if e.passed else "FAIL",
            )
            for e in self.entries
        ]
        lines = [f"{self.ref_name} vs {self.other_name} ({self.dtype}, {self.quantity})"]
        lines += columns([head, *rows])
        lines.append("tol = rtol/atol: an element passes when |other - ref| <= atol + rtol * |ref|")
        lines += [f"{e.name}: {e.note}" for e in self.entries if e.note]
        lines += [f"note: {n}" for n in self.notes]
        lines.append(self.verdict())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {**jsonable(self), "passed": self.passed}


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
    a shape mismatch or a NaN makes a failed entry; keys only in `other` are noted, and
    so is a side whose dtype is not `dtype` (with the likely cause when it is lower).
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
    tol = override(tolerance(dtype, quantity), rtol, atol)
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
        entry = _compare_arrays(str(key), r, o, tol, dtype, names)
        sides = tuple(
            (label, dtype_name(v), framework_of(v))
            for label, v in ((ref_name, value), (other_name, other[key]))
        )
        held = dtype_note(str(key), sides, dtype)
        if held is not None:
            entry.note = "; ".join(n for n in (entry.note, held) if n)
        entries.append(entry)
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


def errors(r: np.ndarray, o: np.ndarray, tol: Tolerance) -> tuple[np.ndarray, np.ndarray]:
    """Absolute error and allowance per element, in float64 (NaN error where NaN)."""
    r = r.astype(np.float64)
    o = o.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(o - r)
    err = np.where(np.isinf(r) & (r == o), 0.0, err)  # inf - inf is NaN; equal infs agree
    allowed = tol.atol + tol.rtol * np.where(np.isfinite(r), np.abs(r), 0.0)
    return err, allowed


def badness(err: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """err / allowed, with NaN errors and errors against a zero allowance as inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / allowed)
    return np.where(np.isnan(err), np.inf, ratio)


def _as_array(value: Any, what: str) -> np.ndarray:
    a = to_numpy(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"compare: {what} must hold real numbers, got dtype {a.dtype}")
    return a


def _unmatched(name: str, r: np.ndarray, tol: Tolerance, note: str) -> Entry:
    return Entry(name, tuple(r.shape), None, None, None, None, None, None, *tol, False, note)


def _compare_arrays(
    name: str, r: np.ndarray, o: np.ndarray, tol: Tolerance, dtype: str, names: tuple[str, str]
) -> Entry:
    err, allowed = errors(r, o, tol)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(err == 0, 0.0, err / np.abs(r.astype(np.float64)))
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(badness(err, allowed)), r.shape))
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
