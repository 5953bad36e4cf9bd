"""SkipGram of ch04/skip_gram.py: the target word in, each of its 2 window_size context
words out, each through its own NegativeSamplingLoss (§4.3, §3.5.2).

    h = W_in[target]
    loss = sum over contexts c_i of NegativeSamplingLoss_i(h, c_i)

All the losses read the same W_out (V, H); each has its own sampler, and the samplers
draw from the one `rng` in the book's order (loss 0, loss 1, ...). `params` lists W_out
6 times per loss, as the book does; `remove_duplicate` merges them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch import word_ids
from scratch.cbow import POWER, SAMPLE_SIZE, check_ids
from scratch.layers import Embedding
from scratch.negative_sampling_layer import NegativeSamplingLoss
from scratch.word_vectors import WordWeights, model_weights


class SkipGram:
    """The book's SkipGram; `weights()` gives W_in (V, H) and W_out (V, H)."""

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
        rng = np.random.RandomState() if rng is None else rng
        shapes = {"W_in": (V, H), "W_out": (V, H)}
        w = model_weights("SkipGram", shapes, weights, rng, dtype)
        W_in, W_out = w["W_in"], w["W_out"]

        self.in_layer = Embedding(W_in)
        self.loss_layers = []
        for _ in range(2 * window_size):
            layer = NegativeSamplingLoss(
                W_out, corpus, power=POWER, sample_size=SAMPLE_SIZE, rng=rng
            )
            self.loss_layers.append(layer)

        layers = [self.in_layer] + self.loss_layers
        self.params, self.grads = [], []
        for layer in layers:
            self.params += layer.params
            self.grads += layer.grads
        self.word_vecs = W_in
        self.vocab_size = V

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> float:
        """contexts (N, 2 window_size) and target (N,) word ids."""
        check_ids(contexts, target, self.vocab_size, len(self.loss_layers))
        h = self.in_layer.forward(target)  # (N, H)
        loss = 0
        for i, layer in enumerate(self.loss_layers):
            loss += layer.forward(h, contexts[:, i])
        return loss

    def backward(self, dout: float = 1) -> None:
        dh = 0
        for layer in self.loss_layers:
            dh += layer.backward(dout)
        self.in_layer.backward(dh)
        return None

    def weights(self) -> WordWeights:
        """Copies of W_in (V, H) and W_out (V, H), each once."""
        return {"W_in": self.params[0].copy(), "W_out": self.params[1].copy()}
