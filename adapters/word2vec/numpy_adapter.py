"""The word2vec reference as Nets: scratch's SimpleCBOW, SimpleSkipGram, CBOW and SkipGram
with their hand-written backward passes, remove_duplicate and the book's optimizers.

Mirrors adapters/word2vec/torch_adapter.py and jax_adapter.py definition by definition.
The negative samples come as data: each NegativeSamplingLoss's sampler is replaced by one
that hands out the samples given for the step (`GivenSamples`), so this Net never draws.
"""

from __future__ import annotations

import contextlib

import numpy as np

from adapters.contract import Training
from adapters.numpy_adapter import update_shared
from adapters.optimizer_spec import OptimizerSpec
from adapters.word2vec.contract import Batch, TrainInputs, WordNet, model_nets
from scratch.cbow import CBOW
from scratch.functions import BOOK_LOG_EPS, log_softmax
from scratch.simple_cbow import SimpleCBOW
from scratch.simple_skip_gram import SimpleSkipGram
from scratch.skip_gram import SkipGram
from scratch.trainer import remove_duplicate

# --------------------------------------------------------------------------- the models
# scratch's classes, as the book writes them: W_in (V, H); W_out (H, V) for the MatMul
# of chapter 3, (V, H) for the Embedding rows of chapter 4.


class GivenSamples:
    """Stands in for a NegativeSamplingLoss's UnigramSampler: `get_negative_sample`
    returns the samples set for the current step, (N, 5), instead of drawing."""

    def __init__(self) -> None:
        self.samples: np.ndarray | None = None

    def get_negative_sample(self, target: np.ndarray) -> np.ndarray:
        return self.samples


def ns_losses(module) -> list:
    """The model's NegativeSamplingLoss layers, in the order they draw (and are fed)."""
    return [module.ns_loss] if isinstance(module, CBOW) else list(module.loss_layers)


def give_samples(module, negatives: np.ndarray) -> None:
    """Hand each NegativeSamplingLoss its step's samples: cbow's (N, 5) to its one loss,
    skip_gram's (N, 2 window, 5) a context word's column to each."""
    layers = ns_losses(module)
    if len(layers) == 1:
        layers[0].sampler.samples = negatives
        return
    for i, layer in enumerate(layers):
        layer.sampler.samples = negatives[:, i]


# --------------------------------------------------------------------------- weights in and out


def to_module(model: str, weights: dict, dtype: str, window_size: int = 1):
    """scratch's model holding copies of `weights` (the book's layout: no transpose)."""
    V, H = weights["W_in"].shape
    if model == "simple_cbow":
        return SimpleCBOW(V, H, dtype=dtype, weights=weights)
    if model == "simple_skip_gram":
        return SimpleSkipGram(V, H, dtype=dtype, weights=weights)
    cls = CBOW if model == "cbow" else SkipGram
    # the corpus only sizes the samplers, which are replaced: every id once will do
    module = cls(V, H, window_size, np.arange(V), dtype=dtype, weights=weights)
    for layer in ns_losses(module):
        layer.sampler = GivenSamples()
    return module


def from_module(module) -> dict[str, np.ndarray]:
    return module.weights()


def book_params(module) -> dict[str, np.ndarray]:
    """W_in and W_out themselves (not copies), each once: the model updates them in place."""
    unique = {id(p): p for p in module.params}.values()  # in order of first use
    return dict(zip(("W_in", "W_out"), unique, strict=True))


# --------------------------------------------------------------------------- optimizers


def make_optimizer(spec: OptimizerSpec):
    """scratch.optimizers: the book's own (Adam is the book's choice for word2vec)."""
    return spec.book()


# --------------------------------------------------------------------------- the loss gap


def book_loss_gap(module) -> float:
    """How far the book's loss of the last forward pass sits below the epsilon-free one
    torch and optax compute: each loss layer's mean of log(p + 1e-7) - log p, summed
    (`Trajectory.loss_gap`). log p is taken exactly from the scores, so a probability
    that rounded to 0 or 1 still gives the exact loss."""
    if isinstance(module, CBOW | SkipGram):
        gap = 0.0
        for ns in ns_losses(module):
            for loss_layer, embed_dot in zip(ns.loss_layers, ns.embed_dot_layers, strict=True):
                h, target_W = embed_dot.cache
                s = np.sum(target_W * h, axis=1, dtype=np.float64)  # (N,) the scores
                y, t = loss_layer.y.astype(np.float64), loss_layer.t
                p = np.where(t == 1, y, 1 - y)  # the label's probability, as the book's
                exact = np.logaddexp(0, np.where(t == 1, -s, s))  # -log p, from the score
                gap += float(np.mean(np.log(p + BOOK_LOG_EPS) + exact))
        return gap
    h = module.out_layer.x  # (N, H), before the update changes W_out
    scores = np.dot(h, module.out_layer.params[0]).astype(np.float64)  # (N, V)
    logp = log_softmax(scores)
    losses = (
        [module.loss_layer]
        if isinstance(module, SimpleCBOW)
        else [module.loss_layer1, module.loss_layer2]
    )
    gap = 0.0
    for layer in losses:
        rows = np.arange(len(layer.t))
        gap += float(np.mean(np.log(layer.y[rows, layer.t] + BOOK_LOG_EPS) - logp[rows, layer.t]))
    return gap


# --------------------------------------------------------------------------- one training step


def forward_backward(module, batch: Batch) -> float:
    """forward, backward: the book's loss; the layers' gradients are left in module.grads."""
    if batch.negatives is not None:
        give_samples(module, batch.negatives)
    loss = module.forward(batch.contexts, batch.target)
    module.backward()
    return loss


def train_step(module, optimizer, batch: Batch, max_grad: float | None) -> tuple[float, float]:
    """The inner loop of common/trainer.py: forward, backward, remove_duplicate,
    clip_grads, update. Returns the book's loss and its epsilon gap."""
    loss = forward_backward(module, batch)
    gap = book_loss_gap(module)  # before the update changes the weights
    update_shared(module, optimizer, max_grad)  # shared weights once
    return loss, gap


# --------------------------------------------------------------------------- the Net


class Net(WordNet):
    """The reference behind the word2vec contract. `.module` is scratch's model."""

    framework = "numpy"
    DTYPES = ("float64", "float32")
    DEVICES = ("cpu",)
    MODES = ("eager",)

    @staticmethod
    def device_available(device: str) -> bool:
        return device == "cpu"

    def _load(self, weights: dict) -> None:
        window = self.config.get("window_size", 1)
        self.module = to_module(self.model, weights, self.dtype, window)

    def _weights(self) -> dict:
        return from_module(self.module)

    def _loss(self, batch: Batch) -> float:
        if batch.negatives is not None:
            give_samples(self.module, batch.negatives)
        return float(self.module.forward(batch.contexts, batch.target))

    def _gradients(self, batch: Batch) -> dict:
        forward_backward(self.module, batch)
        _, grads = remove_duplicate(self.module.params, self.module.grads)
        return {name: g.copy() for name, g in zip(("W_in", "W_out"), grads, strict=True)}

    @contextlib.contextmanager
    def _training(self, inputs: TrainInputs):
        module = self.module
        optimizer = make_optimizer(inputs.optimizer)
        contexts, target, negatives = inputs.contexts, inputs.target, inputs.negatives
        schedule, max_grad = inputs.schedule, inputs.max_grad
        gaps = np.empty(inputs.steps)  # (steps,)

        def step(i: int) -> float:
            rows = schedule[i]
            batch = Batch(contexts[rows], target[rows], None if negatives is None else negatives[i])
            loss, gaps[i] = train_step(module, optimizer, batch, max_grad)
            return loss

        params = book_params(module)

        def weights() -> dict:
            return params

        yield Training(step, weights, lambda: gaps)


NETS = model_nets(Net)
__all__ = ["NETS", "Net"]
