"""The NumPy reference against the book's own code, on the same run:
`python -m comparisons bench --model M --book-code DIR`.

DIR is a checkout of the book's repository (oreilly-japan/deep-learning-from-scratch-2);
nothing of it is part of this project, and nothing is downloaded. Its model
(ch03/simple_cbow.py, ..., ch06/better_rnnlm.py), its Trainer or RnnlmTrainer and its
optimizer (common/) train the model's default run (comparisons/word2vec/run.py,
comparisons/rnnlm/run.py) after `np.random.seed(seed)`, as its chapter scripts do;
scratch's classes train the same run from `RandomState(seed)`. The book computes in
float32 (its `'f'` weights), so both sides do; their final weights must be the same bits,
or the timing is refused (it would not be the same run). No progress is printed (the
book's `eval_interval=None`).

The runs alternate (book, scratch, scratch, book, ...) so a shared machine's load falls on
both alike, and each is timed in CPU time of this process (`time.process_time`): the
time other programs take from the machine is not counted, the work of BLAS threads is. A
row gives the best run of each side per step, `ratio` = scratch's best / the book's best
(the target: at most `LIMIT`) and the median and range of the paired runs' ratios.

NumPy's global random state and `sys.path` / `sys.modules` are as they were after each
call: the book's modules (`common`, `ch04`, ...) are imported from DIR for the
measurement only.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from comparisons.text import duration, text_table

DEFAULT_REPEATS = 10
LIMIT = 1.05  # issues 23 and 24: the reference at most 5% slower than the book's code
SEED = 1984  # the default runs' seed
BOOK_MODELS = {  # model -> the book's module and class, as the chapters keep them
    "simple_cbow": ("ch03.simple_cbow", "SimpleCBOW"),
    "simple_skip_gram": ("ch03.simple_skip_gram", "SimpleSkipGram"),
    "cbow": ("ch04.cbow", "CBOW"),
    "skip_gram": ("ch04.skip_gram", "SkipGram"),
    "simple_rnnlm": ("ch05.simple_rnnlm", "SimpleRnnlm"),
    "rnnlm": ("ch06.rnnlm", "Rnnlm"),
    "better_rnnlm": ("ch06.better_rnnlm", "BetterRnnlm"),
}
SCRATCH_MODELS = {
    "simple_cbow": ("scratch.simple_cbow", "SimpleCBOW"),
    "simple_skip_gram": ("scratch.simple_skip_gram", "SimpleSkipGram"),
    "cbow": ("scratch.cbow", "CBOW"),
    "skip_gram": ("scratch.skip_gram", "SkipGram"),
    "simple_rnnlm": ("scratch.simple_rnnlm", "SimpleRnnlm"),
    "rnnlm": ("scratch.rnnlm", "Rnnlm"),
    "better_rnnlm": ("scratch.better_rnnlm", "BetterRnnlm"),
}
WORD2VEC = ("simple_cbow", "simple_skip_gram", "cbow", "skip_gram")


@dataclass(frozen=True)
class Run:
    """A model's default run, in the arguments the book's classes and scratch's both take."""

    model_args: tuple  # the model's positional arguments (the book's)
    fit_args: tuple  # Trainer.fit's or RnnlmTrainer.fit's positional arguments
    optimizer: str  # "Adam" (chapters 3-4) or "SGD" (chapters 5-6)
    lr: float | None  # SGD's learning rate; Adam takes the book's defaults

    @property
    def trainer(self) -> str:
        return "RnnlmTrainer" if self.optimizer == "SGD" else "Trainer"

    @property
    def steps(self) -> int:
        if self.trainer == "Trainer":  # (x, t, max_epoch, batch_size)
            x, _, epochs, batch = self.fit_args
            return epochs * (len(x) // batch)
        xs, _, epochs, batch, time_size, _ = self.fit_args  # (..., time_size, max_grad)
        return epochs * (len(xs) // (batch * time_size))


def default_run(model: str) -> Run:
    """`model`'s default run (the one `python -m comparisons --model M` trains)."""
    if model in WORD2VEC:
        from comparisons.word2vec.run import DEFAULTS, corpus_of
        from scratch.util import convert_one_hot, create_contexts_target

        d = DEFAULTS[model]
        corpus, word_to_id, _ = corpus_of(model)
        V = len(word_to_id)
        contexts, target = create_contexts_target(corpus, d.window_size)
        if model in ("simple_cbow", "simple_skip_gram"):  # ch03/train.py's one-hot rows
            contexts, target = convert_one_hot(contexts, V), convert_one_hot(target, V)
            args: tuple = (V, d.hidden_size)
        else:
            args = (V, d.hidden_size, d.window_size, corpus)
        return Run(args, (contexts, target, d.epochs, d.batch_size), "Adam", None)
    from adapters.rnnlm import DEFAULT_RUNS, default_corpus

    d = DEFAULT_RUNS[model]
    corpus = default_corpus()
    V = int(corpus.max()) + 1  # ch05/train.py's vocab_size
    args = (V, d["wordvec_size"], d["hidden_size"])
    if model == "better_rnnlm":
        args += (d["dropout_ratio"],)
    xs, ts = corpus[:-1], corpus[1:]
    fit = (xs, ts, d["max_epoch"], d["batch_size"], d["time_size"], d["max_grad"])
    return Run(args, fit, "SGD", d["lr"])


def check_book_code(path: str | Path, models: tuple[str, ...]) -> Path:
    """`path` as a Path when it holds the book's files that `models` need; ValueError
    naming --book-code and the first missing file otherwise (before any work)."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"--book-code {path}: not a folder (a checkout of the book's code)")
    files = ["common/trainer.py", "common/optimizer.py", "common/layers.py"]
    files += [BOOK_MODELS[m][0].replace(".", "/") + ".py" for m in models]
    for name in files:
        if not (root / name).is_file():
            raise ValueError(
                f"--book-code {path}: no {name} there; give the folder of a checkout of "
                "oreilly-japan/deep-learning-from-scratch-2"
            )
    return root


@contextlib.contextmanager
def _imported_from(root: Path) -> Iterator[None]:
    """Import from `root` inside the block; sys.path and sys.modules as they were after
    (the book's modules append '..' to sys.path and are named `common`, `ch04`, ...)."""
    path, modules = sys.path[:], set(sys.modules)
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            del sys.modules[name]


@dataclass(frozen=True)
class Code:
    """One side's classes: the model, the trainer, the optimizer."""

    model: type
    trainer: type
    optimizer: type


def book_code(root: Path, model: str, run: Run) -> Code:
    with _imported_from(root):
        module, name = BOOK_MODELS[model]
        trainer = importlib.import_module("common.trainer")
        optimizer = importlib.import_module("common.optimizer")
        return Code(
            getattr(importlib.import_module(module), name),
            getattr(trainer, run.trainer),
            getattr(optimizer, run.optimizer),
        )


def scratch_code(model: str, run: Run) -> Code:
    from scratch import optimizers, trainer

    module, name = SCRATCH_MODELS[model]
    return Code(
        getattr(importlib.import_module(module), name),
        getattr(trainer, run.trainer),
        getattr(optimizers, run.optimizer),
    )


def _optimizer(code: Code, run: Run):
    return code.optimizer() if run.lr is None else code.optimizer(run.lr)


def book_run(code: Code, run: Run) -> Callable[[], list[np.ndarray]]:
    """The book's code after np.random.seed(SEED), as its scripts run it; NumPy's global
    random state restored after. Returns the trained weights."""

    def go() -> list[np.ndarray]:
        state = np.random.get_state()  # noqa: NPY002 - the book's code draws from it
        try:
            np.random.seed(SEED)  # noqa: NPY002 - as the chapters' scripts do
            model = code.model(*run.model_args)
            trainer = code.trainer(model, _optimizer(code, run))
            trainer.fit(*run.fit_args, eval_interval=None)
        finally:
            np.random.set_state(state)  # noqa: NPY002
        return model.params

    return go


def scratch_run(code: Code, run: Run) -> Callable[[], list[np.ndarray]]:
    """scratch's classes on the same run, every draw from RandomState(SEED) (the model's
    and, for Trainer, the shuffling's: the book's one global stream)."""

    def go() -> list[np.ndarray]:
        rng = np.random.RandomState(SEED)
        model = code.model(*run.model_args, rng=rng)  # float32, the book's 'f'
        trainer = code.trainer(model, _optimizer(code, run))
        shuffling = {"rng": rng} if run.trainer == "Trainer" else {}
        trainer.fit(*run.fit_args, eval_interval=None, verbose=False, **shuffling)
        return model.params

    return go


def _cpu_seconds(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


def timing(model: str, root: str | Path, repeats: int = DEFAULT_REPEATS) -> dict:
    """One row: the book's code and scratch on `model`'s default run, `repeats` runs each."""
    root = check_book_code(root, (model,))
    run = default_run(model)
    sides = {
        "book": book_run(book_code(root, model, run), run),
        "scratch": scratch_run(scratch_code(model, run), run),
    }
    book_weights, scratch_weights = sides["book"](), sides["scratch"]()  # warm-up, and:
    if len(book_weights) != len(scratch_weights) or not all(
        a.dtype == b.dtype and np.array_equal(a, b)
        for a, b in zip(book_weights, scratch_weights, strict=False)
    ):
        raise ValueError(
            f"--book-code {root}: the book's {model} and scratch's did not end with the same "
            "weights, so their times would not be of the same run"
        )
    runs: dict[str, list[float]] = {"book": [], "scratch": []}
    for r in range(repeats):
        order = ("book", "scratch") if r % 2 == 0 else ("scratch", "book")
        for name in order:
            runs[name].append(_cpu_seconds(sides[name]))
    paired = sorted(s / b for s, b in zip(runs["scratch"], runs["book"], strict=True))
    steps = run.steps
    ratio = min(runs["scratch"]) / min(runs["book"])
    return {
        "model": model,
        "steps": steps,
        "book_per_step_s": min(runs["book"]) / steps,
        "scratch_per_step_s": min(runs["scratch"]) / steps,
        "ratio": ratio,
        "paired_median_ratio": statistics.median(paired),
        "paired_range": [paired[0], paired[-1]],
        "limit": LIMIT,
        "met": ratio <= LIMIT,
        "book_runs_s": runs["book"],
        "scratch_runs_s": runs["scratch"],
    }


def format_rows(rows: list[dict]) -> str:
    head = ("model", "steps", "book's code", "scratch", "ratio", "target", "", "paired runs")
    body = [
        (
            r["model"], str(r["steps"]), duration(r["book_per_step_s"]),
            duration(r["scratch_per_step_s"]), f"{r['ratio']:.3f}", f"<= {r['limit']:.2f}",
            "met" if r["met"] else "MISSED",
            f"{r['paired_median_ratio']:.3f} ({r['paired_range'][0]:.2f}-"
            f"{r['paired_range'][1]:.2f})",
        )
        for r in rows
    ]  # fmt: skip
    note = (
        "\nper step: the best of the runs, CPU time of this process, float32 (the book's); "
        "ratio: scratch's best / the book's best; paired runs: the median (range) of each "
        "pair's ratio. The final weights of both sides are the same bits."
    )
    return text_table(head, body) + note


__all__ = [
    "BOOK_MODELS",
    "DEFAULT_REPEATS",
    "LIMIT",
    "check_book_code",
    "default_run",
    "format_rows",
    "timing",
]
