"""The layers of common/layers.py with hand-written backward passes (chapters 1-4, 6).

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
| SigmoidWithLoss | `F.binary_cross_entropy_with_logits` | `optax.sigmoid_binary_cross_entropy` |
| Dropout         | `nn.Dropout` (scales at training) | a mask multiplied in             |
| Embedding       | `nn.Embedding`                   | `W[ids]` / `jnp.take(W, ids, 0)` |
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
    """y = 1 / (1 + exp(-x)); backward dy/dx = y (1 - y) (§1.3.5)."""

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self.out) * self.out


class Softmax:
    """Row-wise softmax; backward dx = y * dout - y * sum(y * dout) (Appendix A)."""

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
    """Softmax followed by cross-entropy; backward (y - t) / N (§1.3.5.3, Appendix A).

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


class SigmoidWithLoss:
    """Sigmoid followed by binary cross-entropy; backward (y - t) / N (§4.2.4).

    The book forms the two-class probabilities `[1 - y, y]` and reuses the softmax loss's
    `cross_entropy_error`, so the reported loss carries the same `1e-7` inside the log;
    the backward pass is the exact gradient of the epsilon-free loss, which is what
    `F.binary_cross_entropy_with_logits` and `optax.sigmoid_binary_cross_entropy` compute.
    `t` holds 0/1 labels (N,). `y - t` with integer labels promotes a float32 `y` to
    float64 (NumPy's rules), as in the book.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.loss = None
        self.y = None  # sigmoid output (N,)
        self.t = None  # 0/1 labels (N,)

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.t = t
        self.y = sigmoid(x)
        two_class = array_module(x).stack((1 - self.y, self.y), axis=1)  # the book's np.c_
        self.loss = cross_entropy_error(two_class, self.t)  # (N, 2) -> the label's column
        return self.loss

    def backward(self, dout: float = 1) -> np.ndarray:
        batch_size = self.t.shape[0]
        return (self.y - self.t) * dout / batch_size


class Dropout:
    """Drop each element with probability `dropout_ratio` while training (§6.4.2).

    The book's Dropout does not rescale while training and multiplies by
    `1 - dropout_ratio` at inference; `torch.nn.Dropout` scales by `1 / (1 - p)` while
    training instead (the two agree in expectation, not element for element). The mask is
    `rng.rand(*x.shape) > dropout_ratio`, the book's draw from `np.random`: with
    `rng=np.random.RandomState(s)` the masks are the book's after `np.random.seed(s)`.
    """

    def __init__(
        self, dropout_ratio: float = 0.5, *, rng: np.random.RandomState | None = None
    ) -> None:
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"Dropout: dropout_ratio must be in [0, 1), got {dropout_ratio!r}")
        self.params, self.grads = [], []
        self.dropout_ratio = dropout_ratio
        self.rng = np.random.RandomState() if rng is None else rng  # never np.random
        self.mask = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        if train_flg:
            self.mask = self.rng.rand(*x.shape) > self.dropout_ratio  # (same shape) bool
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.mask


class Embedding:
    """out = W[idx], the rows of the words' ids (§4.1.2). `nn.Embedding`, `jnp.take`.

    Backward adds each row of `dout` into the row of its id with `np.add.at`, so an id
    that appears twice in a batch gets both gradients summed; a fancy-index `dW[idx] +=
    dout` would keep only the last one. `W[idx]` is `one_hot(idx) @ W`, the MatMul of
    chapter 3, without forming the one-hot matrix.
    """

    def __init__(self, W: np.ndarray) -> None:
        self.xp = array_module(W)  # NumPy, or CuPy (>= 13, for add.at) on the GPU
        self.params = [W]
        self.grads = [self.xp.zeros_like(W)]
        self.idx = None

    def forward(self, idx: np.ndarray) -> np.ndarray:
        (W,) = self.params
        self.idx = idx
        return W[idx]  # (N,) ids -> (N, H); (N, T) -> (N, T, H)

    def backward(self, dout: np.ndarray) -> None:
        (dW,) = self.grads
        dW[...] = 0
        self.xp.add.at(dW, self.idx, dout)  # repeated ids: summed, not overwritten
