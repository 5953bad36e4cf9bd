"""SimpleCBOW of ch03/simple_cbow.py: two context words in, the target word out (§3.2).

The contexts arrive one-hot (N, 2, V), as the book feeds them: `MatMul(W_in)` on a
one-hot row picks the row of W_in for that word (chapter 4's Embedding does the same
without the one-hot matrix). Both context layers read the same W_in, so `params` holds it
twice (`remove_duplicate` merges the two gradients, as autograd would sum them).

    score = ((c0 @ W_in + c1 @ W_in) * 0.5) @ W_out,  loss = SoftmaxWithLoss(score, target)

A one-hot int32 row times a float32 W computes in float64 (NumPy's promotion), as in the
book; float64 weights compute in float64 throughout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch import word_ids
from scratch.layers import MatMul, SoftmaxWithLoss
from scratch.word_vectors import WordWeights, model_weights


class SimpleCBOW:
    """The book's SimpleCBOW; `weights()` gives W_in (V, H) and W_out (H, V)."""

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
        w = model_weights("SimpleCBOW", shapes, weights, rng, dtype)
        W_in, W_out = w["W_in"], w["W_out"]

        self.in_layer0 = MatMul(W_in)
        self.in_layer1 = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.loss_layer = SoftmaxWithLoss()

        layers = [self.in_layer0, self.in_layer1, self.out_layer]
        self.params, self.grads = [], []
        for layer in layers:
            self.params += layer.params
            self.grads += layer.grads
        self.word_vecs = W_in  # the word vectors are W_in's rows
        self.vocab_size = V

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> float:
        """contexts one-hot (N, 2, V), target one-hot (N, V) or ids (N,)."""
        check_one_hot(contexts, target, self.vocab_size, target_ids=True)
        h0 = self.in_layer0.forward(contexts[:, 0])  # (N, V) @ (V, H) -> (N, H)
        h1 = self.in_layer1.forward(contexts[:, 1])
        h = (h0 + h1) * 0.5
        score = self.out_layer.forward(h)  # (N, H) @ (H, V) -> (N, V)
        loss = self.loss_layer.forward(score, target)
        return loss

    def backward(self, dout: float = 1) -> None:
        ds = self.loss_layer.backward(dout)
        da = self.out_layer.backward(ds)
        da *= 0.5
        self.in_layer1.backward(da)
        self.in_layer0.backward(da)
        return None

    def weights(self) -> WordWeights:
        """Copies of W_in (V, H) and W_out (H, V), each once."""
        return {"W_in": self.params[0].copy(), "W_out": self.params[2].copy()}


def check_one_hot(
    contexts: np.ndarray, target: np.ndarray, vocab_size: int, *, target_ids: bool
) -> None:
    """The shapes chapter 3's models read: contexts one-hot (N, 2, V), target one-hot
    (N, V), or ids (N,) where `target_ids` (a label of SoftmaxWithLoss, not a MatMul input)."""
    shape = np.shape(contexts)
    if len(shape) != 3 or shape[1:] != (2, vocab_size):
        raise ValueError(
            f"contexts must be one-hot rows (N, 2, {vocab_size}) (convert_one_hot of a "
            f"window_size 1 corpus), got shape {shape}"
        )
    allowed = [(shape[0], vocab_size)] + ([(shape[0],)] if target_ids else [])
    if np.shape(target) not in allowed:
        what = " or ids (N,)" if target_ids else ""
        raise ValueError(
            f"target must be one-hot (N, {vocab_size}){what} with the N = {shape[0]} rows of "
            f"contexts, got shape {np.shape(target)}"
        )
