"""Rung 3, PyTorch: autograd derives the gradients.

Changed from rung 2: the Functions and their hand-written backward are gone; the forward
is written with torch's own operations (torch.sigmoid, torch.softmax, torch.log), and
loss.backward() finds every gradient from the operations it recorded.
Run: python -m comparisons.rosetta.ladder.torch_3_autograd
"""

from __future__ import annotations

import torch

from comparisons.rosetta.ladder.reference import NAMES, one_thread, run


def train(x, t, weights, schedule, lr=1.0):
    x, t = torch.from_numpy(x), torch.from_numpy(t.argmax(axis=1))  # class indices
    W1, b1, W2, b2 = (torch.tensor(weights[k], requires_grad=True) for k in NAMES)
    losses = []
    for rows in torch.from_numpy(schedule):
        batch_x, batch_t = x[rows], t[rows]
        N = len(batch_t)
        h = torch.sigmoid(batch_x @ W1 + b1)  # (N, 10)
        y = torch.softmax(h @ W2 + b2, dim=1)  # (N, 3)
        loss = -torch.log(y[torch.arange(N), batch_t]).mean()
        loss.backward()  # autograd: p.grad for every tensor with requires_grad
        with torch.no_grad():  # the update itself is not part of the graph
            for p in (W1, b1, W2, b2):
                p -= lr * p.grad  # SGD, in place
                p.grad = None  # .grad accumulates: clear it for the next step
        losses.append(loss.item())
    return losses, {k: p.detach().numpy() for k, p in zip(NAMES, (W1, b1, W2, b2), strict=True)}


def main(epochs: int = 300) -> None:
    with one_thread():
        run("torch_3_autograd", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
