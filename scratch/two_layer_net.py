"""TwoLayerNet of ch01/two_layer_net.py: Affine -> Sigmoid -> Affine -> SoftmaxWithLoss.

`Weights` (a dict with W1, b1, W2, b2 in the book's layout: W is (in, out), the forward
pass is `x @ W + b`) is the one format in which weights travel between frameworks.
"""

from __future__ import annotations

import numpy as np

from scratch.layers import Affine, Sigmoid, SoftmaxWithLoss
from scratch.xp import array_module

Weights = dict[str, np.ndarray]
WEIGHT_NAMES = ("W1", "b1", "W2", "b2")  # the order of TwoLayerNet.params


def init_weights(
    input_size: int,
    hidden_size: int,
    output_size: int,
    *,
    rng: np.random.RandomState | np.random.Generator | None = None,
    dtype: type | str = np.float64,
) -> Weights:
    """The book's initialisation: W = 0.01 * randn, W1 drawn before W2; zero biases.

    `rng` is the generator to draw from (a `RandomState` continues the book's global
    stream exactly); without one a fresh, unseeded RandomState is used. NumPy's global
    generator is never touched. The draw is made in float64 and then cast, so a float32
    net starts from the float32 rounding of the float64 net's weights.
    """
    if rng is None:
        rng = np.random.RandomState()
    sizes = {"input_size": input_size, "hidden_size": hidden_size, "output_size": output_size}
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise ValueError(f"init_weights: {name} must be a positive int, got {size!r}")
    dtype = np.dtype(dtype)
    I, H, O = input_size, hidden_size, output_size
    W1 = 0.01 * rng.standard_normal((I, H))  # (I, H), same stream as np.random.randn(I, H)
    W2 = 0.01 * rng.standard_normal((H, O))  # (H, O)
    return {
        "W1": W1.astype(dtype, copy=False),
        "b1": np.zeros(H, dtype=dtype),
        "W2": W2.astype(dtype, copy=False),
        "b2": np.zeros(O, dtype=dtype),
    }


class TwoLayerNet:
    """The network of §1.4.2, with the book's `layers`, `loss_layer`, `params`, `grads`.

    `params` and `grads` are the layers' own arrays collected into two lists, so an
    optimizer updating `params` in place updates the layers, and `backward` writing into
    the layers' `grads` is seen through `self.grads` (§1.3.4, "shared by reference").

    `weights`, when given, are copied (the net updates its arrays in place). Otherwise
    they are drawn with `init_weights(..., rng=rng)`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        weights: Weights | None = None,
        rng: np.random.RandomState | np.random.Generator | None = None,
        dtype: type | str = np.float64,
    ) -> None:
        self.dtype = np.dtype(dtype)
        if weights is None:
            weights = init_weights(input_size, hidden_size, output_size, rng=rng, dtype=dtype)
        expected = {
            "W1": (input_size, hidden_size),
            "b1": (hidden_size,),
            "W2": (hidden_size, output_size),
            "b2": (output_size,),
        }
        if not isinstance(weights, dict) or set(weights) != set(expected):
            got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
            raise ValueError(f"TwoLayerNet: weights must have keys W1, b1, W2, b2, got {got}")
        for name, shape in expected.items():
            w = weights[name]
            got = tuple(w.shape) if hasattr(w, "shape") else np.shape(w)  # NumPy or CuPy
            if got != shape:
                raise ValueError(
                    f"TwoLayerNet: weights[{name!r}] must have shape {shape}, got {got}"
                )
        # copies, in the module of the weights given: CuPy weights make a net on the GPU
        self.xp = xp = array_module(weights["W1"])
        W1, b1, W2, b2 = (xp.array(weights[k], dtype=self.dtype) for k in WEIGHT_NAMES)

        self.layers = [Affine(W1, b1), Sigmoid(), Affine(W2, b2)]
        self.loss_layer = SoftmaxWithLoss()
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores (N, O) before the softmax, as the book's `predict`."""
        # in the module of the weights (NumPy x goes to the GPU for a CuPy net), and no
        # copy for the net's own dtype
        x = self.xp.asarray(x, dtype=self.dtype)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        score = self.predict(x)
        return self.loss_layer.forward(score, t)

    def backward(self, dout: float = 1) -> np.ndarray:
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def weights(self) -> Weights:
        """A copy of the current parameters as `Weights` (book layout)."""
        return {name: p.copy() for name, p in zip(WEIGHT_NAMES, self.params, strict=True)}
