"""The word2vec models in PyTorch: `nn.Linear` where the book multiplies one-hot rows by a
matrix (chapter 3), `nn.Embedding` where it picks rows (chapter 4),
`F.cross_entropy` and `F.binary_cross_entropy_with_logits` for the losses, autograd for
the backward pass and the book's optimizers in `torch.optim` form.

Mirrors adapters/word2vec/numpy_adapter.py and jax_adapter.py definition by definition.
Layout: `nn.Linear.weight` is (out, in), so chapter 3's W_in (V, H) and W_out (H, V)
are stored transposed; `nn.Embedding.weight` is (V, H), chapter 4's layout, as it is.
A weight the book lists once per layer (CBOW's W_in in every context's Embedding) is one
Parameter here: autograd sums the gradients of its uses, which is what the book's
remove_duplicate does by hand.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adapters.contract import Training
from adapters.optimizer_spec import OptimizerSpec
from adapters.precision import pinned_precision
from adapters.torch_adapter import _TORCH_DTYPES, gpu_available, one_thread_below, to_numpy
from adapters.torch_adapter import make_optimizer as chapter1_optimizer
from adapters.word2vec.contract import (
    ONE_HOT,
    SAMPLE_SIZE,
    Batch,
    TrainInputs,
    WordNet,
    model_nets,
)

# --------------------------------------------------------------------------- the models


class SimpleCBOW(nn.Module):
    """ch03/simple_cbow.py: the mean of the two contexts' rows of W_in, then W_out.

    `in_layer` is applied to both context words: one Parameter used twice, so autograd
    adds the two gradients (the book lists W_in twice and merges them with
    remove_duplicate). `in_layer(one_hot)` is `one_hot @ W_in`, the row of the word.
    """

    def __init__(self, vocab_size: int, hidden_size: int, *, dtype, device) -> None:
        super().__init__()
        V, H = vocab_size, hidden_size
        self.in_layer = nn.utils.skip_init(nn.Linear, V, H, bias=False, dtype=dtype, device=device)
        self.out_layer = nn.utils.skip_init(nn.Linear, H, V, bias=False, dtype=dtype, device=device)

    def forward(self, contexts: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """contexts one-hot (N, 2, V) floats, target ids (N,): the mean cross-entropy."""
        h = (self.in_layer(contexts[:, 0]) + self.in_layer(contexts[:, 1])) * 0.5  # (N, H)
        return F.cross_entropy(self.out_layer(h), target)  # scores (N, V)


class SimpleSkipGram(nn.Module):
    """ch03/simple_skip_gram.py: the target's row of W_in, scores over the vocabulary, a
    cross-entropy against each of the two context words, summed."""

    def __init__(self, vocab_size: int, hidden_size: int, *, dtype, device) -> None:
        super().__init__()
        V, H = vocab_size, hidden_size
        self.in_layer = nn.utils.skip_init(nn.Linear, V, H, bias=False, dtype=dtype, device=device)
        self.out_layer = nn.utils.skip_init(nn.Linear, H, V, bias=False, dtype=dtype, device=device)

    def forward(self, contexts: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """contexts ids (N, 2), target one-hot (N, V) floats."""
        s = self.out_layer(self.in_layer(target))  # (N, V) @ W_in -> (N, H) -> (N, V)
        return F.cross_entropy(s, contexts[:, 0]) + F.cross_entropy(s, contexts[:, 1])


def negative_sampling_loss(
    out_embed: nn.Embedding, h: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    """ch04/negative_sampling_layer.py's NegativeSamplingLoss, summed over every loss.

    `positive` (N, ...) holds the words to score 1 and `negatives` (N, ..., S) the words
    to score 0; each score is the dot product of h (N, H) with the word's row of W_out.
    The book sums one mean binary cross-entropy per (word, label) column, which is the
    sum over all of them divided by N.
    """
    ids = torch.cat([positive.unsqueeze(-1), negatives], dim=-1)  # (N, ..., 1 + S)
    rows = out_embed(ids)  # (N, ..., 1 + S, H)
    h = h.view(h.shape[0], *(1,) * (ids.dim() - 1), h.shape[1])  # (N, 1, ..., 1, H)
    scores = (rows * h).sum(dim=-1)  # (N, ..., 1 + S)
    labels = torch.zeros_like(scores)
    labels[..., 0] = 1  # the positive word first, then the S negatives
    return F.binary_cross_entropy_with_logits(scores, labels, reduction="sum") / h.shape[0]


class CBOW(nn.Module):
    """ch04/cbow.py: the mean of the contexts' rows of W_in, negative sampling on W_out."""

    def __init__(self, vocab_size: int, hidden_size: int, *, dtype, device) -> None:
        super().__init__()
        V, H = vocab_size, hidden_size
        self.in_embed = nn.utils.skip_init(nn.Embedding, V, H, dtype=dtype, device=device)
        self.out_embed = nn.utils.skip_init(nn.Embedding, V, H, dtype=dtype, device=device)

    def forward(self, contexts, target, negatives) -> torch.Tensor:
        """contexts (N, 2 window), target (N,) and negatives (N, 5) word ids."""
        h = self.in_embed(contexts).mean(dim=1)  # (N, 2 window, H) -> (N, H)
        return negative_sampling_loss(self.out_embed, h, target, negatives)


class SkipGram(nn.Module):
    """ch04/skip_gram.py: the target's row of W_in, negative sampling against every
    context word (one loss each, summed)."""

    def __init__(self, vocab_size: int, hidden_size: int, *, dtype, device) -> None:
        super().__init__()
        V, H = vocab_size, hidden_size
        self.in_embed = nn.utils.skip_init(nn.Embedding, V, H, dtype=dtype, device=device)
        self.out_embed = nn.utils.skip_init(nn.Embedding, V, H, dtype=dtype, device=device)

    def forward(self, contexts, target, negatives) -> torch.Tensor:
        """contexts (N, 2 window), target (N,) and negatives (N, 2 window, 5) word ids."""
        h = self.in_embed(target)  # (N, H)
        return negative_sampling_loss(self.out_embed, h, contexts, negatives)


MODULES = {
    "simple_cbow": SimpleCBOW,
    "simple_skip_gram": SimpleSkipGram,
    "cbow": CBOW,
    "skip_gram": SkipGram,
}


def model_inputs(model: str, batch: Batch, to_tensor) -> tuple[torch.Tensor, ...]:
    """The batch as the module reads it: chapter 3's one-hot rows that a Linear multiplies
    as floats and those that are labels as ids; chapter 4's ids as they are."""
    if model == "simple_cbow":
        return to_tensor(batch.contexts, floats=True), to_tensor(batch.target.argmax(axis=1))
    if model == "simple_skip_gram":
        return to_tensor(batch.contexts.argmax(axis=2)), to_tensor(batch.target, floats=True)
    return to_tensor(batch.contexts), to_tensor(batch.target), to_tensor(batch.negatives)


# --------------------------------------------------------------------------- weights in and out


def book_params(module: nn.Module) -> dict[str, torch.Tensor]:
    """W_in and W_out as the module stores them (Linear: (out, in); Embedding: (V, H))."""
    if isinstance(module, SimpleCBOW | SimpleSkipGram):
        return {"W_in": module.in_layer.weight, "W_out": module.out_layer.weight}
    return {"W_in": module.in_embed.weight, "W_out": module.out_embed.weight}


def book_layout(module: nn.Module, p: torch.Tensor) -> torch.Tensor:
    """A view in the book's layout: a Linear's (out, in) weight transposed to (in, out);
    an Embedding's (V, H) as it is. The same transpose takes a book W to a Linear's."""
    return p.T if isinstance(module, SimpleCBOW | SimpleSkipGram) else p


def to_module(model: str, weights: dict, dtype: str, device: str) -> nn.Module:
    """The nn.Module holding `weights`: chapter 3's W (in, out) transposed to Linear's
    (out, in); chapter 4's (V, H) rows copied into nn.Embedding as they are."""
    V, H = weights["W_in"].shape
    module = MODULES[model](V, H, dtype=_TORCH_DTYPES[dtype], device=device)
    with torch.no_grad():
        for name, p in book_params(module).items():
            value = torch.from_numpy(np.ascontiguousarray(weights[name]))
            p.copy_(book_layout(module, value))  # Linear: (in, out) -> (out, in)
    return module


def from_module(module: nn.Module) -> dict[str, np.ndarray]:
    """Book-layout copies (a Linear's (out, in) weight transposed back to (in, out))."""
    return {
        name: to_numpy(book_layout(module, p)).copy() for name, p in book_params(module).items()
    }


# --------------------------------------------------------------------------- optimizers


def make_optimizer(spec: OptimizerSpec, params: list[torch.Tensor]) -> torch.optim.Optimizer:
    """Chapter 1's: torch.optim where it is the book's math, its BookAdam and BookNesterov
    where it is not (adapters/torch_adapter.py says why)."""
    return chapter1_optimizer(spec, params)


# --------------------------------------------------------------------------- one training step


def train_step(module, optimizer, params, inputs, max_grad: float | None) -> torch.Tensor:
    """zero_grad, forward, backward, clip_grad_norm_, step: the book's Trainer step, with
    autograd's summed gradients in place of remove_duplicate."""
    optimizer.zero_grad(set_to_none=True)
    loss = module(*inputs)
    loss.backward()
    if max_grad is not None:
        nn.utils.clip_grad_norm_(params, max_grad)  # the book's clip_grads, 1e-6 included
    optimizer.step()
    return loss.detach()


# One intra-op thread below this many elements in a step's largest tensor. The ops of a
# step are gathers, scatter-adds and elementwise products; split over threads, each piece
# is a few microseconds of work and waking a thread costs as much. Measured on the 2
# shared cores of this project's machine, CBOW's default run (largest tensor 100 x 10 x
# 100): 1.3 to 4 ms a step on one thread, 31 to 172 ms on two. Chapter 1's limit
# (TINY_ELEMENTS, one grain of parallel_for) is far lower: these ops stay below
# break-even longer.
ONE_THREAD_BELOW = 1 << 20


def largest_tensor(model: str, vocab_size: int, hidden_size: int, batch: int, ids: int) -> int:
    """Elements of the largest tensor of a step: a weight (V, H), chapter 3's one-hot rows
    and scores (N, V), or chapter 4's gathered rows (N, `ids` a row, H)."""
    per_row = 2 * vocab_size if model in ONE_HOT else ids * hidden_size
    return max(vocab_size * hidden_size, batch * per_row)


# --------------------------------------------------------------------------- the Net


class Net(WordNet):
    """The torch word2vec models behind the contract. `.module` is the nn.Module."""

    framework = "torch"
    DTYPES = ("float64", "float32")
    DEVICES = ("cpu", "cuda")
    MODES = ("eager",)

    @staticmethod
    def device_available(device: str) -> bool:
        return gpu_available(device)

    def _load(self, weights: dict) -> None:
        self.module = to_module(self.model, weights, self.dtype, self.device)

    def _weights(self) -> dict:
        return from_module(self.module)

    def _tensor(self, a: np.ndarray, *, floats: bool = False) -> torch.Tensor:
        """`a` on the net's device: ids as int64, one-hot rows to multiply in the dtype."""
        tensor = torch.from_numpy(np.ascontiguousarray(a))
        return tensor.to(self.device, _TORCH_DTYPES[self.dtype] if floats else None)

    def _loss(self, batch: Batch) -> float:
        with pinned_precision("torch", self.dtype), torch.no_grad():
            return self.module(*model_inputs(self.model, batch, self._tensor)).item()

    def _gradients(self, batch: Batch) -> dict:
        params = book_params(self.module)
        with pinned_precision("torch", self.dtype):
            loss = self.module(*model_inputs(self.model, batch, self._tensor))
            grads = torch.autograd.grad(loss, list(params.values()))
        return {  # a Linear's (out, in) gradient -> the book's (in, out)
            name: to_numpy(book_layout(self.module, g)).copy()
            for name, g in zip(params, grads, strict=True)
        }

    @contextlib.contextmanager
    def _training(self, inputs: TrainInputs):
        module, model = self.module, self.model
        params = book_params(module)
        tensors = list(params.values())
        optimizer = make_optimizer(inputs.optimizer, tensors)
        every = Batch(inputs.contexts, inputs.target, inputs.negatives)
        contexts, target, *negatives = model_inputs(model, every, self._tensor)  # moved once
        schedule = self._tensor(inputs.schedule)
        max_grad = inputs.max_grad

        def step(i: int) -> torch.Tensor:
            rows = schedule[i]
            batch = (contexts[rows], target[rows], *(n[i] for n in negatives))
            return train_step(module, optimizer, tensors, batch, max_grad)

        def weights() -> dict:  # views in the book's layout
            return {name: book_layout(module, p) for name, p in params.items()}

        ids = 0  # rows gathered per batch row: the contexts', or the scored words'
        if inputs.negatives is not None:
            scored = inputs.negatives[0, 0].size * (SAMPLE_SIZE + 1) // SAMPLE_SIZE
            ids = max(scored, inputs.contexts.shape[1])
        batch = inputs.schedule.shape[1]
        elements = largest_tensor(model, self.vocab_size, self.hidden_size, batch, ids)
        with (
            pinned_precision("torch", self.dtype),
            one_thread_below(elements, ONE_THREAD_BELOW, self.device),
        ):
            yield Training(step, weights, lambda: None)


NETS = model_nets(Net)
__all__ = ["NETS", "Net"]
