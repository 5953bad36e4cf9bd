"""Numerical gradients by central differences (the first book's §4.4), for checking
the hand-written backward passes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4
) -> np.ndarray:
    """df/dx by (f(x + h) - f(x - h)) / 2h, one element at a time.

    `x` is changed in place while probing and restored exactly, so `f` may read the
    array through a reference (as `lambda _: net.forward(xb, tb)` reads the net's own
    weights) instead of taking it as an argument.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        saved = x[idx].copy()
        x[idx] = saved + h
        f_plus = float(f(x))
        x[idx] = saved - h
        f_minus = float(f(x))
        x[idx] = saved
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
