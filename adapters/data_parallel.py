"""Data-parallel training, the framework-neutral part: N workers, one batch split N ways.

Each step's batch (a row of the schedule) is cut into N contiguous shards, one per worker.
Every worker computes the book's mean loss and its gradient on its own shard; the shard
gradients are averaged (the all-reduce) and every worker makes the same update. The
book's loss is a mean over the batch, so with equal shards the mean of the shard
gradients *is* the full-batch gradient, and the run equals the single-process one up to
summation order. With unequal shards it is not: each worker's mean weighs its samples by
1 / (its shard size), which is how `DistributedDataParallel` runs then, and how such runs
quietly drift (`uneven=True` shows it).

This file holds what every framework shares: the checks on `data_parallel`/`uneven` and
on how many workers this machine can hold, and the shard boundaries. The worker
processes (torch's DDP ranks, JAX's fresh process with N host devices), their faults and
their lifetime are adapters/data_parallel_workers.py's: a worker that dies ends the run
with one `WorkerError` naming the worker and the step, and no process or job folder is
left behind, even when the launching process is killed.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import numpy as np

from adapters.data_parallel_workers import (
    COLLECTIVE_TIMEOUT_S,
    KILL_ENV,
    DataParallelError,
    JobFolderError,
    WorkerError,
    WorkerGroup,
    free_port,
    worker_main,
    write_jobs,
)

# Worker processes or host devices per core a CPU run may have: each computes its shard
# and then waits at the all-reduce for the slowest, so beyond a couple per core they only
# queue for the cores (and the gloo or XLA collectives wait the longer).
WORKERS_PER_CORE = 2
FEW_WORKERS = 4  # as many as any machine may run, slowly (the tests' 3 and 4 included)
# What one torch rank holds at its peak before its share of the problem: the interpreter,
# torch and gloo. Measured: 308 MiB (ru_maxrss of a rank on the book's run, torch 2.13 on
# the CPU; the parent, with NumPy and torch, 263 MiB) here, and 378 MiB (VmHWM, two ranks
# of a 2-epoch run) on the CI machine, whose shared libraries map larger.
RANK_BYTES = 400 * 2**20
# What JAX's fresh process with N host devices holds before the problem: measured 273 to
# 298 MiB (VmHWM, the book's run and hidden 1000, JAX 0.10).
JAX_PROCESS_BYTES = 300 * 2**20


ENGINES = {"numpy": "numpy_data_parallel", "torch": "torch_ddp", "jax": "jax_sharding"}


def engine(framework: str):
    """The module that trains `framework` on N workers (loaded on first use, as
    `adapters.build` loads an adapter: the engines import their adapter, not the other
    way round)."""
    return importlib.import_module(f"adapters.{ENGINES[framework]}")


def check(data_parallel: Any, uneven: Any, batch: int, max_workers: int, where: str) -> int:
    """`data_parallel` as an int N, checked before any worker starts (ValueError naming it).

    N must be a positive int, at most the batch size and at most `max_workers` (the
    devices the framework can provide, described by `where`); a batch that N does not
    divide is refused unless `uneven` is True.
    """
    if not isinstance(uneven, bool | np.bool_):
        raise TypeError(f"uneven must be True or False, got {type(uneven).__name__}")
    if isinstance(data_parallel, bool) or not isinstance(data_parallel, int | np.integer):
        raise ValueError(f"data_parallel must be an int >= 1, got {data_parallel!r}")
    n = int(data_parallel)
    if n < 1:
        raise ValueError(f"data_parallel must be an int >= 1, got {n}")
    if n > batch:
        raise ValueError(
            f"data_parallel {n} is larger than the batch size {batch}: a worker would get no rows"
        )
    if n > 1 and n > max_workers:  # one worker is the plain run, wherever it is
        raise ValueError(f"data_parallel {n} is more workers than {where}: at most {max_workers}")
    if batch % n and not uneven:
        raise ValueError(
            f"data_parallel {n} does not divide the batch size {batch}: the shards would be "
            f"unequal ({_sizes_text(batch, n)} rows), and averaging the shard means weighs "
            "the samples of a smaller shard more, so the gradient is no longer the batch's; "
            "pass uneven=True (--allow-uneven) to run it anyway, as DistributedDataParallel would"
        )
    return n


def _sizes_text(batch: int, n: int) -> str:
    sizes = np.diff(bounds(batch, n))
    return ", ".join(str(int(s)) for s in sizes)


def bounds(batch: int, n: int) -> np.ndarray:
    """(n + 1,) shard boundaries: worker k takes columns bounds[k]:bounds[k+1] of a step's
    rows. Equal shards when n divides batch; otherwise the first batch % n shards get one
    row more (as `np.array_split` and `torch.tensor_split` cut)."""
    base, extra = divmod(batch, n)
    sizes = [base + (k < extra) for k in range(n)]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def shards(rows: Any, n: int) -> list[Any]:
    """The n contiguous shards of one step's rows (any array or tensor indexable by slices)."""
    edges = bounds(len(rows), n)
    return [rows[edges[k] : edges[k + 1]] for k in range(n)]


# --------------------------------------------------------------------------- this machine


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def memory_available() -> int | None:
    """Bytes the kernel says a new allocation can get now (MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def process_limit(per_worker: int, what: str) -> tuple[int, str]:
    """How many worker processes of `per_worker` bytes each this machine can run (
    WORKERS_PER_CORE per core, and what memory is available), and the words that say
    why, for `check`'s message."""
    n_cores, memory = cores(), memory_available()
    limit = max(FEW_WORKERS, WORKERS_PER_CORE * n_cores)
    why = f"{WORKERS_PER_CORE} per core on {n_cores} cores, at least {FEW_WORKERS}"
    if memory is not None:
        limit = min(limit, memory // per_worker)
        why += (
            f", {memory / 2**30:.1f} GiB of memory available for {per_worker / 2**20:.0f} MiB each"
        )
    return max(1, limit), f"{what} on this machine ({why})"


__all__ = [
    "COLLECTIVE_TIMEOUT_S",
    "KILL_ENV",
    "DataParallelError",
    "JobFolderError",
    "WorkerError",
    "WorkerGroup",
    "bounds",
    "check",
    "cores",
    "engine",
    "free_port",
    "memory_available",
    "process_limit",
    "shards",
    "worker_main",
    "write_jobs",
]
