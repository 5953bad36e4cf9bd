"""SimpleRnnlm of ch05/simple_rnnlm.py: TimeEmbedding -> TimeRNN -> TimeAffine ->
TimeSoftmaxWithLoss (§5.5.1), the RNN stateful across blocks."""

from __future__ import annotations

import numpy as np

from scratch import word_ids
from scratch.base_model import BaseModel, Rng, Weights, draw, take_weights
from scratch.time_layers import TimeAffine, TimeEmbedding, TimeRNN, TimeSoftmaxWithLoss

WEIGHT_NAMES = ("embed_W", "rnn_Wx", "rnn_Wh", "rnn_b", "affine_W", "affine_b")


def weight_shapes(V: int, D: int, H: int) -> dict[str, tuple[int, ...]]:
    return {
        "embed_W": (V, D),
        "rnn_Wx": (D, H),
        "rnn_Wh": (H, H),
        "rnn_b": (H,),
        "affine_W": (H, V),
        "affine_b": (V,),
    }


def init_weights(V: int, D: int, H: int, rng: Rng, dtype: np.dtype) -> Weights:
    """The book's draws, in its order: randn / 100 for the embedding, randn / sqrt(fan-in)
    (Xavier) for the RNN and the affine layer, zero biases."""
    return {
        "embed_W": draw(rng, (V, D), 100, dtype),
        "rnn_Wx": draw(rng, (D, H), np.sqrt(D), dtype),
        "rnn_Wh": draw(rng, (H, H), np.sqrt(H), dtype),
        "rnn_b": np.zeros(H).astype(dtype),
        "affine_W": draw(rng, (H, V), np.sqrt(H), dtype),
        "affine_b": np.zeros(V).astype(dtype),
    }


class SimpleRnnlm(BaseModel):
    """The RNN language model of §5.5.1, V words, D-wide embeddings, H hidden units.

    `weights` (the book's names, see `WEIGHT_NAMES`) are copied; otherwise they are
    drawn from `rng` in the book's order (`np.random.RandomState(s)` gives the book's
    weights after `np.random.seed(s)`; a fresh unseeded RandomState when None). NumPy's
    global generator is never touched.
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        rng: Rng | None = None,
        dtype=np.float32,
        weights: Weights | None = None,
    ) -> None:
        V, D, H = (
            word_ids.positive_int(size, name)
            for name, size in (
                ("vocab_size", vocab_size),
                ("wordvec_size", wordvec_size),
                ("hidden_size", hidden_size),
            )
        )
        dtype = np.dtype(dtype)
        if weights is None:
            w = init_weights(V, D, H, np.random.RandomState() if rng is None else rng, dtype)
        else:
            w = take_weights(weights, weight_shapes(V, D, H), dtype, "SimpleRnnlm")
        self.vocab_size = V
        self.layers = [
            TimeEmbedding(w["embed_W"]),
            TimeRNN(w["rnn_Wx"], w["rnn_Wh"], w["rnn_b"], stateful=True),
            TimeAffine(w["affine_W"], w["affine_b"]),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.rnn_layer = self.layers[1]
        self.state_layers = [self.rnn_layer]
        self.named = {name: w[name] for name in WEIGHT_NAMES}
        self.collect()
