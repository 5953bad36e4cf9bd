"""The TwoLayerNet in PyTorch: two `nn.Linear`, `torch.sigmoid`, `F.cross_entropy`,
autograd for the backward pass and `torch.optim` for the updates.

Mirrors adapters/numpy_adapter.py and adapters/jax_adapter.py definition by definition.
Layout: `nn.Linear.weight` is (out, in), the book's W is (in, out); every place that
moves weights between the two transposes and says so.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adapters import checks, data_parallel
from adapters.contract import NetBase, Training, TrainInputs
from adapters.optimizer_spec import OptimizerSpec
from adapters.pins import Pins
from adapters.precision import pinned_precision
from scratch.optimizers import BOOK_EPS
from scratch.two_layer_net import WEIGHT_NAMES, Weights

_TORCH_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A NumPy copy of `tensor`; bfloat16 (which NumPy lacks) comes out as float32 holding
    exactly the same values."""
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.numpy()


# --------------------------------------------------------------------------- the model


class TwoLayerNet(nn.Module):
    """Affine -> Sigmoid -> Affine; the loss is `F.cross_entropy` (softmax + CE).

    The layers are made with `skip_init`, so building one draws nothing from torch's
    random generator: the weights always come from the book's `init_weights`.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *, dtype, device):
        super().__init__()
        self.fc1 = nn.utils.skip_init(
            nn.Linear, input_size, hidden_size, dtype=dtype, device=device
        )
        self.fc2 = nn.utils.skip_init(
            nn.Linear, hidden_size, output_size, dtype=dtype, device=device
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.sigmoid(self.fc1(x)))  # (N, I) -> (N, H) -> (N, O) scores


def book_params(module: TwoLayerNet) -> list[torch.Tensor]:
    """The parameters in the book's order W1, b1, W2, b2 (weights still (out, in))."""
    return [module.fc1.weight, module.fc1.bias, module.fc2.weight, module.fc2.bias]


def book_layout(p: torch.Tensor) -> torch.Tensor:
    """A view in the book's layout: a Linear weight (out, in) -> (in, out); biases as is.
    The same transpose takes a book W (in, out) to Linear's (out, in)."""
    return p.T if p.ndim == 2 else p


# --------------------------------------------------------------------------- weights in and out


def to_module(weights: Weights, dtype: str, device: str) -> TwoLayerNet:
    """An nn.Module holding `weights`; W (in, out) is transposed to Linear's (out, in)."""
    I, H = weights["W1"].shape
    O = weights["W2"].shape[1]
    module = TwoLayerNet(I, H, O, dtype=_TORCH_DTYPES[dtype], device=device)
    with torch.no_grad():
        for p, name in zip(book_params(module), WEIGHT_NAMES, strict=True):
            value = torch.from_numpy(np.ascontiguousarray(weights[name]))
            p.copy_(book_layout(value))  # (in, out) -> (out, in); bfloat16 from float32, exact
    return module


def from_module(module: TwoLayerNet) -> Weights:
    """Book-layout copies: Linear's (out, in) weight is transposed back to (in, out)."""
    out = {}
    for p, name in zip(book_params(module), WEIGHT_NAMES, strict=True):
        out[name] = to_numpy(book_layout(p)).copy()  # (out, in) -> (in, out)
    return out


# --------------------------------------------------------------------------- optimizers


class BookNesterov(torch.optim.Optimizer):
    """The book's Nesterov (common/optimizer.py, after arXiv:1212.0901):

        v <- momentum * v - lr * dW
        W <- W + momentum**2 * v - (1 + momentum) * lr * dW

    `torch.optim.SGD(nesterov=True)` differs: with buf <- momentum * buf + dW it steps
    W <- W - lr * (dW + momentum * buf). Written with the book's v = -lr * buf, that is
    W <- W + momentum**2 * v_old - (1 + momentum) * lr * dW: the book's form with the
    velocity from *before* this step's update where the book takes the one after it. At
    lr 0.1, momentum 0.9, dW 1 its first step is -0.19 and the book's -0.271, a gap of
    momentum**2 * lr * dW; under a constant gradient torch's step k + 1 is the book's step k.
    """

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, m = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                v = self.state[p].setdefault("v", torch.zeros_like(p))
                v.mul_(m)
                v.sub_(p.grad.mul(lr))
                p.add_(v.mul(m * m))
                p.sub_(p.grad.mul((1 + m) * lr))


class BookAdam(torch.optim.Optimizer):
    """The book's Adam, with the bias corrections folded into the step size:

        lr_t = lr * sqrt(1 - beta2**k) / (1 - beta1**k)
        W <- W - lr_t * m / (sqrt(v) + 1e-7)

    `torch.optim.Adam` divides by sqrt(v) / sqrt(1 - beta2**k) + eps instead: its eps
    sits after the bias correction, so it equals the book's only with
    eps_torch = 1e-7 / sqrt(1 - beta2**k), which changes every step.
    """

    def __init__(self, params, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        super().__init__(params, {"lr": lr, "beta1": beta1, "beta2": beta2})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, b1, b2 = group["lr"], group["beta1"], group["beta2"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(k=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["k"] += 1
                k, m, v = state["k"], state["m"], state["v"]
                lr_t = lr * math.sqrt(1.0 - b2**k) / (1.0 - b1**k)
                g = p.grad
                m.add_((g - m).mul(1 - b1))
                v.add_((g.square() - v).mul(1 - b2))
                p.sub_(m.mul(lr_t).div(v.sqrt().add(BOOK_EPS)))


def make_optimizer(spec: OptimizerSpec, params: list[torch.Tensor]) -> torch.optim.Optimizer:
    """torch.optim with the book's settings ("book") or torch's own defaults ("stock").

    Stock torch is the book's math for SGD, Momentum (torch's buf is -v / lr), AdaGrad
    (eps=1e-7) and RMSprop (alpha=decay_rate, eps=1e-7); the book's Nesterov and Adam
    need the small optimizers above.
    """
    h = spec.hyper
    lr = h["lr"]
    if spec.name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if spec.name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=h["momentum"])
    if spec.name == "nesterov":
        if spec.flavor == "book":
            return BookNesterov(params, lr=lr, momentum=h["momentum"])
        # torch refuses nesterov=True without momentum; with momentum 0 it is plain SGD
        nesterov = h["momentum"] != 0
        return torch.optim.SGD(params, lr=lr, momentum=h["momentum"], nesterov=nesterov)
    if spec.name == "adagrad":
        if spec.flavor == "book":
            return torch.optim.Adagrad(params, lr=lr, eps=BOOK_EPS)
        return torch.optim.Adagrad(params, lr=lr)  # eps=1e-10
    if spec.name == "rmsprop":
        if spec.flavor == "book":
            return torch.optim.RMSprop(params, lr=lr, alpha=h["decay_rate"], eps=BOOK_EPS)
        return torch.optim.RMSprop(params, lr=lr, alpha=h["decay_rate"])  # eps=1e-8
    if spec.flavor == "book":
        return BookAdam(params, lr=lr, beta1=h["beta1"], beta2=h["beta2"])
    return torch.optim.Adam(params, lr=lr, betas=(h["beta1"], h["beta2"]))  # eps=1e-8


# --------------------------------------------------------------------------- one training step


def forward_backward(module, optimizer, xb, tb) -> torch.Tensor:
    """zero_grad, forward, backward: the loss; the gradients are left in each `p.grad`."""
    optimizer.zero_grad(set_to_none=True)  # backward then writes fresh grads: no zero_ pass
    loss = F.cross_entropy(module(xb), tb)
    loss.backward()
    return loss.detach()


def update(optimizer, params, max_grad: float | None) -> None:
    """clip_grad_norm_, then the optimizer's step from each `p.grad`.

    `clip_grad_norm_` is the book's clip_grads: scale by max_norm / (norm + 1e-6) when
    that is below 1 (torch clamps the factor at 1.0, which is the same thing; its 1e-6 is
    the book's, scratch.trainer.CLIP_EPS, and not an argument).
    """
    if max_grad is not None:
        nn.utils.clip_grad_norm_(params, max_grad)
    optimizer.step()


def train_step(module, optimizer, params, xb, tb, max_grad: float | None) -> torch.Tensor:
    """zero_grad, forward, backward, clip_grad_norm_, step: the book's Trainer step."""
    loss = forward_backward(module, optimizer, xb, tb)
    update(optimizer, params, max_grad)
    return loss


# --------------------------------------------------------------------------- threads

TINY_ELEMENTS = 32768  # one grain of torch's parallel_for (at::internal::GRAIN_SIZE)


@contextlib.contextmanager
def tiny_net_threads(sizes: tuple[int, int, int], batch: int, device: str):
    """One intra-op thread while a tiny net trains on the CPU, then the count as it was.

    When every tensor of a step (activations (batch, max(I, H, O)), weights (I, H) and
    (H, O)) is below one grain of torch's parallel_for, no kernel gains from a second
    thread, and waking it costs more than the op itself (10x a step on 2 busy cores).
    The thread count is process-wide: blocks in several threads or asyncio tasks share
    the one count (adapters/pins.py), and the last one out puts back the caller's.
    """
    I, H, O = sizes
    largest = max(batch * max(I, H, O), I * H, H * O)
    with one_thread_below(largest, TINY_ELEMENTS, device):
        yield


@contextlib.contextmanager
def one_thread_below(elements: int, limit: int, device: str):
    """`one_thread()` while a CPU step's largest tensor has fewer than `limit` elements
    (the rule for every model: chapter 1's limit is TINY_ELEMENTS; a family whose ops
    stay below break-even longer passes its own); else the caller's count, untouched."""
    if device != "cpu" or elements >= limit:
        yield
        return
    with one_thread():
        yield


def gpu_available(device: str) -> bool:
    """`device` ("cpu", "cuda" or "cuda:N", already checked) is there: the later
    chapters' Nets (adapters/word2vec/, adapters/rnnlm/) ask this."""
    if device == "cpu":
        return True
    index = int(device.partition(":")[2] or 0)
    return torch.cuda.is_available() and index < torch.cuda.device_count()


def one_thread() -> contextlib.AbstractContextManager:
    """torch on one intra-op thread inside the block, then the count as it was; blocks in
    several threads or asyncio tasks share the one process-wide count (adapters/pins.py)."""
    return _THREADS.pinned(1)


def _set_threads(n: int):
    """torch's intra-op thread count set to n; returns what puts the caller's back."""
    threads = torch.get_num_threads()
    torch.set_num_threads(n)
    return lambda: torch.set_num_threads(threads)


_THREADS = Pins(
    _set_threads,
    lambda n: f"torch.set_num_threads({n})",
    "torch's intra-op thread count is process-wide",
)


# --------------------------------------------------------------------------- the Net


class Net(NetBase):
    """The torch TwoLayerNet behind the adapter contract. `.module` is the nn.Module."""

    framework = "torch"
    DTYPES = ("float64", "float32", "float16", "bfloat16")
    DEVICES = ("cpu", "cuda")
    MODES = ("eager",)
    TF32 = True

    @staticmethod
    def device_available(device: str) -> bool:
        parsed = checks.parse_device(device, Net.DEVICES)
        if parsed is None or parsed[0] == "cpu":
            return parsed is not None
        return torch.cuda.is_available() and parsed[1] < torch.cuda.device_count()

    @staticmethod
    def tf32_capable(device: str) -> bool:
        """True when `device` has TF32 units: a CUDA GPU of compute capability 8.0 (Ampere)
        or newer. On the CPU TF32 does not exist, and asking for it changes nothing."""
        if not device.startswith("cuda") or not Net.device_available(device):
            return False
        return torch.cuda.get_device_capability(torch.device(device)) >= (8, 0)

    def _load(self, weights: Weights) -> None:
        self.module = to_module(weights, self.dtype, self.device)

    def _weights(self) -> Weights:
        return from_module(self.module)

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        """`a` on the net's device; floats in the net's dtype (bfloat16 arrives as float32
        holding bfloat16 values, so that conversion is exact)."""
        tensor = torch.from_numpy(np.ascontiguousarray(a))
        if tensor.is_floating_point():
            return tensor.to(self.device, _TORCH_DTYPES[self.dtype])
        return tensor.to(self.device)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        with pinned_precision("torch", self.dtype, tf32=self.tf32), torch.no_grad():
            return to_numpy(self.module(self._tensor(x)))

    def _loss(self, x: np.ndarray, t: np.ndarray) -> float:
        with pinned_precision("torch", self.dtype, tf32=self.tf32), torch.no_grad():
            return F.cross_entropy(self.module(self._tensor(x)), self._tensor(t)).item()

    def _gradients(self, x: np.ndarray, t: np.ndarray) -> Weights:
        params = book_params(self.module)
        with pinned_precision("torch", self.dtype, tf32=self.tf32):
            grads = torch.autograd.grad(
                F.cross_entropy(self.module(self._tensor(x)), self._tensor(t)), params
            )
        return {  # Linear's (out, in) gradient -> the book's (in, out)
            name: to_numpy(book_layout(g)).copy()
            for name, g in zip(WEIGHT_NAMES, grads, strict=True)
        }

    def _activations(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        with pinned_precision("torch", self.dtype, tf32=self.tf32), torch.no_grad():
            a1 = self.module.fc1(self._tensor(x))  # (N, H)
            z = torch.sigmoid(a1)  # (N, H)
            a2 = self.module.fc2(z)  # (N, O)
            acts = {"affine1": a1, "sigmoid": z, "affine2": a2, "softmax": torch.softmax(a2, 1)}
            return {k: to_numpy(v) for k, v in acts.items()}

    @staticmethod
    def max_workers(device: str) -> tuple[int, str]:
        return data_parallel.engine("torch").max_workers(device)

    def _train_data_parallel(self, inputs: TrainInputs, n: int):
        return data_parallel.engine("torch").train(self, inputs, n)

    @contextlib.contextmanager
    def _training(self, inputs: TrainInputs, module=None):
        """`module` (default: the nn.Module) is what a step calls forward, e.g. its
        DistributedDataParallel wrapper on a data-parallel rank."""
        module = self.module if module is None else module
        params = book_params(self.module)
        optimizer = make_optimizer(inputs.optimizer, params)
        x, t = self._tensor(inputs.x), self._tensor(inputs.t)  # moved once, not per step
        schedule = self._tensor(inputs.schedule)
        max_grad = inputs.max_grad
        raw: dict = {}  # the gradients before clip_grad_norm_ scales them in place

        def step(i: int) -> torch.Tensor:
            rows = schedule[i]
            return train_step(module, optimizer, params, x[rows], t[rows], max_grad)

        def step_keeping_grads(i: int) -> torch.Tensor:
            rows = schedule[i]
            loss = forward_backward(module, optimizer, x[rows], t[rows])
            raw.update((name, p.grad.clone()) for name, p in zip(WEIGHT_NAMES, params, strict=True))
            update(optimizer, params, max_grad)
            return loss

        def weights() -> dict:  # views in the book's layout: Linear's (out, in) -> (in, out)
            return {name: book_layout(p) for name, p in zip(WEIGHT_NAMES, params, strict=True)}

        def grads() -> dict:  # the same: Linear's (out, in) gradient -> (in, out)
            if raw:
                return {name: book_layout(g) for name, g in raw.items()}
            return {name: book_layout(p.grad) for name, p in zip(WEIGHT_NAMES, params, strict=True)}

        keep = inputs.grads and max_grad is not None
        with (
            pinned_precision("torch", self.dtype, tf32=self.tf32),
            tiny_net_threads(self.sizes, schedule.shape[1], self.device),
        ):
            yield Training(step_keeping_grads if keep else step, weights, lambda: None, grads)
