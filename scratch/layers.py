"""The layers of chapter 1 with hand-written backward passes (common/layers.py).

Every layer keeps `params` and `grads` as lists of arrays. Backward writes the gradients
into the arrays already in `grads` (`grad[...] = ...`), never rebinding them, so a
network can collect these lists once and see every later update (§1.3.4). The arrays'
own module computes (`array_module`): NumPy arrays, or CuPy arrays on the GPU (§1.5.2).

| here            | PyTorch                          | JAX                              |
|-----------------|----------------------------------|----------------------------------|
| MatMul          | `x @ W`                          | `x @ W`                          |
| Affine          | `nn.Linear` (stores W as (out, in)) | `x @ W + b`                   |
| Sigmoid         | `torch.sigmoid`                  | `jax.nn.sigmoid`                 |
| Softmax         | `torch.softmax(x, dim=1)`        | `jax.nn.softmax(x, axis=1)`      |
| SoftmaxWithLoss | `F.cross_entropy`                | `optax.softmax_cross_entropy...` |
"""

from __future__ import annotations

import numpy as np

from scratch.functions import cross_entropy_error, sigmoid, softmax
from scratch.xp import array_module


class MatMul:
    """out = x @ W (§1.3.4.5). Backward: dx = dout @ W.T, dW = x.T @ dout."""

    def __init__(self, W: np.ndarray) -> None:
        self.xp = array_module(W)  # NumPy, or CuPy for weights on the GPU
        self.params = [W]
        self.grads = [self.xp.zeros_like(W)]
        self.x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        (W,) = self.params
        self.x = x
        return self.xp.dot(x, W)  # (N, I) @ (I, O) -> (N, O)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        (W,) = self.params
        xp = self.xp
        dx = xp.dot(dout, W.T)  # (N, O) @ (O, I) -> (N, I)
        self.grads[0][...] = xp.dot(self.x.T, dout)  # (I, N) @ (N, O) -> (I, O)
        return dx


class Affine:
    """out = x @ W + b, W stored as (in, out) (§1.3.4.5). torch.nn.Linear, transposed."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.xp = xp = array_module(W)  # NumPy, or CuPy for weights on the GPU
        self.params = [W, b]
        self.grads = [xp.zeros_like(W), xp.zeros_like(b)]
        self.x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        W, b = self.params
        self.x = x
        return self.xp.dot(x, W) + b  # (N, I) @ (I, O) + (O,) -> (N, O)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        W, _ = self.params
        xp = self.xp
        dx = xp.dot(dout, W.T)  # (N, O) @ (O, I) -> (N, I)
        self.grads[0][...] = xp.dot(self.x.T, dout)  # (I, O)
        self.grads[1][...] = xp.sum(dout, axis=0)  # the Repeat node's backward: (O,)
        return dx


class Sigmoid:
    """y = 1 / (1 + exp(-x)); backward dy/dx = y (1 - y) (§1.3.5, derived in Appendix A)."""

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self.out) * self.out


class Softmax:
    """Row-wise softmax; backward dx = y * dout - y * sum(y * dout) (book 1's Appendix A)."""

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = softmax(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = self.out * dout
        sumdx = array_module(dx).sum(dx, axis=1, keepdims=True)  # (N, 1)
        dx -= self.out * sumdx
        return dx


class SoftmaxWithLoss:
    """Softmax followed by cross-entropy; backward (y - t) / N (§1.3.5.3; its computational
    graph is the first book's Appendix A, Softmax-with-Loss).

    Labels may be index labels (N,) or one-hot rows (N, C); both give the same loss and
    gradients. The book's `1e-7` sits in the reported loss only: the backward pass is
    the exact gradient of the epsilon-free loss, which is what torch and JAX compute.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.y = None  # softmax output (N, C)
        self.t = None  # index labels (N,)

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.y = softmax(x)
        if t.size == self.y.size:  # one-hot (N, C) -> index labels (N,)
            t = t.argmax(axis=1)
        self.t = t
        return cross_entropy_error(self.y, self.t)

    def backward(self, dout: float = 1) -> np.ndarray:
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[array_module(dx).arange(batch_size), self.t] -= 1
        dx *= dout
        return dx / batch_size
