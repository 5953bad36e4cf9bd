"""Rnnlm of ch06/rnnlm.py: TimeEmbedding -> TimeLSTM -> TimeAffine -> TimeSoftmaxWithLoss
(§6.4), the LSTM stateful across blocks."""

from __future__ import annotations

import numpy as np

from scratch import word_ids
from scratch.base_model import (
    BaseModel,
    Rng,
    Weights,
    draw,
    take_weights,
)
from scratch.time_layers import TimeAffine, TimeEmbedding, TimeLSTM, TimeSoftmaxWithLoss

WEIGHT_NAMES = ("embed_W", "lstm_Wx", "lstm_Wh", "lstm_b", "affine_W", "affine_b")


def weight_shapes(V: int, D: int, H: int) -> dict[str, tuple[int, ...]]:
    return {
        "embed_W": (V, D),
        "lstm_Wx": (D, 4 * H),  # the gates f, g, i, o side by side
        "lstm_Wh": (H, 4 * H),
        "lstm_b": (4 * H,),
        "affine_W": (H, V),
        "affine_b": (V,),
    }


def init_weights(V: int, D: int, H: int, rng: Rng, dtype: np.dtype) -> Weights:
    """The book's draws, in its order: randn / 100 for the embedding, randn / sqrt(fan-in)
    for the LSTM and the affine layer, zero biases."""
    return {
        "embed_W": draw(rng, (V, D), 100, dtype),
        "lstm_Wx": draw(rng, (D, 4 * H), np.sqrt(D), dtype),
        "lstm_Wh": draw(rng, (H, 4 * H), np.sqrt(H), dtype),
        "lstm_b": np.zeros(4 * H).astype(dtype),
        "affine_W": draw(rng, (H, V), np.sqrt(H), dtype),
        "affine_b": np.zeros(V).astype(dtype),
    }


class Rnnlm(BaseModel):
    """The LSTM language model of §6.4 (the book's defaults: 10000 words, 100, 100).

    `weights` (the book's names, see `WEIGHT_NAMES`) are copied and checked (an LSTM
    weight whose gate dimension is not 4H is refused, naming it); otherwise they are
    drawn from `rng` in the book's order. NumPy's global generator is never touched.
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 100,
        hidden_size: int = 100,
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
            gates = (("lstm_Wx", "lstm_Wh", "lstm_b"),)
            w = take_weights(weights, weight_shapes(V, D, H), dtype, "Rnnlm", gates)
        self.vocab_size = V
        self.layers = [
            TimeEmbedding(w["embed_W"]),
            TimeLSTM(w["lstm_Wx"], w["lstm_Wh"], w["lstm_b"], stateful=True),
            TimeAffine(w["affine_W"], w["affine_b"]),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.lstm_layer = self.layers[1]
        self.state_layers = [self.lstm_layer]
        self.named = {name: w[name] for name in WEIGHT_NAMES}
        self.collect()
