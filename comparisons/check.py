"""`python -m comparisons check`: a quick pass/fail parity check after changing an adapter.

Forward outputs, losses and gradients on a small non-square problem and on a batch of the
book's spiral, then a short stretch of the book's run (SGD and Adam) in every mode, its
gradients recorded, each framework against the reference. It ends with the phase in
which each framework first parts from the reference, in the order a step computes them:
the forward activations, the loss, the gradients (the backward pass) or the update.
Exit status 1 on any mismatch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from comparisons.run import RunConfig, book_data
from scratch import init_weights


def problems(dtype: str):
    """(name, weights, x, index labels): a non-square net with lively weights, and the
    book's net on 30 spiral points."""
    rng = np.random.RandomState(7)
    w = {k: 30 * v for k, v in init_weights(4, 9, 3, rng=rng).items()}
    w["b1"] = 0.1 * rng.standard_normal(9)
    yield "4-9-3, batch 7", w, rng.standard_normal((7, 4)), rng.randint(0, 3, 7)
    x, t, weights, _ = book_data(RunConfig())
    yield "book 2-10-3, batch 30", weights, x[:300:10], t[:300:10]


PHASES = ("forward activations", "loss", "gradients", "update")  # the order a step makes them


@dataclass
class Phases:
    """Where each framework first parts from the reference: framework -> (phase index in
    PHASES, where), the earliest phase kept."""

    first: dict[str, tuple[int, str]] = field(default_factory=dict)

    def parted(self, framework: str, phase: str, where: str) -> None:
        found = (PHASES.index(phase), where)
        if framework not in self.first or found[0] < self.first[framework][0]:
            self.first[framework] = found

    def lines(self, frameworks: list[str]) -> list[str]:
        out = []
        for fw in frameworks:
            if fw not in self.first:
                out.append(f"{fw}: agrees in every phase")
            else:
                phase, where = self.first[fw]
                out.append(f"{fw}: parts first in the {PHASES[phase]} ({where})")
        return out


TRAJECTORY_PHASES = {"weights": "update", "loss": "loss", "gradients": "gradients"}


def run_check(
    frameworks: list[str], dtype: str = "float64", say: Callable[[str], None] = print
) -> bool:
    """Print the parity tables; True when every framework agrees with the reference."""
    ok = True
    ref_fw = frameworks[0]
    phases = Phases()
    for name, w, x, t in problems(dtype):
        nets = {fw: adapters.build(fw, w, dtype=dtype) for fw in frameworks}
        acts = {fw: {"predict": n.predict(x), **n.activations(x, t)} for fw, n in nets.items()}
        grads = {fw: n.gradients(x, t) for fw, n in nets.items()}
        for quantity, results in (("forward", acts), ("gradient", grads)):
            three = parity.compare_all(results, dtype=dtype, quantity=quantity)
            say(f"\n== {quantity}: {name} ==\n{three.table()}\n{three.summary()}")
            ok &= three.passed
            for fw in frameworks[1:]:
                failed = [e.name for e in three.pair(ref_fw, fw).entries if not e.passed]
                layers = [n for n in failed if n != "predict"]  # the scores are affine2's
                if failed:
                    phase = "forward activations" if quantity == "forward" else "gradients"
                    phases.parted(fw, phase, f"{(layers or failed)[0]}, {name}")
        ref = nets[ref_fw]
        for fw in frameworks[1:]:
            if ref_fw == "numpy":
                report = parity.compare_losses(
                    ref.loss(x, t),
                    nets[fw].loss(x, t),
                    acts[ref_fw]["softmax"],
                    t,
                    dtype=dtype,
                    names=(ref_fw, fw),
                )
            else:
                report = parity.compare(
                    {"loss": ref.loss(x, t)},
                    {"loss": nets[fw].loss(x, t)},
                    dtype=dtype,
                    quantity="loss",
                    names=(ref_fw, fw),
                )
            say(f"\n== loss: {name} ==\n{report.table()}")
            ok &= report.passed
            if not report.passed:
                phases.parted(fw, "loss", name)
    ok &= check_trajectories(frameworks, dtype, say, phases)
    ok &= check_data_parallel(frameworks, dtype, say)
    say(f"\n== where each framework first parts from {ref_fw} ==")
    for line in phases.lines(frameworks[1:]):
        say(line)
    say("\ncheck: " + ("PASS, every framework agrees with the reference" if ok else "FAIL"))
    return ok


def check_trajectories(
    frameworks: list[str],
    dtype: str = "float64",
    say: Callable[[str], None] = print,
    phases: Phases | None = None,
) -> bool:
    """SGD and Adam over 30 steps of the book's run in every framework and mode, gradients
    recorded, against the reference; a run that parts goes to `phases` with the phase
    (loss, gradients or update) and step where it does, and its table is printed."""
    ok = True
    ref_fw = frameworks[0]
    x, t, w, schedule = book_data(RunConfig(epochs=3))
    for spec in (OptimizerSpec("sgd", 1.0), OptimizerSpec("adam", 0.01)):
        ref = adapters.build(ref_fw, w, dtype=dtype).train(x, t, schedule, spec, grads=True)
        say(f"\n== trajectory: {spec.name}, {ref.steps} steps of the book's run ==")
        for fw in frameworks[1:]:
            for mode in adapters.net_class(fw).MODES:
                net = adapters.build(fw, w, dtype=dtype)
                other = net.train(x, t, schedule, spec, mode=mode, grads=True)
                report = parity.compare_trajectories(ref, other)
                say(("PASS  " if report.passed else "FAIL  ") + report.summary())
                ok &= report.passed
                if not report.passed:
                    say(report.table())
                    if phases is not None and report.phase is not None:
                        where = f"{spec.name}, {mode}, step {report.first_step}"
                        phases.parted(fw, TRAJECTORY_PHASES[report.phase], where)
    return ok


def check_data_parallel(
    frameworks: list[str], dtype: str = "float64", say: Callable[[str], None] = print
) -> bool:
    """SGD on the book's run with each batch split over 2 workers, in every framework and
    mode, against the reference in one process."""
    x, t, w, schedule = book_data(RunConfig(epochs=3))
    spec = OptimizerSpec("sgd", 1.0)
    ref = adapters.build(frameworks[0], w, dtype=dtype).train(x, t, schedule, spec)
    say(f"\n== data parallel: {spec.name} x 2 workers, {ref.steps} steps of the book's run ==")
    ok = True
    with contextlib.ExitStack() as stack:
        if "torch" in frameworks:  # the ranks start once for every torch run here
            from adapters import torch_ddp

            stack.enter_context(torch_ddp.ranks(2))
        for fw in frameworks:
            for mode in adapters.net_class(fw).MODES:
                net = adapters.build(fw, w, dtype=dtype)
                other = net.train(x, t, schedule, spec, mode=mode, data_parallel=2)
                report = parity.compare_trajectories(ref, other)
                say(("PASS  " if report.passed else "FAIL  ") + report.summary())
                ok &= report.passed
    return ok
