"""Small, non-square problems shared by the adapter tests."""

from __future__ import annotations

import numpy as np

import adapters
from scratch import init_weights

# (batch, input, hidden, output): all non-square, batch 1 included
SHAPES = [(5, 4, 7, 3), (1, 3, 6, 2), (30, 2, 10, 3), (8, 6, 3, 5)]


def problem(batch: int, I: int, H: int, O: int, *, seed: int = 0, scale: float = 1.0):
    """Weights (book init, scaled up so the net is not nearly linear), x and index labels."""
    rng = np.random.RandomState(seed)
    w = init_weights(I, H, O, rng=rng)
    w = {
        k: v * 100 * scale + (0.1 * rng.standard_normal(v.shape) if k[0] == "b" else 0)
        for k, v in w.items()
    }
    x = rng.standard_normal((batch, I))
    t = rng.randint(0, O, size=batch)
    return w, x, t


def one_hot(t: np.ndarray, O: int) -> np.ndarray:
    return np.eye(O, dtype=np.int64)[t]


def everything(framework: str, w, x, t, dtype: str = "float64") -> dict:
    """Every quantity a Net computes, for one framework."""
    net = adapters.build(framework, w, dtype=dtype)
    return {
        "predict": net.predict(x),
        "activations": net.activations(x, t),
        "loss": net.loss(x, t),
        "gradients": net.gradients(x, t),
    }


def book_run(max_epoch: int = 300, batch_size: int = 30, hidden_size: int = 10, seed: int = 1984):
    """The book's run: spiral data, init and shuffles from one RandomState(seed)."""
    from scratch import spiral
    from scratch.trainer import shuffled_batches

    rng = np.random.RandomState(seed)
    x, t = spiral.load_data(rng=rng)
    w = init_weights(2, hidden_size, 3, rng=rng)
    schedule = shuffled_batches(len(x), batch_size, max_epoch, rng)
    return x, t, w, schedule


BOOK_OPTIMIZERS = {  # name -> (spec, max_grad): the book's defaults, lr 1.0 for SGD as ch01
    "sgd": (adapters.OptimizerSpec("sgd", 1.0), None),
    "sgd+clip": (adapters.OptimizerSpec("sgd", 1.0), 0.5),
    "momentum": (adapters.OptimizerSpec("momentum"), None),
    "nesterov": (adapters.OptimizerSpec("nesterov"), None),
    "adagrad": (adapters.OptimizerSpec("adagrad", 0.1), None),
    "rmsprop": (adapters.OptimizerSpec("rmsprop"), None),
    "adam": (adapters.OptimizerSpec("adam", 0.01), None),
}
