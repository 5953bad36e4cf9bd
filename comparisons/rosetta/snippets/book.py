"""The book's chapter 1 in NumPy, the way the book computes it
(the Rosetta's left column).

The book's names and its way of computing (common/layers.py,
common/functions.py, common/optimizer.py, common/util.py,
ch01/two_layer_net.py, ch01/train_custom_loop.py), written
for this project with its own comments (Japanese where a
reader of the book looks for the book's terms). Where the
book draws from NumPy's global generator, these functions
take a generator `rng`, so a test can run them without
touching global state. Lines of at most 64 columns, so that
three columns of code fit side by side (ruff.toml). The tests
run every function here against the reference (`scratch/`).
"""

from __future__ import annotations

import numpy as np

# ------------------------------------- data (§1.4.1, §1.4.3)


def load_batches(x, t, batch_size, rng):
    data_size = len(x)
    max_iters = data_size // batch_size
    # 毎エポック、並べ替えてからミニバッチに切り分ける
    idx = rng.permutation(data_size)  # np.random.permutation
    x = x[idx]
    t = t[idx]
    batches = []
    for iters in range(max_iters):
        batch_x = x[iters*batch_size:(iters+1)*batch_size]
        batch_t = t[iters*batch_size:(iters+1)*batch_size]
        batches.append((batch_x, batch_t))
    return batches


# ----------------------------------- layers (§1.2.2, §1.3.5)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    x = np.exp(x)
    x /= x.sum(axis=1, keepdims=True)
    return x


def cross_entropy_error(y, t):
    # one-hot の t (N, C) は、正解クラスの番号 (N,) にする
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    p = y[np.arange(batch_size), t]  # the right class
    return -np.sum(np.log(p + 1e-7)) / batch_size


class Affine:
    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        W, b = self.params
        out = np.dot(x, W) + b  # (N, in) @ (in, out) + (out,)
        self.x = x
        return out

    def backward(self, dout):
        W, b = self.params
        dx = np.dot(dout, W.T)
        dW = np.dot(self.x.T, dout)
        db = np.sum(dout, axis=0)  # the Repeat node's backward
        # into the same arrays: params, grads stay shared
        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx


class Sigmoid:
    def __init__(self):
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        return dx


class SoftmaxWithLoss:
    def __init__(self):
        self.params, self.grads = [], []
        self.y = None  # softmax の出力 (N, C)
        self.t = None  # 正解クラスの番号 (N,)

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        # one-hot なら番号に (backward が番号で引く)
        if self.t.size == self.y.size:
            self.t = self.t.argmax(axis=1)
        loss = cross_entropy_error(self.y, self.t)
        return loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        dx *= dout
        dx = dx / batch_size
        return dx


# ------------------------------------------ the net (§1.4.2)


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size,
                 rng):
        I, H, O = input_size, hidden_size, output_size

        # 重み: 小さな乱数、(in, out) の形; バイアス: 0
        # (the book draws from np.random.randn)
        W1 = 0.01 * rng.randn(I, H)
        b1 = np.zeros(H)
        W2 = 0.01 * rng.randn(H, O)
        b2 = np.zeros(O)

        # 順伝播の順に並べたレイヤ
        self.layers = [
            Affine(W1, b1),
            Sigmoid(),
            Affine(W2, b2)
        ]
        self.loss_layer = SoftmaxWithLoss()

        # 各レイヤの重みと勾配の配列を、同じ順で集める
        # (同じ配列なので、更新はレイヤにそのまま届く)
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def forward(self, x, t):
        score = self.predict(x)
        loss = self.loss_layer.forward(score, t)
        return loss

    def backward(self, dout=1):
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


def gradients(model, x, t):
    loss = model.forward(x, t)
    model.backward()  # each layer writes its dW, db into grads
    return loss, model.grads


def accuracy(model, x, t):
    score = model.predict(x)
    predict_cls = np.argmax(score, axis=1)
    return np.mean(predict_cls == t.argmax(axis=1))


# ------------------------------------------ updates (§1.3.6)


class SGD:
    # W <- W - lr * dW (§1.3.6)
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for i in range(len(params)):
            # in place: the layers see the new weights
            params[i] -= self.lr * grads[i]


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = [np.zeros_like(p) for p in params]
        for i in range(len(params)):
            self.v[i] = (self.momentum * self.v[i]
                         - self.lr * grads[i])
            params[i] += self.v[i]


class Adam:
    # Kingma & Ba (2015), bias correction folded into lr_t
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.iter += 1
        lr_t = (self.lr * np.sqrt(1.0 - self.beta2**self.iter)
                / (1.0 - self.beta1**self.iter))
        for i in range(len(params)):
            # m, v: self.m[i], self.v[i], changed in place
            g, m, v = grads[i], self.m[i], self.v[i]
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g**2 - v)
            # 1e-7 outside the sqrt, before the bias correction
            params[i] -= lr_t * m / (np.sqrt(v) + 1e-7)


def clip_grads(grads, max_norm):
    total_norm = 0
    for grad in grads:
        total_norm += np.sum(grad**2)
    total_norm = np.sqrt(total_norm)
    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for grad in grads:
            grad *= rate


# ------------------------------- training (§1.4.3, §1.4.4)


def train_step(model, optimizer, batch_x, batch_t,
               max_grad=None):
    # 順伝播で損失、逆伝播で勾配、そして更新
    loss = model.forward(batch_x, batch_t)
    model.backward()
    if max_grad is not None:
        clip_grads(model.grads, max_grad)
    optimizer.update(model.params, model.grads)
    return loss


def train(model, x, t, max_epoch, batch_size, learning_rate,
          rng):
    optimizer = SGD(lr=learning_rate)
    data_size = len(x)
    max_iters = data_size // batch_size
    total_loss, loss_count = 0, 0
    loss_list = []

    for _epoch in range(max_epoch):
        # エポックごとに並べ替える
        idx = rng.permutation(data_size)
        x = x[idx]
        t = t[idx]
        for iters in range(max_iters):
            batch_x = x[iters*batch_size:(iters+1)*batch_size]
            batch_t = t[iters*batch_size:(iters+1)*batch_size]
            loss = train_step(model, optimizer,
                              batch_x, batch_t)
            total_loss += loss
            loss_count += 1
            # 10 回ごとに平均の損失を残す
            if (iters+1) % 10 == 0:
                loss_list.append(total_loss / loss_count)
                total_loss, loss_count = 0, 0
    return loss_list


# --------------------------------------------- speed (§1.5)


def half_storage(params):
    # compute in float32 (§1.5.1)
    params = [p.astype(np.float32) for p in params]
    # save_params: float16 on disk
    stored = [p.astype(np.float16) for p in params]
    # load_params: back to float32
    return [p.astype("f") for p in stored]


def to_device(params, xp=np):
    # the book: GPU = True in common/config.py makes
    # common/np.py `import cupy as np`
    return [xp.asarray(p) for p in params]
