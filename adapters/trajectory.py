"""A training run as data: `Trajectory`, when its weights are recorded (`record_steps`),
and how a run that blew up is found and reported (`divergence`, `DivergenceError`).

Framework-neutral: every adapter, and `comparisons.parity.record` for a user's own model,
returns the same `Trajectory`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scratch.two_layer_net import Weights

if TYPE_CHECKING:
    from adapters.optimizer_spec import OptimizerSpec


@dataclass
class Trajectory:
    """One training run: the loss of every step and the weights at the recorded steps.

    `record_steps[k]` is the number of updates made when `weights[name][k]` was taken:
    0 (the initial weights), every `record_every` steps, and always the last step.
    `loss_gap[i]`, when set, is how far `losses[i]` sits below the epsilon-free
    cross-entropy: the reference reports the book's loss, -log(p + 1e-7) (the 1e-7 is
    scratch.functions.BOOK_LOG_EPS), and records mean(log(1 + 1e-7 / p)) over the batch
    beside it, so `losses + loss_gap` is the loss torch and optax compute. None when the
    loss has no epsilon.
    """

    losses: np.ndarray  # (steps,)
    record_steps: np.ndarray  # (records,)
    weights: dict[str, np.ndarray]  # name -> (records, *shape), book layout
    framework: str
    mode: str
    dtype: str
    seconds: float
    optimizer: OptimizerSpec | None = None
    loss_gap: np.ndarray | None = None  # (steps,); None when the loss has no epsilon
    diverged_at: int | None = None  # the step `divergence` found, if any
    workers: int = 1  # data-parallel workers that made the run (Net.train's data_parallel)

    @property
    def steps(self) -> int:
        return int(self.losses.shape[0])

    def final_weights(self) -> Weights:
        return {k: v[-1].copy() for k, v in self.weights.items()}

    def truncated(self, steps: int) -> Trajectory:
        """The trajectory of the first `steps` steps (records up to that step)."""
        keep = self.record_steps <= steps
        return dataclasses.replace(
            self,
            losses=self.losses[:steps],
            record_steps=self.record_steps[keep],
            weights={k: v[keep] for k, v in self.weights.items()},
            loss_gap=None if self.loss_gap is None else self.loss_gap[:steps],
        )


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights.

    `.step` is the first step that cannot be trusted: its loss is not finite, or the
    weights it started from are not. `.trajectory` holds the steps before it and the
    finite weight records; the net is left at the last of those records.
    """

    def __init__(self, framework: str, step: int, trajectory: Trajectory, reason: str = "") -> None:
        if not reason:
            value = trajectory.losses[step] if step < trajectory.steps else "non-finite"
            reason = f"loss became {value}"
        kept = trajectory.truncated(step)
        finite = _finite_records(kept)
        kept = dataclasses.replace(
            kept,
            record_steps=kept.record_steps[finite],
            weights={k: v[finite] for k, v in kept.weights.items()},
            diverged_at=step,
        )
        held = ""
        if kept.record_steps.size:
            last = int(kept.record_steps[-1])
            held = " and the net holds " + (
                "its initial weights" if last == 0 else f"the weights recorded after {_steps(last)}"
            )
        super().__init__(
            f"{framework}: training diverged at step {step} ({reason}); the trajectory up to "
            f"step {step} is kept in .trajectory{held}"
        )
        self.framework = framework
        self.step = step
        self.trajectory = kept


def _steps(n: int) -> str:
    return f"{n} step" + ("" if n == 1 else "s")


def _finite_records(traj: Trajectory) -> np.ndarray:
    """(records,) bool: True where every recorded weight is finite."""
    ok = np.ones(len(traj.record_steps), dtype=bool)
    for v in traj.weights.values():
        ok &= np.isfinite(v.reshape(len(ok), -1)).all(axis=1)
    return ok


def divergence(traj: Trajectory) -> tuple[int, str] | None:
    """(step, reason) of the first non-finite value of a run, or None when all is finite.

    Three things count, whichever comes first: the loss the framework reports; the
    epsilon-free loss, `losses + loss_gap` (the book's -log(p + 1e-7) stays finite when a
    label's logit overflows to -inf, the cross-entropy torch and optax compute does not,
    so this makes every framework stop at the same step); and the recorded weights (a
    record taken after s updates that is not finite makes step s, the first to start
    from those weights, the diverging one; this also catches the last update).
    """
    found = []
    losses = np.asarray(traj.losses, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        found.append((int(bad[0]), f"loss became {losses[bad[0]]}"))
    if traj.loss_gap is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            exact = losses + np.asarray(traj.loss_gap, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(exact))
        if bad.size:
            found.append((int(bad[0]), f"the epsilon-free cross-entropy became {exact[bad[0]]}"))
    records = np.flatnonzero(~_finite_records(traj))
    if records.size:
        s = int(traj.record_steps[records[0]])
        found.append((s, f"the weights after {_steps(s)} are not finite"))
    return min(found, key=lambda f: f[0]) if found else None


def record_steps(steps: int, record_every: int) -> np.ndarray:
    """0, k, 2k, ... and always `steps`: when `Net.train` records the weights."""
    marks = list(range(0, steps + 1, record_every))
    if marks[-1] != steps:
        marks.append(steps)
    return np.asarray(marks, dtype=np.int64)


def raise_if_diverged(traj: Trajectory) -> Trajectory:
    """`traj` when every value is finite; else DivergenceError at the step `divergence`
    finds, holding the trajectory up to it (and `traj.diverged_at` is set)."""
    found = divergence(traj)
    if found is None:
        return traj
    step, reason = found
    traj.diverged_at = step
    raise DivergenceError(traj.framework, step, traj, reason)


__all__ = [
    "DivergenceError",
    "Trajectory",
    "divergence",
    "raise_if_diverged",
    "record_steps",
]
