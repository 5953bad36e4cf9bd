"""The book's chapters 2-4 in idiomatic JAX (the Rosetta's right column).

What a person writes: `jnp.linalg.norm` and `jax.lax.top_k`, indexing `W[ids]` (or
`jnp.take`) with `jax.grad`/`jax.vjp`, a parameter read twice, optax's losses. The tests
run every function here in float64 against the reference (`scratch/`).
"""

from __future__ import annotations

import numpy as np

_numpy_rng_state = np.random.get_state()  # noqa: NPY002
try:  # importing jax draws from NumPy's global generator: put it back as it was
    import jax
    import jax.numpy as jnp
    import optax
finally:
    np.random.set_state(_numpy_rng_state)  # noqa: NPY002
    del _numpy_rng_state

# --------------------------------------------------------------------------- similarity


def most_similar(query_id, word_matrix, top=5):
    unit = word_matrix / (jnp.linalg.norm(word_matrix, axis=1, keepdims=True) + 1e-8)
    similarity = unit @ unit[query_id]  # (V,)
    nearest = similarity.at[query_id].set(-jnp.inf)  # not the query itself
    return jax.lax.top_k(nearest, top)[1], similarity


# --------------------------------------------------------------------------- embedding


def embedding(W, ids, dout):
    out, vjp = jax.vjp(lambda W: jnp.take(W, ids, axis=0), W)  # W[ids]
    (dW,) = vjp(dout)  # the transpose of a gather adds the rows of a repeated id
    return out, dW


def one_hot_matmul(W, ids):
    return jax.nn.one_hot(ids, len(W), dtype=W.dtype) @ W  # the same rows as W[ids]


# --------------------------------------------------------------------------- shared weights


def shared_gradient(W_in, W_out, contexts, target):
    def loss(W_in):
        h = (W_in[contexts[:, 0]] + W_in[contexts[:, 1]]) * 0.5  # one W_in read twice
        return optax.softmax_cross_entropy_with_integer_labels(h @ W_out, target).mean()

    return jax.grad(loss)(W_in)  # both reads' gradients summed: remove_duplicate's sum


# --------------------------------------------------------------------------- negative sampling


def negative_sampling_loss(h, W_out, target, negative_sample):
    ids = jnp.concatenate([target[:, None], negative_sample], axis=1)  # (N, 1 + S)
    scores = (W_out[ids] * h[:, None, :]).sum(axis=-1)  # (N, 1 + S)
    labels = jnp.zeros_like(scores).at[:, 0].set(1)  # the target 1, the samples 0
    return optax.sigmoid_binary_cross_entropy(scores, labels).sum() / len(h)
