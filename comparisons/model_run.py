"""What the side-by-side run of every later chapter's model does alike
(comparisons/word2vec/run.py, comparisons/rnnlm/run.py): each framework in each of its
modes built from the same weights and trained on the same data, each trajectory compared
with the first one's (the reference's), and the rows of the table those runs make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import adapters
from adapters import Trajectory
from comparisons import parity


class NamedRun:
    """A mixin of a run's result with its `trajectory` and `report` (None for the
    reference): its name, framework/mode, as the plots read it."""

    trajectory: Trajectory

    @property
    def name(self) -> str:
        return f"{self.trajectory.framework}/{self.trajectory.mode}"


class ComparedRuns:
    """A mixin of a run's results, `results` in order, the reference first."""

    results: list

    @property
    def reference(self):
        return self.results[0]

    @property
    def passed(self) -> bool:
        return all(r.report is None or r.report.passed for r in self.results)


def train_every(
    config: Any,
    data: Any,
    train: Callable[[Any, str], Trajectory],
    say: Callable[[str], None],
) -> Iterator[tuple[Trajectory, parity.TrajectoryReport | None, Any]]:
    """For every framework of the (resolved) `config` and each of its modes, a Net built
    from `data`'s weights and config, `train(net, mode)`'s trajectory and its comparison
    with the first one (None for that one): (trajectory, report, net), one by one."""
    steps = data.schedule.shape[0]
    ref = None
    for framework in config.frameworks:
        for mode in adapters.net_class(framework, config.model).MODES:
            say(f"training {config.model} in {framework}/{mode} ({steps} steps) ...")
            net = adapters.build(
                framework, data.weights, model=config.model, dtype=config.dtype,
                device=config.device, **data.config,
            )  # fmt: skip
            traj = train(net, mode)
            report = None if ref is None else parity.compare_trajectories(ref, traj)
            ref = traj if ref is None else ref
            yield traj, report, net


def check_modes(
    reference: Trajectory,
    frameworks: list[str],
    model: str,
    train: Callable[[str, str], Trajectory],
    say: Callable[[str], None],
) -> bool:
    """`check --model M`: each of `frameworks` in each of its modes trained by
    `train(framework, mode)` and compared with `reference`, a PASS or FAIL line each;
    True when every one agrees."""
    ok = True
    for fw in frameworks:
        for mode in adapters.net_class(fw, model).MODES:
            report = parity.compare_trajectories(reference, train(fw, mode))
            say(("PASS  " if report.passed else "FAIL  ") + report.summary())
            ok &= report.passed
    return ok


def table_row(result: NamedRun, reference: str, **columns: Any) -> dict:
    """One row of the table, the report and --json: framework, mode, the family's own
    `columns`, then the comparison with the run named `reference`."""
    tr, report = result.trajectory, result.report
    return {
        "framework": tr.framework,
        "mode": tr.mode,
        **columns,
        "max_abs_dweights": 0.0 if report is None else float(report.max_weight_error),
        "first_diverging_step": None if report is None else report.first_step,
        "seconds": tr.seconds,
        "verdict": "reference" if report is None else ("PASS" if report.passed else "FAIL"),
        "steps": tr.steps,
        "vs": None if report is None else reference,
    }
