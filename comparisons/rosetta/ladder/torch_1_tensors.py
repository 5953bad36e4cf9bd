"""Rung 1, PyTorch: the same network on torch tensors, backward still by hand.

Changed from rung 0: NumPy arrays -> torch tensors (float64, NumPy's precision); the
layers are written out: forward, the book's backward formulas (§1.3.5), W -= lr * dW.
Run: python -m comparisons.rosetta.ladder.torch_1_tensors
"""

from __future__ import annotations

import torch

from comparisons.rosetta.ladder.reference import NAMES, one_thread, run


def train(x, t, weights, schedule, lr=1.0):
    x, t = torch.from_numpy(x), torch.from_numpy(t.argmax(axis=1))  # class indices
    W1, b1, W2, b2 = (torch.tensor(weights[k]) for k in NAMES)
    losses = []
    for rows in torch.from_numpy(schedule):
        batch_x, batch_t = x[rows], t[rows]
        N = len(batch_t)
        h = torch.sigmoid(batch_x @ W1 + b1)  # (N, 10)
        y = torch.softmax(h @ W2 + b2, dim=1)  # (N, 3)
        loss = -torch.log(y[torch.arange(N), batch_t]).mean()
        dscore = y.clone()  # SoftmaxWithLoss.backward: (y - t) / N
        dscore[torch.arange(N), batch_t] -= 1
        dscore /= N
        dW2, db2 = h.T @ dscore, dscore.sum(dim=0)  # Affine.backward
        da = (dscore @ W2.T) * h * (1 - h)  # Sigmoid.backward
        dW1, db1 = batch_x.T @ da, da.sum(dim=0)  # Affine.backward
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            p -= lr * g  # SGD, in place
        losses.append(loss.item())
    return losses, {"W1": W1.numpy(), "b1": b1.numpy(), "W2": W2.numpy(), "b2": b2.numpy()}


def main(epochs: int = 300) -> None:
    with one_thread():
        run("torch_1_tensors", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
