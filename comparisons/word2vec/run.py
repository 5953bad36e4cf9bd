"""The side-by-side run of a word2vec model: the same weights, batches and negative
samples in every framework and mode, each trajectory compared with the reference's.

The default runs need nothing downloaded:

- simple_cbow, simple_skip_gram: ch03/train.py's run (the book's sentence "You say
  goodbye and I say hello.", window 1, hidden 5, batch 3, 1000 epochs: 2000 steps).
- cbow, skip_gram: ch04/train.py's settings (window 5, hidden 100, batch 100, Adam) on
  the small corpus this project writes (scratch/small_corpus.py, 8639 words, 54 of
  them distinct) for 3 epochs: 258 steps. skip_gram takes window 2: at window 5 its ten
  negative-sampling losses call np.random.choice 258,000 times a run (a row each, as the book's
  sampler does): 10 s of the reference's time on this machine before any training.

Everything is drawn from one RandomState(seed) in the book's order
(adapters.word2vec.book_data): with the reference this is the book's run bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from adapters import OptimizerSpec, Trajectory
from adapters.word2vec import Word2vecData, book_data
from comparisons import parity
from comparisons.model_run import ComparedRuns, NamedRun, table_row, train_every
from scratch import small_corpus
from scratch.util import preprocess

BOOK_TEXT = "You say goodbye and I say hello."  # ch03/train.py


@dataclass(frozen=True)
class Defaults:
    """One model's default run: its corpus and the book's settings for it."""

    corpus: str  # "book sentence" or "small corpus"
    window_size: int
    hidden_size: int
    batch_size: int
    epochs: int
    queries: tuple[str, ...]  # words whose nearest neighbours the report shows


DEFAULTS = {
    "simple_cbow": Defaults("book sentence", 1, 5, 3, 1000, ("you", "say")),
    "simple_skip_gram": Defaults("book sentence", 1, 5, 3, 1000, ("you", "say")),
    "cbow": Defaults("small corpus", 5, 100, 100, 3, ("cat", "you", "park")),
    "skip_gram": Defaults("small corpus", 2, 100, 100, 3, ("cat", "you", "park")),
}


@dataclass(frozen=True)
class Word2vecConfig:
    """A word2vec comparison run; unset sizes take the model's DEFAULTS."""

    model: str = "cbow"
    frameworks: tuple[str, ...] = ("numpy", "torch", "jax")
    optimizer: OptimizerSpec = field(default_factory=lambda: OptimizerSpec("adam"))
    epochs: int | None = None
    batch_size: int | None = None
    hidden_size: int | None = None
    dtype: str = "float64"
    device: str = "cpu"
    seed: int = 1984
    max_grad: float | None = None
    record_every: int = 1

    def resolved(self) -> Word2vecConfig:
        """This config with the model's defaults filled in."""
        d = DEFAULTS[self.model]
        return dataclasses.replace(
            self,
            epochs=self.epochs or d.epochs,
            batch_size=self.batch_size or d.batch_size,
            hidden_size=self.hidden_size or d.hidden_size,
        )

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self.resolved())
        out.pop("optimizer")
        spec = self.optimizer
        d = DEFAULTS[self.model]
        return {
            **out,
            "frameworks": list(self.frameworks),
            "corpus": d.corpus,
            "window_size": d.window_size,
            "optimizer": spec.name,
            "hyper": spec.hyper,
            "flavor": spec.flavor,
        }


def corpus_of(model: str) -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """The default corpus of `model`: the book's sentence or the small corpus."""
    if DEFAULTS[model].corpus == "book sentence":
        return preprocess(BOOK_TEXT)
    return small_corpus.load_data()


def run_data(config: Word2vecConfig) -> tuple[Word2vecData, dict[int, str]]:
    """The run's data (weights, batches, negative samples) and its vocabulary."""
    c = config.resolved()
    corpus, _, id_to_word = corpus_of(c.model)
    pairs = len(corpus) - 2 * DEFAULTS[c.model].window_size  # contexts-target pairs
    if c.batch_size > pairs:
        raise ValueError(
            f"batch_size {c.batch_size} exceeds the {pairs} training pairs of {c.model}'s corpus"
        )
    data = book_data(
        c.model, corpus, hidden_size=c.hidden_size, batch_size=c.batch_size,
        max_epoch=c.epochs, window_size=DEFAULTS[c.model].window_size, seed=c.seed,
    )  # fmt: skip
    return data, id_to_word


@dataclass
class ModelResult(NamedRun):
    """One framework in one mode, against the reference (the names the plots read)."""

    trajectory: Trajectory
    final_loss: float  # the last epoch's average loss, as the framework reports it
    report: parity.TrajectoryReport | None  # None for the reference itself
    net: object = None


@dataclass
class Word2vecResults(ComparedRuns):
    config: Word2vecConfig
    data: Word2vecData
    id_to_word: dict[int, str]
    results: list[ModelResult]


def run(
    config: Word2vecConfig, *, progress: Callable[[str], None] | None = None
) -> Word2vecResults:
    """Train every framework (every mode) from the same weights, batches and samples."""
    say = progress or (lambda _msg: None)
    c = config.resolved()
    draws = "batches and negative samples" if c.model in ("cbow", "skip_gram") else "batches"
    say(f"drawing {c.model}'s weights, {draws} (seed {c.seed}) ...")
    data, id_to_word = run_data(c)
    per_epoch = data.schedule.shape[0] // c.epochs

    def train(net, mode: str) -> Trajectory:
        return net.train(
            data.contexts, data.target, data.schedule, c.optimizer,
            negatives=data.negatives, max_grad=c.max_grad, record_every=c.record_every,
            mode=mode,
        )  # fmt: skip

    results: list[ModelResult] = []
    for traj, report, net in train_every(c, data, train, say):
        final = float(np.mean(traj.losses[-per_epoch:]))
        results.append(ModelResult(traj, final, report, net))
        say(f"  {traj.framework}/{traj.mode}: {traj.seconds:.2f} s")
    return Word2vecResults(config, data, id_to_word, results)


def nearest(word_matrix: np.ndarray, query: int, top: int = 3) -> list[int]:
    """The ids of the `top` words whose rows are closest to row `query` by cosine
    similarity (most_similar's ranking, §2.3.6), the query itself left out."""
    unit = word_matrix / (np.linalg.norm(word_matrix, axis=1, keepdims=True) + 1e-8)
    similarity = unit @ unit[query]  # (V,)
    order = [int(i) for i in np.argsort(-similarity, kind="stable") if i != query]
    return order[:top]


def neighbours(results: Word2vecResults) -> list[dict]:
    """For each query word of the model's defaults and each run, its nearest words by
    the trained W_in: the frameworks learned the same vectors when these agree."""
    word_to_id = {w: i for i, w in results.id_to_word.items()}
    rows = []
    for word in DEFAULTS[results.config.model].queries:
        for r in results.results:
            W_in = r.trajectory.weights["W_in"][-1]
            ids = nearest(W_in, word_to_id[word])
            rows.append(
                {"query": word, "run": r.name, "nearest": [results.id_to_word[i] for i in ids]}
            )
    return rows


def table_rows(results: Word2vecResults) -> list[dict]:
    """One row per framework and mode: what the table, the report and --json show."""
    ref = results.reference.name
    return [table_row(r, ref, final_loss=r.final_loss) for r in results.results]
