"""Rung 3, JAX: optax does the update.

Changed from rung 2: optax.sgd(lr) makes the updates from the gradients and an optimizer
state; optax.apply_updates adds them to params. The loss is optax's fused softmax
cross-entropy (no 1e-7 inside the log, as F.cross_entropy).
Run: python -m comparisons.rosetta.ladder.jax_3_optax
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from comparisons.rosetta.ladder.reference import run


def loss_fn(params, x, t):
    h = jax.nn.sigmoid(x @ params["W1"] + params["b1"])  # (N, 10)
    score = h @ params["W2"] + params["b2"]  # (N, 3)
    return optax.softmax_cross_entropy_with_integer_labels(score, t).mean()


def train(x, t, weights, schedule, lr=1.0):
    x, t = jnp.asarray(x), jnp.asarray(t.argmax(axis=1))  # class indices
    params = {k: jnp.asarray(v) for k, v in weights.items()}
    tx = optax.sgd(lr)
    opt_state = tx.init(params)
    losses = []
    for rows in schedule:
        batch_x, batch_t = x[rows], t[rows]
        loss, grads = jax.value_and_grad(loss_fn)(params, batch_x, batch_t)  # no backward to write
        updates, opt_state = tx.update(grads, opt_state, params)  # -lr * grads
        params = optax.apply_updates(params, updates)  # new arrays
        losses.append(float(loss))
    return losses, params


def main(epochs: int = 300) -> None:
    with jax.enable_x64(True):  # float64, as the book's NumPy
        run("jax_3_optax", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
