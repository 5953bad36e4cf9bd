"""The book's chapters 2-4 in NumPy, as a reader writes them
(the Rosetta's left column).

The book's names and its way of computing (common/util.py,
common/layers.py, common/trainer.py,
ch04/negative_sampling_layer.py), written for this project;
the negative samples are drawn from a `rng` handed in, where
the book draws from NumPy's global generator. Lines of at most
64 columns (ruff.toml). The tests run every function here
against the reference (`scratch/`).
"""

from __future__ import annotations

import numpy as np

# ------------------------------------------- similarity (§2.3)


def cos_similarity(x, y, eps=1e-8):
    # 長さ1に正規化する（0ベクトルでも割れるよう eps を足す）
    nx = x / (np.sqrt(np.sum(x**2)) + eps)
    ny = y / (np.sqrt(np.sum(y**2)) + eps)
    return np.dot(nx, ny)


def most_similar(query_id, word_matrix, top=5):
    similarity = np.zeros(len(word_matrix))
    for i in range(len(word_matrix)):
        similarity[i] = cos_similarity(word_matrix[i],
                                       word_matrix[query_id])
    order = (-1 * similarity).argsort()  # 類似度の大きい順
    nearest = [i for i in order if i != query_id]
    return nearest[:top], similarity


# -------------------------------------------- embedding (§4.1)


class Embedding:
    def __init__(self, W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx = None

    def forward(self, idx):
        (W,) = self.params
        self.idx = idx
        # 単語IDの行を抜き出す（one-hot @ W と同じ）
        return W[idx]

    def backward(self, dout):
        (dW,) = self.grads
        dW[...] = 0
        # 同じIDが何度現れても、その勾配を足し合わせる
        np.add.at(dW, self.idx, dout)
        return None


# --------------------------------------- shared weights (§3.2)


def remove_duplicate(params, grads):
    params, grads = params[:], grads[:]
    while True:
        found = False
        for i in range(len(params) - 1):
            for j in range(i + 1, len(params)):
                # 重みを共有していれば勾配を足して1つにする
                if params[i] is params[j]:
                    grads[i] += grads[j]
                    params.pop(j)
                    grads.pop(j)
                    found = True
                    break
            if found:
                break
        if not found:
            return params, grads


# ------------------------------------ negative sampling (§4.2)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def get_negative_sample(word_p, target, sample_size, rng):
    negative_sample = np.zeros((len(target), sample_size),
                               dtype=np.int32)
    for i in range(len(target)):
        p = word_p.copy()
        p[target[i]] = 0  # 正解の単語は負例にしない
        p /= p.sum()
        negative_sample[i] = rng.choice(
            len(p), size=sample_size, replace=False, p=p)
    return negative_sample


def negative_sampling_loss(h, W_out, target, negative_sample):
    score = np.sum(W_out[target] * h, axis=1)  # 正例
    loss = -np.mean(np.log(sigmoid(score) + 1e-7))
    for i in range(negative_sample.shape[1]):  # 負例
        score = np.sum(W_out[negative_sample[:, i]] * h, axis=1)
        loss += -np.mean(np.log(1 - sigmoid(score) + 1e-7))
    return loss
