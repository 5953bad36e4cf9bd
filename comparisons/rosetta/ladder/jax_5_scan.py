"""Rung 5, JAX: the whole loop in one lax.scan. This is the JAX a person writes.

Changed from rung 4: the Python loop over batches becomes jax.lax.scan: the step takes
the carry (params, opt_state) and one row of the schedule, and the whole run is one
compiled program that returns every step's loss at the end.
Run: python -m comparisons.rosetta.ladder.jax_5_scan
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

    def step(carry, rows):  # carry in, carry out, and one output per step
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, x[rows], t[rows])
        updates, opt_state = tx.update(grads, opt_state, params)  # -lr * grads
        return (optax.apply_updates(params, updates), opt_state), loss

    run = jax.jit(lambda carry, schedule: jax.lax.scan(step, carry, schedule))
    (params, opt_state), losses = run((params, opt_state), jnp.asarray(schedule))
    return losses, params


def main(epochs: int = 300) -> None:
    with jax.enable_x64(True):  # float64, as the book's NumPy
        run("jax_5_scan", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
