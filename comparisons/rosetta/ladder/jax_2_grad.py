"""Rung 2, JAX: jax.grad computes the gradients.

Changed from rung 1: the weights live in one dict (a pytree), the forward pass is a pure
function `loss_fn(params, x, t)`, and jax.value_and_grad(loss_fn) returns the loss and a
dict of gradients shaped like params. jax.tree.map applies the update to every weight.
Run: python -m comparisons.rosetta.ladder.jax_2_grad
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from comparisons.rosetta.ladder.reference import run


def loss_fn(params, x, t):
    h = jax.nn.sigmoid(x @ params["W1"] + params["b1"])  # (N, 10)
    y = jax.nn.softmax(h @ params["W2"] + params["b2"], axis=1)  # (N, 3)
    return -jnp.log(y[jnp.arange(len(t)), t]).mean()


def train(x, t, weights, schedule, lr=1.0):
    x, t = jnp.asarray(x), jnp.asarray(t.argmax(axis=1))  # class indices
    params = {k: jnp.asarray(v) for k, v in weights.items()}
    losses = []
    for rows in schedule:
        batch_x, batch_t = x[rows], t[rows]
        loss, grads = jax.value_and_grad(loss_fn)(params, batch_x, batch_t)  # no backward to write
        params = jax.tree.map(lambda p, g: p - lr * g, params, grads)  # new arrays
        losses.append(float(loss))
    return losses, params


def main(epochs: int = 300) -> None:
    with jax.enable_x64(True):  # float64, as the book's NumPy
        run("jax_2_grad", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
