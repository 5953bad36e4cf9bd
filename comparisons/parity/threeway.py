"""Every pair among numpy, torch and jax compared, naming the odd one out.

With three implementations a failing pair alone does not say who is wrong; when two
agree and the third differs from both, the third is `odd_one_out`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from numpy.typing import ArrayLike

from comparisons.parity.comparison import Report, compare
from comparisons.parity.formatting import and_, jsonable


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
            return f"{and_(self.names)} agree ({self.dtype}, {self.quantity})"
        if odd is not None:
            rest = [n for n in self.names if n != odd]
            against = self.pair(rest[0], odd)
            return (
                f"{and_(rest)} agree; {odd} differs from "
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
        """The comparison of every pair as JSON-ready values."""
        return {
            **jsonable(self),
            "passed": self.passed,
            "odd_one_out": self.odd_one_out,
            "summary": self.summary(),
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
