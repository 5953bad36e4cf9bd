"""ch01/train_custom_loop.py, reproduced bit for bit: the book's printout and numbers."""

from __future__ import annotations

import numpy as np

import scratch
from scratch import TwoLayerNet, spiral
from scratch.optimizers import SGD
from tests.scratch.helpers import same_rng_state


def test_prints_the_books_first_and_last_lines(capsys):
    scratch.train_custom_loop()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 300
    assert lines[0] == "| epoch 1 |  iter 10 / 10 | loss 1.13"
    assert lines[-1] == "| epoch 300 |  iter 10 / 10 | loss 0.11"


def test_trained_net_classifies_97_percent_of_the_spiral():
    model, loss_list = scratch.train_custom_loop(verbose=False)
    x, t = spiral.load_data()
    assert len(loss_list) == 300
    assert (model.predict(x).argmax(axis=1) == t.argmax(axis=1)).mean() == 0.97


def book_flow_with_the_global_generator() -> tuple[list[float], list[np.ndarray]]:
    """The book's procedure as printed, every draw from np.random (caller restores it)."""
    np.random.seed(1984)  # dataset/spiral.py
    x = np.zeros((300, 2))
    t = np.zeros((300, 3), dtype=np.int64)
    for j in range(3):
        for i in range(100):
            rate = i / 100
            radius = 1.0 * rate
            theta = j * 4.0 + 4.0 * rate + np.random.randn() * 0.2
            x[100 * j + i] = np.array([radius * np.sin(theta), radius * np.cos(theta)])
            t[100 * j + i, j] = 1

    W1 = 0.01 * np.random.randn(2, 10)  # ch01/two_layer_net.py
    W2 = 0.01 * np.random.randn(10, 3)
    model = TwoLayerNet(
        2, 10, 3, weights={"W1": W1, "b1": np.zeros(10), "W2": W2, "b2": np.zeros(3)}
    )
    optimizer = SGD(lr=1.0)

    batch_size, max_iters = 30, 10  # ch01/train_custom_loop.py
    loss_list, total_loss, loss_count = [], 0, 0
    for _ in range(300):
        idx = np.random.permutation(300)
        x = x[idx]
        t = t[idx]
        for iters in range(max_iters):
            batch_x = x[iters * batch_size : (iters + 1) * batch_size]
            batch_t = t[iters * batch_size : (iters + 1) * batch_size]
            loss = model.forward(batch_x, batch_t)
            model.backward()
            optimizer.update(model.params, model.grads)
            total_loss += loss
            loss_count += 1
            if (iters + 1) % 10 == 0:
                loss_list.append(total_loss / loss_count)
                total_loss, loss_count = 0, 0
    return loss_list, model.params


def test_matches_the_books_global_seeded_flow_bit_for_bit():
    saved = np.random.get_state()
    try:
        book_losses, book_params = book_flow_with_the_global_generator()
    finally:
        np.random.set_state(saved)

    model, loss_list = scratch.train_custom_loop(verbose=False)
    assert len(loss_list) == len(book_losses) == 300
    assert loss_list == book_losses
    for got, want in zip(model.params, book_params, strict=True):
        assert np.array_equal(got, want)


def test_train_custom_loop_leaves_numpys_global_random_state_alone():
    before = np.random.get_state()
    scratch.train_custom_loop(max_epoch=3, verbose=False)
    assert same_rng_state(before, np.random.get_state())
