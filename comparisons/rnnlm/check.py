"""`python -m comparisons check --model M`: a quick pass/fail parity check of one language
model: gradients and loss of the first block (BetterRnnlm with its masks), then a short
run (two epochs of the default run, 38 steps) in every mode, each framework against the
reference. Exit status 1 on any mismatch."""

from __future__ import annotations

from collections.abc import Callable

import adapters
from comparisons import parity
from comparisons.model_run import check_modes
from comparisons.rnnlm.run import RnnlmConfig, run_data

CHECK_EPOCHS = 2


def run_check(
    model: str, frameworks: list[str], dtype: str = "float64", say: Callable[[str], None] = print
) -> bool:
    """Print the parity tables; True when every framework agrees with the reference."""
    config = RnnlmConfig(model=model, epochs=CHECK_EPOCHS, dtype=dtype).resolved()
    data = run_data(config)
    rows = data.schedule[0]
    block = (data.xs[rows], data.ts[rows], None if data.masks is None else data.masks[0])
    nets = {fw: adapters.build(fw, data.weights, model=model, dtype=dtype, **data.config)
            for fw in frameworks}  # fmt: skip
    ok = True
    grads = {fw: net.gradients(*block) for fw, net in nets.items()}
    three = parity.compare_all(grads, dtype=dtype, quantity="gradient")
    N, T = rows.shape
    say(f"== gradient: {model}, the first block ({N} x {T}) ==\n{three.table()}")
    say(three.summary())
    ok &= three.passed
    ref_name = frameworks[0]
    for fw in frameworks[1:]:
        report = parity.compare(
            {"loss": nets[ref_name].loss(*block)}, {"loss": nets[fw].loss(*block)},
            dtype=dtype, quantity="loss", names=(ref_name, fw),
        )  # fmt: skip
        say(f"\n== loss: {model} ==\n{report.table()}")
        ok &= report.passed
    ref = adapters.build(ref_name, data.weights, model=model, dtype=dtype, **data.config)
    train = {"masks": data.masks, "max_grad": config.max_grad}
    ref_traj = ref.train(data.xs, data.ts, data.schedule, config.optimizer, **train)
    say(f"\n== trajectory: {config.optimizer.name}, {ref_traj.steps} steps ==")

    def train_one(fw: str, mode: str) -> adapters.Trajectory:
        net = adapters.build(fw, data.weights, model=model, dtype=dtype, **data.config)
        return net.train(data.xs, data.ts, data.schedule, config.optimizer, mode=mode, **train)

    ok &= check_modes(ref_traj, frameworks[1:], model, train_one, say)
    verdict = "PASS, every framework agrees with the reference" if ok else "FAIL"
    say(f"\ncheck {model}: {verdict}")
    return ok


__all__ = ["CHECK_EPOCHS", "run_check"]
