"""The optimizers of common/optimizer.py, with the book's update rules and defaults.

Each has `update(params, grads)`, which changes the arrays in `params` in place. State
(velocities, accumulators) is created on the first call, shaped like the parameters.
Every epsilon is the book's 1e-7, added outside the square root. `np.sqrt` is a ufunc:
on CuPy arrays (the book's GPU mode, scratch/xp.py) CuPy runs it.

torch.optim / optax equivalents (see adapters/ for where they differ):
SGD ~ torch.optim.SGD / optax.sgd; Momentum ~ SGD(momentum=...) (torch folds lr into the
velocity differently); Nesterov: the book's form of Bengio et al. 2012 (no exact stock
twin); AdaGrad ~ torch.optim.Adagrad(eps=1e-7); RMSprop ~ torch.optim.RMSprop(alpha=0.99,
eps=1e-7); Adam: the book's `lr_t` form, with eps outside the bias correction.
"""

from __future__ import annotations

import numpy as np

from scratch.xp import array_module

BOOK_EPS = 1e-7


class SGD:
    """W <- W - lr * dW (§1.4.3)."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for param, grad in zip(params, grads, strict=True):
            param -= self.lr * grad


class Momentum:
    """v <- momentum * v - lr * dW;  W <- W + v."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.v is None:
            self.v = [array_module(p).zeros_like(p) for p in params]
        for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
            self.v[i] = self.momentum * self.v[i] - self.lr * grad
            param += self.v[i]


class Nesterov:
    """Nesterov's accelerated gradient in the book's form (arXiv:1212.0901):

    v <- momentum * v - lr * dW
    W <- W + momentum**2 * v - (1 + momentum) * lr * dW
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.v is None:
            self.v = [array_module(p).zeros_like(p) for p in params]
        for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
            self.v[i] *= self.momentum
            self.v[i] -= self.lr * grad
            param += self.momentum * self.momentum * self.v[i]
            param -= (1 + self.momentum) * self.lr * grad


class AdaGrad:
    """h <- h + dW * dW;  W <- W - lr * dW / (sqrt(h) + 1e-7)."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h = None

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.h is None:
            self.h = [array_module(p).zeros_like(p) for p in params]
        for param, grad, h in zip(params, grads, self.h, strict=True):
            h += grad * grad
            param -= self.lr * grad / (np.sqrt(h) + BOOK_EPS)


class RMSprop:
    """h <- decay * h + (1 - decay) * dW * dW;  W <- W - lr * dW / (sqrt(h) + 1e-7)."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.h is None:
            self.h = [array_module(p).zeros_like(p) for p in params]
        for param, grad, h in zip(params, grads, self.h, strict=True):
            h *= self.decay_rate
            h += (1 - self.decay_rate) * grad * grad
            param -= self.lr * grad / (np.sqrt(h) + BOOK_EPS)


class Adam:
    """Adam in the book's `lr_t` form (arXiv:1412.6980v8, end of §2):

        k <- k + 1
        lr_t = lr * sqrt(1 - beta2**k) / (1 - beta1**k)
        m <- m + (1 - beta1) * (dW - m)
        v <- v + (1 - beta2) * (dW**2 - v)
        W <- W - lr_t * m / (sqrt(v) + 1e-7)

    The bias corrections are folded into the step size, so the epsilon is added to the
    uncorrected sqrt(v): this is not the same number as torch's or optax's Adam.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.m is None:
            self.m = [array_module(p).zeros_like(p) for p in params]
            self.v = [array_module(p).zeros_like(p) for p in params]
        self.iter += 1
        # np.sqrt of a Python float is a NumPy float64, as in the book: it makes the update
        # of a float32 net computed in float64 (NEP 50) and rounded once into the weights
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for param, grad, m, v in zip(params, grads, self.m, self.v, strict=True):
            m += (1 - self.beta1) * (grad - m)  # in place: self.m's arrays
            v += (1 - self.beta2) * (grad**2 - v)
            param -= lr_t * m / (np.sqrt(v) + BOOK_EPS)


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}
