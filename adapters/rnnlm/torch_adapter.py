"""The language models of chapters 5-6 in PyTorch: `nn.Embedding`, `nn.RNN` / `nn.LSTM`
(batch_first=True), `nn.Linear` (tied to the embedding in BetterRnnlm),
`F.cross_entropy`, autograd, `torch.optim` and `clip_grad_norm_`.

Mirrors adapters/rnnlm/numpy_adapter.py and jax_adapter.py definition by definition.
Where a port from the book goes wrong, and what this file does about it:

- Gate order and layout. The book's LSTM keeps Wx (D, 4H) with the gates f, g, i, o;
  `nn.LSTM.weight_ih_l0` is (4H, D) with i, f, g, o. The map permutes the gate blocks
  and transposes (`to_module` and `from_module`, one function each way).
- The second bias. `nn.RNN` / `nn.LSTM` add `bias_ih + bias_hh` where the book adds one
  b. Both trainable, each gets the full gradient of b, so their sum moves twice as fast
  as the book's b. Here `bias_ih` holds b and `bias_hh` is zero and frozen
  (`requires_grad=False`); `from_module` returns their sum all the same.
- The state between batches. The book's layers are `stateful=True`: each batch starts
  from the last one's h (and c), and its backward pass stops there (truncated BPTT).
  Here the state is carried from step to step and detached: without `detach()`, the next
  `backward()` runs into the previous batch's freed graph (torch refuses it), and
  `retain_graph=True`, the usual way round, fails on weights the optimizer changed.
- The loss. `TimeSoftmaxWithLoss` averages over all N*T positions:
  `F.cross_entropy(scores.reshape(N*T, V), ts.reshape(N*T))`. Summing each time step's
  mean instead makes the loss, and every gradient, T times larger.
- Weight tying. `affine.weight = embed.weight` makes one Parameter: autograd sums its two
  gradients, and `module.parameters()` lists it once, so `clip_grad_norm_` counts its
  norm once, as the book's `remove_duplicate` before `clip_grads`. (`nn.Linear` stores
  (V, H), the embedding's own (V, D) layout: the tie needs no transpose here, where the
  book's affine W is embed_W.T.)
- Dropout. `nn.Dropout` draws from torch's generator, so no two frameworks drop the same
  elements. The parity run hands the reference's masks to `forward(..., masks=...)`;
  without masks the module uses `nn.Dropout`, as a person writes it.
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
from adapters.rnnlm.contract import (
    Block,
    RnnNet,
    TrainInputs,
    book_to_framework_gates,
    framework_to_book_gates,
    model_nets,
    sizes,
)
from adapters.torch_adapter import (
    _TORCH_DTYPES,
    TINY_ELEMENTS,
    gpu_available,
    one_thread_below,
    to_numpy,
)
from adapters.torch_adapter import make_optimizer as chapter1_optimizer

# --------------------------------------------------------------------------- the models


def _layer(cls, *args, dtype, device, **kwargs) -> nn.Module:
    """`cls(*args)` without its default initialisation: made on the meta device (nothing
    drawn from torch's generator: the weights always come from the book's), then given
    empty storage on `device`. `nn.utils.skip_init` does the same, but refuses nn.RNN and
    nn.LSTM, whose constructors take **kwargs."""
    return cls(*args, dtype=dtype, device="meta", **kwargs).to_empty(device=device)


class SimpleRnnlm(nn.Module):
    """Embedding -> RNN (tanh) -> Linear, as ch05/simple_rnnlm.py."""

    def __init__(self, V: int, D: int, H: int, *, dtype, device) -> None:
        super().__init__()
        kw = {"dtype": dtype, "device": device}
        self.embed = _layer(nn.Embedding, V, D, **kw)
        self.rnn = _layer(nn.RNN, D, H, batch_first=True, **kw)
        self.affine = _layer(nn.Linear, H, V, **kw)

    def forward(self, xs: torch.Tensor, state=None, masks=None):
        """Scores (N, T, V) and the state to carry, h (1, N, H)."""
        hs, state = self.rnn(self.embed(xs), state)  # (N, T, D) -> (N, T, H)
        return self.affine(hs), state


class Rnnlm(nn.Module):
    """Embedding -> LSTM -> Linear, as ch06/rnnlm.py."""

    def __init__(self, V: int, D: int, H: int, *, dtype, device) -> None:
        super().__init__()
        kw = {"dtype": dtype, "device": device}
        self.embed = _layer(nn.Embedding, V, D, **kw)
        self.lstm = _layer(nn.LSTM, D, H, batch_first=True, **kw)
        self.affine = _layer(nn.Linear, H, V, **kw)

    def forward(self, xs: torch.Tensor, state=None, masks=None):
        """Scores (N, T, V) and the state to carry, (h, c) each (1, N, H)."""
        hs, state = self.lstm(self.embed(xs), state)  # (N, T, D) -> (N, T, H)
        return self.affine(hs), state


class BetterRnnlm(nn.Module):
    """Embedding -> Dropout -> LSTM -> Dropout -> LSTM -> Dropout -> Linear (tied), as
    ch06/better_rnnlm.py. Two `nn.LSTM` of one layer each, not `nn.LSTM(num_layers=2,
    dropout=p)`: that one drops only between its layers, and draws its own masks."""

    def __init__(self, V: int, D: int, H: int, dropout_ratio: float, *, dtype, device) -> None:
        super().__init__()
        kw = {"dtype": dtype, "device": device}
        self.embed = _layer(nn.Embedding, V, D, **kw)
        self.lstm1 = _layer(nn.LSTM, D, H, batch_first=True, **kw)
        self.lstm2 = _layer(nn.LSTM, H, H, batch_first=True, **kw)
        self.affine = _layer(nn.Linear, H, V, **kw)
        self.affine.weight = self.embed.weight  # weight tying: one Parameter, (V, H)
        self.dropout = nn.Dropout(dropout_ratio)

    def forward(self, xs: torch.Tensor, state=(None, None), masks=None):
        """Scores (N, T, V) and the two LSTMs' states. `masks` (three (N, T, H) arrays,
        the reference's, already scaled by 1 / (1 - ratio)) replace `nn.Dropout`."""

        def drop(x, k):
            return self.dropout(x) if masks is None else x * masks[k]

        x = drop(self.embed(xs), 0)  # (N, T, D)
        h1, s1 = self.lstm1(x, state[0])  # (N, T, H)
        h2, s2 = self.lstm2(drop(h1, 1), state[1])
        return self.affine(drop(h2, 2)), (s1, s2)


# --------------------------------------------------------------------------- weights in and out


def _recurrent(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """(book suffix, recurrent layer): ("", rnn or lstm) or ("1", lstm1), ("2", lstm2)."""
    if isinstance(module, BetterRnnlm):
        return [("1", module.lstm1), ("2", module.lstm2)]
    return [("", module.rnn if isinstance(module, SimpleRnnlm) else module.lstm)]


def to_module(
    model: str, weights: dict, dtype: str, device: str, dropout_ratio: float = 0.5
) -> nn.Module:
    """The nn.Module of `model` holding the book's `weights` (checked, in `dtype`).

    Recurrent layers: W (in, gates * H) -> weight_ih / weight_hh (gates * H, in),
    transposed, the LSTM's gate blocks f, g, i, o reordered to i, f, g, o; b -> bias_ih,
    and bias_hh = 0, frozen. The output layer's W (H, V) -> weight (V, H), transposed.
    """
    V, D, H = sizes(model, weights)
    kw = {"dtype": _TORCH_DTYPES[dtype], "device": device}
    if model == "simple_rnnlm":
        module = SimpleRnnlm(V, D, H, **kw)
    elif model == "rnnlm":
        module = Rnnlm(V, D, H, **kw)
    else:
        module = BetterRnnlm(V, D, H, dropout_ratio, **kw)
    prefix = "rnn_" if model == "simple_rnnlm" else "lstm_"
    lstm = model != "simple_rnnlm"

    def put(p: torch.Tensor, a: np.ndarray) -> None:
        p.copy_(torch.from_numpy(np.ascontiguousarray(a)))

    with torch.no_grad():
        put(module.embed.weight, weights["embed_W"])  # (V, D): nn.Embedding's layout too
        for k, layer in _recurrent(module):
            Wx, Wh, b = (weights[f"{prefix}{n}{k}"] for n in ("Wx", "Wh", "b"))
            if lstm:
                Wx, Wh, b = (book_to_framework_gates(w) for w in (Wx, Wh, b))
            put(layer.weight_ih_l0, Wx.T)  # (D, gH) -> (gH, D)
            put(layer.weight_hh_l0, Wh.T)  # (H, gH) -> (gH, H)
            put(layer.bias_ih_l0, b)
            layer.bias_hh_l0.zero_()
            layer.bias_hh_l0.requires_grad_(False)  # the second bias: zero, frozen
        if model != "better_rnnlm":
            put(module.affine.weight, weights["affine_W"].T)  # (H, V) -> (V, H)
        put(module.affine.bias, weights["affine_b"])
    # eval mode: BetterRnnlm's nn.Dropout passes through unless masks are handed in (the
    # parity run's), so nothing is drawn from torch's generator; .train() turns it on
    return module.eval()


def book_view(module: nn.Module, grads: dict | None = None) -> dict[str, torch.Tensor]:
    """The book's weights as torch tensors (views where no sum is needed; the tied weight
    once): transposed back, the gates reordered i, f, g, o -> f, g, i, o, b the sum
    bias_ih + bias_hh. With `grads` (parameter -> its gradient), the same map of the
    gradients: d loss / d b is the gradient of bias_ih (bias_hh's is the same number)."""
    lstm = not isinstance(module, SimpleRnnlm)
    prefix = "lstm_" if lstm else "rnn_"

    def value(p: torch.Tensor) -> torch.Tensor:
        return p.detach() if grads is None else grads[p]

    out = {"embed_W": value(module.embed.weight)}  # (V, D) in both
    for k, layer in _recurrent(module):
        b = value(layer.bias_ih_l0)
        if grads is None:
            b = b + value(layer.bias_hh_l0)
        ws = [value(layer.weight_ih_l0).T, value(layer.weight_hh_l0).T, b]  # (gH, in) -> (in, gH)
        if lstm:
            ws = [framework_to_book_gates(w) for w in ws]
        out.update({f"{prefix}{n}{k}": w for n, w in zip(("Wx", "Wh", "b"), ws, strict=True)})
    if not isinstance(module, BetterRnnlm):
        out["affine_W"] = value(module.affine.weight).T  # (V, H) -> (H, V)
    out["affine_b"] = value(module.affine.bias)
    return out


def from_module(module: nn.Module) -> dict[str, np.ndarray]:
    """The book's weights from the module, as NumPy copies (`book_view`)."""
    return {name: to_numpy(w).copy() for name, w in book_view(module).items()}


def trainable(module: nn.Module) -> list[torch.Tensor]:
    """The parameters the optimizer updates: each once (the tied weight too), bias_hh not."""
    return [p for p in module.parameters() if p.requires_grad]


# --------------------------------------------------------------------------- optimizers


def make_optimizer(spec: OptimizerSpec, module: nn.Module) -> torch.optim.Optimizer:
    """Chapter 1's (adapters/torch_adapter.py: torch.optim where it is the book's math,
    BookAdam and BookNesterov where not) over the trainable parameters."""
    return chapter1_optimizer(spec, trainable(module))


# --------------------------------------------------------------------------- one training step


def loss_fn(scores: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """TimeSoftmaxWithLoss: the mean cross-entropy over all N*T positions."""
    return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), ts.reshape(-1))


def initial_state(module: nn.Module):
    """Nothing carried yet: every recurrent layer starts from zeros (the book's h = None)."""
    return (None, None) if isinstance(module, BetterRnnlm) else None


def detach(state):
    """The carried state cut from this step's graph (None, a tensor, or nested tuples)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(detach(s) for s in state)


def train_step(module, optimizer, params, xs, ts, state, masks, max_grad: float | None):
    """zero_grad, forward from the carried state, the loss over N*T, backward,
    clip_grad_norm_ (the book's clip_grads: the tied weight counted once), step.
    Returns the loss and the new state, detached: the next batch continues from it, its
    backward pass stops there."""
    optimizer.zero_grad(set_to_none=True)
    scores, state = module(xs, state, masks)
    loss = loss_fn(scores, ts)
    loss.backward()
    if max_grad is not None:
        nn.utils.clip_grad_norm_(params, max_grad)
    optimizer.step()
    return loss.detach(), detach(state)


def largest_tensor(V: int, D: int, H: int, rows: int) -> int:
    """Elements in the largest tensor of a step: the scores (N*T, V), a gate block
    (N*T, 4H), the embedding (V, D) or an LSTM weight (4H, max(D, H))."""
    return max(rows * max(V, 4 * H), V * D, 4 * H * max(D, H))


# --------------------------------------------------------------------------- the Net


class Net(RnnNet):
    """The torch language models behind the contract. `.module` is the nn.Module."""

    framework = "torch"
    DTYPES = ("float64", "float32")
    DEVICES = ("cpu", "cuda")
    MODES = ("eager",)

    @staticmethod
    def device_available(device: str) -> bool:
        return gpu_available(device)

    def _load(self, weights: dict) -> None:
        ratio = self.config.get("dropout_ratio", 0.0)
        self.module = to_module(self.model, weights, self.dtype, self.device, ratio)

    def _weights(self) -> dict:
        return from_module(self.module)

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        """`a` on the net's device: ids as int64, masks in the net's dtype."""
        tensor = torch.from_numpy(np.ascontiguousarray(a))
        floats = tensor.is_floating_point()
        return tensor.to(self.device, _TORCH_DTYPES[self.dtype] if floats else None)

    def _threads(self, rows: int):
        """One intra-op thread for a net this small (chapter 1's rule)."""
        V, D, H = self.vocab_size, self.wordvec_size, self.hidden_size
        return one_thread_below(largest_tensor(V, D, H, rows), TINY_ELEMENTS, self.device)

    def _forward(self, block: Block):
        masks = None if block.masks is None else self._tensor(block.masks)
        state = initial_state(self.module)
        return self.module(self._tensor(block.xs), state, masks)[0]  # from zero state

    def _predict(self, xs: np.ndarray) -> np.ndarray:
        block = Block(xs, xs, None)
        with pinned_precision("torch", self.dtype), self._threads(xs.size), torch.no_grad():
            return to_numpy(self._forward(block))

    def _loss(self, block: Block) -> float:
        with pinned_precision("torch", self.dtype), self._threads(block.xs.size), torch.no_grad():
            return loss_fn(self._forward(block), self._tensor(block.ts)).item()

    def _gradients(self, block: Block) -> dict:
        params = trainable(self.module)
        with pinned_precision("torch", self.dtype), self._threads(block.xs.size):
            loss = loss_fn(self._forward(block), self._tensor(block.ts))
            grads = dict(zip(params, torch.autograd.grad(loss, params), strict=True))
        return {name: to_numpy(g).copy() for name, g in book_view(self.module, grads).items()}

    @contextlib.contextmanager
    def _training(self, inputs: TrainInputs):
        module = self.module
        params = trainable(module)
        optimizer = make_optimizer(inputs.optimizer, module)
        xs, ts = self._tensor(inputs.xs), self._tensor(inputs.ts)  # moved once
        schedule = self._tensor(inputs.schedule)
        masks = None if inputs.masks is None else self._tensor(inputs.masks)
        max_grad = inputs.max_grad
        carried = {"state": initial_state(module)}

        def step(i: int) -> torch.Tensor:
            rows = schedule[i]  # (N, T) positions
            m = None if masks is None else masks[i]  # (3, N, T, H)
            loss, carried["state"] = train_step(
                module, optimizer, params, xs[rows], ts[rows], carried["state"], m, max_grad
            )
            return loss

        rows = int(np.prod(inputs.schedule.shape[1:]))
        with pinned_precision("torch", self.dtype), self._threads(rows):
            yield Training(step, lambda: book_view(module), lambda: None)


NETS = model_nets(Net)
__all__ = ["NETS", "Net"]
