"""The word2vec models in JAX: pure loss functions of a parameter pytree, a one-hot row
times a matrix where the book multiplies (chapter 3), indexing `W[ids]` where it picks
rows (chapter 4), optax's losses, `jax.value_and_grad` and optax for the updates.

Mirrors adapters/word2vec/numpy_adapter.py and torch_adapter.py definition by definition.
Layout: the pytree holds W_in and W_out as the book does, so nothing is transposed.
`jax.grad` of `W[ids]` adds the gradients of repeated ids (the transpose of a gather is
a scatter-add), as the book's `np.add.at` does; a weight read by several layers is one
leaf, so its gradients are summed, as remove_duplicate does.

Modes: "scan", the whole run one `lax.scan` (one XLA program); "step", a jitted step
called from a Python loop that picks its batch on the device.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time

import numpy as np

from adapters.contract import Training
from adapters.jax_adapter import _JAX_DTYPES, jax_device, scan_in_chunks, to_numpy
from adapters.jax_adapter import make_optimizer as chapter1_optimizer
from adapters.optimizer_spec import OptimizerSpec
from adapters.precision import pinned_precision
from adapters.trajectory import Trajectory
from adapters.word2vec.contract import WEIGHT_NAMES, Batch, TrainInputs, WordNet, model_nets

_numpy_rng_state = np.random.get_state()  # noqa: NPY002
try:  # importing jax draws from NumPy's global generator: put it back as it was
    import jax
    import jax.numpy as jnp
    import optax
finally:
    np.random.set_state(_numpy_rng_state)  # noqa: NPY002
    del _numpy_rng_state

# --------------------------------------------------------------------------- the models
# A dict pytree {"W_in": (V, H), "W_out": (H, V) or (V, H)} and pure loss functions.


def simple_cbow(params: dict, contexts: jax.Array, target: jax.Array) -> jax.Array:
    """ch03/simple_cbow.py: contexts one-hot (N, 2, V), target ids (N,). `one_hot @ W_in`
    is the word's row of W_in (W_in[ids], chapter 4's Embedding)."""
    W_in = params["W_in"]
    h = (contexts[:, 0] @ W_in + contexts[:, 1] @ W_in) * 0.5  # (N, V) @ (V, H) -> (N, H)
    scores = h @ params["W_out"]  # (N, H) @ (H, V) -> (N, V)
    return optax.softmax_cross_entropy_with_integer_labels(scores, target).mean()


def simple_skip_gram(params: dict, contexts: jax.Array, target: jax.Array) -> jax.Array:
    """ch03/simple_skip_gram.py: contexts ids (N, 2), target one-hot (N, V)."""
    s = target @ params["W_in"] @ params["W_out"]  # (N, V) -> (N, H) -> (N, V)
    ce = optax.softmax_cross_entropy_with_integer_labels
    return ce(s, contexts[:, 0]).mean() + ce(s, contexts[:, 1]).mean()


def negative_sampling_loss(
    W_out: jax.Array, h: jax.Array, positive: jax.Array, negatives: jax.Array
) -> jax.Array:
    """ch04/negative_sampling_layer.py's NegativeSamplingLoss, summed over every loss:
    `positive` (N, ...) scored 1, `negatives` (N, ..., S) scored 0, each score the dot
    product of h (N, H) with the word's row of W_out; the book's sum of one mean per
    (word, label) column is the sum of all of them over N."""
    ids = jnp.concatenate([positive[..., None], negatives], axis=-1)  # (N, ..., 1 + S)
    rows = jnp.take(W_out, ids, axis=0)  # (N, ..., 1 + S, H), W_out[ids]
    h = h.reshape(h.shape[0], *(1,) * (ids.ndim - 1), h.shape[1])  # (N, 1, ..., 1, H)
    scores = (rows * h).sum(axis=-1)  # (N, ..., 1 + S)
    labels = jnp.zeros_like(scores).at[..., 0].set(1)  # the positive word first
    return optax.sigmoid_binary_cross_entropy(scores, labels).sum() / h.shape[0]


def cbow(params: dict, contexts, target, negatives) -> jax.Array:
    """ch04/cbow.py: contexts (N, 2 window), target (N,), negatives (N, 5) word ids."""
    h = params["W_in"][contexts].mean(axis=1)  # (N, 2 window, H) -> (N, H)
    return negative_sampling_loss(params["W_out"], h, target, negatives)


def skip_gram(params: dict, contexts, target, negatives) -> jax.Array:
    """ch04/skip_gram.py: contexts (N, 2 window), target (N,), negatives (N, 2 window, 5)."""
    h = params["W_in"][target]  # (N, H)
    return negative_sampling_loss(params["W_out"], h, contexts, negatives)


LOSSES = {
    "simple_cbow": simple_cbow,
    "simple_skip_gram": simple_skip_gram,
    "cbow": cbow,
    "skip_gram": skip_gram,
}
_loss = {model: jax.jit(f) for model, f in LOSSES.items()}
_grad = {model: jax.jit(jax.grad(f)) for model, f in LOSSES.items()}


def model_inputs(model: str, batch: Batch, to_array) -> tuple[jax.Array, ...]:
    """The batch as the loss reads it: chapter 3's one-hot rows that multiply as floats
    and those that are labels as ids; chapter 4's ids as they are."""
    if model == "simple_cbow":
        return to_array(batch.contexts, floats=True), to_array(batch.target.argmax(axis=1))
    if model == "simple_skip_gram":
        return to_array(batch.contexts.argmax(axis=2)), to_array(batch.target, floats=True)
    return to_array(batch.contexts), to_array(batch.target), to_array(batch.negatives)


# --------------------------------------------------------------------------- weights in and out


def to_module(weights: dict, dtype: str, device) -> dict:
    """The parameter pytree on `device`; the book's layout is JAX's, so no transpose."""
    params = {
        k: jax.device_put(np.asarray(weights[k], dtype=_JAX_DTYPES[dtype]), device)
        for k in WEIGHT_NAMES
    }
    got = {str(v.dtype) for v in params.values()}
    if got != {dtype}:  # float64 asked for while x64 could not be enabled
        raise ValueError(
            f"jax would compute in {', '.join(sorted(got))}, not the requested {dtype}"
        )
    return params


def from_module(params: dict) -> dict[str, np.ndarray]:
    return {k: to_numpy(params[k]) for k in WEIGHT_NAMES}


# --------------------------------------------------------------------------- optimizers


def make_optimizer(spec: OptimizerSpec, max_grad: float | None) -> optax.GradientTransformation:
    """Chapter 1's: optax where it is the book's math, its book_adam, book_nesterov and
    book_adagrad where it is not, the book's clip_grads first (adapters/jax_adapter.py)."""
    return chapter1_optimizer(spec, max_grad)


# --------------------------------------------------------------------------- one training step


def make_train_step(model: str, tx: optax.GradientTransformation):
    """value_and_grad, update, apply_updates on one batch: the book's Trainer step, with
    the summed gradients of jax.grad in place of remove_duplicate."""
    value_and_grad = jax.value_and_grad(LOSSES[model])

    def train_step(carry, batch):
        params, opt_state = carry
        loss, grads = value_and_grad(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    return train_step


@functools.lru_cache(maxsize=16)  # an lr sweep keeps at most 16 compiled runs
def compiled_run(
    model: str, spec: OptimizerSpec, max_grad: float | None, mode: str, record_every: int,
    dtype: str,
):  # fmt: skip
    """The jitted training functions for these settings, built once ("dtype" keeps runs
    with x64 on and off apart).

    "scan": run(params, data, schedule, negatives) -> (losses, records, params): the
    steps in chunks of `record_every` (weights recorded after each), then the rest.
    "step": (init, step), a jitted step that picks batch i on the device.
    """
    tx = make_optimizer(spec, max_grad)
    train_step = make_train_step(model, tx)

    def one(carry, i_rows_samples, data):
        rows, samples = i_rows_samples
        batch = (data[0][rows], data[1][rows], *samples)
        return train_step(carry, batch)

    if mode == "step":

        def step(carry, i, data, schedule, negatives):
            return one(carry, (schedule[i], tuple(n[i] for n in negatives)), data)

        return jax.jit(tx.init), jax.jit(step)

    def run(params, data, schedule, negatives):
        def body(carry, xs):
            return one(carry, xs, data)

        carry, losses, records = scan_in_chunks(
            body, (params, tx.init(params)), (schedule, negatives), record_every,
            lambda carry: carry[0],
        )  # fmt: skip
        return losses, records, carry[0]

    return jax.jit(run)


# --------------------------------------------------------------------------- the Net

_LOCK = threading.Lock()  # compiled_run's cache is filled by one thread at a time


class Net(WordNet):
    """The JAX word2vec models behind the contract. `.module` is the parameter pytree."""

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
            self.module = to_module(weights, self.dtype, self._device)

    def _weights(self) -> dict:
        return from_module(self.module)

    def _array(self, a: np.ndarray, *, floats: bool = False) -> jax.Array:
        """`a` on the net's device: one-hot rows to multiply in the dtype, ids as int32
        (whatever the x64 switch, as chapter 1's adapter does; ids are < V)."""
        a = np.asarray(a, dtype=_JAX_DTYPES[self.dtype]) if floats else a.astype(np.int32)
        return jax.device_put(a, self._device)

    def _loss(self, batch: Batch) -> float:
        with pinned_precision("jax", self.dtype):
            inputs = model_inputs(self.model, batch, self._array)
            return float(_loss[self.model](self.module, *inputs))

    def _gradients(self, batch: Batch) -> dict:
        with pinned_precision("jax", self.dtype):
            inputs = model_inputs(self.model, batch, self._array)
            return from_module(_grad[self.model](self.module, *inputs))

    def _run(self, inputs: TrainInputs) -> Trajectory:
        """ "step" through the Recorder (adapters/model_base.py); "scan" as one program."""
        if inputs.mode == "step":
            return super()._run(inputs)
        with pinned_precision("jax", self.dtype), _LOCK:
            run = compiled_run(self.model, inputs.optimizer, inputs.max_grad, "scan",
                               min(inputs.record_every, inputs.steps), self.dtype)  # fmt: skip
        return self._scan(inputs, run)

    def _data(self, inputs: TrainInputs):
        every = Batch(inputs.contexts, inputs.target, inputs.negatives)
        contexts, target, *negatives = model_inputs(self.model, every, self._array)
        return (contexts, target), self._array(inputs.schedule), tuple(negatives)

    def _scan(self, inputs: TrainInputs, run) -> Trajectory:
        """The whole run as one XLA program, recorded where the Recorder records: before
        the first step, after every `record_every` steps, and after the last."""
        record_every = min(inputs.record_every, inputs.steps)
        start = time.perf_counter()
        with pinned_precision("jax", self.dtype):
            data, schedule, negatives = self._data(inputs)
            losses, head, last = run(self.module, data, schedule, negatives)
            records = [{k: v[None] for k, v in self.module.items()}, head]  # (1 + n, ...)
            if inputs.steps % record_every:  # the last step is off the grid
                records.append({k: v[None] for k, v in last.items()})
            weights = {k: np.concatenate([to_numpy(r[k]) for r in records]) for k in WEIGHT_NAMES}
            self.module = last
            losses = np.asarray(losses)
        seconds = time.perf_counter() - start
        return self._finish(
            losses, weights, None, record_every, inputs.mode, inputs.optimizer, seconds
        )

    @contextlib.contextmanager
    def _training(self, inputs: TrainInputs):
        """ "step" mode: a jitted step per batch, called from the Recorder's loop."""
        with pinned_precision("jax", self.dtype):
            with _LOCK:
                init, jitted = compiled_run(
                    self.model, inputs.optimizer, inputs.max_grad, "step", 1, self.dtype
                )
            data, schedule, negatives = self._data(inputs)
            state = {"carry": (self.module, init(self.module))}

            def step(i: int) -> jax.Array:
                state["carry"], loss = jitted(state["carry"], i, data, schedule, negatives)
                return loss

            def weights() -> dict:
                return state["carry"][0]

            yield Training(step, weights, lambda: None)
            self.module = state["carry"][0]


NETS = model_nets(Net)
__all__ = ["NETS", "Net"]
