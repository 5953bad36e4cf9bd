"""Measure how far float64 runs part through rounding alone, and what the rounding twins
(comparisons/rounding.py) make of it: `python -m comparisons.rounding_measure [--seeds N]`.

For each case (the book's run, and wider, longer or faster ones near and past their
stability limits) it trains the reference, its three rounding twins and every other
framework, and prints for each framework: the table's verdict and first failing step, the
verdict judged against the twins, the largest |dW|, and `needs`, the smallest factor that
passes it (its largest error over the twins' distance at the same record or step, where it
exceeds the table and the twins are inside float64's linear range: ROUNDING_FACTOR must be
larger). Then the twins' own largest distance, where they leave the linear range, what they
cost, and where a learning rate 1e-9 off from the middle of the run is found, by the
table and against the twins. docs/numerics.md quotes these figures. A script, not a test:
the larger cases take minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

import adapters
from adapters import Trajectory
from comparisons import parity, rounding
from comparisons.parity.comparison import errors
from comparisons.parity.tolerances import LINEAR_RANGE, reduction_tolerance, tolerance
from comparisons.run import RunConfig, book_data, train

CASES = [  # (hidden, lr, epochs): seeds 1984, then 1, 2, ... with --seeds
    (10, 1.0, 300),  # the book's run
    (10, 10.0, 300),
    (100, 1.0, 300),
    (3000, 0.01, 100),  # the run, its first 1000 steps
    (300, 1.0, 300),  # past its limit: the reference parts from itself at once
    (4000, 0.01, 20),
]


def late_lr_bug(config: RunConfig, x, t, weights, schedule, start: int, rel: float) -> Trajectory:
    """The reference's run with its learning rate `rel` relative off from step `start` on
    (the Net trained to `start`, then on with the other rate), recorded as one run."""
    if start % config.record_every:
        raise ValueError(f"start must be a multiple of record_every {config.record_every}")
    net = adapters.build("numpy", weights)
    head = train(net, config, x, t, schedule[:start])
    off = adapters.OptimizerSpec(config.optimizer.name, config.optimizer.lr * (1 + rel))
    tail = train(net, dataclasses.replace(config, optimizer=off), x, t, schedule[start:])
    return dataclasses.replace(
        head,
        losses=np.concatenate([head.losses, tail.losses]),
        loss_gap=np.concatenate([head.loss_gap, tail.loss_gap]),
        record_steps=np.concatenate([head.record_steps, tail.record_steps[1:] + start]),
        weights={k: np.concatenate([head.weights[k], tail.weights[k][1:]]) for k in head.weights},
        fingerprint=np.concatenate([head.fingerprint, tail.fingerprint]),
        label=f"numpy, lr x (1 + {rel:g}) from step {start}",
    )


def needs(ref: Trajectory, twins: tuple[Trajectory, ...], other: Trajectory) -> float:
    """The factor over the twins' distance from the reference (the largest of them, at the
    same record or step) that `other`'s errors need where they exceed the table and the
    twins are inside the linear range; 0 where the table holds."""
    records = len(ref.record_steps)
    names = list(ref.weights)

    def per_record(values: np.ndarray) -> np.ndarray:
        return values.reshape(records, -1).max(axis=1)

    def losses(traj: Trajectory) -> np.ndarray:
        return traj.losses + (0.0 if traj.loss_gap is None else traj.loss_gap)

    drift = np.max(
        [per_record(np.abs(tw.weights[k] - ref.weights[k])) for tw in twins for k in names], 0
    )
    scale = np.max([per_record(np.abs(ref.weights[k])) for k in names], axis=0)
    out = np.flatnonzero(~(drift <= LINEAR_RANGE * scale))
    left = int(out[0]) if out.size else records  # the records inside: [0, left)
    worst = 0.0
    tol = tolerance("float64", "trajectory")
    for k in names:
        error, allowed = errors(ref.weights[k], other.weights[k], tol)
        over = (error > allowed).reshape(records, -1).any(axis=1)
        over[left:] = False
        if over.any():
            worst = max(worst, float(np.max(per_record(error)[over] / drift[over])))
    widest = max(max(np.shape(w)[1:], default=1) for w in ref.weights.values())
    loss_tol = reduction_tolerance(tolerance("float64", "loss"), "float64", widest)
    error, allowed = errors(losses(ref), losses(other), loss_tol)
    loss_drift = np.max([np.abs(losses(tw) - losses(ref)) for tw in twins], axis=0)
    over = error > allowed
    over[ref.record_steps[left] if left < records else len(over) :] = False
    if over.any():
        worst = max(worst, float(np.max(error[over] / loss_drift[over])))
    return worst


def measure(hidden: int, lr: float, epochs: int, seed: int) -> list[str]:
    """One case's lines."""
    config = RunConfig(
        hidden_size=hidden, epochs=epochs, seed=seed, optimizer=adapters.OptimizerSpec("sgd", lr)
    )
    x, t, weights, schedule = book_data(config)
    ref = train(adapters.build("numpy", weights), config, x, t, schedule)
    start = time.perf_counter()
    twins = rounding.rounding_twins(
        lambda w: adapters.build("numpy", w),
        weights,
        lambda net, batches: train(net, config, x, t, batches),
        schedule,
    )
    twins_s = time.perf_counter() - start
    lines = [
        f"hidden {hidden}, lr {lr:g}, {config.steps} steps, seed {seed}: the reference "
        f"{ref.seconds:.2f} s, its 3 twins {twins_s:.2f} s"
    ]
    report = None
    for framework in adapters.available()[1:]:
        for mode in adapters.net_class(framework).MODES[:1]:
            other = train(adapters.build(framework, weights), config, x, t, schedule, mode)
            table = parity.compare_trajectories(ref, other)
            report = parity.compare_trajectories(ref, other, calibration=(ref, *twins))
            lines.append(
                f"  {framework}/{mode}: table {_verdict(table)}; against the twins "
                f"{_verdict(report)}; max |dW| {np.max(table.error_curve):.2g}; "
                f"needs {needs(ref, twins, other):.2f}"
            )
    bug_at = config.steps // 2 // config.record_every * config.record_every
    bug = late_lr_bug(config, x, t, weights, schedule, bug_at, 1e-9)
    table = parity.compare_trajectories(ref, bug)
    found = parity.compare_trajectories(ref, bug, calibration=(ref, *twins))
    left = [n.split(" (")[0] for n in (report.notes if report else []) if "linear range" in n]
    lines.append(
        f"  twins: max |dW| {(report.twin_drift if report else 0.0):.2g}; "
        + (left[0].removeprefix("the reference's rounding twins ") if left else "inside the "
           "linear range throughout")
        + f"; lr 1e-9 off from step {bug_at}: table {_verdict(table)}, against the twins "
        f"{_verdict(found)}"
    )  # fmt: skip
    return lines


def _verdict(report: parity.TrajectoryReport) -> str:
    return "PASS" if report.passed else f"FAIL from step {report.first_step}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds per case (1984, 1, 2, ...)")
    parser.add_argument("--cases", default="all", help="comma-separated case numbers (from 0)")
    args = parser.parse_args()
    chosen = range(len(CASES)) if args.cases == "all" else map(int, args.cases.split(","))
    for i in chosen:
        for seed in [1984, *range(1, args.seeds)]:
            for line in measure(*CASES[i], seed):
                print(line, flush=True)


if __name__ == "__main__":
    main()
