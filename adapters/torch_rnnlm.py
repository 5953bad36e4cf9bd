"""The language models of chapters 5-6 in PyTorch: `nn.Embedding`, `nn.RNN` / `nn.LSTM`
(batch_first=True), `nn.Linear` (tied to the embedding in BetterRnnlm),
`F.cross_entropy`, autograd, `torch.optim` and `clip_grad_norm_`.

Mirrors adapters/jax_rnnlm.py definition by definition. Where a port from the book
goes wrong, and what this file does about it:

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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adapters import rnnlm_weights as rw
from adapters.optimizer_spec import OptimizerSpec
from adapters.torch_adapter import _TORCH_DTYPES, make_optimizer, to_numpy

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
    V, D, H = rw.sizes(model, weights)
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
                Wx, Wh, b = (rw.book_to_framework_gates(w) for w in (Wx, Wh, b))
            put(layer.weight_ih_l0, Wx.T)  # (D, gH) -> (gH, D)
            put(layer.weight_hh_l0, Wh.T)  # (H, gH) -> (gH, H)
            put(layer.bias_ih_l0, b)
            layer.bias_hh_l0.zero_()
            layer.bias_hh_l0.requires_grad_(False)  # the second bias: zero, frozen
        if model != "better_rnnlm":
            put(module.affine.weight, weights["affine_W"].T)  # (H, V) -> (V, H)
        put(module.affine.bias, weights["affine_b"])
    return module


def book_view(module: nn.Module) -> dict[str, torch.Tensor]:
    """The book's weights as torch tensors (views where no sum is needed; the tied weight
    once): transposed back, the gates reordered i, f, g, o -> f, g, i, o,
    b = bias_ih + bias_hh."""
    lstm = not isinstance(module, SimpleRnnlm)
    prefix = "lstm_" if lstm else "rnn_"
    out = {"embed_W": module.embed.weight}
    for k, layer in _recurrent(module):
        ws = [layer.weight_ih_l0.T, layer.weight_hh_l0.T, layer.bias_ih_l0 + layer.bias_hh_l0]
        if lstm:
            ws = [rw.framework_to_book_gates(w) for w in ws]
        out.update({f"{prefix}{n}{k}": w for n, w in zip(("Wx", "Wh", "b"), ws, strict=True)})
    if not isinstance(module, BetterRnnlm):
        out["affine_W"] = module.affine.weight.T  # (V, H) -> (H, V)
    out["affine_b"] = module.affine.bias
    return {name: w.detach() for name, w in out.items()}


def from_module(module: nn.Module) -> dict[str, np.ndarray]:
    """The book's weights from the module, as NumPy copies (`book_view`)."""
    return {name: to_numpy(w).copy() for name, w in book_view(module).items()}


def trainable(module: nn.Module) -> list[torch.Tensor]:
    """The parameters the optimizer updates: each once (the tied weight too), bias_hh not."""
    return [p for p in module.parameters() if p.requires_grad]


# --------------------------------------------------------------------------- one training step


def loss_fn(scores: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """TimeSoftmaxWithLoss: the mean cross-entropy over all N*T positions."""
    return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), ts.reshape(-1))


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


def optimizer_for(spec: OptimizerSpec, module: nn.Module) -> torch.optim.Optimizer:
    """The chapter-1 adapter's optimizers (book math) over the trainable parameters."""
    return make_optimizer(spec, trainable(module))


def initial_state(module: nn.Module):
    """Nothing carried yet: every recurrent layer starts from zeros (the book's h = None)."""
    return (None, None) if isinstance(module, BetterRnnlm) else None
