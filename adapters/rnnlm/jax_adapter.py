"""The language models of chapters 5-6 in JAX: a parameter pytree, a cell function run
over time by `lax.scan`, optax's cross-entropy, `jax.value_and_grad` and optax.

Mirrors adapters/rnnlm/numpy_adapter.py and torch_adapter.py definition by definition.
Where a port from the book goes wrong, and what this file does about it:

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

Modes: "scan", the whole run one `lax.scan` over the steps (the recurrent state in its
carry beside the weights and the optimizer's state); "step", a jitted step called from a
Python loop, the state handed from call to call.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from typing import NamedTuple

import numpy as np

from adapters.contract import Training
from adapters.jax_adapter import (
    _JAX_DTYPES,
    jax,
    jax_device,
    jnp,
    optax,
    scan_in_chunks,
    to_numpy,
)
from adapters.jax_adapter import make_optimizer as chapter1_optimizer
from adapters.optimizer_spec import OptimizerSpec
from adapters.precision import pinned_precision
from adapters.rnnlm.contract import (
    Block,
    RnnNet,
    TrainInputs,
    book_to_framework_gates,
    framework_to_book_gates,
    model_nets,
    weight_names,
)
from adapters.trajectory import Trajectory

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
    """`cell` over the T steps of xs (T, N, D) with `lax.scan`: hs (T, N, H), last carry.

    Time-major, as `lax.scan` runs over the leading axis: the models gather the
    embeddings of xs.T, so no activation is transposed on the way. Unrolled: T is fixed
    by the block, and XLA compiles T cells in a row instead of a loop running one at a
    time (on the default run's step, 0.28 -> 0.23 ms of CPU).
    """

    def step(carry, x):
        carry = cell(p, carry, x)
        return carry, carry[0] if isinstance(carry, tuple) else carry

    return jax.lax.scan(step, carry, xs, unroll=True)[::-1]  # (hs, carry)


def simple_rnnlm(params: dict, xs: jax.Array, state, masks=None):
    """Embedding -> RNN -> Affine: time-major scores (T, N, V) of the ids xs (N, T), and
    h (N, H) to carry."""
    hs, state = over_time(rnn_cell, params["rnn"], params["embed"][xs.T], state)  # (T, N, D)
    return hs @ params["affine"]["W"] + params["affine"]["b"], state


def rnnlm(params: dict, xs: jax.Array, state, masks=None):
    """Embedding -> LSTM -> Affine: time-major scores (T, N, V) and (h, c) to carry."""
    hs, state = over_time(lstm_cell, params["lstm"], params["embed"][xs.T], state)
    return hs @ params["affine"]["W"] + params["affine"]["b"], state


def better_rnnlm(params: dict, xs: jax.Array, state, masks=None):
    """Embedding -> Dropout -> LSTM -> Dropout -> LSTM -> Dropout -> Affine (tied):
    time-major scores (T, N, V) and both LSTMs' (h, c). `masks`: the reference's three
    (N, T, H), each applied time-major."""

    def drop(x, k):  # x (T, N, H)
        return x if masks is None else x * jnp.swapaxes(masks[k], 0, 1)

    h1, s1 = over_time(lstm_cell, params["lstm1"], drop(params["embed"][xs.T], 0), state[0])
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
            p = {n: book_to_framework_gates(w) for n, w in p.items()}  # f,g,i,o -> i,f,g,o
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
    """The book's weights from the pytree (JAX or NumPy arrays, with any leading axes, as
    stacked records): the gates reordered i, f, g, o -> f, g, i, o; the tied weight once,
    as embed_W."""
    prefix = "rnn_" if model == "simple_rnnlm" else "lstm_"
    out = {"embed_W": params["embed"]}
    for layer, k in _LAYERS[model]:
        for n, w in params[layer].items():
            out[f"{prefix}{n}{k}"] = w if model == "simple_rnnlm" else framework_to_book_gates(w)
    if model == "better_rnnlm":
        out["affine_b"] = params["affine_b"]
    else:
        out["affine_W"], out["affine_b"] = params["affine"]["W"], params["affine"]["b"]
    return {name: out[name] for name in weight_names(model)}


def from_module(model: str, params: dict) -> dict[str, np.ndarray]:
    """The book's weights from the pytree, as NumPy copies (`book_view`)."""
    return {name: to_numpy(w) for name, w in book_view(model, params).items()}


# --------------------------------------------------------------------------- optimizers


def make_optimizer(spec: OptimizerSpec, max_grad: float | None) -> optax.GradientTransformation:
    """Chapter 1's (adapters/jax_adapter.py: optax where it is the book's math, its
    book_adam, book_nesterov and book_adagrad where not), the book's clip_grads first."""
    return chapter1_optimizer(spec, max_grad)


# --------------------------------------------------------------------------- one training step


def loss_fn(scores: jax.Array, ts: jax.Array) -> jax.Array:
    """TimeSoftmaxWithLoss: the mean cross-entropy over all N*T positions (scores and
    labels in the same layout: here time-major, (T, N, V) and ts.T)."""
    return optax.softmax_cross_entropy_with_integer_labels(scores, ts).mean()


def initial_state(model: str, params: dict, batch: int):
    """Nothing carried yet: zeros (N, H), as the book's layers start when h is None."""
    layers = [params[layer] for layer, _ in _LAYERS[model]]
    zeros = jnp.zeros((batch, layers[0]["Wh"].shape[0]), layers[0]["Wh"].dtype)  # (N, H)
    if model == "simple_rnnlm":
        return zeros
    state = tuple((zeros, zeros) for _ in layers)  # (h, c) per LSTM
    return state[0] if model == "rnnlm" else state


class Carry(NamedTuple):
    """What one step hands the next: the weights, the optimizer's state, the recurrent
    state (h, or (h, c), or one (h, c) per LSTM)."""

    params: dict
    opt_state: optax.OptState
    state: object


def block_loss(model: str):
    """loss(params, state, xs, ts, masks) -> (loss, new state) of one block."""
    forward = FORWARD[model]

    def loss(params, state, xs, ts, masks):
        scores, state = forward(params, xs, state, masks)  # (T, N, V)
        return loss_fn(scores, ts.T), state

    return loss


def make_train_step(model: str, tx: optax.GradientTransformation):
    """value_and_grad of one block from the carried state, update, apply_updates: the
    book's RnnlmTrainer step as a pure function (carry, xs, ts, masks) -> (carry, loss).
    The new recurrent state leaves as the loss's auxiliary output, a value: the next
    block's gradient stops at it."""
    grad = jax.value_and_grad(block_loss(model), has_aux=True)

    def train_step(carry: Carry, xs, ts, masks=None):
        (loss, state), grads = grad(carry.params, carry.state, xs, ts, masks)
        updates, opt_state = tx.update(grads, carry.opt_state, carry.params)
        return Carry(optax.apply_updates(carry.params, updates), opt_state, state), loss

    return train_step


@functools.lru_cache(maxsize=16)  # an lr sweep keeps at most 16 compiled runs
def compiled_run(
    model: str, spec: OptimizerSpec, max_grad: float | None, mode: str, record_every: int,
    dtype: str,
):  # fmt: skip
    """The jitted training functions for these settings, built once ("dtype" keeps runs
    with x64 on and off apart).

    "scan": run(params, state, xs, ts, schedule, masks) -> (losses, records, params): the
    steps in chunks of `record_every` (the pytree recorded after each, in JAX's layout),
    then the rest.
    "step": (init, step), a jitted step that picks block i on the device.
    """
    tx = make_optimizer(spec, max_grad)
    train_step = make_train_step(model, tx)

    def one(carry, rows, masks, xs, ts):
        return train_step(carry, xs[rows], ts[rows], masks)

    if mode == "step":

        def step(carry, i, xs, ts, schedule, masks):
            return one(carry, schedule[i], None if masks is None else masks[i], xs, ts)

        return jax.jit(tx.init), jax.jit(step)

    def run(params, state, xs, ts, schedule, masks):
        def body(carry, step_xs):
            rows, step_masks = step_xs
            return one(carry, rows, step_masks, xs, ts)

        carry, losses, records = scan_in_chunks(
            body, Carry(params, tx.init(params), state),
            (schedule, masks),  # masks None: no leaves, nothing scanned
            record_every,
            lambda carry: carry.params,  # JAX's layout: mapped once, at the end
        )  # fmt: skip
        return losses, records, carry.params

    return jax.jit(run)


# --------------------------------------------------------------------------- the Net

_LOCK = threading.Lock()  # compiled_run's cache is filled by one thread at a time


class Net(RnnNet):
    """The JAX language models behind the contract. `.module` is the parameter pytree."""

    framework = "jax"
    DTYPES = ("float64", "float32")
    DEVICES = ("cpu", "cuda")
    MODES = ("scan", "step")

    @staticmethod
    def device_available(device: str) -> bool:
        return jax_device(device) is not None

    def _load(self, weights: dict) -> None:
        self._device = jax_device(self.device)
        with pinned_precision("jax", self.dtype):
            self.module = to_module(self.model, weights, self.dtype, self._device)

    def _weights(self) -> dict:
        return from_module(self.model, self.module)

    def _array(self, a: np.ndarray | None) -> jax.Array | None:
        """`a` on the net's device: ids as int32 (whatever the x64 switch, as chapter 1's
        adapter does; ids are < V), masks in the net's dtype; None stays None."""
        if a is None:
            return None
        a = (
            np.asarray(a, dtype=_JAX_DTYPES[self.dtype])
            if a.dtype.kind == "f"
            else a.astype(np.int32)
        )
        return jax.device_put(a, self._device)

    def _predict(self, xs: np.ndarray) -> np.ndarray:
        with pinned_precision("jax", self.dtype):
            state = initial_state(self.model, self.module, xs.shape[0])
            scores, _ = jax.jit(FORWARD[self.model])(self.module, self._array(xs), state)
            return to_numpy(scores).swapaxes(0, 1)  # (T, N, V) -> (N, T, V)

    def _block_args(self, block: Block):
        state = initial_state(self.model, self.module, block.xs.shape[0])
        return state, self._array(block.xs), self._array(block.ts), self._array(block.masks)

    def _loss(self, block: Block) -> float:
        with pinned_precision("jax", self.dtype):
            loss, _ = jax.jit(block_loss(self.model))(self.module, *self._block_args(block))
            return float(loss)

    def _gradients(self, block: Block) -> dict:
        with pinned_precision("jax", self.dtype):
            grad = jax.jit(jax.grad(block_loss(self.model), has_aux=True))
            grads, _ = grad(self.module, *self._block_args(block))
            return from_module(self.model, grads)

    def _run(self, inputs: TrainInputs) -> Trajectory:
        """ "step" through the Recorder (adapters/model_base.py); "scan" as one program."""
        if inputs.mode == "step":
            return super()._run(inputs)
        with pinned_precision("jax", self.dtype), _LOCK:
            run = compiled_run(self.model, inputs.optimizer, inputs.max_grad, "scan",
                               min(inputs.record_every, inputs.steps), self.dtype)  # fmt: skip
        return self._scan(inputs, run)

    def _data(self, inputs: TrainInputs):
        arrays = (inputs.xs, inputs.ts, inputs.schedule, inputs.masks)
        return tuple(self._array(a) for a in arrays)

    def _scan(self, inputs: TrainInputs, run) -> Trajectory:
        """The whole run as one XLA program, recorded where the Recorder records: before
        the first step, after every `record_every` steps, and after the last."""
        record_every = min(inputs.record_every, inputs.steps)
        start = time.perf_counter()
        with pinned_precision("jax", self.dtype):
            state = initial_state(self.model, self.module, inputs.schedule.shape[1])
            losses, head, params = run(self.module, state, *self._data(inputs))
            records = [jax.tree.map(lambda a: a[None], self.module), head]  # (1 + n, ...)
            if inputs.steps % record_every:  # the last step is off the grid
                records.append(jax.tree.map(lambda a: a[None], params))
            stacked = jax.tree.map(lambda *r: np.concatenate([to_numpy(a) for a in r]), *records)
            weights = book_view(self.model, stacked)  # the gates reordered, once, in NumPy
            self.module = params
            losses = np.asarray(losses)
        seconds = time.perf_counter() - start
        return self._finish(
            losses, weights, None, record_every, inputs.mode, inputs.optimizer, seconds
        )

    @contextlib.contextmanager
    def _training(self, inputs: TrainInputs):
        """ "step" mode: a jitted step per block, called from the Recorder's loop."""
        with pinned_precision("jax", self.dtype):
            with _LOCK:
                init, jitted = compiled_run(
                    self.model, inputs.optimizer, inputs.max_grad, "step", 1, self.dtype
                )
            data = self._data(inputs)
            state = initial_state(self.model, self.module, inputs.schedule.shape[1])
            carried = {"carry": Carry(self.module, init(self.module), state)}

            def step(i: int) -> jax.Array:
                carried["carry"], loss = jitted(carried["carry"], i, *data)
                return loss

            to_book = jax.jit(functools.partial(book_view, self.model))  # one dispatch

            def weights() -> dict:
                return to_book(carried["carry"].params)

            yield Training(step, weights, lambda: None)
            self.module = carried["carry"].params


NETS = model_nets(Net)
__all__ = ["NETS", "Net"]
