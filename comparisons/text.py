"""How the comparison's numbers are written: one text table, one set of number formats,
and the cells of a results row and of a precision-matrix row, shared by the terminal,
report.md and report.html (which only escapes and wraps them).

Two losses appear and are named apart everywhere: the main table shows the book's
training loss (the average of the last epoch's mini-batch losses, with the book's 1e-7,
as ch01/train_custom_loop.py prints it); the precision matrix shows the epsilon-free loss
of the trained weights on all 300 points.
"""

from __future__ import annotations

from collections.abc import Sequence

NONE = "-"  # a cell with nothing to show
TRAIN_LOSS = "train loss (last epoch avg)"
FULL_LOSS = "loss on all 300 points"
STORAGE = "float16 storage"  # the precision matrix's save_params row
# after PASS or FAIL: a float64 verdict judged against the reference's rounding twin, the
# table's rows alone having failed (comparisons/rounding.py)
CALIBRATED = " (calibrated)"

RESULT_HEAD = (
    "framework",
    "mode",
    TRAIN_LOSS,
    "accuracy",
    "max |dW| vs ref",
    "first diverging step",
    "time [s]",
    "parity",
)
MATRIX_HEAD = (
    "precision",
    "framework",
    "accuracy",
    "vs float64",
    FULL_LOSS,
    "max |W - W64|",
    "parity",
)


def text_table(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, a dashed rule under `head`."""
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in body)])


def markdown_table(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table of the same cells."""
    rows = [head, ["---"] * len(head), *body]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows)


def percent(fraction: float | None) -> str:
    return NONE if fraction is None else f"{100 * fraction:.1f}%"


def points(change: float | None) -> str:
    """An accuracy change in percentage points."""
    return NONE if change is None else f"{100 * change:+.1f} pt"


def sci(value: float | None) -> str:
    return NONE if value is None else f"{value:.2e}"


def duration(seconds: float | None) -> str:
    """A time in the unit that keeps three figures: us, ms or s."""
    if seconds is None:
        return NONE
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def step_count(step: int | None) -> str:
    """The first diverging step, or "none" when the runs agreed throughout."""
    return "none" if step is None else str(step)


def fixed(value: float, digits: int) -> str:
    """`value` with `digits` decimals, or in e-notation when that would not fit a column
    (a run that blew up to 1e300 keeps its table readable)."""
    if abs(value) < 1e6:
        return f"{value:.{digits}f}"
    return f"{value:.{min(digits, 4)}e}"


def result_cells(row: dict) -> tuple[str, ...]:
    """One row of comparisons.run.table_rows as the cells of RESULT_HEAD."""
    is_ref = row["vs"] is None
    return (
        row["framework"],
        row["mode"],
        fixed(row["final_loss"], 6),
        percent(row["accuracy"]),
        NONE if is_ref else sci(row["max_abs_dweights"]),
        NONE if is_ref else step_count(row["first_diverging_step"]),
        f"{row['seconds']:.3f}",
        row["verdict"],
    )


def matrix_cells(row: dict) -> tuple[str, ...]:
    """One row of PrecisionMatrix.to_dict()["rows"] as the cells of MATRIX_HEAD."""
    storage = row["precision"] == STORAGE
    return (
        row["precision"],
        row["framework"] if storage else f"{row['framework']}/{row['mode']}",
        percent(row["accuracy"]),
        points(row["accuracy_change"]),
        NONE if row["loss"] is None else fixed(row["loss"], 4),
        sci(row["max_abs_dweights_vs_float64"]),
        row["verdict"],
    )
