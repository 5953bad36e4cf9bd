"""Negative sampling (§4.2; ch04/negative_sampling_layer.py): EmbeddingDot, UnigramSampler,
NegativeSamplingLoss.

Instead of a softmax over the whole vocabulary, word2vec with negative sampling asks a
yes/no question per word: is this the target (label 1), or one of `sample_size` words
drawn from the corpus's unigram distribution raised to `power` (label 0)? Each answer is
a SigmoidWithLoss on the dot product of the hidden vector with that word's output row.

The draws come from `rng` (a `np.random.RandomState`), never from NumPy's global
generator: with `rng=np.random.RandomState(s)` they are the book's after
`np.random.seed(s)`, drawn in the same order.

| here                 | PyTorch                                  | JAX                          |
|----------------------|------------------------------------------|------------------------------|
| EmbeddingDot         | `(emb(idx) * h).sum(1)`                  | `(W[idx] * h).sum(1)`        |
| NegativeSamplingLoss | `F.binary_cross_entropy_with_logits`     | `optax.sigmoid_binary_...`   |
| UnigramSampler       | (the twins take the reference's samples) |                              |
"""

from __future__ import annotations

import numpy as np

from scratch import word_ids
from scratch.layers import Embedding, SigmoidWithLoss
from scratch.xp import array_module


class EmbeddingDot:
    """out[n] = W[idx[n]] . h[n]: the score of one word per row (§4.2.1)."""

    def __init__(self, W: np.ndarray) -> None:
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache = None

    def forward(self, h: np.ndarray, idx: np.ndarray) -> np.ndarray:
        target_W = self.embed.forward(idx)  # (N, H)
        out = array_module(h).sum(target_W * h, axis=1)  # (N,)
        self.cache = (h, target_W)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        h, target_W = self.cache
        dout = dout.reshape(dout.shape[0], 1)  # (N,) -> (N, 1)
        dtarget_W = dout * h  # (N, H)
        self.embed.backward(dtarget_W)
        dh = dout * target_W  # (N, H)
        return dh


class UnigramSampler:
    """Draws `sample_size` negative words per row from P(w)^power / Z (§4.2.6), without
    replacement and never the row's own target, as the book does on the CPU.

    The vocabulary is the ids counted in `corpus`, [0, max + 1): every one of them must
    occur (the book sizes the vocabulary by the words it counts, so a missing id would
    shift the probabilities), and a row needs `sample_size` other words to draw from.
    """

    def __init__(
        self,
        corpus: np.ndarray,
        power: float,
        sample_size: int,
        *,
        rng: np.random.RandomState | None = None,
    ) -> None:
        corpus = word_ids.corpus(corpus)
        self.sample_size = word_ids.positive_int(sample_size, "sample_size")
        if not np.isfinite(power):
            raise ValueError(f"power must be a finite number, got {power!r}")
        counts = np.bincount(corpus)  # (V,): every id occurs (checked above)
        self.vocab_size = len(counts)
        if self.sample_size > self.vocab_size - 1:
            raise ValueError(
                f"sample_size {self.sample_size} is too large: drawn without replacement and "
                f"never the target, a vocabulary of {self.vocab_size} words allows at most "
                f"{self.vocab_size - 1}"
            )
        self.word_p = np.power(counts.astype(np.float64), power)  # the book's counts, as floats
        self.word_p /= np.sum(self.word_p)
        self.rng = np.random.RandomState() if rng is None else rng  # never np.random

    def get_negative_sample(self, target: np.ndarray) -> np.ndarray:
        """(N, sample_size) int32 word ids for the targets (N,), a row at a time."""
        batch_size = target.shape[0]
        negative_sample = np.zeros((batch_size, self.sample_size), dtype=np.int32)
        for i in range(batch_size):
            p = self.word_p.copy()
            p[target[i]] = 0
            p /= p.sum()
            negative_sample[i, :] = self.rng.choice(
                self.vocab_size, size=self.sample_size, replace=False, p=p
            )
        return negative_sample


class NegativeSamplingLoss:
    """One positive and `sample_size` negative EmbeddingDot + SigmoidWithLoss pairs, all
    reading the output weights W (V, H); the loss is their sum (§4.2.7).

    `params` lists W once per EmbeddingDot, as the book does (`remove_duplicate` merges
    them); every negative sample comes from `self.sampler`, which draws from `rng`.
    """

    def __init__(
        self,
        W: np.ndarray,
        corpus: np.ndarray,
        power: float = 0.75,
        sample_size: int = 5,
        *,
        rng: np.random.RandomState | None = None,
    ) -> None:
        self.sample_size = sample_size
        self.sampler = UnigramSampler(corpus, power, sample_size, rng=rng)
        self.loss_layers = [SigmoidWithLoss() for _ in range(sample_size + 1)]
        self.embed_dot_layers = [EmbeddingDot(W) for _ in range(sample_size + 1)]
        self.params, self.grads = [], []
        for layer in self.embed_dot_layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, h: np.ndarray, target: np.ndarray) -> float:
        xp = array_module(h)
        batch_size = target.shape[0]
        negative_sample = self.sampler.get_negative_sample(target)  # (N, sample_size)

        score = self.embed_dot_layers[0].forward(h, target)  # the positive example
        correct_label = xp.ones(batch_size, dtype=np.int32)
        loss = self.loss_layers[0].forward(score, correct_label)

        negative_label = xp.zeros(batch_size, dtype=np.int32)
        for i in range(self.sample_size):  # the negative examples
            negative_target = negative_sample[:, i]
            score = self.embed_dot_layers[1 + i].forward(h, negative_target)
            loss += self.loss_layers[1 + i].forward(score, negative_label)
        return loss

    def backward(self, dout: float = 1) -> np.ndarray:
        dh = 0
        for l0, l1 in zip(self.loss_layers, self.embed_dot_layers, strict=True):
            dscore = l0.backward(dout)
            dh += l1.backward(dscore)
        return dh
