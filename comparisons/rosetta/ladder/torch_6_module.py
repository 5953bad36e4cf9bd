"""Rung 6, PyTorch: the model as a class of its own. This is the PyTorch a person writes.

Changed from rung 5: nn.Sequential gives way to `class TwoLayerNet(nn.Module)`, as the
book's TwoLayerNet is a class of its own: __init__ makes the layers (an nn.Linear kept as
an attribute registers its weight and bias, so model.parameters() finds them, in the order
they were made: W1.T, b1, W2.T, b2), and forward is the book's predict, scores before the
softmax. There is no backward to write, and the loss stays outside the model, as in most
PyTorch code.
Run: python -m comparisons.rosetta.ladder.torch_6_module
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from comparisons.rosetta.ladder.reference import NAMES, one_thread, run


class TwoLayerNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.affine1 = nn.Linear(input_size, hidden_size)  # weight (H, I): the book's W1.T
        self.affine2 = nn.Linear(hidden_size, output_size)  # weight (O, H): the book's W2.T

    def forward(self, x):  # the book's predict
        h = torch.sigmoid(self.affine1(x))  # (N, H)
        return self.affine2(h)  # (N, O) scores


def train(x, t, weights, schedule, lr=1.0):
    x, t = torch.from_numpy(x), torch.from_numpy(t.argmax(axis=1))  # class indices
    model = TwoLayerNet(2, 10, 3).double()
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
        run("torch_6_module", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
