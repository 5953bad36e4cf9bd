"""Small non-square arrays, synthetic training runs and a 3-layer net for the parity tests."""

from __future__ import annotations

import numpy as np

from adapters.trajectory import Trajectory, record_steps
from comparisons.parity import tap

SHAPES = {"W1": (2, 3), "b1": (3,), "W2": (3, 4), "b2": (4,)}  # non-square: I=2, H=3, O=4


def weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(shape) for k, shape in SHAPES.items()}


def copy(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def trajectory(
    framework: str = "numpy",
    *,
    steps: int = 10,
    record_every: int = 2,
    dtype: str = "float64",
    gap: float | None = None,
    seed: int = 0,
) -> Trajectory:
    """A synthetic run: smooth weights and losses, recorded as Net.train records them."""
    marks = record_steps(steps, record_every)  # [0, 2, 4, ..., steps]
    rng = np.random.default_rng(seed)
    w = {}
    for k, shape in SHAPES.items():
        start = rng.standard_normal(shape)
        drift = 0.01 * marks.reshape(-1, *[1] * len(shape))  # (records, 1, ...)
        w[k] = start + drift  # (records, *shape)
    return Trajectory(
        losses=1.1 * np.exp(-0.1 * np.arange(steps)),
        record_steps=marks,
        weights={k: v.astype(dtype) for k, v in w.items()},
        framework=framework,
        mode="eager",
        dtype=dtype,
        seconds=0.0,
        loss_gap=None if gap is None else np.full(steps, gap),
    )


# docs/own-model.md's 3-layer net, Affine-ReLU-Affine-Sigmoid-Affine; non-square: 4 -> 6 -> 5 -> 3
SIZES = (4, 6, 5, 3)


def params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = {}
    for i, (n_in, n_out) in enumerate(zip(SIZES, SIZES[1:], strict=False), start=1):
        w[f"W{i}"] = rng.standard_normal((n_in, n_out))  # (in, out), the book's layout
        w[f"b{i}"] = rng.standard_normal(n_out)
    return w


def forward(w: dict, x, xp=np):
    """The reference's forward, with every layer's output tapped."""
    h = tap("affine1", x @ w["W1"] + w["b1"])
    h = tap("relu", xp.maximum(h, 0))
    h = tap("affine2", h @ w["W2"] + w["b2"])
    h = tap("sigmoid", 1 / (1 + xp.exp(-h)))
    return tap("affine3", h @ w["W3"] + w["b3"])


def inputs() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((7, SIZES[0]))  # (N, I)
