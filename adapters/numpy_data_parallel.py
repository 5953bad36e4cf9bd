"""Data-parallel training by hand, in NumPy: the reference for torch's DDP and JAX's mesh.

What N workers do at each step, written out so a reader can follow it:

1. the step's batch is cut into N contiguous shards (adapters/data_parallel.py);
2. each worker runs its shard through the book's layers, forward and backward
   (TwoLayerNet.forward / .backward, §1.3), giving the shard's mean loss and gradient;
3. the shard gradients are averaged: the all-reduce that `DistributedDataParallel` and
   `jax.lax.pmean` do across devices;
4. every worker makes the same update (clip_grads on the averaged gradient, then the
   optimizer), so all replicas hold the same weights again.

The replicas hold the same weights at every step, so one TwoLayerNet stands for all of
them and the workers take turns in this process. The recorded loss is the mean of the
shard losses (what an all-reduce of the loss gives), and so is the epsilon gap.
"""

from __future__ import annotations

import numpy as np

from adapters import data_parallel
from adapters.numpy_adapter import forward_backward, update
from scratch.two_layer_net import TwoLayerNet


def make_train_step(n: int, batch: int):
    """A `numpy_adapter.train_step` (same signature) that splits each batch of `batch` rows
    over n workers."""
    edges = data_parallel.bounds(batch, n)  # (n + 1,): shard k is rows edges[k]:edges[k+1]

    def train_step(model: TwoLayerNet, optimizer, xb, tb, max_grad: float | None, gaps, step):
        gaps.shard_edges = edges  # the gap is the mean of the shard means, as the loss
        total = [np.zeros_like(g) for g in model.grads]  # the all-reduce buffer
        losses = []
        for k in range(n):
            rows = slice(int(edges[k]), int(edges[k + 1]))
            loss = forward_backward(model, xb[rows], tb[rows], gaps, step, rows)  # worker k
            losses.append(loss)
            for buf, g in zip(total, model.grads, strict=True):
                buf += g
        for g, buf in zip(model.grads, total, strict=True):
            g[...] = buf / n  # the all-reduce: every worker now holds the mean gradient
        update(model, optimizer, max_grad)  # the same update on every replica
        return float(np.mean(losses))

    return train_step
