"""The TwoLayerNet in JAX: a parameter pytree, pure `predict`/`loss` functions,
`jax.nn.sigmoid`, optax's cross-entropy, `jax.value_and_grad` and optax for the updates.

Mirrors adapters/numpy_adapter.py and adapters/torch_adapter.py definition by definition.
Layout: the pytree holds W as (in, out), like the book (and like flax's Dense kernel),
so nothing is transposed here.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from adapters import checks, data_parallel
from adapters.contract import NetBase, TrainInputs
from adapters.optimizer_spec import OptimizerSpec
from adapters.precision import pinned_precision
from scratch.optimizers import BOOK_EPS
from scratch.trainer import CLIP_EPS
from scratch.two_layer_net import WEIGHT_NAMES, Weights

_numpy_rng_state = np.random.get_state()  # noqa: NPY002
try:  # importing jax draws from NumPy's global generator: put it back as it was
    import jax
    import jax.numpy as jnp
    import optax
finally:
    np.random.set_state(_numpy_rng_state)  # noqa: NPY002
    del _numpy_rng_state

_JAX_DTYPES = {
    "float64": jnp.float64,
    "float32": jnp.float32,
    "float16": jnp.float16,
    "bfloat16": jnp.bfloat16,  # ml_dtypes' bfloat16, which NumPy arrays can hold
}


def to_numpy(a: jax.Array) -> np.ndarray:
    """A NumPy copy of `a`; bfloat16 comes out as float32 holding exactly the same values,
    as every adapter returns it."""
    out = np.array(a)
    return out.astype(np.float32) if out.dtype == jnp.bfloat16 else out


def jax_device(device: str):
    """The jax.Device for "cpu" / "cuda" / "cuda:N", or None when there is none."""
    parsed = checks.parse_device(device, Net.DEVICES)
    if parsed is None:
        return None
    kind, i = parsed
    try:
        found = jax.devices("cpu" if kind == "cpu" else "gpu")
    except RuntimeError:
        return None
    return found[i] if i < len(found) else None


# --------------------------------------------------------------------------- the model
# A dict pytree {"W1": (I, H), "b1": (H,), "W2": (H, O), "b2": (O,)} and pure functions.


def predict(params: dict, x: jax.Array) -> jax.Array:
    """Affine -> Sigmoid -> Affine: the scores (N, O)."""
    z = jax.nn.sigmoid(x @ params["W1"] + params["b1"])  # (N, I) @ (I, H) -> (N, H)
    return z @ params["W2"] + params["b2"]  # (N, H) @ (H, O) -> (N, O)


def loss_fn(params: dict, x: jax.Array, t: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy over index labels (no epsilon, unlike the book's)."""
    return optax.softmax_cross_entropy_with_integer_labels(predict(params, x), t).mean()


def activations(params: dict, x: jax.Array) -> dict:
    a1 = x @ params["W1"] + params["b1"]  # (N, H)
    z = jax.nn.sigmoid(a1)  # (N, H)
    a2 = z @ params["W2"] + params["b2"]  # (N, O)
    return {"affine1": a1, "sigmoid": z, "affine2": a2, "softmax": jax.nn.softmax(a2, axis=1)}


_predict = jax.jit(predict)
_loss = jax.jit(loss_fn)
_grad = jax.jit(jax.grad(loss_fn))
_activations = jax.jit(activations)


# --------------------------------------------------------------------------- weights in and out


def to_module(weights: Weights, dtype: str, device) -> dict:
    """The parameter pytree on `device`; the book's layout is JAX's, so no transpose."""
    jdtype = _JAX_DTYPES[dtype]  # bfloat16 arrives as float32 holding bfloat16 values: exact
    params = {k: jax.device_put(np.asarray(weights[k], dtype=jdtype), device) for k in WEIGHT_NAMES}
    got = {str(v.dtype) for v in params.values()}
    if got != {dtype}:  # e.g. float64 asked for while x64 could not be enabled
        raise ValueError(
            f"jax would compute in {', '.join(sorted(got))}, not the requested {dtype}"
        )
    return params


def from_module(params: dict) -> Weights:
    return {k: to_numpy(params[k]) for k in WEIGHT_NAMES}


# --------------------------------------------------------------------------- optimizers


class VelocityState(NamedTuple):
    v: dict


class AccumulatorState(NamedTuple):
    h: dict


class BookAdamState(NamedTuple):
    k: jax.Array
    m: dict
    v: dict


def book_nesterov(lr: float, momentum: float) -> optax.GradientTransformation:
    """The book's Nesterov (common/optimizer.py, after arXiv:1212.0901):

        v <- momentum * v - lr * dW
        W <- W + momentum**2 * v - (1 + momentum) * lr * dW

    `optax.sgd(nesterov=True)` differs: with t <- dW + momentum * t it steps
    W <- W - lr * (dW + momentum * t). Written with the book's v = -lr * t, that is
    W <- W + momentum**2 * v_old - (1 + momentum) * lr * dW: the book's form with the
    velocity from *before* this step's update where the book takes the one after it. At
    lr 0.1, momentum 0.9, dW 1 its first step is -0.19 and the book's -0.271, a gap of
    momentum**2 * lr * dW; under a constant gradient optax's step k + 1 is the book's step k.
    """

    def init(params):
        return VelocityState(v=jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        v = jax.tree.map(lambda v, g: v * momentum - lr * g, state.v, grads)
        step = jax.tree.map(
            lambda v, g: momentum * momentum * v - (1 + momentum) * lr * g, v, grads
        )
        return step, VelocityState(v=v)

    return optax.GradientTransformation(init, update)


def book_adagrad(lr: float) -> optax.GradientTransformation:
    """The book's AdaGrad: h <- h + dW * dW;  W <- W - lr * dW / (sqrt(h) + 1e-7).

    `optax.adagrad` differs twice: its accumulator starts at 0.1, not 0, and its eps
    sits inside the square root, dW / sqrt(h + eps).
    """

    def init(params):
        return AccumulatorState(h=jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        h = jax.tree.map(lambda h, g: h + g * g, state.h, grads)
        step = jax.tree.map(lambda h, g: -(lr * g / (jnp.sqrt(h) + BOOK_EPS)), h, grads)
        return step, AccumulatorState(h=h)

    return optax.GradientTransformation(init, update)


def book_adam(lr: float, beta1: float, beta2: float) -> optax.GradientTransformation:
    """The book's Adam, with the bias corrections folded into the step size:

        lr_t = lr * sqrt(1 - beta2**k) / (1 - beta1**k)
        W <- W - lr_t * m / (sqrt(v) + 1e-7)

    `optax.adam` divides by sqrt(v / (1 - beta2**k)) + eps instead: its eps sits after
    the bias correction, so it equals the book's only with eps = 1e-7 / sqrt(1 - beta2**k),
    which changes every step.
    """

    def one_minus_power(beta: float, kf: jax.Array) -> jax.Array:
        # 1 - beta**k as -expm1(k log beta), the log taken in double precision: in
        # float32, beta2 = 0.999 itself is off by 1.3e-8 (beta2**k then drifts by k times
        # that), and 1 - beta**k is 0 for a beta within 3e-8 of 1, where expm1 keeps it.
        # beta = 0 (or -0.0) has no log: 1 - beta**k is 1 for every step k >= 1.
        return -jnp.expm1(kf * math.log(beta)) if beta > 0 else jnp.ones_like(kf)

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return BookAdamState(k=jnp.zeros([], jnp.int32), m=zeros, v=zeros)

    def update(grads, state, params=None):
        k = state.k + 1
        dtype = jax.tree.leaves(grads)[0].dtype
        # the step count and lr_t in at least float32: float16 holds whole numbers only up
        # to 2048, bfloat16 up to 256 (torch and the reference use a Python float)
        kf = k.astype(jnp.promote_types(dtype, jnp.float32))
        lr_t = lr * jnp.sqrt(one_minus_power(beta2, kf)) / one_minus_power(beta1, kf)
        m = jax.tree.map(lambda m, g: m + (1 - beta1) * (g - m), state.m, grads)
        v = jax.tree.map(lambda v, g: v + (1 - beta2) * (g * g - v), state.v, grads)
        step = jax.tree.map(lambda m, v: -(lr_t * m / (jnp.sqrt(v) + BOOK_EPS)).astype(dtype), m, v)
        return step, BookAdamState(k=k, m=m, v=v)

    return optax.GradientTransformation(init, update)


def book_clip(max_norm: float) -> optax.GradientTransformation:
    """The book's clip_grads: scale by max_norm / (norm + 1e-6) when that is below 1.

    `optax.clip_by_global_norm` scales by max_norm / norm (no 1e-6), a slightly
    different factor; the stock flavor uses it.
    """

    def update(grads, state, params=None):
        norm = jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree.leaves(grads)))
        rate = max_norm / (norm + CLIP_EPS)
        scale = jnp.where(rate < 1, rate, 1.0)
        return jax.tree.map(lambda g: g * scale, grads), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def make_optimizer(spec: OptimizerSpec, max_grad: float | None) -> optax.GradientTransformation:
    """optax with the book's settings ("book") or optax's own defaults ("stock").

    Stock optax is the book's math for SGD, Momentum (optax's trace is -v / lr) and
    RMSprop (decay=decay_rate, eps=1e-7, eps_in_sqrt=False); the book's Nesterov,
    AdaGrad and Adam need the small transformations above. Clipping comes first.
    """
    h = spec.hyper
    lr = h["lr"]
    book = spec.flavor == "book"
    if spec.name == "sgd":
        tx = optax.sgd(lr)
    elif spec.name == "momentum":
        tx = optax.sgd(lr, momentum=h["momentum"])
    elif spec.name == "nesterov":
        tx = (
            book_nesterov(lr, h["momentum"])
            if book
            else optax.sgd(lr, h["momentum"], nesterov=True)
        )
    elif spec.name == "adagrad":
        tx = book_adagrad(lr) if book else optax.adagrad(lr)  # accumulator 0.1, eps in sqrt
    elif spec.name == "rmsprop":
        if book:
            tx = optax.rmsprop(lr, decay=h["decay_rate"], eps=BOOK_EPS, eps_in_sqrt=False)
        else:
            tx = optax.rmsprop(lr, decay=h["decay_rate"])  # eps=1e-8 inside the sqrt
    elif book:
        tx = book_adam(lr, h["beta1"], h["beta2"])
    else:
        tx = optax.adam(lr, b1=h["beta1"], b2=h["beta2"])  # eps=1e-8
    if max_grad is None:
        return tx
    return optax.chain(book_clip(max_grad) if book else optax.clip_by_global_norm(max_grad), tx)


# --------------------------------------------------------------------------- one training step


def make_train_step(tx: optax.GradientTransformation, value_and_grad=None):
    """value_and_grad, update, apply_updates: the book's Trainer step, as a pure function:
    `train_step(carry, xb, tb) -> (carry, (loss, grads))`, the gradients as
    value_and_grad made them (clipping, when asked, is the optimizer's first transform).

    `value_and_grad(params, xb, tb) -> (loss, grads)` defaults to `loss_fn`'s; a
    data-parallel worker passes one that all-reduces them (adapters/jax_sharding.py).
    """
    value_and_grad = value_and_grad or jax.value_and_grad(loss_fn)

    def train_step(carry, xb, tb):
        params, opt_state = carry
        loss, grads = value_and_grad(params, xb, tb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, grads)

    return train_step


MAX_RUNS = 16  # compiled runs kept; the least recently used goes first (an lr sweep)
_RUNS: OrderedDict = OrderedDict()  # (optimizer, max_grad, mode, record_every, dtype, grads) -> run
_RUNS_LOCK = threading.Lock()


def compiled_run(
    spec: OptimizerSpec,
    max_grad: float | None,
    mode: str,
    record_every: int,
    dtype: str,
    grads: bool = False,
):
    """The jitted training function for these settings, built once and kept (at most
    MAX_RUNS of them, so a sweep over learning rates does not grow without bound); one per
    dtype too, so runs with x64 on (float64) and off never share a jitted function.

    "scan": run(params, x, t, schedule) -> (losses (steps,), records, params), the whole
    run as one XLA program. "step": (start, step), a jitted step called from a Python
    loop; `start` makes the carry and the loss and weight buffers the steps write into.
    With `grads`, the records are (weights, gradients) and so is the final state.
    """
    key = (spec, max_grad, mode, record_every, dtype, grads)
    with _RUNS_LOCK:
        if key in _RUNS:
            _RUNS.move_to_end(key)
            return _RUNS[key]
    tx = make_optimizer(spec, max_grad)
    run = run_functions(make_train_step(tx), tx, mode, record_every, grads)
    if mode == "scan":
        run = jax.jit(run)
    else:
        start, step = run
        run = (jax.jit(start, static_argnums=(1, 2)), jax.jit(step, donate_argnums=(1, 2)))
    with _RUNS_LOCK:
        _RUNS[key] = run
        while len(_RUNS) > MAX_RUNS:
            _RUNS.popitem(last=False)
    return run


def run_functions(
    train_step, tx: optax.GradientTransformation, mode: str, record_every: int, grads: bool = False
):
    """The training run around `train_step`, as pure functions for `jax.jit` (and for
    `shard_map`, adapters/jax_sharding.py).

    "scan": run(params, x, t, schedule) -> (losses, records, params): an outer `lax.scan`
    over chunks of `record_every` steps (weights recorded after each), then a scan over
    the remaining steps. "step": (start, step) for a Python loop over the steps.
    With `grads`, each record is (weights, the gradients of the step just taken) and the
    final params are (params, the last step's gradients); the scan carries the last
    gradients along.
    """

    def scan_step(carry, rows, x, t):
        return train_step(carry, x[rows], t[rows])  # (carry, (loss, grads))

    if mode == "scan":

        def run(params, x, t, schedule):
            steps, batch = schedule.shape
            n = steps // record_every

            def body(carry, rows):  # carry: (params, opt_state[, the last gradients])
                state, (loss, g) = scan_step(carry[:2], rows, x, t)
                return (*state, g) if grads else state, loss

            def chunk(carry, rows_k):  # (record_every, batch)
                carry, losses = jax.lax.scan(body, carry, rows_k)
                return carry, (losses, (carry[0], carry[2]) if grads else carry[0])

            carry = (params, tx.init(params))
            if grads:
                carry = (*carry, jax.tree.map(jnp.zeros_like, params))
            head = schedule[: n * record_every].reshape(n, record_every, batch)
            carry, (head_losses, records) = jax.lax.scan(chunk, carry, head)
            carry, tail_losses = jax.lax.scan(body, carry, schedule[n * record_every :])
            losses = jnp.concatenate([head_losses.reshape(-1), tail_losses])
            return losses, records, (carry[0], carry[2]) if grads else carry[0]

        return run

    def start(params, steps: int, n_records: int):
        """(carry, losses (steps,), records {name: (n_records, *shape)}), the initial
        weights in record 0 (with `grads`: (those, {name: (n_records - 1, *shape)}))."""
        records = jax.tree.map(
            lambda p: jnp.zeros((n_records, *p.shape), p.dtype).at[0].set(p), params
        )
        if grads:
            gradients = jax.tree.map(
                lambda p: jnp.zeros((n_records - 1, *p.shape), p.dtype), params
            )
            records = (records, gradients)
        losses = jnp.zeros(steps, jax.tree.leaves(params)[0].dtype)
        return (params, tx.init(params)), losses, records

    def step(carry, losses, records, i, x, t, schedule):
        """Step i: the batch is picked on the device; the loss and the weights are written
        in place into the donated buffers (no per-step slicing, stacking or copying back).
        The weights go to record ceil((i + 1) / record_every), so the last write to record
        r is the one after step r * record_every (or the last); its gradients go to
        gradient record r - 1 the same way."""
        carry, (loss, g) = scan_step(carry, schedule[i], x, t)
        r = (i + record_every) // record_every
        put = lambda bufs, new, at: jax.tree.map(lambda b, p: b.at[at].set(p), bufs, new)  # noqa: E731
        if grads:
            records = (put(records[0], carry[0], r), put(records[1], g, r - 1))
        else:
            records = put(records, carry[0], r)
        return carry, losses.at[i].set(loss), records

    return start, step


def scan_in_chunks(body, carry, per_step, record_every: int, record):
    """`lax.scan` of `body(carry, xs) -> (carry, loss)` over the steps of `per_step` (a
    pytree, every leaf (steps, ...)): in chunks of `record_every` steps, `record(carry)`
    kept after each, then the steps left over. Returns (carry, losses (steps,), records
    (steps // record_every, ...)). The later chapters' "scan" runs (adapters/word2vec/,
    adapters/rnnlm/) record this way."""
    steps = jax.tree.leaves(per_step)[0].shape[0]
    n = steps // record_every

    def chunk(carry, xs_k):  # (record_every, ...) steps, then a record
        carry, losses = jax.lax.scan(body, carry, xs_k)
        return carry, (losses, record(carry))

    head = jax.tree.map(
        lambda a: a[: n * record_every].reshape(n, record_every, *a.shape[1:]), per_step
    )
    carry, (head_losses, records) = jax.lax.scan(chunk, carry, head)
    tail = jax.tree.map(lambda a: a[n * record_every :], per_step)
    carry, tail_losses = jax.lax.scan(body, carry, tail)
    return carry, jnp.concatenate([head_losses.reshape(-1), tail_losses]), records


# --------------------------------------------------------------------------- the Net


class Net(NetBase):
    """The JAX TwoLayerNet behind the adapter contract. `.module` is the parameter pytree.

    Training overrides NetBase's loop (`_run`): in "scan" mode the whole run is one XLA
    program; in "step" mode the jitted step writes the loss and the weights into donated
    device buffers itself. Handing every record to the Recorder instead would cost a
    conversion per array (3-5 us each), about half a step of this small net.
    """

    framework = "jax"
    DTYPES = ("float64", "float32", "float16", "bfloat16")
    DEVICES = ("cpu", "cuda")
    MODES = ("scan", "step")
    TF32 = True

    @staticmethod
    def device_available(device: str) -> bool:
        return jax_device(device) is not None

    @staticmethod
    def tf32_capable(device: str) -> bool:
        """True when `device` is a CUDA GPU of compute capability 8.0 or newer (TF32 units)."""
        found = jax_device(device) if device.startswith("cuda") else None
        capability = getattr(found, "compute_capability", None)  # "9.0" on an H200
        try:
            return capability is not None and float(capability) >= 8.0
        except ValueError:
            return False

    def _load(self, weights: Weights) -> None:
        self._device = jax_device(self.device)  # the jax.Device; NetBase checked it exists
        with pinned_precision("jax", self.dtype, tf32=self.tf32):
            self.module = to_module(weights, self.dtype, self._device)

    def _weights(self) -> Weights:
        return from_module(self.module)

    def _array(self, a: np.ndarray) -> jax.Array:
        """`a` on the net's device; floats in the net's dtype (bfloat16 arrives as float32
        holding bfloat16 values, so that conversion is exact); indices as int32.

        int32, whatever the x64 switch: left int64, an index array became s64 in a float64
        run (x64 on) and s32 in a float32 one, and with both running in two threads a
        compiled program built for one was handed the other's (an XLA "expected
        s32[1000,30] but got s64" error). Indices are checked to fit (< rows of x)."""
        if a.dtype.kind == "f":
            a = np.asarray(a, dtype=_JAX_DTYPES[self.dtype])
        else:
            a = a.astype(np.int32)
        return jax.device_put(a, self._device)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        with pinned_precision("jax", self.dtype, tf32=self.tf32):
            return to_numpy(_predict(self.module, self._array(x)))

    def _loss(self, x: np.ndarray, t: np.ndarray) -> float:
        with pinned_precision("jax", self.dtype, tf32=self.tf32):
            return float(_loss(self.module, self._array(x), self._array(t)))

    def _gradients(self, x: np.ndarray, t: np.ndarray) -> Weights:
        with pinned_precision("jax", self.dtype, tf32=self.tf32):
            grads = _grad(self.module, self._array(x), self._array(t))
            return from_module(grads)

    def _activations(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        with pinned_precision("jax", self.dtype, tf32=self.tf32):
            acts = _activations(self.module, self._array(x))
            return {k: to_numpy(v) for k, v in acts.items()}

    @staticmethod
    def max_workers(device: str) -> tuple[int, str]:
        return data_parallel.engine("jax").max_workers(device)

    def _train_data_parallel(self, inputs: TrainInputs, n: int):
        return data_parallel.engine("jax").train(self, inputs, n)

    def _run(self, inputs: TrainInputs, training=None, *, run=None, put=None):
        """The whole run here (scan mode is one XLA program, not a Python loop over a
        Recorder). A data-parallel run (adapters/jax_sharding.py) brings its own `run`
        over a device mesh and `put`, which places the arrays on the mesh."""
        if run is None:
            run = compiled_run(
                inputs.optimizer,
                inputs.max_grad,
                inputs.mode,
                inputs.record_every,
                self.dtype,
                inputs.grads,
            )
        marks = inputs.record_steps
        grads = None
        with pinned_precision("jax", self.dtype, tf32=self.tf32):
            x, t = self._array(inputs.x), self._array(inputs.t)  # moved once, not per step
            schedule = self._array(inputs.schedule)
            params = self.module
            if put is not None:
                params, x, t, schedule = put(params, x, t, schedule)
            if inputs.mode == "scan":
                losses, head, params = run(params, x, t, schedule)
                if inputs.grads:
                    (head, grad_head), (params, last_grads) = head, params
                records = [self.module, head]
                off_grid = marks[-1] % inputs.record_every  # the last step is off the grid
                if off_grid:
                    records.append(params)
                weights = {  # (1 + n [+ 1], *shape)
                    k: np.concatenate(
                        [to_numpy(r[k])[None] if r is not head else to_numpy(r[k]) for r in records]
                    )
                    for k in WEIGHT_NAMES
                }
                if inputs.grads:  # (n [+ 1], *shape)
                    tail = [to_numpy(last_grads[k])[None] for k in WEIGHT_NAMES] if off_grid else []
                    grads = {
                        k: np.concatenate([to_numpy(grad_head[k]), *tail[j : j + 1]])
                        for j, k in enumerate(WEIGHT_NAMES)
                    }
            else:
                start, step = run
                carry, losses, records = start(params, schedule.shape[0], len(marks))
                for i in range(schedule.shape[0]):
                    carry, losses, records = step(carry, losses, records, i, x, t, schedule)
                params = carry[0]
                if inputs.grads:
                    records, grad_records = records
                    grads = {k: to_numpy(grad_records[k]) for k in WEIGHT_NAMES}
                weights = {k: to_numpy(records[k]) for k in WEIGHT_NAMES}  # (records, *shape)
            self.module = params if put is None else jax.device_put(params, self._device)
            return np.asarray(losses, dtype=np.float64), weights, None, grads
