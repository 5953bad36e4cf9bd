"""Why two training runs part: the claims `compare_trajectories` can prove from the records.

A `Hint(kind, name, detail)` is given only when the records prove it, to the tolerance
the runs are compared at (the one table, comparisons/parity/tolerances.py); none is a
guess. The kinds, most telling first (`KINDS`), and what proves each:

- `schedule`: the runs were fed different batches: their schedules' fingerprints
  (`Trajectory.fingerprint`, one hash per step's batch) differ.
- `transposed`: b holds a's transpose: b's square weight equals a's `.T` at every record
  checked (a non-square one cannot even be compared: its shapes say it).
- `permuted`: b holds a's equal blocks along one axis in another order (2, 3 or 4 blocks:
  gates): each of b's blocks equals exactly one of a's at every record checked.
- `lagged`: one side is a record behind or ahead: b's record r equals a's record r - 1
  (or r + 1) at every record checked, two at least.
- `scaled`: b's updates are a constant factor times a's: from the last record where the
  runs agree to the first where they part, b's change of the weight equals c times a's
  over every element (every element a changes by more than the tolerance, two at least,
  and those it does not change stay put in b too). For gradients, b's gradient is c
  times a's. A round factor (0, 2, 1/2, -1, ...) that passes the same test is named.
- `rows`: only some rows (axis 0) of a weight differ at the first divergence: each row's
  largest error against its tolerance. Repeated indices in an embedding's backward,
  where `W[idx] += dW` drops all but one update a row (np.add.at adds them all).
- `dtype`: a side holds the weights in another precision than compared (a note).

"Every record checked" is the first `WINDOW` records from the first divergence on, so
finding hints costs a small part of the comparison (only once the runs have parted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

KINDS = ("schedule", "transposed", "permuted", "lagged", "scaled", "rows", "dtype")
WINDOW = 8  # records checked from the first divergence on
BLOCKS = (2, 3, 4)  # block counts tried for `permuted` (2 halves, GRU's 3, LSTM's 4 gates)
ROWS_LISTED = 8  # rows named in a `rows` hint
# elements a `scaled` proof needs: with two, a softmax bias's gradient (its elements sum
# to zero) is proportional to any other, whatever the bug
MOVED = 3
# (blocks, permutation b <- a): the book's LSTM stacks its gates f, g, i, o (common/
# time_layers.py); torch's nn.LSTM stacks i, f, g, o
GATE_ORDERS = {
    (4, (2, 0, 1, 3)): "the book's LSTM gate order f, g, i, o read as nn.LSTM's i, f, g, o",
    (4, (1, 2, 0, 3)): "nn.LSTM's gate order i, f, g, o read as the book's LSTM f, g, i, o",
}
# round factors named when they pass the same test as the fitted one, with what they mean
ROUND_FACTORS = (
    (0.0, "a weight the update does not reach (left out of the optimizer, no gradient)"),
    (2.0, "a term counted twice (a bias updated twice, a gradient added twice)"),
    (0.5, "half the update (a gradient averaged over twice the rows, a halved rate)"),
    (-1.0, "the sign (gradient ascent, a loss or an update negated)"),
)


class Hint(NamedTuple):
    """A claim about why two runs part: `kind` (one of `KINDS`), the weight (or "loss",
    "schedule") it is about, and the claim in words with its proof."""

    kind: str
    name: str
    detail: str


@dataclass(frozen=True)
class Records:
    """One kind of record of both runs, as compared: `what` ("weights" or "gradients"),
    `steps[r]` the step count of record r (updates made for weights, the step's index for
    gradients), and per name the two runs' records `a`, `b`, `error` |b - a| and
    `allowed` its tolerance, each (records, *shape); `first` the first record that fails."""

    what: str
    steps: np.ndarray
    a: dict[str, np.ndarray]
    b: dict[str, np.ndarray]
    error: dict[str, np.ndarray]
    allowed: dict[str, np.ndarray]
    first: int | None

    def failing(self, r: int) -> list[str]:
        """The names that fail at record r, in order."""
        return [k for k in self.a if not np.all(self.error[k][r] <= self.allowed[k][r])]


@dataclass(frozen=True)
class Sides:
    """Who is compared: the names of runs a and b, and their frameworks."""

    a: str
    b: str
    a_framework: str
    b_framework: str


def grouped(hints: Iterable[Hint]) -> list[tuple[str, list[str], str]]:
    """(kind, names, detail): hints of one kind that say the same of several weights, in
    a row, as one (the detail as said of the first name)."""
    out: list[tuple[str, list[str], str]] = []
    for kind, name, detail in hints:
        if out and out[-1][0] == kind:
            first = out[-1][1][0]
            if detail.replace(name, first) == out[-1][2]:
                out[-1][1].append(name)
                continue
        out.append((kind, [name], detail))
    return out


def find_hints(
    sides: Sides,
    records: Iterable[Records],
    fingerprints: tuple[np.ndarray | None, np.ndarray | None],
    losses: tuple[np.ndarray, np.ndarray, np.ndarray, int | None],
    notes: list[tuple[str, str]],
) -> tuple[tuple[Hint, ...], dict[Hint, str]]:
    """Every hint the records prove, most telling first, and a short tag for each (for
    tables). `records`: the weights and gradients that part, in the order a step makes
    them (the weights after s updates, then step s's gradients); `losses` is (a's, b's,
    allowed, first failing step); `notes` the dtype notes, (weight names, note)."""
    found: list[tuple[int, int, Hint, str]] = []  # (kind rank, source order, hint, tag)

    def add(order: int, hint: Hint | None, tag: str = "") -> None:
        if hint is not None:
            found.append((KINDS.index(hint.kind), order, hint, tag or hint.kind))

    add(0, *_schedule(sides, *fingerprints))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf in a run that blew up
        for order, rec in enumerate(records, start=1):
            if rec.first is None:
                continue
            for name in rec.failing(rec.first):
                for finder in (_transposed, _permuted, _lagged, _scaled, _rows):
                    add(order, *finder(sides, rec, name))
        add(len(KINDS), *_lagged_losses(sides, *losses))  # after the weights' and gradients'

    for names, note in notes:
        add(0, Hint("dtype", names, note))
    found.sort(key=lambda f: (f[0], f[1]))
    return tuple(f[2] for f in found), {f[2]: f[3] for f in found}


# --------------------------------------------------------------------------- the proofs


def _within(ref: np.ndarray, other: np.ndarray, allowed: np.ndarray) -> bool:
    """|other - ref| <= allowed everywhere (NaN fails; `find` silences inf - inf)."""
    return bool((np.abs(other - ref) <= allowed).all())


def _window(rec: Records) -> slice:
    return slice(rec.first, min(rec.first + WINDOW, len(rec.steps)))


def _checked(rec: Records, rows: slice | np.ndarray) -> str:
    """ "after 3 to 10 updates" / "at step 3": the records a proof looked at."""
    steps = rec.steps[rows]
    if len(steps) == 1:
        n = int(steps[0])
        return f"at step {n}" if rec.what == "gradients" else f"after {n} update{'s' * (n != 1)}"
    span = f"{steps[0]} to {steps[-1]}"
    return f"at steps {span}" if rec.what == "gradients" else f"after {span} updates"


def _whose(run: str, rec: Records, name: str) -> str:
    """ "torch's W1", or "torch's gradient of W1"."""
    return f"{run}'s gradient of {name}" if rec.what == "gradients" else f"{run}'s {name}"


def _of(rec: Records, name: str) -> str:
    return f"the gradient of {name}" if rec.what == "gradients" else name


def _schedule(sides: Sides, fa: np.ndarray | None, fb: np.ndarray | None):
    if fa is None or fb is None or np.shape(fa) != np.shape(fb):
        return (None,)
    differ = np.flatnonzero(fa != fb)
    if not differ.size:
        return (None,)
    s, n = int(differ[0]), len(fa)
    how = f"their schedules first differ at step {s} ({differ.size} of {n} steps differ)"
    if n > 1 and np.array_equal(fb[:-1], fa[1:]):
        how = f"each of {sides.b}'s batches is {sides.a}'s of the next step (one step ahead)"
    elif n > 1 and np.array_equal(fb[1:], fa[:-1]):
        how = f"each of {sides.b}'s batches is {sides.a}'s of the step before (one step behind)"
    detail = (
        f"{sides.b} was fed other batches than {sides.a}: {how}; record both runs with the "
        "same schedule array"
    )
    return Hint("schedule", "schedule", detail), f"schedule from step {s}"


def _transposed(sides: Sides, rec: Records, name: str):
    a = rec.a[name]
    if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[1] < 2:
        return (None,)
    w = _window(rec)
    if not _within(a[w].swapaxes(1, 2), rec.b[name][w], rec.allowed[name][w].swapaxes(1, 2)):
        return (None,)
    detail = (
        f"{sides.b} holds {_of(rec, name)} transposed: it equals {sides.a}'s .T "
        f"{_checked(rec, w)} (square, so the shapes cannot tell); {_layout(sides)}"
    )
    return Hint("transposed", name, detail), "transposed"


def _layout(sides: Sides) -> str:
    """Which layout stores a weight the other way round."""
    runs = ((sides.a, sides.a_framework), (sides.b, sides.b_framework))
    torch = [run for run, framework in runs if framework == "torch"]
    stored = "torch's nn.Linear (and nn.RNN, nn.LSTM) store a weight as (out, in)"
    if torch:
        return (
            f"{stored}, the book and JAX as (in, out): take {torch[0]}'s weights through "
            "from_torch / to_torch, which transpose them"
        )
    return f"one side reads or stores (out, in) where the other has (in, out), as {stored}"


def _permuted(sides: Sides, rec: Records, name: str):
    a, b, allowed = rec.a[name], rec.b[name], rec.allowed[name]
    r, w = rec.first, _window(rec)
    for axis in range(1, a.ndim):
        length = a.shape[axis]
        for n in BLOCKS:
            if length % n:
                continue
            perm = _block_order(a[r : r + 1], b[r : r + 1], allowed[r : r + 1], axis, n)
            if perm is None or perm == tuple(range(n)):
                continue
            if _block_order(a[w], b[w], allowed[w], axis, n) != perm:
                continue
            size = length // n
            gates = GATE_ORDERS.get((n, perm))
            detail = (
                f"{_whose(sides.b, rec, name)} holds {sides.a}'s {n} blocks of {size} along "
                f"axis {axis - 1} in another order: its block j is {sides.a}'s block "
                f"{list(perm)}[j], {_checked(rec, w)}" + (f"; that is {gates}" if gates else "")
            )
            return Hint("permuted", name, detail), f"permuted {list(perm)}"
    return (None,)


def _block_order(
    a: np.ndarray, b: np.ndarray, allowed: np.ndarray, axis: int, n: int
) -> tuple[int, ...] | None:
    """The one order of a's n blocks along `axis` that b holds (b's block j is a's block
    order[j]); None when there is none, or more than one (equal blocks cannot tell)."""

    def blocks(x: np.ndarray) -> np.ndarray:  # (n, ..., size, ...): block k first
        shape = (*x.shape[:axis], n, x.shape[axis] // n, *x.shape[axis + 1 :])
        return x.reshape(shape).swapaxes(0, axis)

    ab, bb, wb = blocks(a), blocks(b), blocks(allowed)
    # match[j, i]: b's block j equals a's block i to a's tolerance, everywhere
    match = (np.abs(bb[:, None] - ab[None]) <= wb[None]).reshape(n, n, -1).all(axis=2)
    if not (match.sum(axis=1) == 1).all() or not (match.sum(axis=0) == 1).all():
        return None
    return tuple(int(i) for i in match.argmax(axis=1))


def _lagged(sides: Sides, rec: Records, name: str):
    a, b, allowed = rec.a[name], rec.b[name], rec.allowed[name]
    n = len(rec.steps)
    rows = np.arange(rec.first, min(rec.first + WINDOW, n))
    for shift, word in ((-1, "behind"), (1, "ahead of")):
        lined = rows[(rows + shift >= 0) & (rows + shift < n)]
        if len(lined) < 2:
            continue
        if not _within(a[lined + shift], b[lined], allowed[lined + shift]):
            continue
        gaps = np.abs(rec.steps[lined + shift] - rec.steps[lined])
        unit = "one step" if np.all(gaps == 1) else "one record"
        detail = (
            f"{sides.b} is {unit} {word} {sides.a}: its record r of {_of(rec, name)} equals "
            f"{sides.a}'s record r {'-' if shift < 0 else '+'} 1, "
            f"{_checked(rec, lined)}; a step that reports its {rec.what} before (or after) "
            "the update they belong to"
        )
        return Hint("lagged", name, detail), f"lagged {'-' if shift < 0 else '+'}1"
    return (None,)


def _lagged_losses(sides: Sides, la: np.ndarray, lb: np.ndarray, allowed: np.ndarray, first):
    if first is None:
        return (None,)
    steps = np.arange(first, min(first + WINDOW, len(la)))
    for shift, word in ((-1, "behind"), (1, "ahead of")):
        lined = steps[(steps + shift >= 0) & (steps + shift < len(la))]
        if len(lined) >= 2 and _within(la[lined + shift], lb[lined], allowed[lined + shift]):
            detail = (
                f"{sides.b}'s loss is one step {word} {sides.a}'s: its loss of step i equals "
                f"{sides.a}'s of step i {'-' if shift < 0 else '+'} 1 at steps {lined[0]} to "
                f"{lined[-1]}; a step that returns the loss of another step"
            )
            return Hint("lagged", "loss", detail), f"lagged {'-' if shift < 0 else '+'}1"
    return (None,)


def _scaled(sides: Sides, rec: Records, name: str):
    r = rec.first
    allowed = rec.allowed[name][r]
    if rec.what == "gradients":
        da, db = rec.a[name][r], rec.b[name][r]
        what = f"{sides.b}'s gradient of {name} at step {rec.steps[r]} is"
    else:
        if r == 0:
            return (None,)  # no agreeing record to measure the updates from
        da = rec.a[name][r] - rec.a[name][r - 1]
        db = rec.b[name][r] - rec.b[name][r - 1]
        s0, s1 = int(rec.steps[r - 1]), int(rec.steps[r])
        if s1 - s0 == 1:
            what = f"{sides.b}'s update of {name} at step {s0} is"
        else:
            what = f"{sides.b}'s updates of {name} over steps {s0} to {s1 - 1} are"
    moved = np.abs(da) > allowed  # elements a's update (or gradient) visibly changes
    count = int(np.count_nonzero(moved))
    if count < MOVED or not np.all(np.isfinite(db)):
        return (None,)
    c = float(np.sum(da[moved] * db[moved]) / np.sum(da[moved] ** 2))
    if not _within(c * da, db, allowed) or _within(da, db, allowed):
        return (None,)
    shown, meaning = f"{c:.6g}", _rate_off(c)
    for factor, text, means in _round_factors(c):
        if _within(factor * da, db, allowed):
            shown, meaning = text, means
            break
    detail = f"{what} {shown} times {sides.a}'s, in every element it moves; {meaning}"
    return Hint("scaled", name, detail), f"scaled x{shown}"


def _round_factors(c: float) -> list[tuple[float, str, str]]:
    """(factor, as written, what it means): the round factors near `c` worth naming."""
    out = [(f, f"{f:g}", means) for f, means in ROUND_FACTORS]
    sign = -1 if c < 0 else 1
    if abs(c) > 2.5:  # n times: a sum over n rows where a mean belongs
        n = round(abs(c))
        out.append((sign * n, f"{sign * n}", _per_row(n, "a sum", "a mean")))
    elif 0 < abs(c) < 0.4:  # 1/n: a mean where a sum belongs
        n = round(1 / abs(c))
        out.append((sign / n, f"{'-' * (sign < 0)}1/{n}", _per_row(n, "a mean", "a sum")))
    return out


def _per_row(n: int, taken: str, belongs: str) -> str:
    return (
        f"{taken} over {n} rows (a batch of {n}?) where {belongs} belongs, or a rate {n} times off"
    )


def _rate_off(c: float) -> str:
    if 0.9 < c < 1.1:
        return f"a learning rate or a scale {100 * (c - 1):+.3g}% off"
    return "a learning rate or a scale factor that differs"


def _rows(sides: Sides, rec: Records, name: str):
    error, allowed = rec.error[name][rec.first], rec.allowed[name][rec.first]
    if error.ndim < 2 or error.shape[0] < 2:
        return (None,)
    n = error.shape[0]
    bad_rows = np.flatnonzero(~(error <= allowed).reshape(n, -1).all(axis=1))
    if not 0 < bad_rows.size < n:
        return (None,)
    shown = [str(int(i)) for i in bad_rows[:ROWS_LISTED]]
    if bad_rows.size > ROWS_LISTED:
        shown.append("...")
    at = _checked(rec, slice(rec.first, rec.first + 1))
    one = bad_rows.size == 1
    detail = (
        f"only {bad_rows.size} of {n} rows of {_of(rec, name)} {'differs' if one else 'differ'} "
        f"{at}: {'row' if one else 'rows'} {', '.join(shown)}; the other {n - bad_rows.size} "
        "agree. Rows that differ alone "
        "are the mark of repeated indices in an embedding's backward: W[idx] += dW keeps "
        "one update a row where np.add.at(W, idx, dW) adds them all"
    )
    return Hint("rows", name, detail), "rows " + ", ".join(shown[:3] + ["..."] * (len(shown) > 3))


__all__ = ["KINDS", "Hint", "Records", "Sides", "find_hints", "grouped"]
