"""How the parity reports print: values that give themselves back, indices, columns, JSON.

Every report's `to_dict` is `jsonable(report)` plus its computed properties: dataclass
fields become keys, tuples and arrays become lists, and a NaN or an infinity becomes None
(strict JSON has neither). Nothing here computes a verdict.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """`value` as JSON-ready Python: dataclasses by their fields, arrays and tuples as
    lists, NumPy scalars as Python ones, non-finite floats as None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray | list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def fmt_index(index: tuple[int, ...] | None) -> str:
    """`[3, 2]`; `-` when there is no index."""
    return "-" if index is None else "[" + ", ".join(str(i) for i in index) + "]"


def where(name: str, index: tuple[int, ...]) -> str:
    """`W1[3, 2]`, or the bare name for a scalar."""
    return name + (fmt_index(index) if index else "")


def fmt_err(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def fmt_ulps(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{int(x)}" if np.isfinite(x) and x < 1e6 else f"{x:.3g}"


def fmt_value(x: float | None, dtype: str) -> str:
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


def columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows of cells as left-aligned, fixed-width lines."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def list_text(values: np.ndarray) -> str:
    """`[0, 2, 4, ..., 10] (6 records)`: a long list shortened."""
    shown = [str(int(v)) for v in values]
    if len(shown) > 8:
        shown = [*shown[:4], "...", *shown[-2:]]
    return f"[{', '.join(shown)}] ({len(values)} records)"


def and_(names: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
