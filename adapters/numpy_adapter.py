"""The reference as a `Net`: scratch.TwoLayerNet with its hand-written backward pass.

Mirrors adapters/torch_adapter.py and adapters/jax_adapter.py definition by definition;
diff two of them to see what changes between frameworks and nothing else.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np

from adapters.base import NetBase, OptimizerSpec, TrainInputs
from scratch import functions
from scratch.functions import BOOK_LOG_EPS
from scratch.trainer import clip_grads
from scratch.two_layer_net import WEIGHT_NAMES, TwoLayerNet, Weights
from scratch.xp import cupy_available, to_numpy

DTYPES = ("float64", "float32", "float16")  # NumPy has no bfloat16
DEVICES = ("cpu", "cuda")  # cuda: the same scratch code on CuPy arrays, as the book's GPU
MODES = ("eager",)


def device_available(device: str) -> bool:
    kind, _, index = device.partition(":")
    if kind == "cpu":
        return not index
    if kind != "cuda" or not cupy_available():
        return False
    return int(index or 0) < importlib.import_module("cupy").cuda.runtime.getDeviceCount()


def tf32_capable(device: str) -> bool:
    """Always False: the reference never computes in TF32 (torch and JAX can be asked to)."""
    return False


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


def epsilon_gap(model: TwoLayerNet, tb: np.ndarray) -> float:
    """mean(log(p + 1e-7) - log p) over the batch just forwarded: how far the book's
    reported loss sits below the epsilon-free cross-entropy torch and optax compute.

    Usually log1p(1e-7 / p). Where a label's probability underflowed to (nearly) 0, log p
    comes from a stable log-softmax of the scores instead, so the gap stays finite.
    """
    y, tb = to_numpy(model.loss_layer.y), to_numpy(tb)  # from the GPU, for a CuPy net
    p = y[np.arange(tb.shape[0]), tb]  # (N,)
    # in the net's precision, as torch and optax compute their loss, but float16 in float32
    # (as they do): 1e-7 / p would overflow float16 for any p below 1.5e-12
    work = np.float32 if y.dtype == np.float16 else y.dtype
    p = p.astype(work, copy=False)  # no copy but for float16
    if p.min() > 1e-300:
        return functions.epsilon_gap(p)
    affine2 = model.layers[-1]
    W2, b2 = affine2.params
    scores = to_numpy(affine2.x @ W2 + b2).astype(work, copy=False)  # (N, O), the forward's
    shifted = scores - scores.max(axis=1, keepdims=True)
    rows = np.arange(tb.shape[0])
    logp = shifted[rows, tb] - np.log(np.exp(shifted).sum(axis=1))  # (N,)
    return float(np.mean(np.logaddexp(logp, np.log(BOOK_LOG_EPS)) - logp))


def forward_backward(model: TwoLayerNet, xb, tb) -> tuple[float, float]:
    """forward and backward: the book's loss and its `epsilon_gap` (taken before the
    update changes W2); the gradients are left in `model.grads`."""
    loss = model.forward(xb, tb)
    if not isinstance(loss, np.floating):  # a CuPy 0-d array on the GPU: one sync a step
        loss = float(loss)
    gap = epsilon_gap(model, tb)
    model.backward()
    return loss, gap


def update(model: TwoLayerNet, optimizer, max_grad: float | None) -> None:
    """clip_grads, then the optimizer's update of `model.params` from `model.grads`."""
    if max_grad is not None:
        clip_grads(model.grads, max_grad)
    optimizer.update(model.params, model.grads)


def train_step(model: TwoLayerNet, optimizer, xb, tb, max_grad: float | None):
    """forward, backward, clip_grads, update: the inner loop of common/trainer.py.

    Returns the book's loss and its `epsilon_gap`, taken before the update changes W2.
    """
    loss, gap = forward_backward(model, xb, tb)
    update(model, optimizer, max_grad)
    return loss, gap


# --------------------------------------------------------------------------- the Net


class Net(NetBase):
    """The reference behind the adapter contract. `.module` is the scratch TwoLayerNet."""

    framework = "numpy"
    DTYPES = DTYPES
    DEVICES = DEVICES
    MODES = MODES
    device_available = staticmethod(device_available)
    tf32_capable = staticmethod(tf32_capable)

    def _load(self, weights: Weights) -> None:
        if not device_available(self.device):
            raise ValueError(f"device {self.device!r} is not available to numpy (CuPy) here")
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
        from adapters import numpy_data_parallel

        return self._train(inputs, numpy_data_parallel.make_train_step(n))

    def _train(self, inputs: TrainInputs, train_step=train_step):
        model = self.module
        x, t = self._array(inputs.x), self._array(inputs.t)  # moved once, not per step
        schedule = self._array(inputs.schedule)
        optimizer = make_optimizer(inputs.optimizer)
        steps = inputs.schedule.shape[0]
        losses = np.empty(steps, dtype=np.float64)
        gap = np.empty(steps, dtype=np.float64)
        records = {
            k: np.empty((len(inputs.record_steps), *p.shape), p.dtype)
            for k, p in zip(WEIGHT_NAMES, model.params, strict=True)
        }
        rec = 0
        for k, p in zip(WEIGHT_NAMES, model.params, strict=True):
            records[k][rec] = to_numpy(p)
        rec += 1
        for step, rows in enumerate(schedule):
            losses[step], gap[step] = train_step(
                model, optimizer, x[rows], t[rows], inputs.max_grad
            )
            if step + 1 == inputs.record_steps[rec]:
                for k, p in zip(WEIGHT_NAMES, model.params, strict=True):
                    records[k][rec] = to_numpy(p)
                rec += 1
        return losses, records, gap
