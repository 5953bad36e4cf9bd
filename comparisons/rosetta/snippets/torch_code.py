"""The book's chapter 1 in idiomatic PyTorch (the Rosetta's
middle column).

What a person writes: `nn.Sequential` of `nn.Linear` and
`nn.Sigmoid`, `F.cross_entropy`, `loss.backward()`,
`torch.optim`, `TensorDataset`/`DataLoader`, `.to(device)`.
Float64 where the book computes in float64 (NumPy's default;
torch's is float32). Lines of at most 64 columns (ruff.toml).
The tests run every function here against the reference
(`scratch/`) with the book's weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# ------------------------------------------------------ data


def load_batches(x, t, batch_size, rng):
    labels = t.argmax(axis=1)  # class indices, not one-hot
    dataset = TensorDataset(torch.from_numpy(x),
                            torch.from_numpy(labels))
    # the book's draw; shuffle=True would draw torch's own
    idx = rng.permutation(len(dataset))
    loader = DataLoader(dataset, batch_size=batch_size,
                        sampler=idx.tolist(), drop_last=True)
    return list(loader)  # [(x (30, 2), t (30,)), ...]


# ---------------------------------------------------- layers


def affine(x, W, b):
    fc = nn.Linear(*W.shape, dtype=torch.float64)  # (in, out)
    with torch.no_grad():
        # Linear keeps its weight as (out, in): the book's W.T
        fc.weight.copy_(W.T)
        fc.bias.copy_(b)
    return fc(x)  # x @ fc.weight.T + fc.bias


def sigmoid(x, dout):
    # a leaf of our own: the caller's x stays as it was
    x = x.detach().requires_grad_()
    y = torch.sigmoid(x)  # or nn.Sigmoid() as a layer
    y.backward(dout)  # autograd finds dout * y * (1 - y)
    return y, x.grad


def softmax_with_loss(score, t):
    score = score.detach().requires_grad_()
    # softmax + mean cross-entropy, no 1e-7 in the log
    loss = F.cross_entropy(score, t)
    loss.backward()
    return loss, score.grad  # (y - one_hot(t)) / N


# --------------------------------------------------- the net


def two_layer_net(W1, b1, W2, b2):
    I, H = W1.shape
    O = W2.shape[1]
    model = nn.Sequential(
        nn.Linear(I, H), nn.Sigmoid(), nn.Linear(H, O)
    ).double()
    with torch.no_grad():  # the book's (in, out) -> (out, in)
        model[0].weight.copy_(torch.from_numpy(W1.T))
        model[0].bias.copy_(torch.from_numpy(b1))
        model[2].weight.copy_(torch.from_numpy(W2.T))
        model[2].bias.copy_(torch.from_numpy(b2))
    # model[0] is the book's layers[0]; model.parameters()
    # are W1.T, b1, W2.T, b2
    return model


def gradients(model, x, t):
    loss = F.cross_entropy(model(x), t)
    model.zero_grad()
    loss.backward()  # autograd: no hand-written backward
    grads = [p.grad for p in model.parameters()]
    return loss, grads  # each dW as (out, in)


@torch.no_grad()
def accuracy(model, x, t):
    score = model(x)
    return (score.argmax(dim=1) == t).double().mean().item()


# --------------------------------------------------- updates


def make_sgd(model, lr):
    # made once, before the loop: Momentum or Adam keep
    # their state in the optimizer from step to step
    return torch.optim.SGD(model.parameters(), lr=lr)


def sgd_update(optimizer):
    optimizer.step()  # p -= lr * p.grad, in place


def make_optimizer(name, params, lr):
    if name == "momentum":  # buf = -v / lr: the book's steps
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "nesterov":  # not the book's Nesterov
        return torch.optim.SGD(params, lr=lr, momentum=0.9,
                               nesterov=True)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=1e-7)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99,
                                   eps=1e-7)
    if name == "adam":  # eps after the bias correction
        return torch.optim.Adam(params, lr=lr,
                                betas=(0.9, 0.999), eps=1e-7)
    raise ValueError(f"make_optimizer: unknown name {name!r}")


def clip_grads(model, max_norm):
    # scales by max_norm / (norm + 1e-6), the book's formula
    nn.utils.clip_grad_norm_(model.parameters(), max_norm)


# -------------------------------------------------- training


def train_step(model, optimizer, batch_x, batch_t,
               max_grad=None):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(batch_x), batch_t)
    loss.backward()
    if max_grad is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad)
    optimizer.step()
    return loss.item()


def train(model, x, t, schedule, learning_rate):
    optimizer = torch.optim.SGD(model.parameters(),
                                lr=learning_rate)
    dataset = TensorDataset(x, t)
    # the book's batches as rows (shuffled_batches); the
    # everyday DataLoader(dataset, batch_size=30,
    # shuffle=True, drop_last=True) draws its own
    loader = DataLoader(dataset,
                        batch_sampler=schedule.tolist())
    return [train_step(model, optimizer, batch_x, batch_t)
            for batch_x, batch_t in loader]


# ----------------------------------------------------- speed


def half_storage(model):
    model = model.float()  # float32, torch's default dtype
    stored = {k: v.half()  # torch.save(stored, f)
              for k, v in model.state_dict().items()}
    # copied back into the float32 parameters
    model.load_state_dict(stored)
    return model


def to_device(model, x, t):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # the model and every batch, both
    return model.to(device), x.to(device), t.to(device)
