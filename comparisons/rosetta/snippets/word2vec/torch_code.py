"""The book's chapters 2-4 in idiomatic PyTorch (the Rosetta's
middle column).

What a person writes: `F.cosine_similarity` and `topk`,
`nn.Embedding` (and `nn.Linear` on one-hot rows), one module
used twice for a shared weight,
`F.binary_cross_entropy_with_logits`, autograd. Float64, as the
reference compares. Lines of at most 64 columns (ruff.toml).
The tests run every function here against the reference
(`scratch/`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# -------------------------------------------------- similarity


def most_similar(query_id, word_matrix, top=5):
    query = word_matrix[query_id][None]  # (1, H)
    similarity = F.cosine_similarity(word_matrix, query, dim=1)
    nearest = similarity.clone()
    nearest[query_id] = -torch.inf  # not the query itself
    return nearest.topk(top).indices, similarity


# --------------------------------------------------- embedding


def embedding(W, ids, dout):
    # the book's W (V, H) as it is: no transpose
    emb = nn.Embedding.from_pretrained(W, freeze=False)
    out = emb(ids)  # W[ids]
    out.backward(dout)  # adds the rows of a repeated id
    return out, emb.weight.grad


def one_hot_matmul(W, ids):
    # chapter 3's MatMul on one-hot rows
    fc = nn.Linear(*W.shape, bias=False, dtype=W.dtype)
    with torch.no_grad():
        fc.weight.copy_(W.T)  # Linear keeps (out, in): W.T
    one_hot = F.one_hot(ids, len(W)).to(W.dtype)
    return fc(one_hot)  # one_hot @ W: the rows W[ids]


# ---------------------------------------------- shared weights


def shared_gradient(W_in, W_out, contexts, target):
    # one W_in ...
    in_layer = nn.Embedding.from_pretrained(W_in, freeze=False)
    h0 = in_layer(contexts[:, 0])  # ... used twice
    h1 = in_layer(contexts[:, 1])
    h = (h0 + h1) * 0.5
    loss = F.cross_entropy(h @ W_out, target)
    # autograd sums both uses' gradients: remove_duplicate's sum
    loss.backward()
    return in_layer.weight.grad


# ------------------------------------------- negative sampling


def negative_sampling_loss(h, W_out, target, negative_sample):
    # (N, 1 + S): the target, then the negative samples
    ids = torch.cat([target[:, None], negative_sample], dim=1)
    scores = (W_out[ids] * h[:, None, :]).sum(dim=-1)
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1  # the target 1, the negative samples 0
    loss = F.binary_cross_entropy_with_logits(
        scores, labels, reduction="sum")
    return loss / len(h)
