"""The reference's rounding twins, and float64 verdicts judged against them when the table fails.

A float64 run near its stability limit amplifies rounding: two correct implementations,
whose every step differs by a few ULPs, part by far more than the table's float64 rows
allow over a long or wide run (hidden 3000 at lr 0.01: the loss by 1e-11 after 900 steps).
The reference's *rounding twins* measure that amplification on the reference itself: the
same run, from the same weights on the same batches, with its sums taken in other orders:
the hidden units reversed (the sums over the hidden layer), each batch's rows reversed (the
sums and means over the batch), and both. In exact arithmetic they make the reference's
updates; in float64 they round differently at every step, as another framework does. Their
weights are put back in the reference's order, and their distance from the reference is
what rounding alone does to this run (comparisons/parity/tolerances.py: ROUNDING_FACTOR,
LINEAR_RANGE). Three, not one: which of its differences an unstable step amplifies is luck,
and the largest of three is far less often small by chance.

`judge(ref, other, twins)` compares with the table first; only a float64 comparison that
the table fails (on the same batches) is judged again against the twins, trained then,
once per run (`Twins`). A run that passes the table costs nothing more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

import adapters
from adapters import Trajectory
from comparisons import parity

# The axis of each weight that runs over the hidden units, in the book's layout (W1 is
# (in, hidden), b1 (hidden,), W2 (hidden, out)); b2 has none.
HIDDEN_AXIS = {"W1": 1, "b1": 0, "W2": 0}


def reversed_hidden(weights: dict[str, np.ndarray], records: bool = False) -> dict:
    """`weights` with the hidden units in reverse order (the same net, summed the other
    way over the hidden layer); `records`: arrays of records, (records, *shape)."""
    lead = 1 if records else 0
    return {
        k: np.flip(v, axis=HIDDEN_AXIS[k] + lead).copy() if k in HIDDEN_AXIS else v.copy()
        for k, v in weights.items()
    }


def rounding_twins(
    net: Callable[[dict[str, np.ndarray]], adapters.NetBase],
    weights: dict[str, np.ndarray],
    train: Callable[[adapters.NetBase, np.ndarray], Trajectory],
    schedule: np.ndarray,
) -> tuple[Trajectory, Trajectory, Trajectory]:
    """The reference's run with its sums in three other orders: `net(w)` builds the
    reference from weights `w`, `train(net, schedule)` trains it. The twins have the hidden
    units reversed, each batch's rows reversed, and both; each comes back in the
    reference's order of units."""
    rows = np.ascontiguousarray(schedule[:, ::-1])
    twins = []
    for hidden, batches, what in (
        (True, schedule, "hidden units reversed"),
        (False, rows, "each batch's rows reversed"),
        (True, rows, "hidden units and rows reversed"),
    ):
        traj = train(net(reversed_hidden(weights) if hidden else weights), batches)
        if hidden:
            back = reversed_hidden(traj.weights, records=True)
            grads = None if traj.grads is None else reversed_hidden(traj.grads, records=True)
            traj = dataclasses.replace(traj, weights=back, grads=grads)
        twins.append(dataclasses.replace(traj, fingerprint=None, label=f"{traj.name}, {what}"))
    return tuple(twins)


class Twins:
    """The rounding twins, made when first asked for (`get()`), then kept; `key` names the
    run they are the twins of (another run with the same key may share them)."""

    def __init__(self, make: Callable[[], tuple[Trajectory, ...]], key: object = None):
        self._make, self._twins, self.key = make, None, key

    def get(self) -> tuple[Trajectory, ...]:
        if self._twins is None:
            self._twins = self._make()
        return self._twins

    @property
    def made(self) -> bool:
        return self._twins is not None


def judge(ref: Trajectory, other: Trajectory, twins: Twins) -> parity.TrajectoryReport:
    """`other` against the reference `ref`: by the table, and, when a float64 comparison
    fails it on the same batches, again against the reference's rounding twins (the
    report then says so: `rounding_calibrated`)."""
    report = parity.compare_trajectories(ref, other)
    if report.passed or report.dtype != "float64" or report.schedule_step is not None:
        return report
    return parity.compare_trajectories(ref, other, calibration=(ref, *twins.get()))
