"""The benchmark: `python -m comparisons bench`.

Times training in every framework and execution mode (numpy eager, torch eager, JAX
"step" and "scan") at the sizes asked for (the book's run by default; `medium` and
`large` when named), in float64 and float32, and beside every adapter run a minimal
hand-written loop doing the same work without the adapter (comparisons/baselines.py).
`adapter / hand-written` is the adapter's cost.

What one run measures: building the Net from the book-layout weights and `Net.train`
(input checks included: that is what a user pays), until the losses and the recorded
weights are NumPy arrays again (so a GPU run is synchronised). The first call of each
row is timed on its own ("first call": JAX compilation, torch's first optimizer step);
the run time is the median of `repeats` runs after it. The machine is shared and noisy:
compare the medians, and read the load average in the header.

Progress goes to stderr: a bar with the time left, rewritten in place on a terminal and
one line per run otherwise (so a log shows it too). Options are checked by the CLI
(comparisons/cli.py), which hands `bench_results` a BenchConfig.

For numpy the hand-written loop is the book's math fused into one loop body; the scratch
reference driven directly (ch01/train_custom_loop.py's loop) is timed beside it, so the
cost of the book's layer objects and the cost of the adapter show apart.

The sizes, their SGD learning rates and the seed are fixed, so two runs of the benchmark
time the same thing. Not a parity check: `python -m comparisons` is that.
"""

from __future__ import annotations

import functools
import gc
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
from comparisons import baselines
from comparisons.run import process_bytes, reference_device
from comparisons.text import duration, text_table
from scratch import init_weights
from scratch.trainer import shuffled_batches
from scratch.two_layer_net import Weights

SEED = 1984
DTYPES = ("float64", "float32")
DEFAULT_REPEATS = 3
# Timed runs per row at most: a row's median no longer moves after a few dozen runs on a
# shared machine, and 100 runs of the medium size's rows take about an hour here
# (`--repeats 1000000000` was accepted and would have run for a year).
MAX_REPEATS = 100
DEFAULT_SIZES = ("book",)  # 2 to 6 minutes on 2 cores (docs/speed.md); bigger when asked


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
    # torch's intra-op threads for the hand-written loop on the CPU (None: the process's).


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

    @property
    def lr(self) -> float:
        return self.size.lr


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


def adapter_run(
    problem: Problem, framework: str, mode: str, dtype: str, device: str
) -> adapters.Trajectory:
    """build + Net.train, the user-visible cost."""
    net = adapters.build(framework, problem.weights, dtype=dtype, device=device)
    return net.train(
        problem.x,
        problem.t,
        problem.schedule,
        OptimizerSpec("sgd", problem.lr),
        record_every=problem.record_every,
        mode=mode,
    )


def memory_needed(config: BenchConfig) -> int:
    """Bytes the benchmark holds at once, at its largest size (estimated, not measured):
    the process with its frameworks (comparisons.run.process_bytes, as `train` counts it),
    the data and schedule, one pass's activations, and for each of the runs of one row
    the losses and recorded weights (JAX's scan baseline keeps every step's weights)."""
    need = 0
    for name in config.sizes:
        size = SIZES[name]
        steps = size.steps if config.steps is None else config.steps
        params = 6 * size.hidden + 3  # W1 (2, H), b1 (H,), W2 (H, 3), b2 (3,)
        records = steps // size.record_every + 2
        data = 8 * (3 * size.points + steps * size.batch)
        working = 8 * 8 * size.batch * size.hidden  # activations and gradients, float64
        runs = 8 * (4 * steps + 4 * records * params)  # adapter, baseline, reference
        scan = 8 * steps * params if "jax" in config.frameworks else 0
        need = max(need, data + working + runs + scan)
    return process_bytes(config.frameworks) + need


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
    device = reference_device(framework, device)  # numpy stays on the CPU without CuPy
    adapter = functools.partial(adapter_run, problem, framework, mode, dtype, device)
    first, outputs = {}, {}
    first["adapter"], outputs["adapter"] = _timed(adapter)
    marks = outputs["adapter"].record_steps  # the baselines keep the same records
    runners = {"adapter": adapter}
    hand = baselines.BASELINES.get((framework, mode))
    if hand is not None:
        runners["hand"] = functools.partial(hand, problem, marks, dtype, device)
    if framework == "numpy":
        runners["reference"] = functools.partial(
            baselines.scratch_reference, problem, marks, dtype, device
        )
    for name, fn in list(runners.items())[1:]:
        first[name], outputs[name] = _timed(fn)
    tick("first call done")
    runs: dict[str, list[float]] = {name: [] for name in runners}
    for r in range(repeats):
        for name, fn in runners.items():
            runs[name].append(_timed(fn)[0])
        tick(f"repeat {r + 1}/{repeats}")
    run_s = statistics.median(runs["adapter"])
    hand_run_s = statistics.median(runs["hand"]) if hand else None
    adapter_losses = outputs["adapter"].losses
    loss_diff = float(np.max(np.abs(adapter_losses - outputs["hand"][0]))) if hand else None
    return Row(
        size=problem.size.name,
        dtype=dtype,
        framework=framework,
        mode=mode,
        device=device,
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
    """What to time; built and checked by the CLI (comparisons/cli.py)."""

    sizes: tuple[str, ...] = DEFAULT_SIZES
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


def progress_line(done: int, total: int, elapsed: float, what: str) -> str:
    """`[#######             ]  35%  0:42 left  book float32 torch/eager (3/8): repeat 2/3`:
    the time left extrapolated from the runs done so far (none before the first)."""
    percent = 100 * done // total
    left = "  -:-- left" if done == 0 else f"{_clock(elapsed / done * (total - done))} left"
    return f"[{'#' * (percent // 5):<20}] {percent:3d}% {left}  {what}"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:3d}:{secs:02d}"


def bench_results(config: BenchConfig, progress: Callable[[str], None] | None = None) -> dict:
    """Run the benchmark; the JSON-ready results: machine, config, rows, targets."""
    say = progress or (lambda _msg: None)
    todo, skipped = plan(config)
    start_load = machine()["load_average_1min"]
    problems: dict[str, Problem] = {}
    rows: list[Row] = []
    total = len(todo) * (1 + config.repeats)
    done = 0
    start = time.perf_counter()
    for n, (size, dtype, framework, mode) in enumerate(todo, 1):
        if size not in problems:
            problems = {size: make_problem(SIZES[size], config.steps)}  # one size in memory
        label = f"{size} {dtype} {framework}/{mode} ({n}/{len(todo)})"

        def tick(what: str, label: str = label, step: int = 1) -> None:
            nonlocal done
            done += step
            say(progress_line(done, total, time.perf_counter() - start, f"{label}: {what}"))

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
            duration(r["per_step_s"]),
            f"{r['steps_per_s']:,.0f}",
            duration(r["run_s"]),
            duration(r["first_call_s"]),
            f"{r['vs_fastest']:.2f}",
            duration(r["hand_run_s"]),
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
            value = duration(t["value"]) if t["unit"] == "s" else f"{t['value']:.2f}"
            limit = duration(t["limit"]) if t["unit"] == "s" else f"{t['limit']:.2f}"
            verdict = "met" if t["met"] else "MISSED"
            lines.append(f"  {t['what']}: {value} (target <= {limit}) {verdict}")
    return "\n".join(lines)


def show_progress(message: str) -> None:
    """Progress on stderr: one line rewritten in place on a terminal, else line by line."""
    if sys.stderr.isatty():
        print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)
    else:
        print(message, file=sys.stderr, flush=True)
