"""The data of a language-model run, drawn as the book's code draws it: the initial
weights, the blocks RnnlmTrainer reads and every dropout mask, from one RandomState
(NumPy only); and the default run the comparison trains on.

The book seeds NumPy's global generator once; the model's constructor draws its weights,
then BetterRnnlm's three TimeDropout layers draw a mask each at every step, in order.
RnnlmTrainer draws nothing: its blocks follow from the offsets and time_idx
(scratch.trainer.rnnlm_batches). `book_data` makes the draws in that order with
scratch's own model and `dropout_mask`, so every framework is handed the same weights,
blocks and masks, and the reference trained on them is the book's run bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adapters.rnnlm.contract import BOOK_DROPOUT, DROPOUT_LAYERS, MODELS
from scratch import better_rnnlm, rnnlm, simple_rnnlm, small_corpus, word_ids
from scratch.time_layers import check_dropout_ratio, dropout_mask
from scratch.trainer import rnnlm_batches, rnnlm_iters


@dataclass
class RnnlmData:
    """Everything a run needs, for every framework alike."""

    model: str
    weights: dict[str, np.ndarray]  # as scratch's model drew them, by the book's names
    xs: np.ndarray  # (n,) word ids: corpus[:-1]
    ts: np.ndarray  # (n,) the next words: corpus[1:]
    schedule: np.ndarray  # (steps, N, T) positions into xs and ts
    masks: np.ndarray | None  # (steps, 3, N, T, H) scaled dropout masks, or None
    dropout_ratio: float | None

    @property
    def config(self) -> dict[str, float]:
        """The model_config of `adapters.build` for this run."""
        return {} if self.dropout_ratio is None else {"dropout_ratio": self.dropout_ratio}

    @property
    def steps_per_epoch(self) -> int:
        N, T = self.schedule.shape[1:]
        return rnnlm_iters(len(self.xs), N, T)


def book_data(
    model: str,
    corpus: np.ndarray,
    *,
    wordvec_size: int,
    hidden_size: int,
    batch_size: int,
    time_size: int,
    max_epoch: int,
    dropout_ratio: float = BOOK_DROPOUT,
    seed: int = 1984,
    dtype: str = "float64",
) -> RnnlmData:
    """The book's run of `model` on `corpus` after `np.random.seed(seed)`: the weights
    scratch's model draws (in `dtype`: the book's is float32), RnnlmTrainer's blocks for
    `max_epoch` epochs, and for better_rnnlm the three masks of every step, all from one
    RandomState(seed) in the book's order. vocab_size is max(corpus) + 1, as ch05/train.py
    sizes it. A ValueError naming the argument before anything is drawn: an unknown
    model, a corpus that is not ids, sizes < 1, a time_size too long for the corpus, a
    dropout_ratio outside [0, 1)."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    corpus = word_ids.ids(corpus, "corpus", ndim=1)
    for name, value in (
        ("wordvec_size", wordvec_size),
        ("hidden_size", hidden_size),
        ("batch_size", batch_size),
        ("time_size", time_size),
        ("max_epoch", max_epoch),
    ):
        word_ids.positive_int(value, name)
    if len(corpus) < 2:
        raise ValueError(
            f"corpus must hold at least 2 words (xs and their next), got {len(corpus)}"
        )
    xs, ts = corpus[:-1].astype(np.int64), corpus[1:].astype(np.int64)
    steps = rnnlm_iters(len(xs), batch_size, time_size) * max_epoch
    V, D, H = int(corpus.max()) + 1, wordvec_size, hidden_size
    rng = np.random.RandomState(seed)
    if model == "better_rnnlm":
        ratio = check_dropout_ratio(dropout_ratio)
        net = better_rnnlm.BetterRnnlm(V, D, H, ratio, rng=rng, dtype=dtype)
        masks = np.stack(
            [  # per step, the three TimeDropout layers in order, each (N, T, H)
                np.stack(
                    [
                        dropout_mask(rng, (batch_size, time_size, H), ratio, dtype)
                        for _ in range(DROPOUT_LAYERS)
                    ]
                )
                for _ in range(steps)
            ]
        )  # (steps, 3, N, T, H)
    else:
        cls = simple_rnnlm.SimpleRnnlm if model == "simple_rnnlm" else rnnlm.Rnnlm
        net, ratio, masks = cls(V, D, H, rng=rng, dtype=dtype), None, None
    schedule = rnnlm_batches(len(xs), batch_size, time_size, steps)
    return RnnlmData(model, net.weights(), xs, ts, schedule, masks, ratio)


# --------------------------------------------------------------------------- the default run

CORPUS_WORDS = 1000  # the first 1000 words, as ch05/train.py takes PTB's
DEFAULT_RUNS = {  # per model: the book's settings scaled to the small corpus
    "simple_rnnlm": {
        "wordvec_size": 16, "hidden_size": 24, "batch_size": 10, "time_size": 5,
        "max_epoch": 12, "lr": 1.0, "max_grad": None,
    },
    "rnnlm": {
        "wordvec_size": 16, "hidden_size": 24, "batch_size": 10, "time_size": 5,
        "max_epoch": 12, "lr": 5.0, "max_grad": 0.25,
    },
    "better_rnnlm": {
        "wordvec_size": 24, "hidden_size": 24, "batch_size": 10, "time_size": 5,
        "max_epoch": 12, "lr": 5.0, "max_grad": 0.25, "dropout_ratio": BOOK_DROPOUT,
    },
}  # fmt: skip


def default_corpus() -> np.ndarray:
    """The first CORPUS_WORDS words of scratch.small_corpus's default text."""
    return small_corpus.load_data()[0][:CORPUS_WORDS]


def default_data(model: str, dtype: str = "float64") -> RnnlmData:
    """The default run of `model`: `DEFAULT_RUNS[model]` on `default_corpus()` (999 words
    in, 19 blocks of 10 x 5 an epoch, 12 epochs: 228 steps), drawn by `book_data`."""
    settings = {k: v for k, v in DEFAULT_RUNS[model].items() if k not in ("lr", "max_grad")}
    return book_data(model, default_corpus(), dtype=dtype, **settings)


__all__ = ["DEFAULT_RUNS", "RnnlmData", "book_data", "default_corpus", "default_data"]
