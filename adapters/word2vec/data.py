"""The data of a word2vec run, drawn as the book's code draws it: initial weights, the
shuffled batches and every negative sample, from one RandomState (NumPy only).

The book seeds NumPy's global generator once; the model's constructor draws W_in and
W_out, then its Trainer draws a permutation at the start of each epoch, and during each
step the sampler draws the negative samples (for skip_gram, one draw per context word,
in order). `book_data` makes those draws in that order with scratch's own model and
sampler, so every framework is handed the same weights, batches and samples, and the
reference trained on them is the book's run bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adapters.word2vec.contract import MODELS, NEGATIVE_SAMPLING, ONE_HOT, SAMPLE_SIZE
from scratch.cbow import CBOW
from scratch.negative_sampling_layer import UnigramSampler
from scratch.simple_cbow import SimpleCBOW
from scratch.simple_skip_gram import SimpleSkipGram
from scratch.skip_gram import SkipGram
from scratch.trainer import epoch_batches
from scratch.util import convert_one_hot, create_contexts_target

POWER = 0.75  # the book's NegativeSamplingLoss power


@dataclass
class Word2vecData:
    """Everything a run needs, for every framework alike."""

    model: str
    weights: dict[str, np.ndarray]  # W_in, W_out as scratch's model drew them
    contexts: np.ndarray  # one-hot (n, 2, V) or ids (n, 2 window)
    target: np.ndarray  # one-hot (n, V) or ids (n,)
    schedule: np.ndarray  # (steps, batch) row indices
    negatives: np.ndarray | None  # (steps, batch, ...) word ids, or None
    window_size: int

    @property
    def config(self) -> dict[str, int]:
        """The model_config of `adapters.build` for this run."""
        return {} if self.model in ONE_HOT else {"window_size": self.window_size}


def sample_negatives(
    model: str,
    corpus: np.ndarray,
    contexts: np.ndarray,
    target: np.ndarray,
    schedule_epochs,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray]:
    """(schedule (steps, batch), negatives) for the epochs of `schedule_epochs` (an
    iterator of (iters, batch) row blocks drawing its permutation lazily, as
    scratch.trainer.epoch_batches), drawing each step's samples right after its
    epoch's permutation, as the book's Trainer and sampler draw them."""
    sampler = UnigramSampler(corpus, POWER, SAMPLE_SIZE, rng=rng)
    schedule, negatives = [], []
    for batches in schedule_epochs:
        for rows in batches:
            if model == "cbow":
                negatives.append(sampler.get_negative_sample(target[rows]))  # (N, S)
            else:  # one NegativeSamplingLoss per context word, in order
                columns = range(contexts.shape[1])
                draws = [sampler.get_negative_sample(contexts[rows, i]) for i in columns]
                negatives.append(np.stack(draws, axis=1))  # (N, 2 window, S)
        schedule.append(batches)
    return np.concatenate(schedule).astype(np.int64), np.stack(negatives).astype(np.int64)


def book_data(
    model: str,
    corpus: np.ndarray,
    *,
    hidden_size: int,
    batch_size: int,
    max_epoch: int,
    window_size: int = 1,
    seed: int = 1984,
    dtype: str = "float64",
) -> Word2vecData:
    """The book's run of `model` on `corpus` after `np.random.seed(seed)`: the weights
    scratch's model draws (in `dtype`: the book's is float32), the Trainer's batches and
    the sampler's negative samples, all from one RandomState(seed) in the book's order.
    simple_cbow and simple_skip_gram take window_size 1 and one-hot inputs, as the book's
    ch03/train.py does."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    rng = np.random.RandomState(seed)
    vocab_size = int(np.max(corpus)) + 1
    if model in ONE_HOT:
        window_size = 1
    contexts, target = create_contexts_target(corpus, window_size)
    if model == "simple_cbow":
        net = SimpleCBOW(vocab_size, hidden_size, rng=rng, dtype=dtype)
    elif model == "simple_skip_gram":
        net = SimpleSkipGram(vocab_size, hidden_size, rng=rng, dtype=dtype)
    elif model == "cbow":
        net = CBOW(vocab_size, hidden_size, window_size, corpus, rng=rng, dtype=dtype)
    else:
        net = SkipGram(vocab_size, hidden_size, window_size, corpus, rng=rng, dtype=dtype)
    epochs = epoch_batches(len(target), batch_size, max_epoch, rng)
    if model in NEGATIVE_SAMPLING:
        schedule, negatives = sample_negatives(model, corpus, contexts, target, epochs, rng)
    else:
        schedule, negatives = np.concatenate(list(epochs)).astype(np.int64), None
        contexts = convert_one_hot(contexts, vocab_size)  # (n, 2, V)
        target = convert_one_hot(target, vocab_size)  # (n, V)
    return Word2vecData(model, net.weights(), contexts, target, schedule, negatives, window_size)
