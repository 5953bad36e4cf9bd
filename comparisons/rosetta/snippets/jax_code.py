"""The book's chapter 1 in idiomatic JAX (the Rosetta's right column).

What a person writes: a dict of arrays for the parameters, pure functions with `jnp`
and `jax.nn`, `jax.grad`/`jax.value_and_grad` instead of a backward pass, optax for the
updates, `jax.jit`, `lax.scan` for the loop, `jax.device_put`. JAX computes in float32
unless `jax_enable_x64` is on; the tests run every function here in float64 against the
reference (`scratch/`) with the book's weights.
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

# --------------------------------------------------------------------------- data


def load_batches(x, t, batch_size, rng):
    idx = rng.permutation(len(x))  # the book's draw; jax.random.permutation(key, n) is JAX's
    max_iters = len(x) // batch_size
    xs = jnp.asarray(x[idx][: max_iters * batch_size]).reshape(max_iters, batch_size, -1)
    ts = jnp.asarray(t[idx].argmax(axis=1)[: max_iters * batch_size]).reshape(max_iters, -1)
    return xs, ts  # (10, 30, 2), (10, 30): stacked, ready for lax.scan


# --------------------------------------------------------------------------- layers


def affine(x, W, b):
    return x @ W + b  # the book's layout, W (in, out): nothing to transpose


def sigmoid(x, dout):
    y, vjp = jax.vjp(jax.nn.sigmoid, x)
    (dx,) = vjp(dout)  # autodiff finds dout * y * (1 - y)
    return y, dx


def softmax_with_loss(score, t):
    def loss_fn(score):
        return optax.softmax_cross_entropy_with_integer_labels(score, t).mean()  # no 1e-7

    return jax.value_and_grad(loss_fn)(score)  # loss, (y - one_hot(t)) / N


# --------------------------------------------------------------------------- the net


def init_params(key, I, H, O):
    k1, k2 = jax.random.split(key)  # explicit keys instead of a global seed
    return {
        "W1": 0.01 * jax.random.normal(k1, (I, H)),  # (in, out), as the book
        "b1": jnp.zeros(H),
        "W2": 0.01 * jax.random.normal(k2, (H, O)),
        "b2": jnp.zeros(O),
    }


def predict(params, x):
    h = jax.nn.sigmoid(x @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]


def loss_fn(params, x, t):
    return optax.softmax_cross_entropy_with_integer_labels(predict(params, x), t).mean()


def gradients(params, x, t):
    return jax.value_and_grad(loss_fn)(params, x, t)  # loss, and a dict of dW like params


def accuracy(params, x, t):
    return jnp.mean(jnp.argmax(predict(params, x), axis=1) == t)


# --------------------------------------------------------------------------- updates


def sgd_update(params, grads, lr):
    tx = optax.sgd(lr)
    updates, _ = tx.update(grads, tx.init(params))  # updates = -lr * grads
    return optax.apply_updates(params, updates)  # a new dict: JAX arrays are immutable


def make_optimizer(name, lr):
    if name == "momentum":  # keeps trace = -v / lr: the same steps as the book
        return optax.sgd(lr, momentum=0.9)
    if name == "nesterov":  # not the book's form of Nesterov
        return optax.sgd(lr, momentum=0.9, nesterov=True)
    if name == "adagrad":  # starts h at 0.1 and puts eps inside the sqrt: not the book's
        return optax.adagrad(lr, eps=1e-7)
    if name == "rmsprop":
        return optax.rmsprop(lr, decay=0.99, eps=1e-7, eps_in_sqrt=False)
    if name == "adam":  # eps added after the bias correction: not the book's Adam
        return optax.adam(lr, b1=0.9, b2=0.999, eps=1e-7)
    raise ValueError(f"make_optimizer: unknown name {name!r}")


def clip_grads(grads, max_norm):
    tx = optax.clip_by_global_norm(max_norm)  # max_norm / norm, without the book's 1e-6
    clipped, _ = tx.update(grads, tx.init(grads))
    return clipped


# --------------------------------------------------------------------------- training


def make_train_step(tx):
    @jax.jit
    def train_step(params, opt_state, batch_x, batch_t):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch_x, batch_t)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return train_step


def train(params, x, t, schedule, learning_rate):
    x, t, schedule = jnp.asarray(x), jnp.asarray(t), jnp.asarray(schedule)  # on the device
    tx = optax.sgd(learning_rate)

    def step(carry, rows):  # one batch: (params, opt_state) in, (params, opt_state) out
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, x[rows], t[rows])
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    # the whole loop as one compiled program; schedule: the book's rows, (steps, batch)
    (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), schedule)
    return params, losses


# --------------------------------------------------------------------------- speed


def half_storage(params):
    params = jax.tree.map(lambda p: p.astype(jnp.float32), params)  # JAX's default dtype
    stored = jax.tree.map(lambda p: p.astype(jnp.float16), params)  # np.savez(f, **stored)
    return jax.tree.map(lambda p: p.astype(jnp.float32), stored)


def to_device(params):
    device = jax.devices()[0]  # the first GPU when jaxlib has CUDA, else the CPU
    return jax.device_put(params, device)
