"""What every rung starts from and is checked against: the book's run and its numbers."""

from __future__ import annotations

import contextlib
import functools
import importlib
import time

import numpy as np

from comparisons.parity import assert_close, book_loss_gap
from scratch import WEIGHT_NAMES as NAMES  # ("W1", "b1", "W2", "b2"): the book's order
from scratch import TwoLayerNet, init_weights, spiral
from scratch.optimizers import SGD
from scratch.trainer import shuffled_batches

__all__ = [
    "NAMES",
    "book_problem",
    "check",
    "one_thread",
    "preload",
    "reference",
    "report",
    "run",
]


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


def check(losses, weights: dict, epochs: int, *, book_loss: bool = False) -> float:
    """Assert that a rung's run is the reference's, at the float64 tolerances of the
    parity table: the weights at "trajectory", the losses at "loss". A rung's loss is
    epsilon-free (torch's and optax's cross-entropy have no 1e-7 inside the log), so it is
    compared with the reference's plus its exact epsilon gap, unless `book_loss`. Returns
    the largest |W - W_ref| over the trained weights."""
    ref_losses, gaps, ref_weights = reference(epochs)
    trained = {k: np.asarray(v) for k, v in weights.items()}
    assert_close(ref_weights, trained, quantity="trajectory")
    expected = ref_losses if book_loss else ref_losses + gaps
    assert_close({"losses": expected}, {"losses": np.asarray(losses)}, quantity="loss")
    return max(float(np.abs(trained[k] - ref_weights[k]).max()) for k in NAMES)


def report(rung: str, losses, seconds: float, max_dw: float) -> None:
    """One line: the rung, its steps, the training's seconds, the last loss, and how close
    its weights came to the reference's (said only once `check` has passed)."""
    print(
        f"{rung}: {len(losses)} steps in {seconds:.1f} s (the training alone), "
        f"last loss {float(losses[-1]):.6f}, matches the reference (max |dW| {max_dw:.1e})"
    )


def preload(framework: str) -> None:
    """Load, before the clock starts, what a rung would otherwise load inside it: the
    first torch.optim optimizer imports torch._dynamo (about 2.5 s on this project's
    machine), and JAX starts its CPU backend with the first array it makes."""
    if framework == "torch":
        importlib.import_module("torch._dynamo")
    elif framework == "jax":
        importlib.import_module("jax").devices()


def run(rung: str, train, epochs: int, *, book_loss: bool = False) -> None:
    """A rung's `main`, inside the rung's own settings (JAX's x64, torch's threads): train
    `epochs` of the book's run with `train(x, t, weights, schedule)`, timing the training
    alone up to its numbers on the host (the data, the imports and the check are outside
    the clock), assert that it is
    the reference's (`check`), then print one line (`report`): the assertion passed."""
    x, t, weights, schedule = book_problem(epochs)
    preload(rung.partition("_")[0])
    start = time.perf_counter()
    losses, trained = train(x, t, weights, schedule)
    losses = np.asarray(losses)  # on the host: JAX may still be computing until here
    trained = {k: np.asarray(v) for k, v in trained.items()}
    seconds = time.perf_counter() - start
    report(rung, losses, seconds, check(losses, trained, epochs, book_loss=book_loss))


def one_thread() -> contextlib.AbstractContextManager:
    """torch on one thread inside, as many as before after: a net this small runs fastest
    on one (torch's default is one per core, and waking them costs more than the work).
    The torch adapter's own rule for the book's net, under its lock."""
    from adapters.torch_adapter import tiny_net_threads

    return tiny_net_threads((2, 10, 3), 30, "cpu")
