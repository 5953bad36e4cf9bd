"""Rung 4, JAX: the training step is compiled with jax.jit.

Changed from rung 3: the step (picking the batch, value_and_grad, update, apply_updates)
is one pure function; jax.jit traces it once and runs the compiled program on every later
batch. The batch is picked inside it: `x[rows]` on a JAX array outside jit is an operation
of its own, dispatched from Python at every step (docs/learn.md: "The ladders").
Run: python -m comparisons.rosetta.ladder.jax_4_jit
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

    @jax.jit  # pure: everything it uses comes in as an argument or is a constant
    def step(params, opt_state, x, t, rows):
        loss, grads = jax.value_and_grad(loss_fn)(params, x[rows], t[rows])
        updates, opt_state = tx.update(grads, opt_state, params)  # -lr * grads
        return optax.apply_updates(params, updates), opt_state, loss

    losses = []
    for rows in schedule:
        params, opt_state, loss = step(params, opt_state, x, t, rows)
        losses.append(float(loss))
    return losses, params


def main(epochs: int = 300) -> None:
    with jax.enable_x64(True):  # float64, as the book's NumPy
        run("jax_4_jit", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
