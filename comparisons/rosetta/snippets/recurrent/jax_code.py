"""The book's chapters 5-6 in idiomatic JAX (the Rosetta's right
column for the recurrent concepts).

What a person writes: a cell function and `jax.lax.scan` over
time, the LSTM's gates split in the usual order i, f, g, o, the
carry handed from batch to batch as a value, optax's
cross-entropy, `jax.random.bernoulli` for dropout, one array for
the tied weight. Float64 (x64 on), as the reference is compared.
The tests run every function here against the reference.
"""

from __future__ import annotations

import numpy as np

_numpy_rng_state = np.random.get_state()  # noqa: NPY002
try:  # importing jax draws from NumPy's global generator
    import jax
    import jax.numpy as jnp
    import optax
finally:
    np.random.set_state(_numpy_rng_state)  # noqa: NPY002
    del _numpy_rng_state

# ----------------------------------------- RNN (§5.3.1, §5.3.2)


def rnn_cell(p, h, x):
    # the book's RNN.forward: x (N, D), h (N, H)
    h = jnp.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"])
    return h, h  # (carry, output), as lax.scan wants


def rnn_layer(p, xs, h):
    def step(h, x):
        return rnn_cell(p, h, x)

    # scan runs over the first axis: time first
    h, hs = jax.lax.scan(step, h, jnp.swapaxes(xs, 0, 1))
    return jnp.swapaxes(hs, 0, 1), h  # (N, T, H), (N, H)


# ------------------------------------------------- LSTM (§6.3)


def book_to_jax(w):
    # gate blocks on the last axis: f, g, i, o -> i, f, g, o
    f, g, i, o = jnp.split(w, 4, axis=-1)
    return jnp.concatenate([i, f, g, o], axis=-1)


def lstm_cell(p, carry, x):
    h, c = carry
    a = x @ p["Wx"] + h @ p["Wh"] + p["b"]
    i, f, g, o = jnp.split(a, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c \
        + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h


def lstm_layer(p, xs, carry):
    def step(carry, x):
        return lstm_cell(p, carry, x)

    carry, hs = jax.lax.scan(step, carry,
                             jnp.swapaxes(xs, 0, 1))
    return jnp.swapaxes(hs, 0, 1), carry


# ------------------------------ Time Softmax with Loss (§5.4.2)


def time_softmax_loss(scores, ts):
    # (N, T, V) and (N, T): the mean over all N*T
    ce = optax.softmax_cross_entropy_with_integer_labels
    return ce(scores, ts).mean()


# ------------------- the model; weight tying (§6.4, §6.5.3)


def better_rnnlm(params, xs, carry):
    emb = params["embed"]  # (V, H), the one tied array
    hs1, s1 = lstm_layer(params["lstm1"], emb[xs], carry[0])
    hs2, s2 = lstm_layer(params["lstm2"], hs1, carry[1])
    scores = hs2 @ emb.T + params["b"]  # tied: (H, V)
    return scores, (s1, s2)  # each LSTM's (h, c)


def tied_gradient(params, xs, ts, carry):
    def loss_fn(params):
        scores, _ = better_rnnlm(params, xs, carry)
        return time_softmax_loss(scores, ts)

    # one array read twice: the embedding's gradient and
    # the output layer's, summed by jax.grad
    return jax.grad(loss_fn)(params)["embed"]


def from_book(w):
    # the book's BetterRnnlm weights, by its names
    def lstm(n):
        return {k: book_to_jax(w[f"lstm_{k}{n}"])
                for k in ("Wx", "Wh", "b")}

    return {"embed": w["embed_W"], "b": w["affine_b"],
            "lstm1": lstm(1), "lstm2": lstm(2)}


# --------------------------- truncated BPTT (§5.2.4, §5.5.3)


def make_train_step(tx):
    def loss_fn(params, carry, xs, ts):
        scores, carry = better_rnnlm(params, xs, carry)
        return time_softmax_loss(scores, ts), carry

    @jax.jit
    def step(params, opt_state, carry, xs, ts):
        # carry comes in as a value: the gradient stops
        # at this batch's edge, with no detach to forget
        (loss, carry), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(params, carry, xs, ts)
        updates, opt_state = tx.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
        return params, opt_state, carry, loss

    return step


# --------------------------------------- dropout (§6.5.2)


def dropout(key, x, p):
    keep = jax.random.bernoulli(key, 1 - p, x.shape)
    return jnp.where(keep, x / (1 - p), 0)


def dropout_with_mask(x, mask):
    # the parity runs: the book's own mask, handed in
    return x * mask
