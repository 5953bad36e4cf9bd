"""`python -m comparisons check --model M`: a quick pass/fail parity check of one word2vec
model: gradients and loss on a batch, then short runs (SGD and Adam) in every mode,
each framework against the reference. Exit status 1 on any mismatch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from comparisons.model_run import check_modes
from comparisons.word2vec.run import Word2vecConfig, run_data

CHECK_STEPS = 40


def epsilon_free_loss(model: str, data, batch) -> float:
    """The reference's loss on `batch` without the book's 1e-7: one step's book loss plus
    its recorded gap (adapters/word2vec/numpy_adapter.py computes it from the scores)."""
    net = adapters.build("numpy", data.weights, model=model, **data.config)
    contexts, target, negatives = batch
    traj = net.train(
        contexts, target, np.arange(len(target))[None], OptimizerSpec("sgd"),
        negatives=None if negatives is None else negatives[None],
    )  # fmt: skip
    return float(traj.losses[0] + traj.loss_gap[0])


def run_check(
    model: str, frameworks: list[str], dtype: str = "float64", say: Callable[[str], None] = print
) -> bool:
    """Print the parity tables; True when every framework agrees with the reference."""
    config = Word2vecConfig(model=model, hidden_size=10, epochs=1, dtype=dtype)
    data, _ = run_data(config)
    rows = data.schedule[0]
    batch = (
        data.contexts[rows],
        data.target[rows],
        None if data.negatives is None else data.negatives[0],
    )
    nets = {fw: adapters.build(fw, data.weights, model=model, dtype=dtype, **data.config)
            for fw in frameworks}  # fmt: skip
    ok = True
    grads = {fw: net.gradients(*batch) for fw, net in nets.items()}
    three = parity.compare_all(grads, dtype=dtype, quantity="gradient")
    say(f"== gradient: {model}, the first batch ({len(rows)} rows) ==\n{three.table()}")
    say(three.summary())
    ok &= three.passed
    ref_name = frameworks[0]
    ref_loss = epsilon_free_loss(model, data, batch) if ref_name == "numpy" else None
    for fw in frameworks[1:]:
        want = nets[ref_name].loss(*batch) if ref_loss is None else ref_loss
        report = parity.compare(
            {"loss": want}, {"loss": nets[fw].loss(*batch)}, dtype=dtype, quantity="loss",
            names=(ref_name, fw),
        )  # fmt: skip
        say(f"\n== loss (epsilon-free): {model} ==\n{report.table()}")
        ok &= report.passed
    schedule = data.schedule[:CHECK_STEPS]
    negatives = None if data.negatives is None else data.negatives[:CHECK_STEPS]
    for spec in (OptimizerSpec("sgd", 0.5), OptimizerSpec("adam", 0.01)):
        ref = adapters.build(ref_name, data.weights, model=model, dtype=dtype, **data.config)
        ref_traj = ref.train(data.contexts, data.target, schedule, spec, negatives=negatives)
        say(f"\n== trajectory: {spec.name}, {ref_traj.steps} steps ==")

        def train(fw: str, mode: str, spec: OptimizerSpec = spec) -> adapters.Trajectory:
            net = adapters.build(fw, data.weights, model=model, dtype=dtype, **data.config)
            return net.train(
                data.contexts, data.target, schedule, spec, negatives=negatives, mode=mode
            )

        ok &= check_modes(ref_traj, frameworks[1:], model, train, say)
    verdict = "PASS, every framework agrees with the reference" if ok else "FAIL"
    say(f"\ncheck {model}: {verdict}")
    return ok
