"""The spiral data set of dataset/spiral.py: three interleaved arms of 100 points each."""

from __future__ import annotations

import numpy as np

N = 100  # points per class
DIM = 2  # features per point
CLS_NUM = 3  # classes


def load_data(
    seed: int = 1984, *, rng: np.random.RandomState | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """x (300, 2) float64 and one-hot t (300, 3) int, rows grouped by class.

    Bit-identical to the book's `load_data`, which seeds NumPy's *global* generator. Here
    the draws come from `rng` when given, else from `np.random.RandomState(seed)`; pass
    the same RandomState on to `init_weights` and `shuffled_batches` to continue the
    book's stream. The global generator is never touched.
    """
    if rng is None:
        rng = np.random.RandomState(seed)
    x = np.zeros((N * CLS_NUM, DIM))
    t = np.zeros((N * CLS_NUM, CLS_NUM), dtype=np.int64)
    for j in range(CLS_NUM):
        for i in range(N):
            rate = i / N
            radius = 1.0 * rate
            theta = j * 4.0 + 4.0 * rate + rng.standard_normal() * 0.2  # one draw per point
            ix = N * j + i
            x[ix] = np.array([radius * np.sin(theta), radius * np.cos(theta)])
            t[ix, j] = 1
    return x, t
