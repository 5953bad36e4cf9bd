"""A training run as data: `Trajectory`, when its weights are recorded (`record_steps`),
and how a run that blew up is found and reported (`divergence`, `DivergenceError`).

Framework-neutral: every adapter, and `comparisons.parity.record` for a user's own model,
returns the same `Trajectory`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

    `grads[name][k]`, when recorded, is the gradient of step `record_steps[k + 1] - 1`,
    the step just taken when record k + 1 was taken (record 0 has none: no step yet).
    `label` names the run in reports (None: "framework/mode"). `fingerprint[i]` is a hash
    of step i's batch (`schedule_fingerprint`), so two runs fed different batches are
    told apart. `state` is the final state of a functional run (`record(..., state=)`).
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
    grads: dict[str, np.ndarray] | None = None  # name -> (records - 1, *shape)
    label: str | None = None
    fingerprint: np.ndarray | None = None  # (steps,) uint64
    state: Any = None
    workers: int = 1  # data-parallel workers that made the run (Net.train's data_parallel)

    @property
    def name(self) -> str:
        """The run's name in reports: its label, or "framework/mode" (and " x N workers"
        for a data-parallel run, so it is not taken for its one-process reference)."""
        if self.label is not None:
            return self.label
        workers = f" x {self.workers} workers" if self.workers > 1 else ""
        return f"{self.framework}/{self.mode}{workers}"

    @property
    def grad_steps(self) -> np.ndarray:
        """(records - 1,): the step whose gradient `grads[name][k]` is."""
        return np.asarray(self.record_steps[1:], dtype=np.int64) - 1

    @property
    def steps(self) -> int:
        return int(self.losses.shape[0])

    def final_weights(self) -> Weights:
        return {k: v[-1].copy() for k, v in self.weights.items()}

    def truncated(self, steps: int) -> Trajectory:
        """The trajectory of the first `steps` steps (records up to that step)."""
        keep = self.record_steps <= steps
        return self._kept(keep, steps)

    def _kept(self, keep: np.ndarray, steps: int) -> Trajectory:
        """The records where `keep` (records,) is True, and the first `steps` steps. A
        gradient goes with its record; none is kept once record 0 is not."""
        grads = self.grads
        if grads is not None:
            with_record = keep[1:] if keep[0] else np.zeros(len(keep) - 1, dtype=bool)
            grads = {k: v[with_record] for k, v in grads.items()}
        return dataclasses.replace(
            self,
            losses=self.losses[:steps],
            record_steps=self.record_steps[keep],
            weights={k: v[keep] for k, v in self.weights.items()},
            loss_gap=None if self.loss_gap is None else self.loss_gap[:steps],
            grads=grads,
            fingerprint=None if self.fingerprint is None else self.fingerprint[:steps],
        )


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights.

    `.step` is the first step that cannot be trusted: its loss is not finite, or the
    weights it started from are not. `.trajectory` holds the steps before it and the
    finite weight records. An adapter's net (`net=True`) is left at the last of those
    records; a model of your own (`comparisons.parity.record`, `net=False`) holds
    whatever its step left, and the message says only what was recorded.
    """

    def __init__(
        self,
        framework: str,
        step: int,
        trajectory: Trajectory,
        reason: str = "",
        *,
        net: bool = True,
    ) -> None:
        if not reason:
            value = trajectory.losses[step] if step < trajectory.steps else "non-finite"
            reason = f"loss became {value}"
        kept = trajectory.truncated(step)
        kept = dataclasses.replace(kept._kept(_finite_records(kept), step), diverged_at=step)
        held = ""
        if kept.record_steps.size:
            last = int(kept.record_steps[-1])
            weights = (
                "its initial weights" if last == 0 else f"the weights recorded after {_steps(last)}"
            )
            held = f" and the net holds {weights}" if net else f"; its last record is {weights}"
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


def raise_if_diverged(traj: Trajectory, *, net: bool = True) -> Trajectory:
    """`traj` when every value is finite; else DivergenceError at the step `divergence`
    finds, holding the trajectory up to it (and `traj.diverged_at` is set). `net=False`:
    the run is a model of your own (`comparisons.parity.record`), named by its label."""
    found = divergence(traj)
    if found is None:
        return traj
    step, reason = found
    traj.diverged_at = step
    name = traj.framework if net else traj.name
    raise DivergenceError(name, step, traj, reason, net=net)


def schedule_fingerprint(schedule: np.ndarray) -> np.ndarray:
    """(steps,) uint64: a hash of each step's batch, (steps, batch) row indices, in order.

    Two runs fed the same batches have equal fingerprints; a batch that differs in any
    index or in its order changes its step's hash (with probability 1 - 2**-64). Each
    index is weighted by a fixed odd constant for its position and the sum mixed, all in
    uint64 arithmetic that wraps: a few nanoseconds an index.
    """
    rows = np.asarray(schedule).astype(np.uint64)  # (steps, batch); int64 >= 0 as is
    keys = np.random.default_rng(0x5EED).integers(
        1, 2**63, size=rows.shape[1], dtype=np.uint64, endpoint=False
    ) * np.uint64(2) + np.uint64(1)  # (batch,) odd, the same in every process
    h = (rows + np.uint64(1)) * keys  # (steps, batch), wrapping
    h = h.sum(axis=1, dtype=np.uint64) ^ np.uint64(rows.shape[1])  # (steps,)
    h ^= h >> np.uint64(31)
    h *= np.uint64(0x9E3779B97F4A7C15)
    return h ^ (h >> np.uint64(29))


__all__ = [
    "DivergenceError",
    "Trajectory",
    "divergence",
    "raise_if_diverged",
    "record_steps",
    "schedule_fingerprint",
]
