"""What every rung starts from and is checked against: the book's run and its numbers."""

from __future__ import annotations

import contextlib
import functools
import time

import numpy as np

from comparisons.parity import assert_close, book_loss_gap
from scratch import WEIGHT_NAMES as NAMES  # ("W1", "b1", "W2", "b2"): the book's order
from scratch import TwoLayerNet, init_weights, spiral
from scratch.optimizers import SGD
from scratch.trainer import shuffled_batches

__all__ = ["NAMES", "book_problem", "check", "one_thread", "reference", "report", "run"]


def book_problem(epochs: int = 300):
    """x (300, 2), one-hot t (300, 3), the initial weights and the batches (steps, 30) as
    row indices: one RandomState(1984) draws them in the book's order (data, W1, W2,
    one permutation per epoch)."""
    rng = np.random.RandomState(1984)
    x, t = spiral.load_data(rng=rng)
    weights = init_weights(2, 10, 3, rng=rng)
    return x, t, weights, shuffled_batches(len(x), 30, epochs, rng)


@functools.cache
def reference(epochs: int = 300) -> tuple[np.ndarray, np.ndarray, dict]:
    """The reference's losses (steps,), how far the book's 1e-7 inside the log moved each
    of them (`book_loss_gap`, (steps,)), and its trained weights, for `epochs` of the
    book's run."""
    x, t, weights, schedule = book_problem(epochs)
    model = TwoLayerNet(2, 10, 3, weights=weights)
    optimizer = SGD(lr=1.0)
    losses, gaps = [], []
    for rows in schedule:
        losses.append(model.forward(x[rows], t[rows]))
        gaps.append(book_loss_gap(model.loss_layer.y, t[rows]))
        model.backward()
        optimizer.update(model.params, model.grads)
    return np.array(losses), np.array(gaps), model.weights()


def check(losses, weights: dict, epochs: int, *, book_loss: bool = False) -> None:
    """Assert that a rung's run is the reference's, at the float64 tolerances of the
    parity table: the weights at "trajectory", the losses at "loss". A rung's loss is
    epsilon-free (torch's and optax's cross-entropy have no 1e-7 inside the log), so it is
    compared with the reference's plus its exact epsilon gap, unless `book_loss`."""
    ref_losses, gaps, ref_weights = reference(epochs)
    assert_close(ref_weights, {k: np.asarray(v) for k, v in weights.items()}, quantity="trajectory")
    expected = ref_losses if book_loss else ref_losses + gaps
    assert_close({"losses": expected}, {"losses": np.asarray(losses)}, quantity="loss")


def report(rung: str, losses, start: float) -> None:
    """One line: the rung, its steps, the seconds since `start`, the last loss."""
    seconds = time.perf_counter() - start
    print(f"{rung}: {len(losses)} steps in {seconds:.1f} s, last loss {float(losses[-1]):.6f}")


def run(rung: str, train, epochs: int, *, book_loss: bool = False) -> None:
    """A rung's `main`, inside the rung's own settings (JAX's x64, torch's threads): train
    `epochs` of the book's run with `train(x, t, weights, schedule)`, assert that it is the
    reference's (`check`), then print one line (`report`): the assertion passed."""
    x, t, weights, schedule = book_problem(epochs)
    start = time.perf_counter()
    losses, trained = train(x, t, weights, schedule)
    check(losses, trained, epochs, book_loss=book_loss)
    report(rung, losses, start)


def one_thread() -> contextlib.AbstractContextManager:
    """torch on one thread inside, as many as before after: a net this small runs fastest
    on one (torch's default is one per core, and waking them costs more than the work).
    The torch adapter's own rule for the book's net, under its lock."""
    from adapters.torch_adapter import tiny_net_threads

    return tiny_net_threads((2, 10, 3), 30, "cpu")
