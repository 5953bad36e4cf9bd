"""Problems at the edges of the float range: extreme values, divergence, global state."""

from __future__ import annotations

import numpy as np

from scratch import init_weights
from scratch.functions import log_softmax


def extreme_problem(logit: float, sigmoid_input: float = 800.0, seed: int = 3):
    """Weights and x (6, 3) for a 3-5-4 net whose hidden units 0 and 1 sit at about
    +sigmoid_input and -sigmoid_input (the book's sigmoid overflows exp there) and whose
    scores are about (logit, -logit, 0, logit / 2) apart, plus index labels: "top" (every
    sample labelled with the class of probability ~1) and "mixed" (every class; their
    probabilities underflow to 0 once the logits are ~745 apart in float64)."""
    rng = np.random.RandomState(seed)
    x = rng.uniform(0.5, 1.5, (6, 3)) * np.array([1.0, -1.0, 1.0])  # (N, I)
    W1 = 0.5 * rng.standard_normal((3, 5))
    W1[:, :2] *= 0.01  # units 0 and 1: the bias alone, +-sigmoid_input, decides them
    weights = {
        "W1": W1,
        "b1": np.array([sigmoid_input, -sigmoid_input, 0.1, -0.2, 0.3]),
        "W2": rng.standard_normal((5, 4)),
        "b2": np.array([logit, -logit, 0.0, logit / 2]),
    }
    labels = {"top": np.zeros(6, dtype=np.int64), "mixed": np.array([0, 1, 2, 3, 0, 1])}
    return weights, x, labels


def log_softmax64(scores: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64, stable (no probability is formed)."""
    return log_softmax(np.asarray(scores, dtype=np.float64))


def exact_cross_entropy(scores: np.ndarray, t: np.ndarray) -> float:
    """The epsilon-free cross-entropy (torch's F.cross_entropy, optax's), from scores."""
    return float(-np.mean(log_softmax64(scores)[np.arange(len(t)), t]))


def book_cross_entropy(scores: np.ndarray, t: np.ndarray) -> float:
    """The book's -mean(log(p + 1e-7)), from scores, in float64."""
    p = np.exp(log_softmax64(scores))[np.arange(len(t)), t]
    return float(-np.mean(np.log(p + 1e-7)))


def blowup_problem():
    """The book's init on a 3-5-4 net, 6 samples, 8 steps of 4: with an lr at the edge of
    the float range a score overflows at step 2 (the reference, in float32, may reach it
    one step later)."""
    rng = np.random.RandomState(0)
    x = rng.standard_normal((6, 3))
    t = rng.randint(0, 4, 6)
    w = init_weights(3, 5, 4, rng=rng)
    schedule = np.stack([rng.permutation(6)[:4] for _ in range(8)])  # (8, 4)
    return w, x, t, schedule


def last_update_problem():
    """One SGD step whose update overflows W1 (x ~1e3, so dW1 ~30): every loss computed
    is finite, only the weights after the last step are not."""
    rng = np.random.RandomState(5)
    x = 1e3 * rng.uniform(0.5, 1.5, (4, 3)) * np.array([1.0, -1.0, 1.0])  # (N, I)
    w = {
        "W1": 1e-4 * rng.standard_normal((3, 5)),
        "b1": np.zeros(5),
        "W2": rng.standard_normal((5, 2)),
        "b2": np.zeros(2),
    }
    return w, x, np.array([0, 1, 1, 0])
