"""Small non-square arrays and synthetic training runs for the parity tests."""

from __future__ import annotations

import numpy as np

from adapters.base import Trajectory, record_steps

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
