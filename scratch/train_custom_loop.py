"""ch01/train_custom_loop.py: the book's own training loop, reproduced bit for bit.

The book seeds NumPy's global generator in `spiral.load_data()` and then draws the
weights and each epoch's permutation from it. One RandomState carries that same stream
here: data -> init -> shuffles, in that order, so the numbers are the book's.
"""

from __future__ import annotations

import numpy as np

from scratch import spiral
from scratch.optimizers import SGD
from scratch.trainer import shuffled_batches
from scratch.two_layer_net import TwoLayerNet


def custom_loop_line(epoch: int, iters: int, max_iters: int, loss: float) -> str:
    """`| epoch 1 |  iter 10 / 10 | loss 1.13`, the custom loop's report."""
    return f"| epoch {epoch} |  iter {iters} / {max_iters} | loss {loss:.2f}"


def train_custom_loop(
    max_epoch: int = 300,
    batch_size: int = 30,
    hidden_size: int = 10,
    learning_rate: float = 1.0,
    seed: int = 1984,
    *,
    verbose: bool = True,
) -> tuple[TwoLayerNet, list[float]]:
    """Train as ch01/train_custom_loop.py does; return the model and the loss averages.

    A report every 10 iterations (`(iters + 1) % 10 == 0`) averages the losses since the
    previous one; `verbose=False` keeps the reports out of stdout.
    """
    rng = np.random.RandomState(seed)
    x, t = spiral.load_data(rng=rng)
    model = TwoLayerNet(2, hidden_size, 3, rng=rng)
    optimizer = SGD(lr=learning_rate)

    data_size = len(x)
    max_iters = data_size // batch_size
    schedule = shuffled_batches(data_size, batch_size, max_epoch, rng)
    total_loss, loss_count = 0, 0
    loss_list = []

    for step, rows in enumerate(schedule):
        epoch, iters = divmod(step, max_iters)
        loss = model.forward(x[rows], t[rows])
        model.backward()
        optimizer.update(model.params, model.grads)
        total_loss += loss
        loss_count += 1

        if (iters + 1) % 10 == 0:
            avg_loss = total_loss / loss_count
            if verbose:
                print(custom_loop_line(epoch + 1, iters + 1, max_iters, avg_loss))
            loss_list.append(avg_loss)
            total_loss, loss_count = 0, 0
    return model, loss_list
