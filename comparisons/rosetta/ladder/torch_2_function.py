"""Rung 2, PyTorch: the book's layers as torch.autograd.Function, backward still by hand.

Changed from rung 1: Affine, Sigmoid and SoftmaxWithLoss become torch.autograd.Function
classes, each a forward and the book's hand-written backward (§1.3.5), as the book's
layer classes are; the weights have requires_grad=True, and loss.backward() calls each
Function's backward in reverse, as the book's TwoLayerNet.backward calls its layers'.
The update runs under torch.no_grad() and p.grad is cleared. Before training,
torch.autograd.gradcheck checks every backward against finite differences of its
forward, as the first book checks its backward passes against numerical gradients.
Run: python -m comparisons.rosetta.ladder.torch_2_function
"""

from __future__ import annotations

import torch
from torch.autograd import gradcheck

from comparisons.rosetta.ladder.reference import NAMES, one_thread, run


class Affine(torch.autograd.Function):
    """out = x @ W + b, W as the book keeps it, (in, out)."""

    @staticmethod
    def forward(ctx, x, W, b):
        ctx.save_for_backward(x, W)  # what backward needs, as the book's self.x
        return x @ W + b

    @staticmethod
    def backward(ctx, dout):
        x, W = ctx.saved_tensors
        dx = dout @ W.T
        dW = x.T @ dout
        db = dout.sum(dim=0)  # the Repeat node's backward
        return dx, dW, db  # one gradient per input of forward


class Sigmoid(torch.autograd.Function):
    """out = 1 / (1 + exp(-x)); backward dout * (1 - out) * out (Appendix A)."""

    @staticmethod
    def forward(ctx, x):
        out = 1 / (1 + torch.exp(-x))
        ctx.save_for_backward(out)  # the book's self.out
        return out

    @staticmethod
    def backward(ctx, dout):
        (out,) = ctx.saved_tensors
        return dout * (1.0 - out) * out


class SoftmaxWithLoss(torch.autograd.Function):
    """Mean cross-entropy of softmax(score) against class indices t (no 1e-7 in the
    log, as F.cross_entropy); backward (y - one_hot(t)) / N."""

    @staticmethod
    def forward(ctx, score, t):
        y = torch.softmax(score, dim=1)
        ctx.save_for_backward(y, t)
        return -torch.log(y[torch.arange(len(t)), t]).mean()

    @staticmethod
    def backward(ctx, dout):
        y, t = ctx.saved_tensors
        dx = y.clone()
        dx[torch.arange(len(t)), t] -= 1
        return dx * dout / len(t), None  # no gradient for the labels


def check_backward() -> None:
    """gradcheck each Function's backward against finite differences of its forward, in
    float64 on non-square shapes; it raises GradcheckError (a RuntimeError) where they part."""
    gen = torch.Generator().manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, dtype=torch.float64, generator=gen, requires_grad=True)

    x, W, b = randn(5, 3), randn(3, 4), randn(4)
    t = torch.tensor([0, 3, 1, 2, 3])  # class indices of 4 classes
    for function, inputs in (
        (Affine, (x, W, b)),
        (Sigmoid, (randn(5, 4),)),
        (SoftmaxWithLoss, (randn(5, 4), t)),
    ):
        gradcheck(function.apply, inputs)


def train(x, t, weights, schedule, lr=1.0):
    x, t = torch.from_numpy(x), torch.from_numpy(t.argmax(axis=1))  # class indices
    W1, b1, W2, b2 = (torch.tensor(weights[k], requires_grad=True) for k in NAMES)
    losses = []
    for rows in torch.from_numpy(schedule):
        batch_x, batch_t = x[rows], t[rows]
        h = Sigmoid.apply(Affine.apply(batch_x, W1, b1))  # (N, 10)
        score = Affine.apply(h, W2, b2)  # (N, 3)
        loss = SoftmaxWithLoss.apply(score, batch_t)
        loss.backward()  # each Function's backward, in reverse: the book's backward
        with torch.no_grad():  # the update itself is not part of the graph
            for p in (W1, b1, W2, b2):
                p -= lr * p.grad  # SGD, in place
                p.grad = None  # .grad accumulates: clear it for the next step
        losses.append(loss.item())
    return losses, {k: p.detach().numpy() for k, p in zip(NAMES, (W1, b1, W2, b2), strict=True)}


def main(epochs: int = 300) -> None:
    with one_thread():
        check_backward()  # before the clock: raises if a backward is wrong
        run("torch_2_function", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
