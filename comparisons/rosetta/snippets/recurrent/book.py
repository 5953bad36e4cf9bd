"""The book's chapters 5-6 in NumPy, as a reader types them from
the book (the Rosetta's left column for the recurrent concepts).

The classes and functions of common/time_layers.py and
common/trainer.py, with the book's names and statements, and
the same two changes as snippets/book.py: random draws come
from a generator `rng` (the book calls np.random), and no line
is longer than 64 columns. The tests run every function here
against the reference (`scratch/`).
"""

from __future__ import annotations

import numpy as np

# ----------------------------------------- RNN (§5.3.1, §5.3.2)


class RNN:
    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh),
                      np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev):
        Wx, Wh, b = self.params
        t = np.dot(h_prev, Wh) + np.dot(x, Wx) + b
        h_next = np.tanh(t)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        Wx, Wh, b = self.params
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next ** 2)  # tanh'
        self.grads[0][...] = np.dot(x.T, dt)  # dWx
        self.grads[1][...] = np.dot(h_prev.T, dt)  # dWh
        self.grads[2][...] = np.sum(dt, axis=0)  # db
        dx = np.dot(dt, Wx.T)
        dh_prev = np.dot(dt, Wh.T)
        return dx, dh_prev


def time_rnn(xs, Wx, Wh, b, h=None):
    # TimeRNN.forward: one RNN per time step, h handed on
    N, T, D = xs.shape
    H = Wh.shape[0]
    hs = np.empty((N, T, H))
    if h is None:  # stateful=False, or the first block
        h = np.zeros((N, H))
    for t in range(T):
        h = RNN(Wx, Wh, b).forward(xs[:, t, :], h)
        hs[:, t, :] = h
    return hs, h


# ------------------------------------------------- LSTM (§6.3)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class LSTM:
    def __init__(self, Wx, Wh, b):
        # the 4 gates side by side: f, g, i, o
        self.params = [Wx, Wh, b]

    def forward(self, x, h_prev, c_prev):
        Wx, Wh, b = self.params
        N, H = h_prev.shape
        A = np.dot(x, Wx) + np.dot(h_prev, Wh) + b
        f = sigmoid(A[:, :H])  # forget
        g = np.tanh(A[:, H:2*H])  # new memory
        i = sigmoid(A[:, 2*H:3*H])  # input
        o = sigmoid(A[:, 3*H:])  # output
        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)
        return h_next, c_next


# ------------------------------ Time Softmax with Loss (§5.4.2)


class TimeSoftmaxWithLoss:
    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None

    def forward(self, xs, ts):
        N, T, V = xs.shape
        xs = xs.reshape(N * T, V)  # every time step a row
        ts = ts.reshape(N * T)
        ys = np.exp(xs - xs.max(axis=1, keepdims=True))
        ys /= ys.sum(axis=1, keepdims=True)
        ls = np.log(ys[np.arange(N * T), ts])
        loss = -np.sum(ls) / (N * T)  # mean over N*T
        self.cache = (ts, ys, (N, T, V))
        return loss

    def backward(self, dout=1):
        ts, ys, (N, T, V) = self.cache
        dx = ys
        dx[np.arange(N * T), ts] -= 1
        dx *= dout / (N * T)
        return dx.reshape((N, T, V))


# --------------------------- truncated BPTT (§5.2.4, §5.5.3)


def get_batch(x, t, batch_size, time_size, time_idx):
    # RnnlmTrainer.get_batch: row i reads on from
    # offset i * jump, where the last batch stopped
    batch_x = np.empty((batch_size, time_size), dtype="i")
    batch_t = np.empty((batch_size, time_size), dtype="i")
    data_size = len(x)
    jump = data_size // batch_size
    offsets = [i * jump for i in range(batch_size)]
    for time in range(time_size):
        for i, offset in enumerate(offsets):
            idx = (offset + time_idx) % data_size
            batch_x[i, time] = x[idx]
            batch_t[i, time] = t[idx]
        time_idx += 1
    return batch_x, batch_t, time_idx


def train_rnnlm(model, optimizer, xs, ts, steps,
                batch_size, time_size):
    # the layers are stateful=True: each batch starts
    # from the last one's h; backward stops at its edge
    time_idx = 0
    losses = []
    for _ in range(steps):
        batch_x, batch_t, time_idx = get_batch(
            xs, ts, batch_size, time_size, time_idx)
        loss = model.forward(batch_x, batch_t)
        model.backward()
        optimizer.update(model.params, model.grads)
        losses.append(loss)
    return losses


# --------------------------------------- dropout (§6.5.2)


class TimeDropout:
    def __init__(self, rng, dropout_ratio=0.5):
        self.params, self.grads = [], []
        self.rng = rng  # the book: np.random
        self.dropout_ratio = dropout_ratio
        self.mask = None
        self.train_flg = True

    def forward(self, xs):
        if self.train_flg:
            flg = self.rng.rand(*xs.shape) > self.dropout_ratio
            scale = 1 / (1.0 - self.dropout_ratio)
            self.mask = flg.astype(xs.dtype) * scale
            return xs * self.mask
        return xs

    def backward(self, dout):
        return dout * self.mask


# ---------------------------------- weight tying (§6.5.3)


def tied_scores(hs, embed_W, affine_b):
    # BetterRnnlm: TimeAffine(embed_W.T, affine_b)
    N, T, H = hs.shape
    affine_W = embed_W.T  # (V, D) -> (D, V): a view
    out = np.dot(hs.reshape(N * T, H), affine_W) + affine_b
    return out.reshape(N, T, -1)


def merge_tied_grads(d_embed_W, d_affine_W):
    # remove_duplicate: one weight, its two gradients
    # summed (the transposed one transposed back)
    return d_embed_W + d_affine_W.T
