"""BetterRnnlm of ch06/better_rnnlm.py (§6.5): two LSTM layers, dropout before each LSTM
and before the output, and weight tying (the output layer uses the embedding's W,
transposed, after Press & Wolf 2016 and Inan et al. 2016; the model after Zaremba et
al. 2014)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch import word_ids
from scratch.base_model import (
    BaseModel,
    Rng,
    Weights,
    check_labels,
    draw,
    take_weights,
)
from scratch.time_layers import (
    TimeAffine,
    TimeDropout,
    TimeEmbedding,
    TimeLSTM,
    TimeSoftmaxWithLoss,
    check_dropout_ratio,
)

# the tied weight once, as embed_W (V, D); the output layer holds its transpose
WEIGHT_NAMES = (
    "embed_W",
    "lstm_Wx1",
    "lstm_Wh1",
    "lstm_b1",
    "lstm_Wx2",
    "lstm_Wh2",
    "lstm_b2",
    "affine_b",
)


def weight_shapes(V: int, D: int, H: int) -> dict[str, tuple[int, ...]]:
    """Weight tying needs D == H: the output layer's W is embed_W.T, (D, V) for (H, V)."""
    return {
        "embed_W": (V, D),
        "lstm_Wx1": (D, 4 * H),
        "lstm_Wh1": (H, 4 * H),
        "lstm_b1": (4 * H,),
        "lstm_Wx2": (H, 4 * H),
        "lstm_Wh2": (H, 4 * H),
        "lstm_b2": (4 * H,),
        "affine_b": (V,),
    }


def init_weights(V: int, D: int, H: int, rng: Rng, dtype: np.dtype) -> Weights:
    """The book's draws, in its order (embedding, LSTM 1, LSTM 2); zero biases."""
    return {
        "embed_W": draw(rng, (V, D), 100, dtype),
        "lstm_Wx1": draw(rng, (D, 4 * H), np.sqrt(D), dtype),
        "lstm_Wh1": draw(rng, (H, 4 * H), np.sqrt(H), dtype),
        "lstm_b1": np.zeros(4 * H).astype(dtype),
        "lstm_Wx2": draw(rng, (H, 4 * H), np.sqrt(H), dtype),
        "lstm_Wh2": draw(rng, (H, 4 * H), np.sqrt(H), dtype),
        "lstm_b2": np.zeros(4 * H).astype(dtype),
        "affine_b": np.zeros(V).astype(dtype),
    }


class BetterRnnlm(BaseModel):
    """Embedding -> Dropout -> LSTM -> Dropout -> LSTM -> Dropout -> Affine (tied).

    The book's defaults: 10000 words, wordvec_size = hidden_size = 650, dropout 0.5.
    Weight tying makes the output layer's W the embedding's W transposed (one array:
    `params` holds it twice, as the book's, and `remove_duplicate` merges the two
    gradients); it needs wordvec_size == hidden_size, refused otherwise.

    `rng` draws the weights and then, at every training `forward`, the three dropout
    masks in the book's order, so `np.random.RandomState(s)` gives the book's weights
    and masks after `np.random.seed(s)`. NumPy's global generator is never touched.
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 650,
        hidden_size: int = 650,
        dropout_ratio: float = 0.5,
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
        if D != H:
            raise ValueError(
                f"BetterRnnlm ties the output layer to the embedding: wordvec_size ({D}) "
                f"must equal hidden_size ({H})"
            )
        dropout_ratio = check_dropout_ratio(dropout_ratio)
        dtype = np.dtype(dtype)
        rng = np.random.RandomState() if rng is None else rng
        if weights is None:
            w = init_weights(V, D, H, rng, dtype)
        else:
            gates = tuple((f"lstm_Wx{i}", f"lstm_Wh{i}", f"lstm_b{i}") for i in (1, 2))
            w = take_weights(weights, weight_shapes(V, D, H), dtype, "BetterRnnlm", gates)
        self.vocab_size = V
        self.layers = [
            TimeEmbedding(w["embed_W"]),
            TimeDropout(dropout_ratio, rng=rng),
            TimeLSTM(w["lstm_Wx1"], w["lstm_Wh1"], w["lstm_b1"], stateful=True),
            TimeDropout(dropout_ratio, rng=rng),
            TimeLSTM(w["lstm_Wx2"], w["lstm_Wh2"], w["lstm_b2"], stateful=True),
            TimeDropout(dropout_ratio, rng=rng),
            TimeAffine(w["embed_W"].T, w["affine_b"]),  # weight tying: a (D, V) view
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.lstm_layers = [self.layers[2], self.layers[4]]
        self.drop_layers = [self.layers[1], self.layers[3], self.layers[5]]
        self.state_layers = self.lstm_layers
        self.named = {name: w[name] for name in WEIGHT_NAMES}
        self.collect()

    def predict(self, xs: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """Scores (N, T, V); dropout only with `train_flg`."""
        for layer in self.drop_layers:
            layer.train_flg = train_flg
        return super().predict(xs)

    def forward(self, xs: np.ndarray, ts: np.ndarray, train_flg: bool = True) -> Any:
        """The mean loss over the N*T positions; dropout unless `train_flg` is False."""
        check_labels(ts, np.shape(xs), self.vocab_size)
        return self.loss_layer.forward(self.predict(xs, train_flg), ts)
