"""Rung 5, PyTorch: torch.optim does the update.

Changed from rung 4: torch.optim.SGD, made once before the loop, replaces the loop over
parameters; optimizer.zero_grad() clears the gradients, optimizer.step() applies them.
(The first optimizer a process makes imports torch._dynamo, about 2.5 s: the rung's time
starts after that import.)
Run: python -m comparisons.rosetta.ladder.torch_5_optim
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
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for rows in torch.from_numpy(schedule):
        batch_x, batch_t = x[rows], t[rows]
        optimizer.zero_grad()  # .grad accumulates: clear it before backward
        loss = F.cross_entropy(model(batch_x), batch_t)  # softmax + cross-entropy
        loss.backward()  # autograd: p.grad for every tensor with requires_grad
        optimizer.step()  # SGD, in place
        losses.append(loss.item())
    return losses, {k: p.detach().numpy().T for k, p in zip(NAMES, model.parameters(), strict=True)}


def main(epochs: int = 300) -> None:
    with torch.random.fork_rng(devices=[]), one_thread():  # nn.Linear draws a throwaway init
        run("torch_5_optim", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
