"""The language models' reference as Nets: scratch's SimpleRnnlm, Rnnlm and BetterRnnlm
with their hand-written backward passes, remove_duplicate, clip_grads and the book's
optimizers, trained as RnnlmTrainer trains them.

Mirrors adapters/rnnlm/torch_adapter.py and jax_adapter.py definition by definition.
The dropout masks come as data: BetterRnnlm's TimeDropout layers are replaced by ones
that apply the masks given for the step (`GivenMask`), so this Net never draws.
"""

from __future__ import annotations

import contextlib

import numpy as np

from adapters.contract import Training
from adapters.numpy_adapter import update_shared
from adapters.optimizer_spec import OptimizerSpec
from adapters.rnnlm.contract import Block, RnnNet, TrainInputs, model_nets, sizes, weight_names
from scratch.better_rnnlm import BetterRnnlm
from scratch.rnnlm import Rnnlm
from scratch.simple_rnnlm import SimpleRnnlm
from scratch.trainer import remove_duplicate

# --------------------------------------------------------------------------- the models
# scratch's classes, as the book writes them: W (in, out), the LSTM's gates f, g, i, o.


class GivenMask:
    """Stands in for a TimeDropout: multiplies by the mask set for the step (already
    scaled by 1 / (1 - ratio), as the book's), or passes through when `train_flg` is off."""

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.mask: np.ndarray | None = None
        self.train_flg = True

    def forward(self, xs: np.ndarray) -> np.ndarray:
        return xs * self.mask if self.train_flg else xs

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.mask


def forward(module, block: Block):
    """The model's loss on the block, from the state it holds. BetterRnnlm's dropout
    layers get the block's three masks (3, N, T, H), in order; without masks it runs as
    the book's predict does, dropout off (train_flg=False)."""
    if not isinstance(module, BetterRnnlm):
        return module.forward(block.xs, block.ts)
    if block.masks is not None:
        for layer, mask in zip(module.drop_layers, block.masks, strict=True):
            layer.mask = mask
    return module.forward(block.xs, block.ts, train_flg=block.masks is not None)


# --------------------------------------------------------------------------- weights in and out


def to_module(model: str, weights: dict, dtype: str):
    """scratch's model holding copies of `weights` (the book's layout: nothing to map)."""
    V, D, H = sizes(model, weights)
    if model == "simple_rnnlm":
        return SimpleRnnlm(V, D, H, dtype=dtype, weights=weights)
    if model == "rnnlm":
        return Rnnlm(V, D, H, dtype=dtype, weights=weights)
    module = BetterRnnlm(V, D, H, dtype=dtype, weights=weights)
    for i in (1, 3, 5):  # the TimeDropout layers, in the book's order
        module.layers[i] = GivenMask()
    module.drop_layers = [module.layers[i] for i in (1, 3, 5)]
    return module


def from_module(module) -> dict[str, np.ndarray]:
    return module.weights()


def book_params(module) -> dict[str, np.ndarray]:
    """The weights themselves (not copies), by the book's names, the tied one once."""
    return module.named


# --------------------------------------------------------------------------- optimizers


def make_optimizer(spec: OptimizerSpec):
    """scratch.optimizers: the book's own (SGD is the book's choice for these models)."""
    return spec.book()


# --------------------------------------------------------------------------- one training step


def forward_backward(module, block: Block) -> float:
    """forward (from the state the module holds), backward: the loss; the layers'
    gradients are left in module.grads."""
    loss = forward(module, block)
    module.backward()
    return loss


def train_step(module, optimizer, block: Block, max_grad: float | None) -> float:
    """The inner loop of RnnlmTrainer.fit: forward from the carried state, backward,
    remove_duplicate (the tied weight's two gradients summed), clip_grads, update."""
    loss = forward_backward(module, block)
    update_shared(module, optimizer, max_grad)
    return loss


# --------------------------------------------------------------------------- the Net


class Net(RnnNet):
    """The reference behind the language-model contract. `.module` is scratch's model."""

    framework = "numpy"
    DTYPES = ("float64", "float32")
    DEVICES = ("cpu",)
    MODES = ("eager",)

    @staticmethod
    def device_available(device: str) -> bool:
        return device == "cpu"

    def _load(self, weights: dict) -> None:
        self.module = to_module(self.model, weights, self.dtype)

    def _weights(self) -> dict:
        return from_module(self.module)

    def _predict(self, xs: np.ndarray) -> np.ndarray:
        self.module.reset_state()
        scores = self.module.predict(xs)  # BetterRnnlm: train_flg=False, no dropout
        self.module.reset_state()
        return scores

    def _loss(self, block: Block) -> float:
        self.module.reset_state()
        loss = forward(self.module, block)
        self.module.reset_state()
        return float(loss)

    def _gradients(self, block: Block) -> dict:
        self.module.reset_state()
        forward_backward(self.module, block)
        self.module.reset_state()
        _, grads = remove_duplicate(self.module.params, self.module.grads)
        names = weight_names(self.model)
        return {name: g.copy() for name, g in zip(names, grads, strict=True)}

    @contextlib.contextmanager
    def _training(self, inputs: TrainInputs):
        module = self.module
        module.reset_state()  # the first block starts from zeros
        optimizer = make_optimizer(inputs.optimizer)
        xs, ts, schedule, masks = inputs.xs, inputs.ts, inputs.schedule, inputs.masks
        max_grad = inputs.max_grad

        def step(i: int) -> float:
            rows = schedule[i]  # (N, T) positions
            block = Block(xs[rows], ts[rows], None if masks is None else masks[i])
            return train_step(module, optimizer, block, max_grad)

        params = book_params(module)
        yield Training(step, lambda: params, lambda: None)


NETS = model_nets(Net)
__all__ = ["NETS", "Net"]
