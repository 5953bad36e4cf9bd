"""SimpleSkipGram of ch03/simple_skip_gram.py: the target word in, its two context words
out (§3.5.2).

    s = target @ W_in @ W_out,  loss = SoftmaxWithLoss(s, c0) + SoftmaxWithLoss(s, c1)

One-hot inputs as the book feeds them (contexts (N, 2, V), target (N, V)); the two
losses share the scores, so backward adds their gradients before W_out's MatMul.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch import word_ids
from scratch.layers import MatMul, SoftmaxWithLoss
from scratch.simple_cbow import check_one_hot
from scratch.word_vectors import WordWeights, model_weights


class SimpleSkipGram:
    """The book's SimpleSkipGram; `weights()` gives W_in (V, H) and W_out (H, V)."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        *,
        rng: np.random.RandomState | None = None,
        dtype: Any = np.float32,
        weights: WordWeights | None = None,
    ) -> None:
        V = word_ids.positive_int(vocab_size, "vocab_size")
        H = word_ids.positive_int(hidden_size, "hidden_size")
        shapes = {"W_in": (V, H), "W_out": (H, V)}
        w = model_weights("SimpleSkipGram", shapes, weights, rng, dtype)
        W_in, W_out = w["W_in"], w["W_out"]

        self.in_layer = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.loss_layer1 = SoftmaxWithLoss()
        self.loss_layer2 = SoftmaxWithLoss()

        layers = [self.in_layer, self.out_layer]
        self.params, self.grads = [], []
        for layer in layers:
            self.params += layer.params
            self.grads += layer.grads
        self.word_vecs = W_in
        self.vocab_size = V

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> float:
        """contexts one-hot (N, 2, V), target one-hot (N, V) (the input of a MatMul)."""
        check_one_hot(contexts, target, self.vocab_size, target_ids=False)
        h = self.in_layer.forward(target)  # (N, V) @ (V, H) -> (N, H)
        s = self.out_layer.forward(h)  # (N, H) @ (H, V) -> (N, V)
        l1 = self.loss_layer1.forward(s, contexts[:, 0])
        l2 = self.loss_layer2.forward(s, contexts[:, 1])
        loss = l1 + l2
        return loss

    def backward(self, dout: float = 1) -> None:
        dl1 = self.loss_layer1.backward(dout)
        dl2 = self.loss_layer2.backward(dout)
        ds = dl1 + dl2
        dh = self.out_layer.backward(ds)
        self.in_layer.backward(dh)
        return None

    def weights(self) -> WordWeights:
        """Copies of W_in (V, H) and W_out (H, V)."""
        return {"W_in": self.params[0].copy(), "W_out": self.params[1].copy()}
