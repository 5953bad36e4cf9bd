"""`python -m comparisons bench --model M`: seconds per step of a word2vec model in every
framework and mode, beside the book's code as scratch reproduces it.

Rows, on the model's default run (comparisons/word2vec/run.py), in each dtype:

- "book's code": scratch's model trained by scratch's Trainer, the book's ch04/train.py
  loop bit for bit (tests/scratch/test_word2vec_book_reproduction.py), drawing its own
  negative samples as it trains, as the book does;
- "drawing the samples": what those draws cost on their own (the book's UnigramSampler,
  a row at a time): the adapters' runs below are handed the samples already drawn;
- numpy/eager, torch/eager, jax/scan, jax/step: `build` + `Net.train`, what a user pays;
  weights are recorded before the first step and after the last (`record_every` = steps):
  the rows time the training step, as the "book's code" row does; recording every step is
  a cost of its own (`python -m comparisons bench --record` measures it for chapter 1).

The first call of each row is timed on its own (compilation); a row's time is the median
of `repeats` runs, interleaved so the load of a shared machine falls on every row alike
(comparisons/model_bench.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import adapters
from comparisons import model_bench
from comparisons.model_bench import BOOK
from comparisons.text import duration, text_table
from comparisons.word2vec.run import DEFAULTS, Word2vecConfig, corpus_of, run_data
from scratch.cbow import CBOW
from scratch.negative_sampling_layer import UnigramSampler
from scratch.optimizers import Adam
from scratch.simple_cbow import SimpleCBOW
from scratch.simple_skip_gram import SimpleSkipGram
from scratch.skip_gram import SkipGram
from scratch.trainer import Trainer, epoch_batches
from scratch.util import convert_one_hot, create_contexts_target

DRAWS = "drawing the samples"


def book_run(config: Word2vecConfig):
    """A callable making the book's run: the model and its Trainer from one RandomState."""
    c = config.resolved()
    corpus, word_to_id, _ = corpus_of(c.model)
    V, window = len(word_to_id), DEFAULTS[c.model].window_size
    contexts, target = create_contexts_target(corpus, window)
    if c.model in ("simple_cbow", "simple_skip_gram"):
        contexts, target = convert_one_hot(contexts, V), convert_one_hot(target, V)

    def run() -> None:
        rng = np.random.RandomState(c.seed)
        if c.model == "simple_cbow":
            model = SimpleCBOW(V, c.hidden_size, rng=rng, dtype=c.dtype)
        elif c.model == "simple_skip_gram":
            model = SimpleSkipGram(V, c.hidden_size, rng=rng, dtype=c.dtype)
        else:
            cls = CBOW if c.model == "cbow" else SkipGram
            model = cls(V, c.hidden_size, window, corpus, rng=rng, dtype=c.dtype)
        Trainer(model, Adam()).fit(
            contexts, target, c.epochs, c.batch_size, eval_interval=None, rng=rng, verbose=False
        )

    return run


def draw_run(config: Word2vecConfig):
    """A callable making only the run's negative-sample draws, the book's way."""
    c = config.resolved()
    corpus, _, _ = corpus_of(c.model)
    contexts, target = create_contexts_target(corpus, DEFAULTS[c.model].window_size)

    def run() -> None:
        rng = np.random.RandomState(c.seed)
        sampler = UnigramSampler(corpus, 0.75, 5, rng=rng)
        for batches in epoch_batches(len(target), c.batch_size, c.epochs, rng):
            for rows in batches:
                columns = [target[rows]] if c.model == "cbow" else contexts[rows].T
                for ids in columns:
                    sampler.get_negative_sample(ids)

    return run


def adapter_run(config: Word2vecConfig, data, framework: str, mode: str):
    c = config.resolved()

    def run() -> None:
        net = adapters.build(framework, data.weights, model=c.model, dtype=c.dtype, **data.config)
        net.train(
            data.contexts, data.target, data.schedule, c.optimizer, negatives=data.negatives,
            mode=mode, record_every=len(data.schedule),
        )  # fmt: skip

    return run


def bench_rows(
    model: str,
    frameworks: list[str],
    dtypes: tuple[str, ...] = ("float32", "float64"),
    repeats: int = 3,
    say: Callable[[str], None] = lambda _m: None,
) -> list[dict]:
    """One row per (dtype, what): seconds per step, first call, the runs' median."""

    def runners(dtype: str) -> tuple[int, model_bench.Runners]:
        config = Word2vecConfig(model=model, dtype=dtype, frameworks=tuple(frameworks))
        data, _ = run_data(config)
        named = {BOOK: book_run(config)}
        if model in ("cbow", "skip_gram"):
            named[DRAWS] = draw_run(config)
        for fw in frameworks:
            for mode in adapters.net_class(fw, model).MODES:
                named[f"{fw}/{mode}"] = adapter_run(config, data, fw, mode)
        return int(data.schedule.shape[0]), named

    return model_bench.bench_rows(model, dtypes, repeats, say, runners)


def format_rows(rows: list[dict]) -> str:
    head = ("model", "dtype", "run", "steps", "per step", "run", "first call", "vs book's code")
    body = [
        (
            r["model"], r["dtype"], r["run"], str(r["steps"]), duration(r["per_step_s"]),
            duration(r["run_s"]), duration(r["first_call_s"]), f"{r['vs_book']:.2f}",
        )
        for r in rows
    ]  # fmt: skip
    note = (
        "\nbook's code: scratch's model and Trainer, the book's loop bit for bit, drawing its "
        "own negative samples; the adapters' rows are handed samples drawn beforehand (the "
        f"'{DRAWS}' row is that cost) and record the weights before and after (the step "
        "itself). Medians of interleaved runs on a shared machine."
    )
    return text_table(head, body) + note


__all__ = ["bench_rows", "format_rows"]
