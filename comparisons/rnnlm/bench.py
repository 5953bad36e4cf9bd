"""`python -m comparisons bench --model M`: seconds per step of a language model in every
framework and mode, beside the book's code as scratch reproduces it.

Rows, on the model's default run (comparisons/rnnlm/run.py, 228 steps), in each dtype:

- "book's code": scratch's model trained by scratch's RnnlmTrainer, the book's ch05/ch06
  loop bit for bit (tests/scratch/test_rnnlm_book_reproduction.py), BetterRnnlm drawing
  its own dropout masks as it trains, as the book does;
- numpy/eager, torch/eager, jax/scan, jax/step: `build` + `Net.train`, what a user pays
  (input checks, the weights back as NumPy), handed the masks drawn beforehand. The
  weights are recorded before the first step and after the last (`record_every` =
  steps): the rows time the training step; recording every step is a cost of its own
  (`python -m comparisons bench --record` measures it for chapter 1).

The first call of each row is timed on its own (JAX compiles then); a row's time is the
median of `repeats` runs, interleaved so the load of a shared machine falls on every row
alike (comparisons/model_bench.py). "vs numpy" is numpy/eager's time per step over the
row's: how many times faster.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import adapters
from comparisons import model_bench
from comparisons.model_bench import BOOK
from comparisons.rnnlm.run import RnnlmConfig, run_data
from comparisons.text import duration, text_table
from scratch import better_rnnlm, rnnlm, simple_rnnlm
from scratch.optimizers import SGD
from scratch.trainer import RnnlmTrainer


def book_run(config: RnnlmConfig, data) -> Callable[[], None]:
    """A callable making the book's run: the model from RandomState(seed), RnnlmTrainer."""
    c = config.resolved()
    corpus = np.concatenate([data.xs, data.ts[-1:]])
    V, D, H = int(corpus.max()) + 1, c.settings["wordvec_size"], c.hidden_size
    T = c.settings["time_size"]

    def run() -> None:
        rng = np.random.RandomState(c.seed)
        if c.model == "better_rnnlm":
            ratio = c.settings["dropout_ratio"]
            model = better_rnnlm.BetterRnnlm(V, D, H, ratio, rng=rng, dtype=c.dtype)
        else:
            cls = simple_rnnlm.SimpleRnnlm if c.model == "simple_rnnlm" else rnnlm.Rnnlm
            model = cls(V, D, H, rng=rng, dtype=c.dtype)
        trainer = RnnlmTrainer(model, SGD(c.optimizer.hyper["lr"]))
        trainer.fit(data.xs, data.ts, c.epochs, c.batch_size, T, c.max_grad, None, verbose=False)

    return run


def adapter_run(config: RnnlmConfig, data, framework: str, mode: str) -> Callable[[], None]:
    c = config.resolved()

    def run() -> None:
        net = adapters.build(framework, data.weights, model=c.model, dtype=c.dtype, **data.config)
        net.train(
            data.xs, data.ts, data.schedule, c.optimizer, masks=data.masks,
            max_grad=c.max_grad, mode=mode, record_every=len(data.schedule),
        )  # fmt: skip

    return run


def bench_rows(
    model: str,
    frameworks: list[str],
    dtypes: tuple[str, ...] = ("float32", "float64"),
    repeats: int = 3,
    say: Callable[[str], None] = lambda _m: None,
) -> list[dict]:
    """One row per (dtype, what): seconds per step, first call, the runs' median, and
    how many times faster than numpy/eager."""

    def runners(dtype: str) -> tuple[int, model_bench.Runners]:
        config = RnnlmConfig(model=model, dtype=dtype, frameworks=tuple(frameworks))
        data = run_data(config)
        named = {BOOK: book_run(config, data)}
        for fw in frameworks:
            for mode in adapters.net_class(fw, model).MODES:
                named[f"{fw}/{mode}"] = adapter_run(config, data, fw, mode)
        return int(data.schedule.shape[0]), named

    return model_bench.bench_rows(model, dtypes, repeats, say, runners, speedup_vs_numpy=True)


def format_rows(rows: list[dict]) -> str:
    head = (
        "model", "dtype", "run", "steps", "per step", "run", "first call", "vs book's code",
        "vs numpy",
    )  # fmt: skip
    body = [
        (
            r["model"], r["dtype"], r["run"], str(r["steps"]), duration(r["per_step_s"]),
            duration(r["run_s"]), duration(r["first_call_s"]), f"{r['vs_book']:.2f}",
            "-" if r["speedup_vs_numpy"] is None else f"{r['speedup_vs_numpy']:.1f}x",
        )
        for r in rows
    ]  # fmt: skip
    note = (
        "\nbook's code: scratch's model and RnnlmTrainer, the book's loop bit for bit; the "
        "adapters' rows build the Net and train it, recording the weights before and after "
        "(the step itself). 'vs numpy': "
        "how many times faster per step than numpy/eager. Medians of interleaved runs on a "
        "shared machine; the first call includes JAX's compilation."
    )
    return text_table(head, body) + note


__all__ = ["bench_rows", "format_rows"]
