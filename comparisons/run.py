"""The side-by-side run: the same data, initial weights and batches in every framework.

`RunConfig` holds what the CLI's options say; `run(config)` trains the reference first,
then every other framework in each of its execution modes, and compares each trajectory
with the reference's (comparisons.parity.compare_trajectories).
"""

from __future__ import annotations

import dataclasses
import platform
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

import adapters
from adapters import OptimizerSpec, Trajectory, data_parallel
from comparisons import parity, rounding
from comparisons.text import CALIBRATED
from scratch import init_weights, spiral
from scratch.train_custom_loop import custom_loop_line
from scratch.trainer import shuffled_batches

BOOK_LR = 1.0  # ch01/train_custom_loop.py's learning rate for SGD


@dataclass(frozen=True)
class RunConfig:
    """The book's run by default: spiral, 300 epochs, batch 30, hidden 10, SGD lr 1.0."""

    frameworks: tuple[str, ...] = ("numpy", "torch", "jax")
    optimizer: OptimizerSpec = field(default_factory=lambda: OptimizerSpec("sgd", BOOK_LR))
    epochs: int = 300
    batch_size: int = 30
    hidden_size: int = 10
    dtype: str = "float64"
    device: str = "cpu"
    seed: int = 1984
    max_grad: float | None = None
    record_every: int = 10  # every epoch of the book's run
    tf32: bool = False  # let torch and JAX use TF32 for float32 matmuls (the trap)
    data_parallel: int = 1  # workers per run (each batch split N ways), against 1 process
    uneven: bool = False  # allow a batch N does not divide (the run then drifts)

    @property
    def steps(self) -> int:
        return self.epochs * (300 // self.batch_size)  # the spiral's 300 points

    def to_dict(self) -> dict:
        """The settings as JSON-ready values (the optimizer as name, hyper, flavor)."""
        out = dataclasses.asdict(self)
        out.pop("optimizer")
        out["frameworks"] = list(self.frameworks)
        spec = self.optimizer
        return {**out, "optimizer": spec.name, "hyper": spec.hyper, "flavor": spec.flavor}


@dataclass
class FrameworkResult:
    """One framework in one mode, against the reference."""

    trajectory: Trajectory
    accuracy: float
    final_loss: float  # the average of the last epoch's losses, as the book reports it
    report: parity.TrajectoryReport | None  # None for the reference itself
    net: object = None  # the trained Net, for the decision-boundary plots
    workers: int = 1  # data-parallel workers

    @property
    def name(self) -> str:
        return f"{self.trajectory.framework}/{self.trajectory.mode}"


@dataclass
class RunResults:
    config: RunConfig
    x: np.ndarray
    t: np.ndarray  # index labels
    results: list[FrameworkResult]
    settings: dict
    calibration: Trajectory | None = None  # the reference in float64, for a lower precision
    matrix: object = None  # comparisons.precision.PrecisionMatrix, when one was made
    twins: object = None  # comparisons.rounding.Twins: the reference's rounding twins

    @property
    def tf32_note(self) -> str | None:
        """Why the run drifted, when TF32 was allowed; None when it was not."""
        return tf32_note(self)

    @property
    def reference(self) -> FrameworkResult:
        return self.results[0]

    @property
    def passed(self) -> bool:
        return all(r.report is None or r.report.passed for r in self.results)


def book_data(config: RunConfig):
    """Data, initial weights and the shuffled batches from one RandomState(seed), in the
    book's order (data, then W1 and W2, then one permutation per epoch)."""
    rng = np.random.RandomState(config.seed)
    x, t = spiral.load_data(rng=rng)
    weights = init_weights(2, config.hidden_size, 3, rng=rng)
    schedule = shuffled_batches(len(x), config.batch_size, config.epochs, rng)
    return x, t.argmax(axis=1), weights, schedule


def precision_settings(config: RunConfig) -> dict:
    """The numerics in force for the run, for the report: what parity mode pins inside
    each call, what the process has outside, and the library versions."""
    out = {
        "dtype": config.dtype,
        "device": config.device,
        "TF32": "allowed for torch and jax (--tf32)" if config.tf32 else "off (parity mode)",
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
        "numpy": np.__version__,
    }
    if "numpy" in config.frameworks and config.device != "cpu":
        where = reference_device("numpy", config.device)
        out["numpy device"] = where + ("" if where != "cpu" else " (CuPy not installed or no GPU)")
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        out["torch"] = torch.__version__
        out["torch TF32 (inside calls)"] = (
            "ON (allow_tf32=True, precision 'high')"
            if config.tf32
            else "off (pinned: allow_tf32=False, precision 'highest')"
        )
        fp32 = getattr(torch._C, "_get_fp32_precision_getter", None)  # torch 2.9 and newer
        out["torch TF32 (process)"] = (  # the legacy getters raise once the new API is used
            f"cuda matmul {fp32('cuda', 'matmul')}, cudnn conv {fp32('cuda', 'conv')}, "
            f"mkldnn matmul {fp32('mkldnn', 'matmul')}"
            if fp32 is not None
            else f"matmul {torch.backends.cuda.matmul.allow_tf32}, "
            f"cudnn {torch.backends.cudnn.allow_tf32}, "
            f"float32 matmul precision {torch.get_float32_matmul_precision()!r}"
        )
        out["torch threads"] = torch.get_num_threads()
    if "jax" in sys.modules:
        jax = sys.modules["jax"]
        out["jax"] = jax.__version__
        out["optax"] = sys.modules["optax"].__version__
        out["jax matmul precision (inside calls)"] = (
            "tensorfloat32 (--tf32)" if config.tf32 else "highest (pinned)"
        )
        out["jax x64 (inside calls)"] = "on" if config.dtype == "float64" else "off"
        out["jax x64 (process)"] = str(jax.config.jax_enable_x64)
        out["jax backend"] = jax.default_backend()
    return out


def reference_device(framework: str, device: str) -> str:
    """Where `framework` runs for a run on `device`: the reference (numpy) stays on the
    CPU when it cannot follow onto the GPU (no CuPy), so torch and JAX on cuda are
    compared with the CPU reference; everything else runs where it was asked to."""
    if framework != "numpy" or not device.startswith("cuda"):
        return device
    return device if adapters.net_class("numpy").device_available(device) else "cpu"


MiB = 2**20
# What a command's process holds besides the run's arrays, by the frameworks it runs: the
# interpreter, the imports, their kernels and compiled programs, and the plots. Measured
# (peak RSS, ru_maxrss, of a 2-epoch run at hidden 10, torch 2.13 and JAX 0.10 on the
# CPU): NumPy with the plots 98 MiB, NumPy and torch 364, NumPy and JAX 346, all three
# 607, and 664 with the precision matrix. The CI machine maps torch about 50 MiB larger
# (NumPy and torch 395 MiB, VmHWM): torch is counted at that.
PROCESS_BYTES = {"numpy": 100 * MiB, "torch": 320 * MiB, "jax": 250 * MiB}
MATRIX_BYTES = 60 * MiB  # the precision matrix's runs in other dtypes (their kernels)


def process_bytes(frameworks: Iterable[str], matrix: bool = False) -> int:
    """What a command's process holds before its own arrays, by the frameworks it imports
    (PROCESS_BYTES; NumPy's always), and MATRIX_BYTES with the precision matrix: the one
    baseline that `train`'s and `bench`'s memory estimates both start from."""
    return sum(PROCESS_BYTES[fw] for fw in {"numpy", *frameworks}) + MATRIX_BYTES * matrix


# The boundary plot predicts its grid (GRID_POINTS) a chunk of plots.GRID_CHUNK elements
# (points x hidden units) at a time; at its peak each framework holds this many float64
# (chunk) arrays. Measured at hidden 1000 and 3000 over hidden 10: NumPy +130 MiB, JAX
# +128, torch +270 and +390 (its allocator keeps what it freed).
PLOT_COPIES = {"numpy": 4, "torch": 12, "jax": 4}
GRID_POINTS = 220 * 220  # the boundary plot's grid over the spiral, every 0.01


def memory_needed(config: RunConfig, precisions: tuple[str, ...] = ()) -> int:
    """Bytes a run of `config` (and its precision matrix) holds at its peak, estimated
    before anything is allocated, in every process it runs at once.

    This process: PROCESS_BYTES of each framework; the schedule; one pass's activations
    and gradients over the 300 points, and each framework's chunk of the boundary
    plot's grid; every trajectory kept for the report (one per framework and mode, the
    float64 calibration run, the matrix's two references, the three rounding twins of a
    float64 reference, made when the table fails), each its per-step losses
    and its recorded weights, and one more such while a run is copied back (three while
    it is compared with the reference: its errors and allowances).
    With `data_parallel` N, the workers of one run at a time beside it: N torch ranks
    (data_parallel.RANK_BYTES each), or JAX's process with N host devices
    (data_parallel.JAX_PROCESS_BYTES), each holding its records twice (kept, and pickled
    back to this process) and its shard of the schedule.
    `python -m comparisons.memory_measure` compares it with real runs."""
    from comparisons.plots import GRID_CHUNK

    steps, hidden, fws = config.steps, config.hidden_size, config.frameworks
    params = 6 * hidden + 3  # W1 (2, H), b1 (H,), W2 (H, 3), b2 (3,)
    records = steps // min(config.record_every, steps) + 2
    trajectory = 8 * (3 * steps + records * params)  # losses, loss gap, errors; weights
    kept = sum(len(adapters.net_class(fw).MODES) for fw in fws)
    kept += (config.dtype != "float64") + 2 * bool(precisions)
    kept += 3 * (config.dtype == "float64" or bool(precisions))  # the rounding twins
    compared = kept > 1 or config.data_parallel > 1
    process = process_bytes(fws, matrix=bool(precisions))
    schedule = 8 * steps * config.batch_size
    chunk = 8 * min(GRID_POINTS * hidden, GRID_CHUNK)  # one (rows, hidden) float64 array
    working = 8 * 10 * 300 * hidden + chunk * sum(PLOT_COPIES[fw] for fw in fws)
    need = process + schedule + working + (kept + (3 if compared else 1)) * trajectory
    n, workers = config.data_parallel, 0
    if n > 1:
        each = 2 * trajectory + schedule // n
        if "torch" in fws:
            workers = n * (data_parallel.RANK_BYTES + each)
        if "jax" in fws:
            workers = max(workers, data_parallel.JAX_PROCESS_BYTES + each)
    return need + workers


def train(
    net, config: RunConfig, x, t, schedule, mode: str | None = None, workers: int = 1
) -> Trajectory:
    """`net.train` with the run's optimizer, clipping and recording (on `workers`)."""
    return net.train(
        x, t, schedule, config.optimizer, max_grad=config.max_grad,
        record_every=config.record_every, mode=mode,
        data_parallel=workers, uneven=config.uneven,
    )  # fmt: skip


def accuracy(net, x: np.ndarray, t: np.ndarray) -> float:
    """The fraction of rows of `x` the net classifies as `t` (index labels) says."""
    return float((net.predict(x).argmax(axis=1) == t).mean())


def run(
    config: RunConfig,
    *,
    progress: Callable[[str], None] | None = None,
    book_lines: Callable[[str], None] | None = None,
) -> RunResults:
    """Train every framework (every mode) from identical weights on identical batches."""
    say = progress or (lambda _msg: None)
    x, t, weights, schedule = book_data(config)
    max_iters = len(x) // config.batch_size
    results: list[FrameworkResult] = []
    ref_traj = None
    ref64 = None
    twins = None  # the reference's rounding twins, trained only if a float64 verdict needs them
    if config.dtype != "float64":  # the reference's own drift calibrates the comparison
        say(f"training numpy/eager in float64 ({schedule.shape[0]} steps), to calibrate ...")
        ref64 = train(adapters.build("numpy", weights), config, x, t, schedule)
    # with --data-parallel N, the reference runs in one process, then every framework on N
    runs = [(fw, 1) for fw in config.frameworks[:1]] if config.data_parallel > 1 else []
    runs += [(fw, config.data_parallel) for fw in config.frameworks]
    for framework, workers in runs:
        net_class = adapters.net_class(framework)
        tf32 = config.tf32 and net_class.TF32  # the reference never uses TF32
        device = reference_device(framework, config.device)
        on = f" x {workers} workers" if workers > 1 else ""
        for mode in net_class.MODES:
            say(f"training {framework}/{mode}{on} on {device} ({schedule.shape[0]} steps) ...")
            net = adapters.build(framework, weights, dtype=config.dtype, device=device, tf32=tf32)
            traj = train(net, config, x, t, schedule, mode, workers)
            report = None
            if ref_traj is None:
                ref_traj = traj
                if config.dtype == "float64":
                    twins = reference_twins(config, x, t, weights, schedule, framework, mode, say)
                if book_lines is not None:
                    for line in book_progress(traj.losses, max_iters):
                        book_lines(line)
            elif ref64 is not None:
                report = parity.compare_trajectories(ref_traj, traj, calibration=(ref64, ref_traj))
            else:
                report = rounding.judge(ref_traj, traj, twins)
            results.append(
                FrameworkResult(
                    trajectory=traj,
                    accuracy=accuracy(net, x, t),
                    final_loss=float(traj.losses[-max_iters:].mean()),
                    report=report,
                    net=net,
                    workers=workers,
                )
            )
            say(f"  {framework}/{mode}: {traj.seconds:.2f} s")
    return RunResults(
        config, x, t, results, precision_settings(config), calibration=ref64, twins=twins
    )


def reference_twins(
    config: RunConfig,
    x: np.ndarray,
    t: np.ndarray,
    weights: dict,
    schedule: np.ndarray,
    framework: str,
    mode: str,
    say: Callable[[str], None],
) -> rounding.Twins:
    """The reference's rounding twins (comparisons/rounding.py), trained when first asked
    for: the reference's framework and mode, in one process."""

    def make() -> tuple[Trajectory, ...]:
        say(
            f"the table's {config.dtype} rows fail: training {framework}/{mode} 3 times more "
            f"with its sums in other orders ({schedule.shape[0]} steps each), to measure how "
            "much this run amplifies rounding ..."
        )
        device = reference_device(framework, config.device)
        return rounding.rounding_twins(
            lambda w: adapters.build(framework, w, dtype=config.dtype, device=device),
            weights,
            lambda net, batches: train(net, config, x, t, batches, mode),
            schedule,
        )

    return rounding.Twins(make, key=(config, framework, mode))


def uneven_note(results: RunResults) -> str | None:
    """With unequal shards (--allow-uneven): why the run drifts, and from which step."""
    config = results.config
    batch, n = config.batch_size, config.data_parallel
    if n == 1 or batch % n == 0:
        return None
    sizes = ", ".join(str(int(s)) for s in np.diff(data_parallel.bounds(batch, n)))
    firsts = [r.report.first_step for r in results.results if r.report is not None]
    firsts = [f for f in firsts if f is not None]
    when = f"from step {min(firsts)}" if firsts else "nowhere measurable here"
    return (
        f"x {n} workers on unequal shards of the batch of {batch} ({sizes} rows): each worker "
        "averages its own rows and the workers' means are averaged with equal weight, as "
        "DistributedDataParallel does, so a row of a smaller shard counts more than one of a "
        f"larger one; the gradient is not the batch's, and the run drifts from the book's "
        f"{when}. Equal shards (a worker count that divides the batch) give the book's run."
    )


TF32_UNIT_ROUNDOFF = 2.0**-11  # TF32 keeps float16's 10 mantissa bits (float32: 23)


def tf32_note(results: RunResults) -> str | None:
    """When TF32 was allowed: whether it could act on this device, and if so, that it is
    the cause of the drift (with the size measured)."""
    config = results.config
    if not config.tf32:
        return None
    users = [fw for fw in config.frameworks if adapters.net_class(fw).TF32]
    capable = [fw for fw in users if adapters.net_class(fw).tf32_capable(config.device)]
    if not capable:
        return (
            f"TF32 was allowed (--tf32) for {' and '.join(users)}, but {config.device} has no "
            "TF32 units (only CUDA GPUs of compute capability 8.0 or newer do), so it changed "
            "nothing here: the comparison is of full float32."
        )
    worst = max(
        (r.report.max_weight_error for r in results.results if r.report is not None),
        default=0.0,
    )
    return (
        f"TF32 was ON for {' and '.join(capable)} (--tf32): their float32 matmuls rounded "
        f"the inputs to TF32's 10-bit mantissa (unit roundoff {TF32_UNIT_ROUNDOFF:.1e}, "
        f"float32's is 6.0e-08). That, not the implementation, is the cause of the drift "
        f"from the reference here (max |dW| {worst:.2g}). Run without --tf32: parity mode "
        "pins full float32 (torch allow_tf32=False, JAX matmul precision 'highest')."
    )


def book_progress(losses: np.ndarray, max_iters: int, every: int = 10) -> list[str]:
    """The custom loop's report lines (ch01/train_custom_loop.py) for per-step losses:
    one every `every` iterations of an epoch, averaging the losses since the last."""
    lines, total, count = [], 0.0, 0
    for step, loss in enumerate(losses):
        epoch, iters = divmod(step, max_iters)
        total += loss
        count += 1
        if (iters + 1) % every == 0:
            lines.append(custom_loop_line(epoch + 1, iters + 1, max_iters, total / count))
            total, count = 0.0, 0
    return lines


def verdict_of(report: parity.TrajectoryReport) -> str:
    """PASS or FAIL, "(calibrated)" when judged against the reference's rounding twins."""
    verdict = "PASS" if report.passed else "FAIL"
    return verdict + (CALIBRATED if report.rounding_calibrated else "")


def table_rows(results: RunResults) -> list[dict]:
    """One row per framework and mode: what the table, the report and --json show."""
    rows = []
    ref = results.reference.trajectory
    for r in results.results:
        tr = r.trajectory
        if r.report is None:
            dw, first, verdict = 0.0, None, "reference"
        else:
            dw = float(r.report.max_weight_error)
            first = r.report.first_step
            verdict = verdict_of(r.report)
        rows.append(
            {
                "framework": tr.framework,
                "mode": tr.mode + (f" x {r.workers} workers" if r.workers > 1 else ""),
                "workers": r.workers,
                "final_loss": r.final_loss,
                "accuracy": r.accuracy,
                "max_abs_dweights": dw,
                "first_diverging_step": first,
                "seconds": tr.seconds,
                "verdict": verdict,
                "steps": tr.steps,
                "vs": None if r.report is None else f"{ref.framework}/{ref.mode}",
            }
        )
    return rows
