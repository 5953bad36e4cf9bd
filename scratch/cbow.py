"""CBOW of ch04/cbow.py: word2vec's continuous bag of words, with Embedding layers and
negative sampling (§4.3).

    h = mean of W_in[c] over the 2 window_size context words c
    loss = NegativeSamplingLoss(h, target): the target's row of W_out against 5 sampled ones

Every context reads the same W_in through its own Embedding layer, and every EmbeddingDot
of the loss reads the same W_out, so `params` holds W_in 2 window_size times and W_out 6
times, as in the book; `remove_duplicate` sums their gradients into one each, which is
what autograd does for a tensor used more than once. The negative samples are drawn from
`rng` during `forward`, in the book's order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch import word_ids
from scratch.layers import Embedding
from scratch.negative_sampling_layer import NegativeSamplingLoss
from scratch.word_vectors import WordWeights, model_weights

POWER, SAMPLE_SIZE = 0.75, 5  # the book's NegativeSamplingLoss settings in both models


class CBOW:
    """The book's CBOW; `weights()` gives W_in (V, H) and W_out (V, H)."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        window_size: int,
        corpus: np.ndarray,
        *,
        rng: np.random.RandomState | None = None,
        dtype: Any = np.float32,
        weights: WordWeights | None = None,
    ) -> None:
        V = word_ids.positive_int(vocab_size, "vocab_size")
        H = word_ids.positive_int(hidden_size, "hidden_size")
        window_size = word_ids.positive_int(window_size, "window_size", " (words on each side)")
        corpus = word_ids.corpus(corpus, V)
        rng = np.random.RandomState() if rng is None else rng  # one stream: weights, samples
        shapes = {"W_in": (V, H), "W_out": (V, H)}
        w = model_weights("CBOW", shapes, weights, rng, dtype)
        W_in, W_out = w["W_in"], w["W_out"]

        self.in_layers = []
        for _ in range(2 * window_size):
            layer = Embedding(W_in)  # every context word reads the same W_in
            self.in_layers.append(layer)
        self.ns_loss = NegativeSamplingLoss(
            W_out, corpus, power=POWER, sample_size=SAMPLE_SIZE, rng=rng
        )

        layers = self.in_layers + [self.ns_loss]
        self.params, self.grads = [], []
        for layer in layers:
            self.params += layer.params
            self.grads += layer.grads
        self.word_vecs = W_in
        self.vocab_size = V

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> float:
        """contexts (N, 2 window_size) and target (N,) word ids."""
        check_ids(contexts, target, self.vocab_size, len(self.in_layers))
        h = 0
        for i, layer in enumerate(self.in_layers):
            h += layer.forward(contexts[:, i])  # (N, H)
        h *= 1 / len(self.in_layers)
        loss = self.ns_loss.forward(h, target)
        return loss

    def backward(self, dout: float = 1) -> None:
        dout = self.ns_loss.backward(dout)
        dout *= 1 / len(self.in_layers)
        for layer in self.in_layers:
            layer.backward(dout)
        return None

    def weights(self) -> WordWeights:
        """Copies of W_in (V, H) and W_out (V, H), each once."""
        return {"W_in": self.params[0].copy(), "W_out": self.ns_loss.params[0].copy()}


def check_ids(contexts: np.ndarray, target: np.ndarray, vocab_size: int, columns: int) -> None:
    """contexts (N, columns) and target (N,) word ids in [0, vocab_size), N rows each."""
    word_ids.ids(contexts, "contexts", vocab_size, ndim=2)
    word_ids.ids(target, "target", vocab_size, ndim=1)
    if contexts.shape[1] != columns:
        raise ValueError(
            f"contexts must have 2 window_size = {columns} columns, got shape {contexts.shape}"
        )
    word_ids.same_length(contexts, target)
