"""The language models' weights as they travel between frameworks (chapters 5-6): names,
sizes, the checks, and the LSTM gate order. Framework-free; the twins' weight maps
(adapters/torch_rnnlm.py, adapters/jax_rnnlm.py) build on it.

Weights travel in the book's layout, by the book's names (scratch.simple_rnnlm,
scratch.rnnlm, scratch.better_rnnlm `WEIGHT_NAMES`): W is (in, out), an LSTM's Wx (D, 4H),
Wh (H, 4H) and b (4H,) hold the four gates side by side in the book's order f, g, i, o
(§6.3.3). Every framework's LSTM orders them i, f, g, o instead (torch.nn.LSTM, cuDNN,
Keras, flax's LSTMCell), so the twins' maps permute the gate blocks; loading the book's
numbers without that is the first trap of a port (each gate then computes another's
job, and nothing fails).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adapters import checks
from scratch import better_rnnlm, rnnlm, simple_rnnlm
from scratch.base_model import take_weights

MODELS = ("simple_rnnlm", "rnnlm", "better_rnnlm")
_MODULES = {"simple_rnnlm": simple_rnnlm, "rnnlm": rnnlm, "better_rnnlm": better_rnnlm}
_RECURRENT = {
    "simple_rnnlm": (),
    "rnnlm": (("lstm_Wx", "lstm_Wh", "lstm_b"),),
    "better_rnnlm": tuple((f"lstm_Wx{i}", f"lstm_Wh{i}", f"lstm_b{i}") for i in (1, 2)),
}

BOOK_GATES = "fgio"  # the book's LSTM: forget, new memory (g), input, output
FRAMEWORK_GATES = "ifgo"  # torch.nn.LSTM, cuDNN, Keras, flax: input, forget, g, output
TO_FRAMEWORK = [BOOK_GATES.index(g) for g in FRAMEWORK_GATES]  # [2, 0, 1, 3]
TO_BOOK = [FRAMEWORK_GATES.index(g) for g in BOOK_GATES]  # [1, 2, 0, 3]


def weight_names(model: str) -> tuple[str, ...]:
    """The book's names of `model`'s weights, in its params order (the tied one once)."""
    return _MODULES[model].WEIGHT_NAMES


def gate_blocks(w: Any, order: list[int]):
    """`w` with the four gate blocks of its last axis (4H) taken in `order`: NumPy, torch
    and JAX arrays alike (indexing a view of (..., 4, H))."""
    four_h = w.shape[-1]
    blocks = w.reshape(*w.shape[:-1], 4, four_h // 4)  # (..., 4, H)
    return blocks[..., order, :].reshape(w.shape)


def book_to_framework_gates(w: Any):
    """Book gate order f, g, i, o -> the frameworks' i, f, g, o, along the last axis."""
    return gate_blocks(w, TO_FRAMEWORK)


def framework_to_book_gates(w: Any):
    """The frameworks' gate order i, f, g, o -> the book's f, g, i, o, along the last axis."""
    return gate_blocks(w, TO_BOOK)


def sizes(model: str, weights: dict) -> tuple[int, int, int]:
    """(V, D, H) of `weights`: the embedding's (V, D), the recurrent layer's hidden size."""
    V, D = np.shape(weights["embed_W"])
    H = np.shape(weights["rnn_Wh" if model == "simple_rnnlm" else _RECURRENT[model][0][1]])[0]
    return int(V), int(D), int(H)


def check_weights(model: str, weights: Any, dtype: str) -> dict[str, np.ndarray]:
    """`weights` checked against `model` and cast to `dtype` (NumPy copies): the book's
    names, each shape from (V, D, H), every LSTM's gate dimension 4H, BetterRnnlm's
    wordvec size equal to its hidden size (the tied weight), finite values. A ValueError
    or TypeError naming the weight otherwise, before any framework is touched."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    names = weight_names(model)
    if not isinstance(weights, dict) or set(weights) != set(names):
        got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
        raise ValueError(f"weights of {model} must have the keys {', '.join(names)}; got {got}")
    arrays = {name: checks.as_array(weights[name], f"weights[{name!r}]") for name in names}
    for name, a in arrays.items():
        if a.ndim == 0 or 0 in a.shape:
            raise ValueError(f"weights[{name!r}] must be a non-empty array, got shape {a.shape}")
    if arrays["embed_W"].ndim != 2:
        raise ValueError(f"weights['embed_W'] must be 2-D (V, D), got {arrays['embed_W'].shape}")
    V, D, H = sizes(model, arrays)
    if model == "better_rnnlm" and D != H:
        raise ValueError(
            f"better_rnnlm ties the output layer to embed_W (V, D): its wordvec size D={D} "
            f"must equal the hidden size H={H}"
        )
    shapes = _MODULES[model].weight_shapes(V, D, H)
    arrays = take_weights(arrays, shapes, np.float64, model, _RECURRENT[model])
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"weights[{name!r}] holds NaN or inf")
    return {name: checks.cast(a, dtype, f"weights[{name!r}]") for name, a in arrays.items()}
