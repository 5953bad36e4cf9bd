"""The book's chapters 2-4 in idiomatic JAX (the Rosetta's
right column).

What a person writes: `jnp.linalg.norm` and `jax.lax.top_k`,
indexing `W[ids]` (or `jnp.take`) with `jax.grad`/`jax.vjp`, a
parameter read twice, optax's losses. Lines of at most 64
columns (ruff.toml). The tests run every function here in
float64 against the reference (`scratch/`).
"""

from __future__ import annotations

import numpy as np

_numpy_rng_state = np.random.get_state()  # noqa: NPY002
# importing jax draws from NumPy's global generator: put it back
try:
    import jax
    import jax.numpy as jnp
    import optax
finally:
    np.random.set_state(_numpy_rng_state)  # noqa: NPY002
    del _numpy_rng_state

# -------------------------------------------------- similarity


def most_similar(query_id, word_matrix, top=5):
    norm = jnp.linalg.norm(word_matrix, axis=1, keepdims=True)
    unit = word_matrix / (norm + 1e-8)
    similarity = unit @ unit[query_id]  # (V,)
    # not the query itself
    nearest = similarity.at[query_id].set(-jnp.inf)
    return jax.lax.top_k(nearest, top)[1], similarity


# --------------------------------------------------- embedding


def embedding(W, ids, dout):
    out, vjp = jax.vjp(lambda W: jnp.take(W, ids, axis=0), W)
    # the transpose of a gather adds a repeated id's rows
    (dW,) = vjp(dout)
    return out, dW


def one_hot_matmul(W, ids):
    one_hot = jax.nn.one_hot(ids, len(W), dtype=W.dtype)
    return one_hot @ W  # the same rows as W[ids]


# ---------------------------------------------- shared weights


def shared_gradient(W_in, W_out, contexts, target):
    def loss(W_in):
        # one W_in read twice
        h = (W_in[contexts[:, 0]] + W_in[contexts[:, 1]]) * 0.5
        ce = optax.softmax_cross_entropy_with_integer_labels
        return ce(h @ W_out, target).mean()

    # both reads' gradients summed: remove_duplicate's sum
    return jax.grad(loss)(W_in)


# ------------------------------------------- negative sampling


def negative_sampling_loss(h, W_out, target, negative_sample):
    # (N, 1 + S): the target, then the negative samples
    ids = jnp.concatenate([target[:, None], negative_sample],
                          axis=1)
    scores = (W_out[ids] * h[:, None, :]).sum(axis=-1)
    # the target 1, the negative samples 0
    labels = jnp.zeros_like(scores).at[:, 0].set(1)
    loss = optax.sigmoid_binary_cross_entropy(scores, labels)
    return loss.sum() / len(h)
