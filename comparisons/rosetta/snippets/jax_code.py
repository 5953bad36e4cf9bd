"""The book's chapter 1 in idiomatic JAX (the Rosetta's right
column).

What a person writes: a dict of arrays for the parameters, pure
functions with `jnp` and `jax.nn`, `jax.value_and_grad` instead
of a backward pass, optax for the updates, `jax.jit`, `lax.scan`
for the loop, `jax.device_put`. JAX computes in float32 unless
x64 is on; the tests run every function here in float64, inside
`with jax.enable_x64(True):`, against the reference
(`scratch/`) with the book's weights. Lines of at most 64
columns (ruff.toml).
"""

from __future__ import annotations

import numpy as np

_numpy_rng_state = np.random.get_state()  # noqa: NPY002
try:  # importing jax draws from NumPy's global generator
    import jax
    import jax.numpy as jnp
    import optax
finally:  # so put it back as it was
    np.random.set_state(_numpy_rng_state)  # noqa: NPY002
    del _numpy_rng_state

# ------------------------------------------------------ data


def load_batches(x, t, batch_size, rng):
    # the book's draw; JAX's own is jax.random.permutation
    idx = rng.permutation(len(x))
    steps = len(x) // batch_size
    rows = idx[: steps * batch_size].reshape(steps, batch_size)
    xs = jnp.asarray(x[rows])  # (10, 30, 2)
    ts = jnp.asarray(t[rows].argmax(axis=-1))  # (10, 30)
    return xs, ts  # stacked, ready for lax.scan


# ---------------------------------------------------- layers


def affine(x, W, b):
    return x @ W + b  # the book's W (in, out): no transpose


def sigmoid(x, dout):
    y, vjp = jax.vjp(jax.nn.sigmoid, x)
    (dx,) = vjp(dout)  # autodiff finds dout * y * (1 - y)
    return y, dx


def softmax_with_loss(score, t):
    def loss_fn(score):  # no 1e-7 in the log
        loss = optax.softmax_cross_entropy_with_integer_labels(
            score, t)
        return loss.mean()

    # the loss, and its gradient (y - one_hot(t)) / N
    return jax.value_and_grad(loss_fn)(score)


# --------------------------------------------------- the net


def init_params(key, I, H, O):
    k1, k2 = jax.random.split(key)  # no global seed: keys
    return {
        "W1": 0.01 * jax.random.normal(k1, (I, H)),  # (in, out)
        "b1": jnp.zeros(H),
        "W2": 0.01 * jax.random.normal(k2, (H, O)),
        "b2": jnp.zeros(O),
    }


def predict(params, x):
    h = jax.nn.sigmoid(x @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]


def loss_fn(params, x, t):
    score = predict(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(
        score, t)
    return loss.mean()


def gradients(params, x, t):
    # the loss, and a dict of gradients shaped like params
    return jax.value_and_grad(loss_fn)(params, x, t)


def accuracy(params, x, t):
    score = predict(params, x)
    return jnp.mean(jnp.argmax(score, axis=1) == t)


# --------------------------------------------------- updates


def make_sgd(params, lr):
    tx = optax.sgd(lr)  # a pair of functions: init, update
    # the state is made once, before the loop: Momentum or
    # Adam carry theirs in it from step to step
    return tx, tx.init(params)


def sgd_update(tx, opt_state, params, grads):
    updates, opt_state = tx.update(grads, opt_state, params)
    # updates = -lr * grads; a new dict: arrays never change
    return optax.apply_updates(params, updates), opt_state


def make_optimizer(name, lr):
    if name == "momentum":  # trace = -v / lr: the book's steps
        return optax.sgd(lr, momentum=0.9)
    if name == "nesterov":  # not the book's Nesterov
        return optax.sgd(lr, momentum=0.9, nesterov=True)
    if name == "adagrad":  # starts h at 0.1, eps in the sqrt
        return optax.adagrad(lr, eps=1e-7)
    if name == "rmsprop":  # optax's default decay is 0.9
        return optax.rmsprop(lr, decay=0.99, eps=1e-7,
                             eps_in_sqrt=False)
    if name == "adam":  # eps after the bias correction
        return optax.adam(lr, b1=0.9, b2=0.999, eps=1e-7)
    raise ValueError(f"make_optimizer: unknown name {name!r}")


def clip_grads(grads, max_norm):
    # max_norm / norm, without the book's 1e-6; in training,
    # optax.chain(optax.clip_by_global_norm(max_norm), tx)
    clip = optax.clip_by_global_norm(max_norm)  # no state
    clipped, _ = clip.update(grads, clip.init(grads))
    return clipped


# -------------------------------------------------- training


def make_train_step(tx):
    @jax.jit
    def train_step(params, opt_state, batch_x, batch_t):
        loss, grads = jax.value_and_grad(loss_fn)(
            params, batch_x, batch_t)
        updates, opt_state = tx.update(grads, opt_state,
                                       params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, loss

    return train_step


def train(params, x, t, schedule, learning_rate):
    # onto the device once; schedule: the book's rows
    x, t = jnp.asarray(x), jnp.asarray(t)
    tx = optax.sgd(learning_rate)

    def step(carry, rows):  # (params, opt_state) in and out
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(
            params, x[rows], t[rows])
        updates, opt_state = tx.update(grads, opt_state,
                                       params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), loss

    # the whole loop as one compiled program
    carry = (params, tx.init(params))
    (params, _), losses = jax.lax.scan(step, carry,
                                       jnp.asarray(schedule))
    return params, losses


# ----------------------------------------------------- speed


def half_storage(params):
    def cast(dtype):
        return lambda p: p.astype(dtype)

    # float32, JAX's default dtype
    params = jax.tree.map(cast(jnp.float32), params)
    # np.savez(f, **stored)
    stored = jax.tree.map(cast(jnp.float16), params)
    return jax.tree.map(cast(jnp.float32), stored)


def to_device(params):
    # the first GPU when jaxlib has CUDA, else the CPU
    device = jax.devices()[0]
    return jax.device_put(params, device)
