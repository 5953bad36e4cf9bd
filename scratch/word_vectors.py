"""The weights of the word2vec models (chapters 3-4): drawn as the book draws them, or
taken from a dict by the book's names.

The book draws `W_in` and then `W_out` as `0.01 * np.random.randn(...).astype('f')`:
standard normals in float64, rounded to the model's dtype, then scaled. `draw` does the
same from `rng`. A `weights` dict given instead is checked against the model's names
and shapes and copied into the model's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WordWeights = dict[str, np.ndarray]  # {"W_in": ..., "W_out": ...}, the book's names


def draw(
    shapes: dict[str, tuple[int, int]], rng: np.random.RandomState | None, dtype: Any
) -> WordWeights:
    """`0.01 * rng.randn(*shape).astype(dtype)` for each name, in the order given (the
    book's: W_in, then W_out). A fresh unseeded RandomState when `rng` is None."""
    if rng is None:
        rng = np.random.RandomState()
    return {name: 0.01 * rng.randn(*shape).astype(dtype) for name, shape in shapes.items()}


def model_weights(
    model: str,
    shapes: dict[str, tuple[int, int]],
    weights: WordWeights | None,
    rng: np.random.RandomState | None,
    dtype: Any,
) -> WordWeights:
    """The model's weights: drawn (`weights` None) or copies of `weights` in `dtype`,
    after checking they have exactly the names and shapes of `shapes`."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"{model}: dtype must be a floating-point type, got {dtype}")
    if weights is None:
        return draw(shapes, rng, dtype)
    if not isinstance(weights, dict) or set(weights) != set(shapes):
        got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
        raise ValueError(f"{model}: weights must have the keys {', '.join(shapes)}, got {got}")
    out = {}
    for name, shape in shapes.items():
        w = np.asarray(weights[name])
        if w.shape != shape:
            raise ValueError(f"{model}: weights[{name!r}] must have shape {shape}, got {w.shape}")
        if w.dtype.kind not in "fiu" or not np.all(np.isfinite(w)):
            raise ValueError(f"{model}: weights[{name!r}] must hold finite numbers")
        out[name] = np.array(w, dtype=dtype)  # a copy: the model updates it in place
    return out
