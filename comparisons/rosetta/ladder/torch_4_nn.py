"""Rung 4, PyTorch: nn layers and F.cross_entropy.

Changed from rung 3: nn.Sequential(nn.Linear, nn.Sigmoid, nn.Linear) holds the weights
(nn.Linear stores W as (out, in): the book's W goes in transposed) and F.cross_entropy
fuses softmax and the loss. The update by hand stays.
Run: python -m comparisons.rosetta.ladder.torch_4_nn
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from comparisons.rosetta.ladder.reference import NAMES, one_thread, run


def train(x, t, weights, schedule, lr=1.0):
    x, t = torch.from_numpy(x), torch.from_numpy(t.argmax(axis=1))  # class indices
    model = nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 3)).double()
    with torch.no_grad():  # the book's weights: (in, out) -> Linear's (out, in)
        for p, k in zip(model.parameters(), NAMES, strict=True):
            p.copy_(torch.from_numpy(weights[k].T))  # .T leaves a bias as it is
    losses = []
    for rows in torch.from_numpy(schedule):
        batch_x, batch_t = x[rows], t[rows]
        loss = F.cross_entropy(model(batch_x), batch_t)  # softmax + cross-entropy
        loss.backward()  # autograd: p.grad for every tensor with requires_grad
        with torch.no_grad():  # the update itself is not part of the graph
            for p in model.parameters():
                p -= lr * p.grad  # SGD, in place
                p.grad = None  # .grad accumulates: clear it for the next step
        losses.append(loss.item())
    return losses, {k: p.detach().numpy().T for k, p in zip(NAMES, model.parameters(), strict=True)}


def main(epochs: int = 300) -> None:
    with torch.random.fork_rng(devices=[]), one_thread():  # nn.Linear draws a throwaway init
        run("torch_4_nn", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
