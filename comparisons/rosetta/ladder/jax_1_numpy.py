"""Rung 1, JAX: the same network on jax.numpy arrays, backward still by hand.

Changed from rung 0: NumPy -> jax.numpy, and JAX arrays never change: every update makes
new arrays (W1 = W1 - lr * dW1) instead of writing in place. float64 needs x64 on (JAX
computes in float32 by default): main turns it on with `with jax.enable_x64(True):`,
which puts the flag back as it was when the block ends, where
jax.config.update("jax_enable_x64", True) would leave it on for the rest of the process.
Every rung and the notebook use the same `with`.
Run: python -m comparisons.rosetta.ladder.jax_1_numpy
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from comparisons.rosetta.ladder.reference import NAMES, run


def train(x, t, weights, schedule, lr=1.0):
    x, t = jnp.asarray(x), jnp.asarray(t.argmax(axis=1))  # class indices
    W1, b1, W2, b2 = (jnp.asarray(weights[k]) for k in NAMES)
    losses = []
    for rows in schedule:
        batch_x, batch_t = x[rows], t[rows]
        N = len(batch_t)
        h = jax.nn.sigmoid(batch_x @ W1 + b1)  # (N, 10)
        y = jax.nn.softmax(h @ W2 + b2, axis=1)  # (N, 3)
        loss = -jnp.log(y[jnp.arange(N), batch_t]).mean()
        dscore = y.at[jnp.arange(N), batch_t].add(-1) / N  # SoftmaxWithLoss.backward
        dW2, db2 = h.T @ dscore, dscore.sum(axis=0)  # Affine.backward
        da = (dscore @ W2.T) * h * (1 - h)  # Sigmoid.backward
        dW1, db1 = batch_x.T @ da, da.sum(axis=0)  # Affine.backward
        W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2  # new arrays
        losses.append(float(loss))
    return losses, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def main(epochs: int = 300) -> None:
    with jax.enable_x64(True):  # float64, as the book's NumPy
        run("jax_1_numpy", train, epochs)  # trains, asserts parity, reports


if __name__ == "__main__":
    main()
