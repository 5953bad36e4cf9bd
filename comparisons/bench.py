"""The benchmark: `python -m comparisons bench`.

Times training in every framework and execution mode (numpy eager, torch eager, JAX
"step" and "scan") at three sizes, in float64 and float32, and beside every adapter run
a minimal hand-written loop doing the same work without the adapter: forward, backward,
the SGD update, every step's loss kept, the weights recorded every `record_every` steps,
the data moved to the framework once. `adapter / hand-written` is the adapter's cost.

What one run measures: building the Net from the book-layout weights and `Net.train`
(input checks included: that is what a user pays), until the losses and the recorded
weights are NumPy arrays again (so a GPU run is synchronised). The first call of each
row is timed on its own ("first call": JAX compilation, torch's first optimizer step);
the run time is the median of `repeats` runs after it. The machine is shared and noisy:
compare the medians, and read the load average in the header.

For numpy the hand-written loop is the book's math fused into one loop body; the scratch
reference driven directly (ch01/train_custom_loop.py's loop) is timed beside it, so the
cost of the book's layer objects and the cost of the adapter show apart.

The sizes, their SGD learning rates and the seed are fixed, so two runs of the benchmark
time the same thing. Not a parity check: `python -m comparisons` is that.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

import adapters
from adapters import OptimizerSpec
from adapters.precision import import_jax
from adapters.trajectory import record_steps
from comparisons.run import text_table
from scratch import init_weights
from scratch.optimizers import SGD
from scratch.trainer import shuffled_batches
from scratch.two_layer_net import WEIGHT_NAMES, TwoLayerNet, Weights

SEED = 1984
DTYPES = ("float64", "float32")
DEFAULT_REPEATS = 5


@dataclass(frozen=True)
class Size:
    """One problem size: the TwoLayerNet 2-hidden-3 on a spiral of `points` points."""

    name: str
    hidden: int
    batch: int
    points: int  # spiral points, points // 3 per class
    steps: int
    record_every: int
    lr: float  # SGD's: ch01's 1.0 at hidden 10; about 10 / hidden above, or float32 overflows
    gpu_only: bool = False  # skipped on the CPU unless asked for by name


SIZES = {
    s.name: s
    for s in (
        Size("book", hidden=10, batch=30, points=300, steps=3000, record_every=1, lr=1.0),
        Size("medium", hidden=1000, batch=1024, points=30_000, steps=200, record_every=10, lr=0.01),
        Size(
            "large",
            hidden=4096,
            batch=16384,
            points=300_000,
            steps=100,
            record_every=10,
            lr=0.0025,
            gpu_only=True,
        ),
    )
}

# The targets of the benchmark (issue 6), checked on the book's run.
JAX_SCAN_RUN_S = 0.040  # the whole 3000-step run in "scan" mode, after compilation
TORCH_STEP_S = 0.0005  # torch eager, per step
REFERENCE_VS_FUSED = 1.3  # the scratch reference against a fused NumPy loop
ADAPTER_VS_HAND = 1.10  # every adapter against its hand-written loop


# --------------------------------------------------------------------------- the problems


def spiral_data(n_per_class: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """dataset/spiral.py's recipe for any number of points per class, vectorised.

    x (3 n, 2) float64 and index labels t (3 n,) int64, rows grouped by class; one
    normal draw per point in the book's order, so n = 100 is the book's data set.
    """
    rate = np.arange(n_per_class) / n_per_class  # (n,)
    noise = rng.standard_normal((3, n_per_class)) * 0.2  # (3, n): class-major, as the loops
    theta = np.arange(3)[:, None] * 4.0 + 4.0 * rate + noise  # (3, n)
    x = np.stack([rate * np.sin(theta), rate * np.cos(theta)], axis=-1)  # (3, n, 2)
    t = np.repeat(np.arange(3, dtype=np.int64), n_per_class)  # (3 n,)
    return x.reshape(-1, 2), t


@dataclass
class Problem:
    """The data, the initial weights and the batches of one size (one RandomState)."""

    size: Size
    x: np.ndarray  # (n, 2) float64
    t: np.ndarray  # (n,) int64 index labels
    weights: Weights  # float64, book layout
    schedule: np.ndarray  # (steps, batch) int64

    @property
    def steps(self) -> int:
        return int(self.schedule.shape[0])

    @property
    def record_every(self) -> int:
        return self.size.record_every


def make_problem(size: Size, steps: int | None = None) -> Problem:
    """Data, then W1 and W2, then one permutation per epoch, all from RandomState(1984):
    for the book's size, exactly the book's run (comparisons.run.book_data)."""
    steps = size.steps if steps is None else steps
    rng = np.random.RandomState(SEED)
    x, t = spiral_data(size.points // 3, rng)
    weights = init_weights(2, size.hidden, 3, rng=rng)
    per_epoch = len(x) // size.batch
    schedule = shuffled_batches(len(x), size.batch, math.ceil(steps / per_epoch), rng)
    return Problem(size, x, t, weights, schedule[:steps])


# --------------------------------------------------------------------------- the adapter run


def adapter_run(problem: Problem, framework: str, mode: str, dtype: str, device: str):
    """build + Net.train, the user-visible cost: -> (losses, recorded weights)."""
    net = adapters.build(framework, problem.weights, dtype=dtype, device=device)
    traj = net.train(
        problem.x,
        problem.t,
        problem.schedule,
        OptimizerSpec("sgd", problem.size.lr),
        record_every=problem.record_every,
        mode=mode,
    )
    return traj.losses, traj.weights


# --------------------------------------------------------------------------- hand-written loops
# The same work as the adapters, written the way a user would: no checks, no adapter.


def numpy_fused_loop(problem: Problem, dtype: str, device: str):
    """The book's math in one loop body: no layer objects, no optimizer object."""
    W1, b1, W2, b2 = params = [np.array(problem.weights[k], dtype=dtype) for k in WEIGHT_NAMES]
    lr = problem.size.lr
    x, t, schedule = problem.x.astype(dtype), problem.t, problem.schedule
    steps, batch = schedule.shape
    marks = record_steps(steps, problem.record_every)
    records = {
        k: np.empty((len(marks), *p.shape), p.dtype)
        for k, p in zip(WEIGHT_NAMES, params, strict=True)
    }
    for k, p in zip(WEIGHT_NAMES, params, strict=True):
        records[k][0] = p
    rec = 1
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
            losses[step] = -np.sum(np.log(y[rows_n, tb] + 1e-7)) / batch
            y[rows_n, tb] -= 1
            dscore = y / batch  # (N, O)
            da = (dscore @ W2.T) * (1 - z) * z  # (N, H), with W2 before its update
            W2 -= lr * (z.T @ dscore)
            b2 -= lr * dscore.sum(axis=0)
            W1 -= lr * (xb.T @ da)
            b1 -= lr * da.sum(axis=0)
            if step + 1 == marks[rec]:
                for k, p in zip(WEIGHT_NAMES, params, strict=True):
                    records[k][rec] = p
                rec += 1
    return losses, records


def scratch_reference_loop(problem: Problem, dtype: str, device: str):
    """The scratch reference driven directly, as ch01/train_custom_loop.py drives it:
    TwoLayerNet.forward, backward, SGD.update; no adapter, no loss gap."""
    model = TwoLayerNet(2, problem.size.hidden, 3, weights=problem.weights, dtype=dtype)
    optimizer = SGD(problem.size.lr)
    x, t, schedule = problem.x.astype(dtype), problem.t, problem.schedule
    marks = record_steps(problem.steps, problem.record_every)
    records = {
        k: np.empty((len(marks), *p.shape), p.dtype)
        for k, p in zip(WEIGHT_NAMES, model.params, strict=True)
    }
    for k, p in zip(WEIGHT_NAMES, model.params, strict=True):
        records[k][0] = p
    rec = 1
    losses = np.empty(problem.steps)
    for step, rows in enumerate(schedule):
        losses[step] = model.forward(x[rows], t[rows])
        model.backward()
        optimizer.update(model.params, model.grads)
        if step + 1 == marks[rec]:
            for k, p in zip(WEIGHT_NAMES, model.params, strict=True):
                records[k][rec] = p
            rec += 1
    return losses, records


def torch_loop(problem: Problem, dtype: str, device: str):
    """A plain nn.Module (two nn.Linear) and torch.optim.SGD, the usual training loop.

    As the adapter does (`adapters.torch_adapter.tiny_net_threads`), a net whose tensors
    are all below 32768 elements trains on one intra-op thread, so both sides do the
    same work; the thread count is restored afterwards.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    from adapters.torch_adapter import tiny_net_threads

    tdtype = getattr(torch, dtype)
    book = lambda p: p.T if p.ndim == 2 else p  # noqa: E731  Linear (out, in) <-> book (in, out)
    H = problem.size.hidden
    model = nn.Sequential(  # skip_init: no draw from torch's generator
        nn.utils.skip_init(nn.Linear, 2, H, dtype=tdtype, device=device),
        nn.Sigmoid(),
        nn.utils.skip_init(nn.Linear, H, 3, dtype=tdtype, device=device),
    )
    params = list(model.parameters())  # W1 (out, in), b1, W2 (out, in), b2
    with torch.no_grad():
        for p, k in zip(params, WEIGHT_NAMES, strict=True):
            w = torch.from_numpy(problem.weights[k])
            p.copy_(book(w))  # book (in, out) -> Linear (out, in)
    optimizer = torch.optim.SGD(params, lr=problem.size.lr)
    x = torch.from_numpy(problem.x).to(device=device, dtype=tdtype)
    t = torch.from_numpy(problem.t).to(device)
    schedule = torch.from_numpy(problem.schedule).to(device)
    marks = record_steps(problem.steps, problem.record_every).tolist()
    losses = torch.empty(problem.steps, dtype=tdtype, device=device)
    records = [  # book layout (records, in, out)
        torch.empty((len(marks), *book(p).shape), dtype=tdtype, device=device) for p in params
    ]
    with torch.no_grad():
        for buf, p in zip(records, params, strict=True):
            buf[0].copy_(book(p))
    rec = 1
    with tiny_net_threads((2, H, 3), problem.size.batch, device):
        for step in range(problem.steps):
            rows = schedule[step]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[rows]), t[rows])
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                losses[step] = loss
                if step + 1 == marks[rec]:
                    for buf, p in zip(records, params, strict=True):
                        buf[rec].copy_(book(p))
                    rec += 1
    weights = {k: buf.cpu().numpy() for k, buf in zip(WEIGHT_NAMES, records, strict=True)}
    return losses.cpu().numpy().astype(np.float64), weights


_JAX_JITTED: dict = {}  # the hand-written jitted functions, built once per lr (a closure)


def _jax_jitted(lr: float) -> dict:
    """{"step": a jitted step writing into donated buffers, "scan": a whole-run lax.scan}."""
    if lr in _JAX_JITTED:
        return _JAX_JITTED[lr]
    jax = import_jax()  # with NumPy's global generator left alone
    import optax

    def loss_fn(params, xb, tb):
        z = jax.nn.sigmoid(xb @ params["W1"] + params["b1"])  # (N, H)
        scores = z @ params["W2"] + params["b2"]  # (N, O)
        return optax.softmax_cross_entropy_with_integer_labels(scores, tb).mean()

    def train_step(params, rows, x, t):
        loss, grads = jax.value_and_grad(loss_fn)(params, x[rows], t[rows])
        return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss

    @functools.partial(jax.jit, donate_argnums=(1, 2))
    def step(params, losses, records, i, r, x, t, schedule):
        """Step i, its loss written to losses[i] and the weights to records[r], in place."""
        params, loss = train_step(params, schedule[i], x, t)
        records = jax.tree.map(lambda buf, p: buf.at[r].set(p), records, params)
        return params, losses.at[i].set(loss), records

    @jax.jit
    def scan(params, x, t, schedule):
        """Every step's loss and weights: (steps,) and {name: (steps, *shape)}."""

        def body(params, rows):
            params, loss = train_step(params, rows, x, t)
            return params, (loss, params)

        return jax.lax.scan(body, params, schedule)[1]

    _JAX_JITTED[lr] = {"step": step, "scan": scan}
    return _JAX_JITTED[lr]


def _jax_loop(mode: str, problem: Problem, dtype: str, device: str):
    """A jitted step in a Python loop ("step") or the whole run in one lax.scan ("scan")."""
    from adapters.jax_adapter import jax_device

    jax = import_jax()
    fn = _jax_jitted(problem.size.lr)[mode]
    dev = jax_device(device)
    k, steps = problem.record_every, problem.steps
    marks = record_steps(steps, k)
    with jax.enable_x64(dtype == "float64"), jax.default_matmul_precision("highest"):
        initial = {name: w.astype(dtype) for name, w in problem.weights.items()}
        params = {name: jax.device_put(w, dev) for name, w in initial.items()}
        x = jax.device_put(problem.x.astype(dtype), dev)  # moved once, not per step
        t = jax.device_put(problem.t, dev)
        schedule = jax.device_put(problem.schedule, dev)
        if mode == "step":
            losses = jax.device_put(np.zeros(steps, dtype), dev)
            records = {}
            for name, w in initial.items():  # (records, *shape), the initial weights first
                buf = np.zeros((len(marks), *w.shape), dtype)
                buf[0] = w
                records[name] = jax.device_put(buf, dev)
            for i in range(steps):
                # record ceil((i + 1) / k): its last write is the one after step k * r
                params, losses, records = fn(
                    params, losses, records, i, (i + k) // k, x, t, schedule
                )
            weights = {name: np.asarray(v) for name, v in records.items()}
        else:
            losses, history = fn(params, x, t, schedule)
            weights = {  # the initial weights, then after steps k, 2k, ... and the last
                name: np.concatenate([initial[name][None], np.asarray(v)[marks[1:] - 1]])
                for name, v in history.items()
            }
        return np.asarray(losses, dtype=np.float64), weights


HAND_WRITTEN: dict[tuple[str, str], Callable] = {
    ("numpy", "eager"): numpy_fused_loop,
    ("torch", "eager"): torch_loop,
    ("jax", "step"): functools.partial(_jax_loop, "step"),
    ("jax", "scan"): functools.partial(_jax_loop, "scan"),
}


# --------------------------------------------------------------------------- timing


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()  # a collection from the previous run does not land in this one
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


@dataclass
class Row:
    """One framework and mode at one size and dtype; times in seconds."""

    size: str
    dtype: str
    framework: str
    mode: str
    device: str
    steps: int
    batch: int
    hidden: int
    record_every: int
    first_call_s: float  # the first build + train: compilation, lazy imports
    run_s: float  # median over the repeats after the first call
    per_step_s: float
    steps_per_s: float
    hand_first_call_s: float | None
    hand_run_s: float | None
    overhead: float | None  # adapter / hand-written: the median of the paired runs' ratios
    max_loss_diff: float | None  # adapter against hand-written: the same work was done
    runs_s: list[float]
    hand_runs_s: list[float]
    reference_runs_s: list[float]  # numpy only: the scratch net driven directly
    vs_fastest: float = 1.0  # run_s / the fastest run_s at this size and dtype


def paired_ratio(a: list[float], b: list[float]) -> float:
    """The median of a[i] / b[i]: runs i of both sides ran back to back, under the same load."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def time_row(
    problem: Problem,
    framework: str,
    mode: str,
    dtype: str,
    device: str,
    repeats: int,
    tick: Callable[[str], None] = lambda _what: None,
) -> Row:
    """First calls, then `repeats` interleaved runs of the adapter and the hand-written
    loop (and, for numpy, the scratch reference used directly), so the noise of a
    shared machine falls on both sides alike."""
    runners = {"adapter": functools.partial(adapter_run, problem, framework, mode, dtype, device)}
    hand = HAND_WRITTEN.get((framework, mode))
    if hand is not None:
        runners["hand"] = functools.partial(hand, problem, dtype, device)
    if framework == "numpy":
        runners["reference"] = functools.partial(scratch_reference_loop, problem, dtype, device)
    first, outputs = {}, {}
    for name, fn in runners.items():
        first[name], outputs[name] = _timed(fn)
    tick("first call done")
    runs: dict[str, list[float]] = {name: [] for name in runners}
    for r in range(repeats):
        for name, fn in runners.items():
            runs[name].append(_timed(fn)[0])
        tick(f"repeat {r + 1}/{repeats}")
    run_s = statistics.median(runs["adapter"])
    hand_run_s = statistics.median(runs["hand"]) if hand else None
    loss_diff = float(np.max(np.abs(outputs["adapter"][0] - outputs["hand"][0]))) if hand else None
    return Row(
        size=problem.size.name,
        dtype=dtype,
        framework=framework,
        mode=mode,
        device="cpu" if framework == "numpy" else device,
        steps=problem.steps,
        batch=problem.size.batch,
        hidden=problem.size.hidden,
        record_every=problem.record_every,
        first_call_s=first["adapter"],
        run_s=run_s,
        per_step_s=run_s / problem.steps,
        steps_per_s=problem.steps / run_s,
        hand_first_call_s=first.get("hand"),
        hand_run_s=hand_run_s,
        overhead=paired_ratio(runs["adapter"], runs["hand"]) if hand else None,
        max_loss_diff=loss_diff,
        runs_s=runs["adapter"],
        hand_runs_s=runs.get("hand", []),
        reference_runs_s=runs.get("reference", []),
    )


# --------------------------------------------------------------------------- the whole bench


@dataclass(frozen=True)
class BenchConfig:
    sizes: tuple[str, ...] = ("book", "medium")
    dtypes: tuple[str, ...] = DTYPES
    frameworks: tuple[str, ...] = ("numpy", "torch", "jax")
    device: str = "cpu"
    repeats: int = DEFAULT_REPEATS
    steps: int | None = None  # every size's step count, when set (a quick run)


def plan(config: BenchConfig) -> tuple[list[tuple[str, str, str, str]], list[dict]]:
    """(size, dtype, framework, mode) in run order, and what is skipped and why."""
    todo, skipped = [], []
    for size in config.sizes:
        if "numpy" in config.frameworks and config.device != "cpu" and SIZES[size].gpu_only:
            reason = "the CPU reference at a GPU-only size would take many minutes"
            skipped.append({"size": size, "framework": "numpy", "reason": reason})
        for dtype in config.dtypes:
            for framework in config.frameworks:
                if framework == "numpy" and config.device != "cpu" and SIZES[size].gpu_only:
                    continue
                for mode in adapters.net_class(framework).MODES:
                    todo.append((size, dtype, framework, mode))
    return todo, skipped


def machine() -> dict:
    """What ran the benchmark: hardware, load, library versions, thread counts."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    out = {
        "cpu": model,
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        out["torch"] = torch.__version__
        out["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name()
    if "jax" in sys.modules:
        out["jax"] = sys.modules["jax"].__version__
        out["jax_backend"] = sys.modules["jax"].default_backend()
    return out


def targets(rows: list[Row]) -> list[dict]:
    """The issue's targets, on the book's full run (3000 steps) and every overhead ratio."""
    out = []

    def check(what: str, value: float, limit: float, unit: str) -> None:
        out.append(
            {"what": what, "value": value, "limit": limit, "unit": unit, "met": value <= limit}
        )

    for r in rows:
        book = r.size == "book" and r.steps == SIZES["book"].steps
        name = f"{r.size} {r.dtype} {r.framework}/{r.mode}"
        if book and (r.framework, r.mode) == ("jax", "scan"):
            check(f"{name}: run after compilation", r.run_s, JAX_SCAN_RUN_S, "s")
        if book and (r.framework, r.mode) == ("torch", "eager"):
            check(f"{name}: time per step", r.per_step_s, TORCH_STEP_S, "s")
        if r.overhead is not None:
            check(f"{name}: adapter / hand-written", r.overhead, ADAPTER_VS_HAND, "x")
        if r.reference_runs_s:  # numpy: the cost of the reference's layers, then the adapter's
            ratio = paired_ratio(r.reference_runs_s, r.hand_runs_s)
            check(f"{name}: scratch reference / fused loop", ratio, REFERENCE_VS_FUSED, "x")
            ratio = paired_ratio(r.runs_s, r.reference_runs_s)
            check(f"{name}: adapter / scratch reference", ratio, ADAPTER_VS_HAND, "x")
    return out


def bench_results(config: BenchConfig, progress: Callable[[str], None] | None = None) -> dict:
    """Run the benchmark; the JSON-ready results: machine, config, rows, targets."""
    say = progress or (lambda _msg: None)
    todo, skipped = plan(config)
    start_load = machine()["load_average_1min"]
    problems: dict[str, Problem] = {}
    rows: list[Row] = []
    total = len(todo) * (1 + config.repeats)
    done = 0
    for n, (size, dtype, framework, mode) in enumerate(todo, 1):
        if size not in problems:
            problems = {size: make_problem(SIZES[size], config.steps)}  # one size in memory
        label = f"{size} {dtype} {framework}/{mode} ({n}/{len(todo)})"

        def tick(what: str, label: str = label, step: int = 1) -> None:
            nonlocal done
            done += step
            percent = 100 * done // total
            say(f"[{'#' * (percent // 5):<20}] {percent:3d}% {label}: {what}")

        tick("first call ...", step=0)
        rows.append(
            time_row(problems[size], framework, mode, dtype, config.device, config.repeats, tick)
        )
    for r in rows:
        fastest = min(o.run_s for o in rows if (o.size, o.dtype) == (r.size, r.dtype))
        r.vs_fastest = r.run_s / fastest
    info = machine()
    info["load_average_1min"] = [start_load, info["load_average_1min"]]  # before, after
    return {
        "machine": info,
        "config": asdict(config),
        "sizes": {name: asdict(SIZES[name]) for name in config.sizes},
        "rows": [asdict(r) for r in rows],
        "skipped": skipped,
        "targets": targets(rows),
    }


# --------------------------------------------------------------------------- output


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def format_table(results: dict) -> str:
    """The rows as a text table, then the targets."""
    head = (
        "size",
        "dtype",
        "framework/mode",
        "device",
        "steps",
        "per step",
        "steps/s",
        "run",
        "first call",
        "x fastest",
        "hand-written run",
        "adapter/hand",
    )
    body = [
        (
            r["size"],
            r["dtype"],
            f"{r['framework']}/{r['mode']}",
            r["device"],
            str(r["steps"]),
            _duration(r["per_step_s"]),
            f"{r['steps_per_s']:,.0f}",
            _duration(r["run_s"]),
            _duration(r["first_call_s"]),
            f"{r['vs_fastest']:.2f}",
            _duration(r["hand_run_s"]),
            "-" if r["overhead"] is None else f"{r['overhead']:.2f}",
        )
        for r in results["rows"]
    ]
    m = results["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cpus']} CPUs, load average {m['load_average_1min'][0]} "
        f"-> {m['load_average_1min'][1]}"
        + (f", torch threads {m['torch_threads']}" if "torch_threads" in m else "")
        + (f", GPU {m['gpu']}" if "gpu" in m else ""),
        f"median of {results['config']['repeats']} runs after a first call; a run is build + "
        "train until NumPy arrays are back",
        "",
        text_table(head, body),
    ]
    for s in results["skipped"]:
        lines.append(f"skipped: {s['size']} {s['framework']}: {s['reason']}")
    if results["targets"]:
        lines += ["", "targets:"]
        for t in results["targets"]:
            value = _duration(t["value"]) if t["unit"] == "s" else f"{t['value']:.2f}"
            limit = _duration(t["limit"]) if t["unit"] == "s" else f"{t['limit']:.2f}"
            verdict = "met" if t["met"] else "MISSED"
            lines.append(f"  {t['what']}: {value} (target <= {limit}) {verdict}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the command


def _names(value, option: str, allowed, what: str) -> tuple[str, ...]:
    """A comma-separated option (or a list) checked against `allowed`; UsageError if bad."""
    from comparisons.cli import UsageError

    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    names = [n for n in names if n]
    if not names:
        raise UsageError(f"{option}: expected a comma-separated list of {what}")
    for name in names:
        if name not in allowed:
            raise UsageError(
                f"{option}: unknown {what[:-1]} {name!r} (choose from {', '.join(allowed)})"
            )
    if len(set(names)) != len(names):
        raise UsageError(f"{option}: a {what[:-1]} is listed twice in {value!r}")
    return tuple(names)


def _count(value, option: str) -> int:
    from comparisons.cli import UsageError

    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{option} must be a positive integer, got {value!r}")
    return value


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The BenchConfig the options describe; every check before any work (UsageError).

    Options the parser does not define take their defaults."""
    from comparisons.cli import UsageError

    device = getattr(args, "device", None) or "cpu"
    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu or cuda[:N], got {device!r}")
    frameworks = getattr(args, "frameworks", None)
    frameworks = adapters.available() if frameworks is None else frameworks
    frameworks = _names(frameworks, "--frameworks", adapters.available(), "frameworks")
    sizes = getattr(args, "sizes", None)
    if sizes is None:
        sizes = [s.name for s in SIZES.values() if device != "cpu" or not s.gpu_only]
    sizes = _names(sizes, "--sizes", tuple(SIZES), "sizes")
    dtypes = getattr(args, "dtypes", None)
    dtypes = _names(DTYPES if dtypes is None else dtypes, "--dtypes", DTYPES, "dtypes")
    repeats = getattr(args, "repeats", None)
    repeats = DEFAULT_REPEATS if repeats is None else _count(repeats, "--repeats")
    steps = getattr(args, "steps", None)
    if steps is not None:
        steps = _count(steps, "--steps")
    if device != "cpu":
        for fw in frameworks:
            if fw != "numpy" and not adapters.net_class(fw).device_available(device):
                raise UsageError(f"--device {device!r} is not available to {fw} here")
        if frameworks == ("numpy",):
            raise UsageError(f"--device {device!r}: numpy runs on the CPU only")
    return BenchConfig(sizes, dtypes, frameworks, device, repeats, steps)


def _show(message: str) -> None:
    """Progress on stderr: one line rewritten in place on a terminal, else line by line."""
    if sys.stderr.isatty():
        print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)
    else:
        print(message, file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    """`python -m comparisons bench`: the table (or --json) on stdout, progress on stderr."""
    config = config_from_args(args)
    quiet = getattr(args, "quiet", False)
    results = bench_results(config, None if quiet else _show)
    if not quiet and sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    if getattr(args, "json", False):
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results))
    return 0
