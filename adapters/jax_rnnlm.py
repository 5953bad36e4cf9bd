"""The language models of chapters 5-6 in JAX: a parameter pytree, a cell function run
over time by `lax.scan`, optax's cross-entropy, `jax.value_and_grad` and optax.

Mirrors adapters/torch_rnnlm.py definition by definition. Where a port from the book
goes wrong, and what this file does about it:

- Gate order. The cell splits its pre-activations as every framework does,
  i, f, g, o (`jnp.split(a, 4)`, as flax's LSTMCell), where the book's are f, g, i, o:
  the map reorders the gate blocks (`to_module` and `from_module`, one function each
  way). The kernels stay (in, out), the book's layout and flax's, so nothing is
  transposed, and one bias is all there is.
- The state between batches. The carry (h, c) leaves one step and enters the next as a
  plain value: the gradient is taken of one block's function, so it stops at the block's
  edge with no `detach` to forget (the book's `stateful=True`, truncated BPTT). In "scan"
  mode the carry runs through the whole run's `lax.scan` beside the weights.
- The loss. `TimeSoftmaxWithLoss` averages over all N*T positions:
  `softmax_cross_entropy_with_integer_labels(scores, ts).mean()` over (N, T).
- Weight tying. One array, `embed` (V, D): the embedding takes its rows and the output
  layer multiplies by its transpose, so `jax.grad` sums the two gradients into one leaf
  and the book's clip (adapters/jax_adapter.py) counts it once.
- Dropout. `jax.random.bernoulli` with its own key would drop other elements than the
  book's generator; the parity run hands the reference's masks to the forward function.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from adapters import rnnlm_weights as rw
from adapters.jax_adapter import _JAX_DTYPES, jax, jnp, make_optimizer, optax, to_numpy
from adapters.optimizer_spec import OptimizerSpec

# --------------------------------------------------------------------------- the models
# Pytrees: {"embed": (V, D), "rnn" or "lstm" or "lstm1"/"lstm2": {"Wx": (in, gH),
# "Wh": (H, gH), "b": (gH,)}, "affine": {"W": (H, V), "b": (V,)}}; BetterRnnlm has no
# affine W (it is embed, transposed) but "affine_b" (V,).


def rnn_cell(p: dict, h: jax.Array, x: jax.Array) -> jax.Array:
    """h_next = tanh(x @ Wx + h @ Wh + b), (N, H)."""
    return jnp.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"])


def lstm_cell(p: dict, carry: tuple, x: jax.Array) -> tuple:
    """One LSTM step; gates in the frameworks' order i, f, g, o."""
    h, c = carry
    i, f, g, o = jnp.split(x @ p["Wx"] + h @ p["Wh"] + p["b"], 4, axis=-1)  # (N, H) each
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return h, c


def over_time(cell, p: dict, xs: jax.Array, carry):
    """`cell` over the T steps of xs (N, T, D) with `lax.scan`: hs (N, T, H), last carry."""

    def step(carry, x):
        carry = cell(p, carry, x)
        return carry, carry[0] if isinstance(carry, tuple) else carry

    carry, hs = jax.lax.scan(step, carry, jnp.swapaxes(xs, 0, 1))  # scan over T: (T, N, D)
    return jnp.swapaxes(hs, 0, 1), carry


def simple_rnnlm(params: dict, xs: jax.Array, state, masks=None):
    """Embedding -> RNN -> Affine: scores (N, T, V) and h (N, H) to carry."""
    hs, state = over_time(rnn_cell, params["rnn"], params["embed"][xs], state)
    return hs @ params["affine"]["W"] + params["affine"]["b"], state


def rnnlm(params: dict, xs: jax.Array, state, masks=None):
    """Embedding -> LSTM -> Affine: scores (N, T, V) and (h, c) to carry."""
    hs, state = over_time(lstm_cell, params["lstm"], params["embed"][xs], state)
    return hs @ params["affine"]["W"] + params["affine"]["b"], state


def better_rnnlm(params: dict, xs: jax.Array, state, masks=None):
    """Embedding -> Dropout -> LSTM -> Dropout -> LSTM -> Dropout -> Affine (tied):
    scores (N, T, V) and both LSTMs' (h, c). `masks`: three (N, T, H), the reference's."""

    def drop(x, k):
        return x if masks is None else x * masks[k]

    h1, s1 = over_time(lstm_cell, params["lstm1"], drop(params["embed"][xs], 0), state[0])
    h2, s2 = over_time(lstm_cell, params["lstm2"], drop(h1, 1), state[1])
    return drop(h2, 2) @ params["embed"].T + params["affine_b"], (s1, s2)  # (V, D).T: tied


FORWARD = {"simple_rnnlm": simple_rnnlm, "rnnlm": rnnlm, "better_rnnlm": better_rnnlm}


# --------------------------------------------------------------------------- weights in and out

_LAYERS = {"simple_rnnlm": (("rnn", ""),), "rnnlm": (("lstm", ""),)}
_LAYERS["better_rnnlm"] = (("lstm1", "1"), ("lstm2", "2"))


def to_module(model: str, weights: dict, dtype: str, device) -> dict:
    """The pytree of `model` on `device` holding the book's `weights` (checked, in
    `dtype`). Kernels keep the book's (in, out) layout; an LSTM's gate blocks f, g, i, o
    are reordered to i, f, g, o. Nothing is transposed; one bias, as the book's."""
    prefix = "rnn_" if model == "simple_rnnlm" else "lstm_"

    def put(a: np.ndarray) -> jax.Array:
        return jax.device_put(np.asarray(a, dtype=_JAX_DTYPES[dtype]), device)

    params = {"embed": put(weights["embed_W"])}
    for layer, k in _LAYERS[model]:
        p = {n: weights[f"{prefix}{n}{k}"] for n in ("Wx", "Wh", "b")}
        if model != "simple_rnnlm":
            p = {n: rw.book_to_framework_gates(w) for n, w in p.items()}  # f,g,i,o -> i,f,g,o
        params[layer] = {n: put(w) for n, w in p.items()}
    if model == "better_rnnlm":
        params["affine_b"] = put(weights["affine_b"])
    else:
        params["affine"] = {"W": put(weights["affine_W"]), "b": put(weights["affine_b"])}
    got = {str(v.dtype) for v in jax.tree.leaves(params)}
    if got != {dtype}:  # e.g. float64 asked for while x64 is off
        raise ValueError(f"jax would compute in {', '.join(sorted(got))}, not {dtype}")
    return params


def book_view(model: str, params: dict) -> dict:
    """The book's weights as JAX arrays: the gates reordered i, f, g, o -> f, g, i, o;
    the tied weight once, as embed_W."""
    prefix = "rnn_" if model == "simple_rnnlm" else "lstm_"
    out = {"embed_W": params["embed"]}
    for layer, k in _LAYERS[model]:
        for n, w in params[layer].items():
            out[f"{prefix}{n}{k}"] = w if model == "simple_rnnlm" else rw.framework_to_book_gates(w)
    if model == "better_rnnlm":
        out["affine_b"] = params["affine_b"]
    else:
        out["affine_W"], out["affine_b"] = params["affine"]["W"], params["affine"]["b"]
    return {name: out[name] for name in rw.weight_names(model)}


def from_module(model: str, params: dict) -> dict[str, np.ndarray]:
    """The book's weights from the pytree, as NumPy copies (`book_view`)."""
    return {name: to_numpy(w) for name, w in book_view(model, params).items()}


# --------------------------------------------------------------------------- one training step


def loss_fn(scores: jax.Array, ts: jax.Array) -> jax.Array:
    """TimeSoftmaxWithLoss: the mean cross-entropy over all N*T positions."""
    return optax.softmax_cross_entropy_with_integer_labels(scores, ts).mean()


class Carry(NamedTuple):
    """What one step hands the next: the weights, the optimizer's state, the recurrent
    state (h, or (h, c), or one per LSTM)."""

    params: dict
    opt_state: optax.OptState
    state: object


def make_train_step(model: str, tx: optax.GradientTransformation):
    """value_and_grad of one block from the carried state, update, apply_updates: the
    book's RnnlmTrainer step as a pure function (carry, xs, ts, masks) -> (carry, loss).
    The new recurrent state leaves as the loss's auxiliary output, a value: the next
    block's gradient stops at it."""
    forward = FORWARD[model]

    def block_loss(params, state, xs, ts, masks):
        scores, state = forward(params, xs, state, masks)
        return loss_fn(scores, ts), state

    grad = jax.value_and_grad(block_loss, has_aux=True)

    def train_step(carry: Carry, xs, ts, masks=None):
        (loss, state), grads = grad(carry.params, carry.state, xs, ts, masks)
        updates, opt_state = tx.update(grads, carry.opt_state, carry.params)
        return Carry(optax.apply_updates(carry.params, updates), opt_state, state), loss

    return train_step


def optimizer_for(spec: OptimizerSpec, max_grad: float | None) -> optax.GradientTransformation:
    """The chapter-1 adapter's optax chain (book math, the book's clip first)."""
    return make_optimizer(spec, max_grad)


def initial_state(model: str, params: dict, batch: int):
    """Nothing carried yet: zeros (N, H), as the book's layers start when h is None."""
    layers = [params[layer] for layer, _ in _LAYERS[model]]
    zeros = jnp.zeros((batch, layers[0]["Wh"].shape[0]), layers[0]["Wh"].dtype)  # (N, H)
    if model == "simple_rnnlm":
        return zeros
    state = tuple((zeros, zeros) for _ in layers)  # (h, c) per LSTM
    return state[0] if model == "rnnlm" else state
