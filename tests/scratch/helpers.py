"""Shared by the scratch tests: the gradient-check tolerance and error, the epsilon-free
loss, and a comparison of NumPy global random states."""

from __future__ import annotations

import numpy as np

from scratch.functions import log_softmax

# Central differences with h = 1e-4 in float64 agree with a correct backward pass to
# about 1e-9 on these small inputs; 1e-7 leaves room without hiding a wrong formula.
GRADCHECK_RTOL = 1e-7


def relative_error(analytic: np.ndarray, numerical: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||): 0 when equal, 1 when unrelated, scale-free."""
    denom = np.linalg.norm(analytic) + np.linalg.norm(numerical)
    assert denom > 0, "both gradients are zero: the check would prove nothing"
    return float(np.linalg.norm(analytic - numerical) / denom)


def exact_cross_entropy(scores: np.ndarray, labels: np.ndarray) -> float:
    """-mean(log softmax(scores)[label]) without the book's 1e-7, computed independently.

    The book's backward pass is the exact gradient of this loss; the reported loss adds
    1e-7 inside the log, which moves its gradient by about 1e-7 / p[label] relative.
    """
    log_probs = log_softmax(scores)  # (N, C)
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def same_rng_state(a: tuple, b: tuple) -> bool:
    """np.random.get_state() tuples: (name, key array, pos, has_gauss, cached_gaussian)."""
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]
