"""The book's chapters 2-4 in idiomatic PyTorch (the Rosetta's middle column).

What a person writes: `F.cosine_similarity` and `topk`, `nn.Embedding` (and `nn.Linear`
on one-hot rows), one module used twice for a shared weight, `F.binary_cross_entropy_
with_logits`, autograd. Float64, as the reference compares; the tests run every function
here against the reference (`scratch/`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------- similarity


def most_similar(query_id, word_matrix, top=5):
    similarity = F.cosine_similarity(word_matrix, word_matrix[query_id][None], dim=1)
    nearest = similarity.clone()
    nearest[query_id] = -torch.inf  # not the query itself
    return nearest.topk(top).indices, similarity


# --------------------------------------------------------------------------- embedding


def embedding(W, ids, dout):
    emb = nn.Embedding.from_pretrained(W, freeze=False)  # the book's W (V, H) as it is
    out = emb(ids)  # W[ids]
    out.backward(dout)  # autograd adds the rows of a repeated id
    return out, emb.weight.grad


def one_hot_matmul(W, ids):
    fc = nn.Linear(*W.shape, bias=False, dtype=W.dtype)  # chapter 3's MatMul
    with torch.no_grad():
        fc.weight.copy_(W.T)  # Linear keeps (out, in): the book's W transposed
    return fc(F.one_hot(ids, len(W)).to(W.dtype))  # one_hot @ W: the same rows as W[ids]


# --------------------------------------------------------------------------- shared weights


def shared_gradient(W_in, W_out, contexts, target):
    in_layer = nn.Embedding.from_pretrained(W_in, freeze=False)  # one W_in ...
    h = (in_layer(contexts[:, 0]) + in_layer(contexts[:, 1])) * 0.5  # ... used twice
    loss = F.cross_entropy(h @ W_out, target)
    loss.backward()  # autograd sums both uses' gradients: remove_duplicate's sum
    return in_layer.weight.grad


# --------------------------------------------------------------------------- negative sampling


def negative_sampling_loss(h, W_out, target, negative_sample):
    ids = torch.cat([target[:, None], negative_sample], dim=1)  # (N, 1 + S)
    scores = (W_out[ids] * h[:, None, :]).sum(dim=-1)  # (N, 1 + S)
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1  # the target scores 1, the negative samples 0
    return F.binary_cross_entropy_with_logits(scores, labels, reduction="sum") / len(h)
