"""What the recurrent language models share (common/base_model.py's BaseModel, and the
forward/backward every model of chapters 5-6 repeats).

A model is a list of `layers` ending in scores (N, T, V) and a `loss_layer`; `params`
and `grads` are the layers' own arrays collected once (a tied weight appears in both of
its layers, as the book has it: `remove_duplicate` merges it). Its weights travel by the
book's variable names (`embed_W`, `lstm_Wx`, ...), each array once, in the book's layout.
The book's save_params/load_params (a pickle of float16 copies) are not here: weights
travel as `weights()` dicts (adapters/weights_file.py saves them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch import word_ids
from scratch.time_layers import IGNORE_LABEL
from scratch.xp import array_module

Weights = dict[str, np.ndarray]
Rng = np.random.RandomState | np.random.Generator


def draw(rng: Rng, shape: tuple[int, ...], divisor: float, dtype: np.dtype) -> np.ndarray:
    """`(np.random.randn(*shape) / divisor).astype(dtype)`, the book's initialisation,
    from `rng` (a RandomState gives the book's numbers)."""
    return (rng.standard_normal(shape) / divisor).astype(dtype)


def take_weights(
    weights: Any,
    shapes: dict[str, tuple[int, ...]],
    dtype: np.dtype,
    model: str,
    gates: tuple[tuple[str, str, str], ...] = (),
) -> Weights:
    """Copies of `weights` in `dtype`, checked against `shapes` (the book's names in
    order) and, for each LSTM's (Wx, Wh, b) names in `gates`, their gate dimension; a
    ValueError naming the weight otherwise. The module of the first weight (NumPy, or
    CuPy for weights on the GPU) holds the copies."""
    if not isinstance(weights, dict) or set(weights) != set(shapes):
        got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
        raise ValueError(f"{model}: weights must have the keys {', '.join(shapes)}; got {got}")
    held = {name: tuple(getattr(w, "shape", np.shape(w))) for name, w in weights.items()}
    for names in gates:
        check_gates(held, names, model)
    for name, shape in shapes.items():
        if held[name] != shape:
            raise ValueError(
                f"{model}: weights[{name!r}] must have shape {shape}, got {held[name]}"
            )
    xp = array_module(weights[next(iter(shapes))])
    return {name: xp.array(weights[name], dtype=dtype) for name in shapes}


def check_gates(
    shapes: dict[str, tuple[int, ...]], names: tuple[str, str, str], model: str
) -> None:
    """An LSTM's Wx (D, 4H), Wh (H, 4H), b (4H,), by `names`: their last dimension holds
    the four gates, so it must be 4 times H, the rows of Wh. A ValueError naming the
    weight otherwise."""
    Wh = shapes[names[1]]
    if len(Wh) != 2:
        raise ValueError(f"{model}: weights[{names[1]!r}] must be 2-D (H, 4H), got {Wh}")
    H = Wh[0]
    for name in names:
        if len(shapes[name]) == 0 or shapes[name][-1] != 4 * H:
            raise ValueError(
                f"{model}: weights[{name!r}] has shape {shapes[name]}, but its gate dimension "
                f"(the last) must be 4H = {4 * H} for hidden size H = {H} (the rows of "
                f"{names[1]}): the gates f, g, i, o side by side"
            )


class BaseModel:
    """The layers, the loss layer, and the book's predict / forward / backward.

    Subclasses set `layers`, `loss_layer`, `vocab_size`, `named` (the book's names to
    the arrays the layers hold, each once) and `state_layers` (the recurrent layers),
    then call `collect()`.
    """

    layers: list
    loss_layer: Any
    vocab_size: int
    named: dict[str, np.ndarray]
    state_layers: list

    def collect(self) -> None:
        """The book's `params` and `grads`: every layer's lists, concatenated."""
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, xs: np.ndarray) -> np.ndarray:
        """Scores (N, T, V) for the ids xs (N, T); the recurrent state moves on."""
        xs = word_ids.ids(xs, "xs", self.vocab_size, ndim=2)
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> Any:
        """The mean loss over the N*T positions (labels -1 left out)."""
        check_labels(ts, np.shape(xs), self.vocab_size)
        return self.loss_layer.forward(self.predict(xs), ts)

    def backward(self, dout: float = 1) -> None:
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def reset_state(self) -> None:
        """Forget the recurrent state: the next block starts from zeros."""
        for layer in self.state_layers:
            layer.reset_state()

    def weights(self) -> Weights:
        """Copies of the current weights by the book's names, each shared weight once."""
        return {name: p.copy() for name, p in self.named.items()}


def check_labels(ts: Any, xs_shape: tuple[int, ...], vocab_size: int) -> None:
    """ts: ids (N, T) in [0, vocab_size) or -1 (a position TimeSoftmaxWithLoss ignores),
    or one-hot (N, T, V), shaped as xs; a ValueError/TypeError naming it otherwise."""
    shape = tuple(getattr(ts, "shape", ()))
    if shape not in (xs_shape, (*xs_shape, vocab_size)):
        raise ValueError(
            f"ts must have the shape of xs {xs_shape} (or one-hot {(*xs_shape, vocab_size)}), "
            f"got {shape}"
        )
    if len(shape) == 3:
        return
    if ts.dtype.kind not in "iu":
        raise TypeError(f"ts must hold integer word ids, got dtype {ts.dtype}")
    low, high = int(ts.min()), int(ts.max())
    if low < IGNORE_LABEL or high >= vocab_size:
        raise ValueError(
            f"ts holds ids from {low} to {high}, outside [0, {vocab_size}) (vocab_size; "
            f"{IGNORE_LABEL} marks a position to ignore)"
        )
