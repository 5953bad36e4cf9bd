"""Rung 0, both ladders: the book's network in NumPy (ch01/train_custom_loop.py).

TwoLayerNet's layers compute forward and a hand-written backward; SGD updates the
weights in place. Run: python -m comparisons.rosetta.ladder.numpy_0_book
"""

from __future__ import annotations

from comparisons.rosetta.ladder.reference import run
from scratch import TwoLayerNet
from scratch.optimizers import SGD


def train(x, t, weights, schedule, lr=1.0):
    model = TwoLayerNet(2, 10, 3, weights=weights)
    optimizer = SGD(lr=lr)
    losses = []
    for rows in schedule:
        batch_x, batch_t = x[rows], t[rows]
        loss = model.forward(batch_x, batch_t)  # Affine -> Sigmoid -> Affine -> SoftmaxWithLoss
        model.backward()  # each layer's hand-written backward, in reverse
        optimizer.update(model.params, model.grads)  # W -= lr * dW, in place
        losses.append(loss)
    return losses, model.weights()


def main(epochs: int = 300) -> None:
    run("numpy_0_book", train, epochs, book_loss=True)  # the reference, bit for bit


if __name__ == "__main__":
    main()
