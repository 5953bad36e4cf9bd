"""The time-series layers of chapters 5-6 with hand-written backward passes
(common/time_layers.py).

A `Time*` layer takes a whole block of T time steps at once: xs (N, T, ...) in, hs
(N, T, ...) out. `TimeRNN` and `TimeLSTM` unroll one `RNN` / `LSTM` cell per step and,
with `stateful=True`, keep the last hidden state for the next block (truncated BPTT,
§5.2.4: the forward pass continues, the backward pass stops at the block's edge).
Every arithmetic operation is the book's, in the book's order, so a float32 model
reproduces the book's numbers bit for bit; the arrays are made in the weights' dtype
(the book's 'f'), so the same code also runs in float64. The weights' own module
computes (scratch/xp.py), as in chapter 1.

| here                | PyTorch                          | JAX                               |
|---------------------|----------------------------------|-----------------------------------|
| RNN, TimeRNN        | `nn.RNN(batch_first=True)`       | `lax.scan` over a tanh cell       |
| LSTM, TimeLSTM      | `nn.LSTM(batch_first=True)`      | `lax.scan` over an LSTM cell      |
| TimeEmbedding       | `nn.Embedding`                   | `W[xs]`                           |
| TimeAffine          | `nn.Linear` (W stored (out, in)) | `hs @ W + b`                      |
| TimeSoftmaxWithLoss | `F.cross_entropy` on (N*T, V)    | optax's cross-entropy, `.mean()`  |
| TimeDropout         | `nn.Dropout` (torch's generator) | `jax.random.bernoulli` (its key)  |

The book's LSTM orders the gates f, g, i, o in its (D, 4H) weights (§6.3.3); that order,
the (D, 4H) layout and the single bias are what the frameworks' LSTMs differ in
(adapters/ map them, one function each way).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratch.functions import softmax
from scratch.xp import array_module

IGNORE_LABEL = -1  # TimeSoftmaxWithLoss: a label that adds nothing to loss or gradient


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), the book's formula, without scratch.functions.sigmoid's errstate
    (a few microseconds, 5 times a step): the LSTM silences exp's overflow (x below about
    -88 in float32, where the result is 0, the correct limit) once for a whole block."""
    return 1 / (1 + np.exp(-x))


# --------------------------------------------------------------------------- the RNN


class RNN:
    """One step of the simple RNN (§5.3.1): h_next = tanh(h_prev @ Wh + x @ Wx + b).

    Wx (D, H), Wh (H, H), b (H,). `grads` are this cell's own: the arrays its last
    backward computed. (The book preallocates them as zeros and copies into them; a cell
    lives one time step inside TimeRNN, which sums its gradients, so here they are kept
    as computed: the same numbers, without 3 allocations and 3 copies a cell.)
    """

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> None:
        self.xp = array_module(Wx)
        self.params = [Wx, Wh, b]
        self.grads: list[np.ndarray] = []  # set by backward
        self.cache = None

    def forward(self, x: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        Wx, Wh, b = self.params
        xp = self.xp
        t = xp.dot(h_prev, Wh) + xp.dot(x, Wx) + b  # (N, H) @ (H, H) + (N, D) @ (D, H) + (H,)
        h_next = np.tanh(t)  # (N, H)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        xp = self.xp
        dt = dh_next * (1 - h_next**2)  # tanh' = 1 - tanh**2
        db = xp.sum(dt, axis=0)  # (H,)
        dWh = xp.dot(h_prev.T, dt)  # (H, N) @ (N, H)
        dh_prev = xp.dot(dt, Wh.T)  # (N, H) @ (H, H)
        dWx = xp.dot(x.T, dt)  # (D, N) @ (N, H)
        dx = xp.dot(dt, Wx.T)  # (N, H) @ (H, D)
        self.grads = [dWx, dWh, db]
        return dx, dh_prev


class TimeRNN:
    """T RNN steps over xs (N, T, D) -> hs (N, T, H) (§5.3.2).

    With `stateful=True` the last h is kept and starts the next `forward` (the block's
    backward still stops at its first step: `dh` is the gradient that would go on).
    """

    def __init__(
        self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, stateful: bool = False
    ) -> None:
        self.xp = xp = array_module(Wx)
        self.params = [Wx, Wh, b]
        self.grads = [xp.zeros_like(Wx), xp.zeros_like(Wh), xp.zeros_like(b)]
        self.layers = None
        self.h, self.dh = None, None
        self.stateful = stateful

    def forward(self, xs: np.ndarray) -> np.ndarray:
        Wx, _, _ = self.params
        xp = self.xp
        N, T, _ = xs.shape
        H = Wx.shape[1]
        self.layers = []
        hs = xp.empty((N, T, H), dtype=Wx.dtype)
        self.h = _start_state(self.h, self.stateful, N, H, Wx.dtype, xp, "h")
        for t in range(T):
            layer = RNN(*self.params)
            self.h = layer.forward(xs[:, t, :], self.h)
            hs[:, t, :] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs: np.ndarray) -> np.ndarray:
        Wx, _, _ = self.params
        N, T, _ = dhs.shape
        D = Wx.shape[0]
        dxs = self.xp.empty((N, T, D), dtype=Wx.dtype)
        dh = 0
        grads = [0, 0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for i, grad in enumerate(layer.grads):
                grads[i] += grad  # the first is 0 + grad: a new array, then summed into
        for i, grad in enumerate(grads):
            self.grads[i][...] = grad
        self.dh = dh
        return dxs

    def set_state(self, h: np.ndarray) -> None:
        self.h = h

    def reset_state(self) -> None:
        self.h = None


# --------------------------------------------------------------------------- the LSTM


class LSTM:
    """One LSTM step (§6.3): A = x @ Wx + h_prev @ Wh + b, split into the gates f, g, i, o.

    Wx (D, 4H), Wh (H, 4H), b (4H,), the four gates side by side in the book's order
    f (forget), g (new memory), i (input), o (output):
        c_next = sigmoid(f) * c_prev + tanh(g) * sigmoid(i),  h_next = sigmoid(o) * tanh(c_next)
    `torch.nn.LSTM` stores the same numbers as (4H, D) in the order i, f, g, o, with two
    biases whose sum is this b. `grads` are the arrays its last backward computed (see RNN).
    """

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> None:
        self.xp = array_module(Wx)
        self.params = [Wx, Wh, b]
        self.grads: list[np.ndarray] = []  # set by backward
        self.cache = None

    def forward(
        self, x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over="ignore"):  # exp(-x) -> inf: sigmoid 0, the correct limit
            return self.step(x, h_prev, c_prev)

    def step(
        self, x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """`forward` with exp's overflow warning left as the caller set it (TimeLSTM
        silences it once for the whole block)."""
        Wx, Wh, b = self.params
        xp = self.xp
        H = h_prev.shape[1]
        A = xp.dot(x, Wx) + xp.dot(h_prev, Wh) + b  # (N, 4H)
        f = _sigmoid(A[:, :H])
        g = np.tanh(A[:, H : 2 * H])
        i = _sigmoid(A[:, 2 * H : 3 * H])
        o = _sigmoid(A[:, 3 * H :])
        c_next = f * c_prev + g * i  # (N, H)
        h_next = o * np.tanh(c_next)  # (N, H)
        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(
        self, dh_next: np.ndarray, dc_next: np.ndarray | int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Wx, Wh, _ = self.params
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache
        xp = self.xp
        tanh_c_next = np.tanh(c_next)
        ds = dc_next + (dh_next * o) * (1 - tanh_c_next**2)  # into c_next, both paths
        dc_prev = ds * f
        di = ds * g
        df = ds * c_prev
        do = dh_next * tanh_c_next
        dg = ds * i
        di *= i * (1 - i)  # sigmoid'
        df *= f * (1 - f)
        do *= o * (1 - o)
        dg *= 1 - g**2  # tanh'
        dA = xp.hstack((df, dg, di, do))  # (N, 4H), the book's gate order
        dWh = xp.dot(h_prev.T, dA)  # (H, N) @ (N, 4H)
        dWx = xp.dot(x.T, dA)  # (D, N) @ (N, 4H)
        db = dA.sum(axis=0)  # (4H,)
        self.grads = [dWx, dWh, db]
        dx = xp.dot(dA, Wx.T)  # (N, 4H) @ (4H, D)
        dh_prev = xp.dot(dA, Wh.T)  # (N, 4H) @ (4H, H)
        return dx, dh_prev, dc_prev


class TimeLSTM:
    """T LSTM steps over xs (N, T, D) -> hs (N, T, H) (§6.3.4); `stateful` keeps h and c."""

    def __init__(
        self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, stateful: bool = False
    ) -> None:
        self.xp = xp = array_module(Wx)
        self.params = [Wx, Wh, b]
        self.grads = [xp.zeros_like(Wx), xp.zeros_like(Wh), xp.zeros_like(b)]
        self.layers = None
        self.h, self.c = None, None
        self.dh = None
        self.stateful = stateful

    def forward(self, xs: np.ndarray) -> np.ndarray:
        Wx, Wh, _ = self.params
        xp = self.xp
        N, T, _ = xs.shape
        H = Wh.shape[0]
        self.layers = []
        hs = xp.empty((N, T, H), dtype=Wx.dtype)
        self.h = _start_state(self.h, self.stateful, N, H, Wx.dtype, xp, "h")
        self.c = _start_state(self.c, self.stateful, N, H, Wx.dtype, xp, "c")
        with np.errstate(over="ignore"):  # each step's sigmoids: see LSTM.forward
            for t in range(T):
                layer = LSTM(*self.params)
                self.h, self.c = layer.step(xs[:, t, :], self.h, self.c)
                hs[:, t, :] = self.h
                self.layers.append(layer)
        return hs

    def backward(self, dhs: np.ndarray) -> np.ndarray:
        Wx, _, _ = self.params
        N, T, _ = dhs.shape
        D = Wx.shape[0]
        dxs = self.xp.empty((N, T, D), dtype=Wx.dtype)
        dh, dc = 0, 0
        grads = [0, 0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh, dc = layer.backward(dhs[:, t, :] + dh, dc)
            dxs[:, t, :] = dx
            for i, grad in enumerate(layer.grads):
                grads[i] += grad
        for i, grad in enumerate(grads):
            self.grads[i][...] = grad
        self.dh = dh
        return dxs

    def set_state(self, h: np.ndarray, c: np.ndarray | None = None) -> None:
        self.h, self.c = h, c

    def reset_state(self) -> None:
        self.h, self.c = None, None


def _start_state(state, stateful: bool, N: int, H: int, dtype, xp, name: str):
    """The state a block starts from: the one kept (stateful), else zeros (N, H).

    A kept state for another batch size cannot continue: the book would fail later, in
    a broadcast; here the error says what to do.
    """
    if not stateful or state is None:
        return xp.zeros((N, H), dtype=dtype)
    if state.shape != (N, H):
        raise ValueError(
            f"the kept state {name} is {tuple(state.shape)} but this batch needs {(N, H)}: "
            "call reset_state() before changing the batch size"
        )
    return state


# --------------------------------------------------------------------------- the rest


class TimeEmbedding:
    """Rows of W (V, D) picked by the ids xs (N, T) -> (N, T, D) (§5.4.2).

    The book runs one Embedding per step and sums their gradients, each a full (V, D)
    array built by `np.add.at` into zeros: every step's rows are summed first (repeated
    ids in batch order), then the steps in order. Here the same sums are made in the same
    order, so the same bits, without T arrays of V x D: the (step, id) pairs are sorted
    (stably, so a pair's rows stay in batch order), each pair's rows summed, and the
    pairs' sums added into their ids' rows step after step.
    """

    def __init__(self, W: np.ndarray) -> None:
        self.xp = array_module(W)
        self.params = [W]
        self.grads = [self.xp.zeros_like(W)]
        self.idx = None
        self.W = W

    def forward(self, xs: np.ndarray) -> np.ndarray:
        (W,) = self.params
        self.idx = xs
        return W[xs]  # (N, T) ids -> (N, T, D)

    def backward(self, dout: np.ndarray) -> None:
        xp = self.xp
        (dW,) = self.grads
        V, D = dW.shape
        T = self.idx.shape[1]
        keys = (xp.arange(T)[:, None] * V + self.idx.T).reshape(-1)  # (T*N,) step, then id
        order = xp.argsort(keys, kind="stable")  # equal pairs keep their batch order
        keys = keys[order]
        first = xp.concatenate((xp.ones(1, dtype=bool), keys[1:] != keys[:-1]))
        pair = xp.cumsum(first) - 1  # (T*N,) which pair each sorted row belongs to
        rows = dout.transpose(1, 0, 2).reshape(-1, D)[order]  # (T*N, D), sorted the same
        sums = xp.zeros((int(pair[-1]) + 1, D), dtype=dW.dtype)
        xp.add.at(sums, pair, rows)  # each pair's rows, one after another
        dW[...] = 0
        xp.add.at(dW, keys[first] % V, sums)  # pairs sorted by step: steps in order
        return None


class TimeAffine:
    """hs (N, T, D) @ W (D, M) + b, as one (N*T, D) matrix product (§5.4.2)."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.xp = xp = array_module(W)
        self.params = [W, b]
        self.grads = [xp.zeros_like(W), xp.zeros_like(b)]
        self.x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        N, T, _ = x.shape
        W, b = self.params
        rx = x.reshape(N * T, -1)  # (N*T, D)
        out = self.xp.dot(rx, W) + b  # (N*T, M)
        self.x = x
        return out.reshape(N, T, -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x = self.x
        N, T, _ = x.shape
        W, _ = self.params
        xp = self.xp
        dout = dout.reshape(N * T, -1)  # (N*T, M)
        rx = x.reshape(N * T, -1)  # (N*T, D)
        db = xp.sum(dout, axis=0)
        dW = xp.dot(rx.T, dout)  # (D, N*T) @ (N*T, M)
        dx = xp.dot(dout, W.T)  # (N*T, M) @ (M, D)
        dx = dx.reshape(*x.shape)
        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx


class TimeSoftmaxWithLoss:
    """Softmax and cross-entropy over all N*T positions at once, averaged over the N*T
    (§5.4.2): the same number as `F.cross_entropy(xs.reshape(N*T, V), ts.reshape(N*T))`,
    and T times smaller than summing each step's mean. No epsilon inside the log (unlike
    chapter 1's SoftmaxWithLoss). Labels equal to -1 are left out of the loss, the
    gradient and the count.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.cache = None
        self.ignore_label = IGNORE_LABEL

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> Any:
        N, T, V = xs.shape
        xp = array_module(xs)
        if ts.ndim == 3:  # one-hot (N, T, V) -> ids (N, T)
            ts = ts.argmax(axis=2)
        mask = ts != self.ignore_label
        xs = xs.reshape(N * T, V)
        ts = ts.reshape(N * T)
        mask = mask.reshape(N * T)
        ys = softmax(xs)  # (N*T, V)
        ls = np.log(ys[xp.arange(N * T), ts])
        ls *= mask  # ignored positions add 0
        loss = -xp.sum(ls)
        loss /= mask.sum()
        self.cache = (ts, ys, mask, (N, T, V))
        return loss

    def backward(self, dout: float = 1) -> np.ndarray:
        ts, ys, mask, (N, T, V) = self.cache
        xp = array_module(ys)
        dx = ys
        dx[xp.arange(N * T), ts] -= 1
        dx *= dout
        dx /= mask.sum()
        dx *= mask[:, None]  # ignored positions get no gradient
        return dx.reshape((N, T, V))


class TimeDropout:
    """Inverted dropout over a whole block (§6.5.2): keep each element with probability
    1 - dropout_ratio and scale the kept ones by 1 / (1 - dropout_ratio), so nothing
    changes at test time (`train_flg = False`).

    The mask is drawn as the book draws it, `rng.rand(*xs.shape) > dropout_ratio`, from
    `rng` (with the book's global generator in its place: `np.random.RandomState(s)`
    gives the book's masks after `np.random.seed(s)`). `mask` holds the last one, scaled.
    """

    def __init__(
        self,
        dropout_ratio: float = 0.5,
        *,
        rng: np.random.RandomState | np.random.Generator | None = None,
    ) -> None:
        self.dropout_ratio = check_dropout_ratio(dropout_ratio)
        self.rng = np.random.RandomState() if rng is None else rng
        self.params, self.grads = [], []
        self.mask = None
        self.train_flg = True

    def forward(self, xs: np.ndarray) -> np.ndarray:
        if not self.train_flg:
            return xs
        self.mask = dropout_mask(self.rng, xs.shape, self.dropout_ratio, xs.dtype)
        return xs * array_module(xs).asarray(self.mask)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * array_module(dout).asarray(self.mask)


def check_dropout_ratio(dropout_ratio: Any) -> float:
    """`dropout_ratio` as a float in [0, 1), else a ValueError naming it."""
    if isinstance(dropout_ratio, bool) or not isinstance(dropout_ratio, int | float | np.floating):
        raise TypeError(f"dropout_ratio must be a number in [0, 1), got {dropout_ratio!r}")
    if not 0 <= dropout_ratio < 1:
        raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio!r}")
    return float(dropout_ratio)


def dropout_mask(
    rng: np.random.RandomState | np.random.Generator,
    shape: tuple[int, ...],
    dropout_ratio: float,
    dtype: Any,
) -> np.ndarray:
    """The book's scaled mask: (rand(*shape) > ratio) * 1 / (1 - ratio), in `dtype`.

    One draw of `prod(shape)` uniforms from `rng` (`rand` for a RandomState, the book's
    stream; `random` for a Generator). The twins take their masks from here, so all three
    frameworks drop the same elements.
    """
    draw = rng.rand(*shape) if isinstance(rng, np.random.RandomState) else rng.random(shape)
    flg = draw > dropout_ratio
    scale = 1 / (1.0 - dropout_ratio)
    return flg.astype(dtype) * scale  # the book: flg.astype(np.float32) * scale
