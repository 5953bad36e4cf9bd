"""The side-by-side run of a recurrent language model: the same weights, blocks and
dropout masks in every framework and mode, each trajectory compared with the reference's.

The default run needs nothing downloaded: the first 1000 words of the corpus this
project writes (scratch/small_corpus.py; ch05/train.py takes PTB's first 1000), blocks of
10 x 5 as RnnlmTrainer reads them, 12 epochs (228 steps), SGD, with the settings of
adapters.rnnlm.DEFAULT_RUNS (simple_rnnlm: lr 1.0; rnnlm and better_rnnlm: lr 5.0 and
max_grad 0.25, better_rnnlm with dropout 0.5). Everything is drawn from one
RandomState(seed) in the book's order (adapters.rnnlm.book_data): with the reference this
is the book's run bit for bit. Perplexity is exp(mean loss), per epoch (§5.5.2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from adapters import OptimizerSpec, Trajectory
from adapters.rnnlm import DEFAULT_RUNS, RnnlmData, book_data, default_corpus
from comparisons.model_run import ComparedRuns, NamedRun, table_row, train_every

MODEL_DEFAULT = "model default"  # max_grad: the model's own (DEFAULT_RUNS)
BOOK_TITLES = {
    "simple_rnnlm": "SimpleRnnlm (ch05/simple_rnnlm.py)",
    "rnnlm": "Rnnlm, the LSTM language model (ch06/rnnlm.py)",
    "better_rnnlm": "BetterRnnlm: two LSTMs, dropout, weight tying (ch06/better_rnnlm.py)",
}


@dataclass(frozen=True)
class RnnlmConfig:
    """A language-model comparison run; what is left None takes DEFAULT_RUNS[model]."""

    model: str = "rnnlm"
    frameworks: tuple[str, ...] = ("numpy", "torch", "jax")
    optimizer: OptimizerSpec | None = None  # SGD at the model's default lr
    epochs: int | None = None
    batch_size: int | None = None
    hidden_size: int | None = None
    max_grad: float | None | str = MODEL_DEFAULT  # None: no clipping
    dtype: str = "float64"
    device: str = "cpu"
    seed: int = 1984
    record_every: int = 1

    def resolved(self) -> RnnlmConfig:
        """This config with the model's defaults filled in."""
        d = DEFAULT_RUNS[self.model]
        return dataclasses.replace(
            self,
            optimizer=self.optimizer or OptimizerSpec("sgd", d["lr"]),
            epochs=self.epochs or d["max_epoch"],
            batch_size=self.batch_size or d["batch_size"],
            hidden_size=self.hidden_size or d["hidden_size"],
            max_grad=d["max_grad"] if self.max_grad == MODEL_DEFAULT else self.max_grad,
        )

    @property
    def settings(self) -> dict:
        """The rest of book_data's settings: the wordvec size (BetterRnnlm ties it to the
        hidden size), the block length, the dropout ratio."""
        d = DEFAULT_RUNS[self.model]
        tied = self.model == "better_rnnlm"
        out = {
            "wordvec_size": (self.hidden_size or d["hidden_size"]) if tied else d["wordvec_size"],
            "time_size": d["time_size"],
        }
        if tied:
            out["dropout_ratio"] = d["dropout_ratio"]
        return out

    def to_dict(self) -> dict:
        c = self.resolved()
        spec = c.optimizer
        return {
            "model": c.model,
            "frameworks": list(c.frameworks),
            "corpus": "scratch/small_corpus.py, the first 1000 words",
            "epochs": c.epochs,
            "batch_size": c.batch_size,
            "hidden_size": c.hidden_size,
            **c.settings,
            "optimizer": spec.name,
            "hyper": spec.hyper,
            "flavor": spec.flavor,
            "max_grad": c.max_grad,
            "dtype": c.dtype,
            "device": c.device,
            "seed": c.seed,
            "record_every": c.record_every,
        }


def run_data(config: RnnlmConfig) -> RnnlmData:
    """The run's data: weights, blocks and (better_rnnlm) dropout masks, the book's draws."""
    c = config.resolved()
    return book_data(
        c.model, default_corpus(), hidden_size=c.hidden_size, batch_size=c.batch_size,
        max_epoch=c.epochs, seed=c.seed, dtype=c.dtype, **c.settings,
    )  # fmt: skip


def perplexity_per_epoch(losses: np.ndarray, steps_per_epoch: int) -> list[float]:
    """exp(mean loss) over each epoch's steps (§5.5.2), as the book's ch05 loop prints it."""
    epochs = len(losses) // steps_per_epoch
    per_epoch = np.asarray(losses[: epochs * steps_per_epoch], np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return [float(p) for p in np.exp(per_epoch.reshape(epochs, -1).mean(axis=1))]


@dataclass
class ModelResult(NamedRun):
    """One framework in one mode, against the reference (the names the plots read)."""

    trajectory: Trajectory
    perplexity: list[float]  # per epoch
    report: object | None  # parity.TrajectoryReport; None for the reference itself
    net: object = None

    @property
    def final_loss(self) -> float:
        return float(np.log(self.perplexity[-1]))


@dataclass
class RnnlmResults(ComparedRuns):
    config: RnnlmConfig
    data: RnnlmData
    results: list[ModelResult]


def run(config: RnnlmConfig, *, progress: Callable[[str], None] | None = None) -> RnnlmResults:
    """Train every framework (every mode) from the same weights, blocks and masks."""
    say = progress or (lambda _msg: None)
    c = config.resolved()
    draws = "blocks and dropout masks" if c.model == "better_rnnlm" else "blocks"
    say(f"drawing {c.model}'s weights, {draws} (seed {c.seed}) ...")
    data = run_data(c)

    def train(net, mode: str) -> Trajectory:
        return net.train(
            data.xs, data.ts, data.schedule, c.optimizer, masks=data.masks,
            max_grad=c.max_grad, record_every=c.record_every, mode=mode,
        )  # fmt: skip

    results: list[ModelResult] = []
    for traj, report, net in train_every(c, data, train, say):
        ppl = perplexity_per_epoch(traj.losses, data.steps_per_epoch)
        results.append(ModelResult(traj, ppl, report, net))
        span = f"perplexity {ppl[0]:.2f} -> {ppl[-1]:.2f}"
        say(f"  {traj.framework}/{traj.mode}: {traj.seconds:.2f} s, {span}")
    return RnnlmResults(config, data, results)


def table_rows(results: RnnlmResults) -> list[dict]:
    """One row per framework and mode: what the table, the report and --json show."""
    ref = results.reference.name
    return [
        table_row(
            r,
            ref,
            perplexity_first_epoch=r.perplexity[0],
            perplexity_last_epoch=r.perplexity[-1],
            perplexity_per_epoch=r.perplexity,
        )  # fmt: skip
        for r in results.results
    ]
