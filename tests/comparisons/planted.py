"""Small models with planted bugs, for tests/comparisons/test_parity_hints.py.

Each model is a NumPy reference written the way the book writes its layers (a forward
pass and a hand-written backward pass, SGD from scratch.optimizers) and a torch twin
written the way a person writes one; `twin(..., bug=...)` plants one mistake of the kind
people make when porting, or none. Both are recorded with `comparisons.parity.record`,
gradients included. Shapes are small and, except where a bug needs one, not square.
"""

from __future__ import annotations

import numpy as np

from comparisons.parity import book_loss_gap, from_torch, pinned_precision, record, to_torch
from scratch.layers import Affine, Sigmoid, SoftmaxWithLoss
from scratch.optimizers import SGD

STEPS, BATCH, LR = 12, 6, 0.5


def schedule(n: int, seed: int = 0) -> np.ndarray:
    """(STEPS, BATCH) row indices: a fresh permutation's first BATCH rows each step."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n)[:BATCH] for _ in range(STEPS)])


def _torch():
    import torch

    return torch


# --------------------------------------------------------------------------- an MLP, W2 square

MLP_SIZES = (3, 4, 4, 2)  # W2 is (4, 4): a transpose keeps its shape
MLP_NAMES = {
    "W1": "0.weight",
    "b1": "0.bias",
    "W2": "2.weight",
    "b2": "2.bias",
    "W3": "4.weight",
    "b3": "4.bias",
}


def mlp_problem(seed: int = 0):
    """(weights in the book's (in, out) layout, x (40, 3), labels (40,))."""
    rng = np.random.default_rng(seed)
    w = {}
    for i, (n_in, n_out) in enumerate(zip(MLP_SIZES, MLP_SIZES[1:], strict=False), start=1):
        w[f"W{i}"] = rng.standard_normal((n_in, n_out))
        w[f"b{i}"] = 0.1 * rng.standard_normal(n_out)
    return w, rng.standard_normal((40, 3)), rng.integers(0, 2, 40)


def mlp_reference(w, x, labels, rows_schedule):
    """The NumPy MLP: Affine-Sigmoid-Affine-Sigmoid-Affine, SoftmaxWithLoss, SGD."""
    w = {k: v.copy() for k, v in w.items()}
    layers = [
        Affine(w["W1"], w["b1"]),
        Sigmoid(),
        Affine(w["W2"], w["b2"]),
        Sigmoid(),
        Affine(w["W3"], w["b3"]),
    ]
    loss_layer, sgd = SoftmaxWithLoss(), SGD(lr=LR)
    params = [p for layer in layers for p in layer.params]
    grads = [g for layer in layers for g in layer.grads]

    def step(rows):
        h = x[rows]
        for layer in layers:
            h = layer.forward(h)
        loss = loss_layer.forward(h, labels[rows])
        dout = loss_layer.backward()
        for layer in reversed(layers):
            dout = layer.backward(dout)
        sgd.update(params, grads)
        return loss

    return record(
        step,
        lambda: dict(zip(w, params, strict=True)),
        rows_schedule,
        framework="numpy",
        loss_gap=lambda rows: book_loss_gap(loss_layer.y, labels[rows]),
        grads=lambda: dict(zip(w, grads, strict=True)),
        label="numpy",
    )


def mlp_twin(w, x, labels, rows_schedule, bug: str | None = None):
    """The torch MLP: nn.Sequential of nn.Linear and nn.Sigmoid, F.cross_entropy,
    torch.optim.SGD. Bugs: "transposed" (weights() hands W2 over as nn.Linear stores it,
    (out, in)), "lagged" (weights() hands over the weights as they were before the
    step's update), "bias_mean" (a hand-written Affine whose backward takes the mean of
    dout for the bias where the book sums it), "tanh" (the second activation is tanh)."""
    torch = _torch()
    import torch.nn.functional as F
    from torch import nn

    class BookAffine(torch.autograd.Function):
        """The book's Affine as a torch Function, its backward written by hand."""

        @staticmethod
        def forward(ctx, h, weight, bias):
            ctx.save_for_backward(h, weight)
            return h @ weight.T + bias  # nn.Linear's weight is (out, in)

        @staticmethod
        def backward(ctx, dout):
            h, weight = ctx.saved_tensors
            return dout @ weight, dout.T @ h, dout.mean(dim=0)  # the bug: the book sums

    class MeanBiasLinear(nn.Linear):
        def forward(self, h):
            return BookAffine.apply(h, self.weight, self.bias)

    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws; to_torch replaces it
        first = MeanBiasLinear(3, 4) if bug == "bias_mean" else nn.Linear(3, 4)
        act = nn.Tanh() if bug == "tanh" else nn.Sigmoid()
        model = nn.Sequential(first, nn.Sigmoid(), nn.Linear(4, 4), act, nn.Linear(4, 2))
    model = model.double()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, lt = torch.from_numpy(x), torch.from_numpy(labels)
    with pinned_precision("torch"):
        to_torch(model, w, MLP_NAMES)
        views = from_torch(model, MLP_NAMES)  # views in the (in, out) layout
        if bug == "transposed":
            views["W2"] = model[2].weight.detach()  # forgot the .T: (out, in) as stored
        before = dict(views)

        def step(rows):
            rows = torch.from_numpy(rows)
            loss = F.cross_entropy(model(xt[rows]), lt[rows])
            opt.zero_grad()
            loss.backward()
            if bug == "lagged":  # a snapshot taken before the update, handed over after it
                before.update({k: v.clone() for k, v in views.items()})
            opt.step()
            return loss

        def grads():
            params = dict(model.named_parameters())
            return {
                k: params[v].grad.T if v.endswith("weight") else params[v].grad
                for k, v in MLP_NAMES.items()
            }  # nn.Linear's (out, in) -> (in, out)

        weights = (lambda: before) if bug == "lagged" else (lambda: views)
        return record(
            step,
            weights,
            rows_schedule,
            framework="torch",
            grads=grads,
            label=f"torch ({bug})" if bug else "torch",
        )


# --------------------------------------------------------------------------- an LSTM-like cell

D, H = 3, 2  # Wx (3, 8), Wh (2, 8), b (8,): four gate blocks of H columns
TORCH_GATES = [2, 0, 1, 3]  # nn.LSTM's i, f, g, o as blocks of the book's f, g, i, o
BOOK_GATES = [1, 2, 0, 3]  # and back


def gates(a: np.ndarray, order: list[int]):
    """`a` with its 4 blocks along the last axis in `order` (NumPy or torch)."""
    blocks = [a[..., k * H : (k + 1) * H] for k in order]
    return (
        np.concatenate(blocks, axis=-1) if isinstance(a, np.ndarray) else _torch().cat(blocks, -1)
    )


def cell_problem(seed: int = 1):
    """(weights, inputs x (30, D), previous states h0 (30, H), targets y (30, H))."""
    rng = np.random.default_rng(seed)
    w = {
        "Wx": rng.standard_normal((D, 4 * H)),
        "Wh": rng.standard_normal((H, 4 * H)),
        "b": np.zeros(4 * H),  # zero, as the book initialises it
    }
    return (
        w,
        rng.standard_normal((30, D)),
        rng.standard_normal((30, H)),
        rng.standard_normal((30, H)),
    )


def cell_reference(w, x, h0, y, rows_schedule):
    """One step of the book's LSTM (common/time_layers.py: gates f, g, i, o from one
    affine map, c = f * c0 + g * i, h = o * tanh(c)), c0 = 0, and the loss
    0.5 * mean over the batch of |h - y|^2; the backward pass by hand."""
    w = {k: v.copy() for k, v in w.items()}
    g = {k: np.zeros_like(v) for k, v in w.items()}
    sgd = SGD(lr=LR)

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    def step(rows):
        xb, hb, yb = x[rows], h0[rows], y[rows]
        n = len(rows)
        A = xb @ w["Wx"] + hb @ w["Wh"] + w["b"]  # (N, 4H): f, g, i, o
        f, gg, i, o = (A[:, k * H : (k + 1) * H] for k in range(4))
        f, gg, i, o = sigmoid(f), np.tanh(gg), sigmoid(i), sigmoid(o)
        c = gg * i  # f * c0 with c0 = 0
        h = o * np.tanh(c)
        loss = 0.5 * np.sum((h - yb) ** 2) / n
        dh = (h - yb) / n
        ds = dh * o * (1 - np.tanh(c) ** 2)
        dA = np.hstack(
            [
                np.zeros_like(f),
                ds * i * (1 - gg**2),
                ds * gg * i * (1 - i),
                dh * np.tanh(c) * o * (1 - o),
            ]
        )  # (N, 4H); df = ds * c0 = 0
        g["Wx"][...] = xb.T @ dA
        g["Wh"][...] = hb.T @ dA
        g["b"][...] = dA.sum(axis=0)
        sgd.update(list(w.values()), list(g.values()))
        return loss

    return record(step, lambda: w, rows_schedule, framework="numpy", grads=lambda: g, label="numpy")


def cell_twin(w, x, h0, y, rows_schedule, bug: str | None = None):
    """The cell as nn.LSTMCell: weight_ih (4H, D), weight_hh (4H, H), bias_ih and
    bias_hh, gates i, f, g, o. The weight map transposes, reorders the gates and puts
    the book's one bias into bias_ih, bias_hh frozen at 0. Bugs: "gate_order" (weights()
    reads the weights back without reordering the gates), "second_bias" (bias_hh is
    trained too: both biases take every update, so the book's b moves twice)."""
    torch = _torch()
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        cell = nn.LSTMCell(D, H).double()
    back = (lambda a: a) if bug == "gate_order" else (lambda a: gates(a, BOOK_GATES))
    with pinned_precision("torch"), torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(gates(w["Wx"], TORCH_GATES).T))  # (4H, D)
        cell.weight_hh.copy_(torch.from_numpy(gates(w["Wh"], TORCH_GATES).T))  # (4H, H)
        cell.bias_ih.copy_(torch.from_numpy(gates(w["b"], TORCH_GATES)))
        cell.bias_hh.zero_()
    if bug != "second_bias":
        cell.bias_hh.requires_grad_(False)
    opt = torch.optim.SGD([p for p in cell.parameters() if p.requires_grad], lr=LR)
    xt, ht, yt = (torch.from_numpy(a) for a in (x, h0, y))

    def step(rows):
        rows = torch.from_numpy(rows)
        h, _ = cell(xt[rows], (ht[rows], torch.zeros_like(ht[rows])))
        loss = 0.5 * ((h - yt[rows]) ** 2).sum() / len(rows)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def weights():
        return {
            "Wx": back(cell.weight_ih.detach().T),
            "Wh": back(cell.weight_hh.detach().T),
            "b": back((cell.bias_ih + cell.bias_hh).detach()),  # the book has one bias
        }

    def grads():
        return {
            "Wx": back(cell.weight_ih.grad.T),
            "Wh": back(cell.weight_hh.grad.T),
            "b": back(cell.bias_ih.grad),
        }

    with pinned_precision("torch"):
        return record(
            step,
            weights,
            rows_schedule,
            framework="torch",
            grads=grads,
            label=f"torch ({bug})" if bug else "torch",
        )


# --------------------------------------------------------------------------- an embedding

VOCAB, DIM, CLASSES = 12, 3, 4


def embedding_problem(seed: int = 2):
    """(weights {"W_in": (VOCAB, DIM), "W_out": (DIM, CLASSES)}, word ids (24,) with each
    id twice, labels (24,))."""
    rng = np.random.default_rng(seed)
    w = {"W_in": rng.standard_normal((VOCAB, DIM)), "W_out": rng.standard_normal((DIM, CLASSES))}
    ids = rng.permutation(np.arange(24) % VOCAB)
    return w, ids, rng.integers(0, CLASSES, 24)


def embedding_reference(w, ids, labels, rows_schedule):
    """Embedding (the book's: a row lookup, backward by np.add.at) -> MatMul ->
    SoftmaxWithLoss, SGD."""
    w = {k: v.copy() for k, v in w.items()}
    g = {k: np.zeros_like(v) for k, v in w.items()}
    loss_layer, sgd = SoftmaxWithLoss(), SGD(lr=LR)

    def step(rows):
        idx = ids[rows]
        h = w["W_in"][idx]  # (N, DIM)
        loss = loss_layer.forward(h @ w["W_out"], labels[rows])
        dscore = loss_layer.backward()  # (N, CLASSES)
        g["W_out"][...] = h.T @ dscore
        g["W_in"][...] = 0
        np.add.at(g["W_in"], idx, dscore @ w["W_out"].T)  # a repeated id adds every row
        sgd.update(list(w.values()), list(g.values()))
        return loss

    return record(
        step,
        lambda: w,
        rows_schedule,
        framework="numpy",
        loss_gap=lambda rows: book_loss_gap(loss_layer.y, labels[rows]),
        grads=lambda: g,
        label="numpy",
    )


def embedding_twin(w, ids, labels, rows_schedule, bug: str | None = None):
    """The embedding in torch with its backward written by hand (a torch Function), as
    when porting the book's Embedding layer. Bug "dropped_add_at": the backward writes
    the rows with index_put_ without accumulate=True, so a repeated id keeps one row."""
    torch = _torch()
    import torch.nn.functional as F

    class Embedding(torch.autograd.Function):
        @staticmethod
        def forward(ctx, weight, idx):
            ctx.save_for_backward(idx)
            ctx.rows = weight.shape[0]
            return weight[idx]

        @staticmethod
        def backward(ctx, dout):
            (idx,) = ctx.saved_tensors
            dw = torch.zeros(ctx.rows, dout.shape[1], dtype=dout.dtype)
            dw.index_put_((idx,), dout, accumulate=bug != "dropped_add_at")
            return dw, None

    params = {k: torch.tensor(v, requires_grad=True) for k, v in w.items()}
    opt = torch.optim.SGD(params.values(), lr=LR)
    it, lt = torch.from_numpy(ids), torch.from_numpy(labels)

    def step(rows):
        rows = torch.from_numpy(rows)
        h = Embedding.apply(params["W_in"], it[rows])
        loss = F.cross_entropy(h @ params["W_out"], lt[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    with pinned_precision("torch"):
        return record(
            step,
            lambda: params,
            rows_schedule,
            framework="torch",
            grads=lambda: {k: p.grad for k, p in params.items()},
            label=f"torch ({bug})" if bug else "torch",
        )
