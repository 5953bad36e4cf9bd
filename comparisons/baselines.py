"""The benchmark's baselines: the book's training loop written by hand in each framework,
the way a user would write it, with no adapter around it.

Each loop does the work `Net.train` does on the benchmark's SGD runs: forward, backward,
the SGD update, every step's loss kept, and the weights (book layout) kept after the
updates the adapter recorded (`marks`, its Trajectory's `record_steps`; 0 is the initial
weights), the data moved to the framework once. `adapter / baseline` is then the adapter's
cost.

They are kept minimal on purpose, and that is what they measure against:
- the recording is a plain list of copies, stacked at the end (no preallocated buffers);
- the torch loop runs on the threads the torch adapter would use for the same net
  (`adapters.torch_adapter.tiny_net_threads`: one thread for a net as small as the book's),
  so both sides do the same work;
- no input checks, no divergence detection, no precision pinning beyond what each loop
  needs to compute in the asked dtype.

`problem` is a comparisons.bench.Problem: x (n, 2) float64, t (n,) int64, weights (book
layout, float64), schedule (steps, batch) int64, lr.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

import adapters
from scratch.functions import BOOK_LOG_EPS
from scratch.optimizers import SGD
from scratch.two_layer_net import WEIGHT_NAMES, TwoLayerNet


def _stacked(records: list[list[np.ndarray]]) -> dict[str, np.ndarray]:
    """[[W1, b1, W2, b2] per record] -> {name: (records, *shape)}."""
    return {k: np.stack([r[i] for r in records]) for i, k in enumerate(WEIGHT_NAMES)}


def numpy_fused(problem, marks: np.ndarray, dtype: str, device: str):
    """The book's math in one loop body: no layer objects, no optimizer object."""
    params = [np.array(problem.weights[k], dtype=dtype) for k in WEIGHT_NAMES]
    W1, b1, W2, b2 = params
    lr = problem.lr
    x, t, schedule = problem.x.astype(dtype), problem.t, problem.schedule
    steps, batch = schedule.shape
    keep = set(marks.tolist())
    records = [[p.copy() for p in params]]
    losses = np.empty(steps)
    rows_n = np.arange(batch)
    with np.errstate(over="ignore"):  # exp(-a) -> inf gives sigmoid 0, as the book's
        for step in range(steps):
            rows = schedule[step]
            xb, tb = x[rows], t[rows]
            z = 1 / (1 + np.exp(-(xb @ W1 + b1)))  # (N, H)
            score = z @ W2 + b2  # (N, O)
            y = np.exp(score - score.max(axis=1, keepdims=True))
            y /= y.sum(axis=1, keepdims=True)  # softmax (N, O)
            losses[step] = -np.sum(np.log(y[rows_n, tb] + BOOK_LOG_EPS)) / batch
            y[rows_n, tb] -= 1
            dscore = y / batch  # (N, O)
            da = (dscore @ W2.T) * (1 - z) * z  # (N, H), with W2 before its update
            W2 -= lr * (z.T @ dscore)
            b2 -= lr * dscore.sum(axis=0)
            W1 -= lr * (xb.T @ da)
            b1 -= lr * da.sum(axis=0)
            if step + 1 in keep:
                records.append([p.copy() for p in params])
    return losses, _stacked(records)


def scratch_reference(problem, marks: np.ndarray, dtype: str, device: str):
    """The scratch reference driven directly, as ch01/train_custom_loop.py drives it:
    TwoLayerNet.forward, backward, SGD.update; no adapter, no loss gap."""
    model = TwoLayerNet(2, problem.weights["W1"].shape[1], 3, weights=problem.weights, dtype=dtype)
    optimizer = SGD(problem.lr)
    x, t = problem.x.astype(dtype), problem.t
    keep = set(marks.tolist())
    records = [[p.copy() for p in model.params]]
    losses = np.empty(problem.schedule.shape[0])
    for step, rows in enumerate(problem.schedule):
        losses[step] = model.forward(x[rows], t[rows])
        model.backward()
        optimizer.update(model.params, model.grads)
        if step + 1 in keep:
            records.append([p.copy() for p in model.params])
    return losses, _stacked(records)


def torch_plain(problem, marks: np.ndarray, dtype: str, device: str):
    """A plain nn.Module (two nn.Linear) and torch.optim.SGD, the usual training loop."""
    adapters.net_class("torch")  # torch imported the adapters' way
    import torch
    from torch import nn
    from torch.nn import functional as F

    tdtype = getattr(torch, dtype)
    book = lambda p: p.T if p.ndim == 2 else p  # noqa: E731  Linear (out, in) <-> book (in, out)
    H = problem.weights["W1"].shape[1]
    model = nn.Sequential(  # skip_init: no draw from torch's generator
        nn.utils.skip_init(nn.Linear, 2, H, dtype=tdtype, device=device),
        nn.Sigmoid(),
        nn.utils.skip_init(nn.Linear, H, 3, dtype=tdtype, device=device),
    )
    params = list(model.parameters())  # W1 (out, in), b1, W2 (out, in), b2
    with torch.no_grad():
        for p, k in zip(params, WEIGHT_NAMES, strict=True):
            p.copy_(book(torch.from_numpy(problem.weights[k])))  # book (in, out) -> (out, in)
    optimizer = torch.optim.SGD(params, lr=problem.lr)
    x = torch.from_numpy(problem.x).to(device=device, dtype=tdtype)
    t = torch.from_numpy(problem.t).to(device)
    schedule = torch.from_numpy(problem.schedule).to(device)
    keep = set(marks.tolist())
    snapshot = lambda: [book(p).detach().clone() for p in params]  # noqa: E731
    records = [snapshot()]
    losses = torch.empty(schedule.shape[0], dtype=tdtype, device=device)
    from adapters.torch_adapter import tiny_net_threads  # the adapter's own thread rule

    with tiny_net_threads((2, H, 3), schedule.shape[1], device):
        for step in range(schedule.shape[0]):
            rows = schedule[step]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[rows]), t[rows])
            loss.backward()
            optimizer.step()
            losses[step] = loss.detach()
            if step + 1 in keep:
                records.append(snapshot())
    stacked = {
        k: torch.stack([r[i] for r in records]).cpu().numpy() for i, k in enumerate(WEIGHT_NAMES)
    }
    return losses.cpu().numpy().astype(np.float64), stacked


@functools.cache
def _jax_functions(lr: float) -> dict[str, Callable]:
    """{"step": one jitted SGD step, "scan": the whole run in one lax.scan}, per lr."""
    adapters.net_class("jax")  # jax imported the adapters' way (NumPy's generator kept)
    import jax
    import optax

    def loss_fn(params, xb, tb):
        z = jax.nn.sigmoid(xb @ params["W1"] + params["b1"])  # (N, H)
        scores = z @ params["W2"] + params["b2"]  # (N, O)
        return optax.softmax_cross_entropy_with_integer_labels(scores, tb).mean()

    def sgd_step(params, rows, x, t):
        loss, grads = jax.value_and_grad(loss_fn)(params, x[rows], t[rows])
        return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss

    @jax.jit
    def step(params, i, x, t, schedule):
        """Step i: the batch is taken inside the compiled step (no dispatch per slice)."""
        return sgd_step(params, schedule[i], x, t)

    @jax.jit
    def scan(params, x, t, schedule):
        """Every step's loss and weights: (steps,) and {name: (steps, *shape)}."""

        def body(params, rows):
            params, loss = sgd_step(params, rows, x, t)
            return params, (loss, params)

        return jax.lax.scan(body, params, schedule)[1]

    return {"step": step, "scan": scan}


def _jax_device(device: str):
    import jax

    kind, _, index = device.partition(":")
    return jax.devices("cpu" if kind == "cpu" else "gpu")[int(index or 0)]


def jax_plain(mode: str, problem, marks: np.ndarray, dtype: str, device: str):
    """A jitted step in a Python loop ("step") or the whole run in one lax.scan ("scan")."""
    fn = _jax_functions(problem.lr)[mode]
    import jax

    dev = _jax_device(device)
    with jax.enable_x64(dtype == "float64"), jax.default_matmul_precision("highest"):
        initial = {k: problem.weights[k].astype(dtype) for k in WEIGHT_NAMES}
        params = jax.device_put(initial, dev)
        x = jax.device_put(problem.x.astype(dtype), dev)  # moved once, not per step
        t = jax.device_put(problem.t, dev)
        schedule = jax.device_put(problem.schedule, dev)
        if mode == "step":
            keep = set(marks.tolist())
            records, losses = [params], []
            for i in range(problem.schedule.shape[0]):
                params, loss = fn(params, i, x, t, schedule)
                losses.append(loss)
                if i + 1 in keep:
                    records.append(params)
            stack = jax.numpy.stack  # on the device, then one copy back per weight
            weights = {k: np.asarray(stack([r[k] for r in records])) for k in WEIGHT_NAMES}
            return np.asarray(stack(losses), dtype=np.float64), weights
        losses, history = fn(params, x, t, schedule)
        weights = {  # the initial weights, then those after the marked steps
            k: np.concatenate([initial[k][None], np.asarray(history[k])[marks[1:] - 1]])
            for k in WEIGHT_NAMES
        }
        return np.asarray(losses, dtype=np.float64), weights


BASELINES: dict[tuple[str, str], Callable] = {
    ("numpy", "eager"): numpy_fused,
    ("torch", "eager"): torch_plain,
    ("jax", "step"): functools.partial(jax_plain, "step"),
    ("jax", "scan"): functools.partial(jax_plain, "scan"),
}
