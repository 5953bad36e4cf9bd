"""What every rung starts from and is checked against: the book's run and its numbers."""

from __future__ import annotations

import contextlib
import functools
import time

import numpy as np

from comparisons.parity import assert_close
from scratch import WEIGHT_NAMES as NAMES  # ("W1", "b1", "W2", "b2"): the book's order
from scratch import TwoLayerNet, init_weights, spiral
from scratch.optimizers import SGD
from scratch.trainer import shuffled_batches

__all__ = ["NAMES", "book_problem", "check", "one_thread", "reference", "report"]


def book_problem(epochs: int = 300):
    """x (300, 2), one-hot t (300, 3), the initial weights and the batches (steps, 30) as
    row indices: one RandomState(1984) draws them in the book's order (data, W1, W2,
    one permutation per epoch)."""
    rng = np.random.RandomState(1984)
    x, t = spiral.load_data(rng=rng)
    weights = init_weights(2, 10, 3, rng=rng)
    return x, t, weights, shuffled_batches(len(x), 30, epochs, rng)


@functools.cache
def reference(epochs: int = 300) -> tuple[np.ndarray, dict]:
    """The reference's losses (steps,) and trained weights for `epochs` of the book's run."""
    x, t, weights, schedule = book_problem(epochs)
    model = TwoLayerNet(2, 10, 3, weights=weights)
    optimizer = SGD(lr=1.0)
    losses = []
    for rows in schedule:
        losses.append(model.forward(x[rows], t[rows]))
        model.backward()
        optimizer.update(model.params, model.grads)
    return np.array(losses), model.weights()


def check(losses, weights: dict, epochs: int, *, book_loss: bool = False) -> None:
    """Assert that a rung's run is the reference's: weights within the float64 trajectory
    tolerance; losses within 1e-6, the book's 1e-7 inside the log, unless `book_loss`."""
    ref_losses, ref_weights = reference(epochs)
    assert_close(ref_weights, {k: np.asarray(v) for k, v in weights.items()}, quantity="trajectory")
    loose = {} if book_loss else {"atol": 1e-6}  # -log(p + 1e-7) vs -log(p)
    assert_close({"losses": ref_losses}, {"losses": np.asarray(losses)}, quantity="loss", **loose)


def report(rung: str, losses, start: float) -> None:
    """One line: the rung, its steps, the seconds since `start`, the last loss."""
    seconds = time.perf_counter() - start
    print(f"{rung}: {len(losses)} steps in {seconds:.1f} s, last loss {float(losses[-1]):.6f}")


def one_thread() -> contextlib.AbstractContextManager:
    """torch on one thread inside, as many as before after: a net this small runs fastest
    on one (torch's default is one per core, and waking them costs more than the work).
    The torch adapter's own rule for the book's net, under its lock."""
    from adapters.torch_adapter import tiny_net_threads

    return tiny_net_threads((2, 10, 3), 30, "cpu")
