"""The reference as a `Net`: scratch.TwoLayerNet with its hand-written backward pass.

Mirrors adapters/torch_adapter.py and adapters/jax_adapter.py definition by definition;
diff two of them to see what changes between frameworks and nothing else.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

import numpy as np

from adapters import checks, data_parallel
from adapters.contract import NetBase, Training, TrainInputs
from adapters.optimizer_spec import OptimizerSpec
from scratch.functions import BOOK_LOG_EPS, epsilon_gap, log_softmax
from scratch.trainer import clip_grads, remove_duplicate
from scratch.two_layer_net import WEIGHT_NAMES, TwoLayerNet, Weights
from scratch.xp import cupy_available, to_numpy


def array_module_for(device: str):
    """NumPy for "cpu"; CuPy for "cuda[:N]" (imported only then)."""
    return np if device == "cpu" else importlib.import_module("cupy")


# --------------------------------------------------------------------------- the model
# scratch.TwoLayerNet: Affine -> Sigmoid -> Affine -> SoftmaxWithLoss, W stored (in, out).


# --------------------------------------------------------------------------- weights in and out


def to_module(weights: Weights, dtype: str, device: str = "cpu") -> TwoLayerNet:
    """A scratch TwoLayerNet holding copies of `weights` (same layout: no transpose); on
    "cuda" the copies are CuPy arrays, and the same layer code then runs on the GPU."""
    I, H = weights["W1"].shape
    O = weights["W2"].shape[1]
    xp = array_module_for(device)
    on_device = {k: xp.asarray(v) for k, v in weights.items()}
    return TwoLayerNet(I, H, O, weights=on_device, dtype=dtype)


def from_module(module: TwoLayerNet) -> Weights:
    return {k: to_numpy(v) for k, v in module.weights().items()}


# --------------------------------------------------------------------------- optimizers


def make_optimizer(spec: OptimizerSpec):
    """scratch.optimizers: the book's own; "stock" is the same (NumPy has no other)."""
    return spec.book()


# --------------------------------------------------------------------------- one training step


class EpsilonGaps:
    """The book-epsilon gap of every step: mean(log(p + 1e-7) - log p) over the batch, how
    far the book's reported loss sits below the epsilon-free cross-entropy torch and
    optax compute (`Trajectory.loss_gap`).

    A step stores only its label probabilities p (N,); the gaps are computed once, after
    the run (`scratch.functions.epsilon_gap`). Where a label's probability underflowed to
    (nearly) 0, 1e-7 / p would overflow: that step's per-row gaps are computed at once,
    exactly, from a stable log-softmax of its scores. Such a step has a large book loss
    (one label alone adds -log(1e-7) / N), so the loss says when to look.

    Data-parallel steps (adapters/numpy_data_parallel.py) store each shard's rows and set
    `shard_edges`: the recorded loss is then the mean of the shard means, and so is the
    gap, taken the same way (each shard's mean, then their mean: as DDP's ranks do, so a
    sum that overflows does so here too; the same as the plain mean when the shards are
    equal).
    """

    def __init__(self, steps: int, batch: int, dtype: np.dtype, xp) -> None:
        # in the net's precision, as torch and optax compute their loss, but float16 in
        # float32 (as they do): 1e-7 / p would overflow float16 for any p below 1.5e-12
        self.work = np.float32 if dtype == np.float16 else dtype
        self.p = xp.empty((steps, batch), dtype=self.work)  # (steps, N)
        self.xp = xp
        self.suspect = -np.log(2 * BOOK_LOG_EPS) / batch  # a loss below it: no underflow
        self.exact: dict[int, np.ndarray] = {}  # step -> per-row gaps (N,), NaN where not
        self.shard_edges: np.ndarray | None = None  # (shards + 1,); None: one mean

    def take(self, step: int, model: TwoLayerNet, tb, loss: float, rows=slice(None)) -> None:
        """After the forward pass of `step` (on its `rows` of the batch, all by default),
        before the update changes W2."""
        p = self.p[step, rows]
        p[...] = model.loss_layer.y[self.xp.arange(p.shape[0]), tb]
        if not loss <= self.suspect and not float(p.min()) > 1e-300:  # NaN looks too
            affine2 = model.layers[-1]
            W2, b2 = affine2.params
            scores = to_numpy(affine2.x @ W2 + b2).astype(self.work)  # (n, O), the forward's
            logp = log_softmax(scores)[np.arange(scores.shape[0]), to_numpy(tb)]  # (n,)
            exact = self.exact.setdefault(step, np.full(self.p.shape[1], np.nan))
            exact[rows] = np.logaddexp(logp, np.log(BOOK_LOG_EPS)) - logp

    def gaps(self) -> np.ndarray:
        """(steps,) float64."""
        p = to_numpy(self.p)
        for step, exact in self.exact.items():
            p[step, ~np.isnan(exact)] = 1  # placeholders, replaced by the exact gaps below
        if self.shard_edges is None and not self.exact:
            return np.asarray(epsilon_gap(p), dtype=np.float64)  # (steps,)
        per_row = np.log1p(BOOK_LOG_EPS / p)  # (steps, N)
        for step, exact in self.exact.items():
            per_row[step] = np.where(np.isnan(exact), per_row[step], exact)
        if self.shard_edges is None:
            return per_row.mean(axis=1).astype(np.float64)
        edges = self.shard_edges
        means = [per_row[:, a:b].mean(axis=1) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        return np.mean(means, axis=0).astype(np.float64)  # (steps,)


def forward_backward(model: TwoLayerNet, xb, tb, gaps: EpsilonGaps, step: int, rows=slice(None)):
    """forward and backward: the book's loss (what its epsilon gap needs goes to `gaps`
    before the update changes W2); the gradients are left in `model.grads`."""
    loss = model.forward(xb, tb)
    if not isinstance(loss, np.floating):  # a CuPy 0-d array on the GPU: one sync a step
        loss = float(loss)
    gaps.take(step, model, tb, loss, rows)
    model.backward()
    return loss


def update(model: TwoLayerNet, optimizer, max_grad: float | None) -> None:
    """clip_grads, then the optimizer's update of `model.params` from `model.grads`."""
    if max_grad is not None:
        clip_grads(model.grads, max_grad)
    optimizer.update(model.params, model.grads)


def update_shared(module, optimizer, max_grad: float | None) -> None:
    """The later chapters' update (common/trainer.py's Trainer and RnnlmTrainer after
    backward): remove_duplicate (a weight several layers share counted once, its
    gradients summed), clip_grads, then the optimizer's update."""
    params, grads = remove_duplicate(module.params, module.grads)
    if max_grad is not None:
        clip_grads(grads, max_grad)
    optimizer.update(params, grads)


def train_step(model: TwoLayerNet, optimizer, xb, tb, max_grad: float | None, gaps, step: int):
    """forward, backward, clip_grads, update: the inner loop of common/trainer.py.

    Returns the book's loss; `gaps` takes what the step's epsilon gap needs before the
    update changes W2.
    """
    loss = forward_backward(model, xb, tb, gaps, step)
    update(model, optimizer, max_grad)
    return loss


# --------------------------------------------------------------------------- the Net


class Net(NetBase):
    """The reference behind the adapter contract. `.module` is the scratch TwoLayerNet."""

    framework = "numpy"
    DTYPES = ("float64", "float32", "float16")  # NumPy has no bfloat16
    DEVICES = ("cpu", "cuda")  # cuda: the same scratch code on CuPy arrays, as the book's GPU
    MODES = ("eager",)
    TF32 = False

    @staticmethod
    def device_available(device: str) -> bool:
        parsed = checks.parse_device(device, Net.DEVICES)
        if parsed is None or parsed[0] == "cpu":
            return parsed is not None
        if not cupy_available():
            return False
        return parsed[1] < importlib.import_module("cupy").cuda.runtime.getDeviceCount()

    @staticmethod
    def tf32_capable(device: str) -> bool:
        """Always False: the reference never computes in TF32 (torch and JAX can be asked to)."""
        return False

    def _load(self, weights: Weights) -> None:
        self.module = to_module(weights, self.dtype, self.device)

    def _weights(self) -> Weights:
        return from_module(self.module)

    def _array(self, a: np.ndarray):
        """`a` where the net's arrays live (the same NumPy array on "cpu")."""
        return array_module_for(self.device).asarray(a)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return to_numpy(self.module.predict(self._array(x)))

    def _loss(self, x: np.ndarray, t: np.ndarray) -> float:
        return float(self.module.forward(self._array(x), self._array(t)))

    def _gradients(self, x: np.ndarray, t: np.ndarray) -> Weights:
        self.module.forward(self._array(x), self._array(t))
        self.module.backward()
        return {k: to_numpy(g).copy() for k, g in zip(WEIGHT_NAMES, self.module.grads, strict=True)}

    def _activations(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        affine1, sigmoid, affine2 = self.module.layers
        a1 = affine1.forward(self._array(x))  # (N, H)
        z = sigmoid.forward(a1)  # (N, H)
        a2 = affine2.forward(z)  # (N, O)
        self.module.loss_layer.forward(a2, self._array(t))
        acts = {"affine1": a1, "sigmoid": z, "affine2": a2, "softmax": self.module.loss_layer.y}
        return {k: to_numpy(v) for k, v in acts.items()}

    @staticmethod
    def max_workers(device: str) -> tuple[int, str]:
        return sys.maxsize, "numpy can run"  # the workers take turns in this process

    def _train_data_parallel(self, inputs: TrainInputs, n: int):
        step = data_parallel.engine("numpy").make_train_step(n, inputs.schedule.shape[1])
        return self._run(inputs, self._training(inputs, step))[:3]  # no gradients

    @contextlib.contextmanager
    def _training(self, inputs: TrainInputs, train_step=train_step):
        model = self.module
        x, t = self._array(inputs.x), self._array(inputs.t)  # moved once, not per step
        schedule = self._array(inputs.schedule)
        optimizer = make_optimizer(inputs.optimizer)
        xp = array_module_for(self.device)
        gaps = EpsilonGaps(*schedule.shape, model.params[0].dtype, xp)
        max_grad = inputs.max_grad
        made = dict(zip(WEIGHT_NAMES, model.grads, strict=True))  # backward writes in place
        grads = made
        if inputs.grads and max_grad is not None:  # kept before clip_grads scales them
            grads = {k: g.copy() for k, g in made.items()}

            def step(i: int) -> float:
                rows = schedule[i]
                loss = forward_backward(model, x[rows], t[rows], gaps, i)
                for k, g in made.items():
                    grads[k][...] = g
                update(model, optimizer, max_grad)
                return loss

        else:

            def step(i: int) -> float:
                rows = schedule[i]
                return train_step(model, optimizer, x[rows], t[rows], max_grad, gaps, i)

        params = dict(zip(WEIGHT_NAMES, model.params, strict=True))  # updated in place

        def weights() -> dict:
            return params

        yield Training(step, weights, gaps.gaps, lambda: grads)
