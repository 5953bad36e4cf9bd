"""Data-parallel training, the framework-neutral part: N workers, one batch split N ways.

Each step's batch (a row of the schedule) is cut into N contiguous shards, one per worker.
Every worker computes the book's mean loss and its gradient on its own shard; the shard
gradients are averaged (the all-reduce) and every worker makes the same update. The
book's loss is a mean over the batch, so with equal shards the mean of the shard
gradients *is* the full-batch gradient, and the run equals the single-process one up to
summation order. With unequal shards it is not: each worker's mean weighs its samples by
1 / (its shard size), which is how `DistributedDataParallel` runs then, and how such runs
quietly drift (`uneven=True` shows it).

This file holds what every framework shares: the checks on `data_parallel`/`uneven`, the
shard boundaries, and the launcher for worker processes (torch's DDP ranks, JAX's fresh
process with N host devices) with its fault handling: a worker that dies ends the run
with one `WorkerError` naming the worker and the step, and no process is left behind.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# Test hook: "RANK:STEP" makes worker RANK kill itself (SIGKILL) when it reaches STEP.
KILL_ENV = "SCRATCH_PARITY_DP_KILL"
# Seconds any collective may wait for the other workers before it fails (gloo's timeout).
COLLECTIVE_TIMEOUT_S = 60.0
_POLL_S = 0.02
_GRACE_S = 5.0  # how long a stopped worker gets to exit before SIGKILL


class WorkerError(RuntimeError):
    """A data-parallel worker died (killed, out of memory, an exception) and ended the run.

    `.framework`, `.worker` (its rank), `.step` (the step it was on; None before the
    first) and `.reason` say which and why; the other workers were stopped.
    """

    def __init__(self, framework: str, worker: int, step: int | None, reason: str) -> None:
        at = "before its first step" if step is None else f"at step {step}"
        super().__init__(
            f"{framework} data-parallel worker {worker} died {at}: {reason}; "
            "the other workers were stopped"
        )
        self.framework = framework
        self.worker = worker
        self.step = step
        self.reason = reason


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
        raise ValueError(f"data_parallel {n} is more workers than {where} ({max_workers})")
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


# --------------------------------------------------------------------------- worker processes


def free_port() -> int:
    """A TCP port free on this machine now (for MASTER_PORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Progress:
    """The step each worker is on, in a small file every process maps: worker k writes
    `steps[k]` before each step (a memory write, no system call); the launcher reads it
    when a worker dies. -1: not started."""

    def __init__(self, path: Path, workers: int, *, create: bool) -> None:
        if create or path.exists():
            mode = "w+" if create else "r+"
            self.steps = np.memmap(path, dtype=np.int64, mode=mode, shape=(workers,))
        else:  # started by torchrun, not by run_workers: nobody reads it
            self.steps = np.full(workers, -1, dtype=np.int64)
        if create:
            self.steps[:] = -1
            self.steps.flush()
        kill = os.environ.get(KILL_ENV, "")
        rank, _, step = kill.partition(":")
        self._kill = (int(rank), int(step)) if rank.isdigit() and step.isdigit() else None

    def at(self, rank: int, step: int) -> None:
        """Worker `rank` starts `step` (and, under the test hook, dies there)."""
        self.steps[rank] = step
        if self._kill == (rank, step):
            os.kill(os.getpid(), signal.SIGKILL)


def _dump(obj: Any, path: Path) -> None:
    """Pickle `obj` to `path` atomically: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(obj, f)
    tmp.replace(path)


def _load(path: Path) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)  # noqa: S301 (written by this package, in a private directory)


def write_jobs(job_dir: Path, setup: dict, jobs: list[dict]) -> None:
    """A job directory a group of workers runs and leaves: `setup` once, then each job in
    turn (job.0.pkl, job.1.pkl, ...; worker 0 writes result.K.pkl), then stop. This is
    what to hand `torchrun ... -m adapters.torch_ddp JOB_DIR` (docs/data-parallel.md)."""
    _dump(setup, job_dir / "setup.pkl")
    for k, job in enumerate(jobs):
        _dump(job, job_dir / f"job.{k}.pkl")
    (job_dir / "stop").touch()


def worker_main(start: Any, run: Any, stop: Any) -> None:
    """The body of `python -m adapters.<framework module> JOB_DIR`: `state = start(setup)`,
    then `run(state, job, progress)` for job.0.pkl, job.1.pkl, ... as they appear (worker 0
    writes each result), until the file `stop` appears, the launcher goes away, or a job
    fails (its error is written to error.RANK and the worker exits with status 1)."""
    job_dir = Path(sys.argv[1])
    rank = int(os.environ.get("RANK", "0"))
    launcher = os.getppid()
    progress = Progress(job_dir / "progress", int(os.environ.get("WORLD_SIZE", "1")), create=False)
    try:
        state = start(_load(job_dir / "setup.pkl"))
        try:
            k = 0
            while True:
                job = job_dir / f"job.{k}.pkl"
                if job.exists():
                    result = run(state, _load(job), progress)
                    if rank == 0:
                        _dump(result, job_dir / f"result.{k}.pkl")
                    k += 1
                elif (job_dir / "stop").exists() or os.getppid() != launcher:
                    break
                else:
                    time.sleep(0.002)
        finally:
            stop(state)
    except BaseException as err:
        (job_dir / f"error.{rank}").write_text(f"{type(err).__name__}: {err}")
        raise


class WorkerGroup:
    """Worker processes `python -m module JOB_DIR`, one per entry of `envs` (each adds its
    variables to this process's environment, which itself is not changed), started once
    and given jobs one after the other with `run`. A worker that exits abnormally stops
    the others and raises WorkerError; when `close` returns (or the `with` block ends)
    every worker has exited and been reaped."""

    def __init__(
        self, framework: str, module: str, setup: dict, envs: list[dict[str, str]]
    ) -> None:
        self.framework, self.workers = framework, len(envs)
        self._tmp = tempfile.TemporaryDirectory(prefix="scratch-parity-dp-")
        self.job_dir = Path(self._tmp.name)
        self._jobs, self._closed = 0, False
        self._procs: list[subprocess.Popen] = []
        _dump(setup, self.job_dir / "setup.pkl")
        self.progress = Progress(self.job_dir / "progress", len(envs), create=True)
        package_root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH", "")
        try:
            for k, env in enumerate(envs):
                full = {
                    **os.environ,
                    "PYTHONPATH": package_root + (os.pathsep + path if path else ""),
                    **env,
                }
                with open(self.job_dir / f"stderr.{k}", "wb") as err:  # the child has its own
                    self._procs.append(
                        subprocess.Popen(
                            [sys.executable, "-m", module, str(self.job_dir)],
                            env=full,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=err,
                        )
                    )
        except BaseException:
            self.close(graceful=False)
            raise

    def run(self, job: dict) -> Any:
        """Give every worker `job`; return what worker 0 wrote for it."""
        k = self._jobs
        self._jobs += 1
        self.progress.steps[:] = -1
        _dump(job, self.job_dir / f"job.{k}.pkl")
        result = self.job_dir / f"result.{k}.pkl"
        try:
            while not result.exists():
                self._check()
                time.sleep(_POLL_S)
            return _load(result)
        except BaseException:
            self.close(graceful=False)
            raise

    def _check(self) -> None:
        codes = [p.poll() for p in self._procs]
        failed = [k for k, c in enumerate(codes) if c is not None]
        if failed:
            k = _culprit(failed, codes, self.job_dir)
            step = int(self.progress.steps[k])
            reason = _reason(codes[k], self.job_dir, k)
            raise WorkerError(self.framework, k, None if step < 0 else step, reason)

    def close(self, graceful: bool = True) -> None:
        """Let the workers finish and exit (`graceful`; else terminate them at once), kill
        any still there after the grace period, reap them all, remove the job directory.
        Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        (self.job_dir / "stop").touch()
        _stop(self._procs, graceful)
        self._tmp.cleanup()

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _culprit(failed: list[int], codes: list[int | None], job_dir: Path) -> int:
    """The worker that died first in spirit: one killed by a signal, else one whose error
    is not a failed collective (the others' collectives fail because it died)."""
    for k in failed:
        if codes[k] < 0:
            return k
    for k in failed:
        error = job_dir / f"error.{k}"
        text = error.read_text() if error.exists() else ""
        if "DistBackendError" not in text and "Connection" not in text:
            return k
    return failed[0]


def _reason(code: int, job_dir: Path, k: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        why = " (out of memory?)" if name == "SIGKILL" else ""
        return f"killed by {name}{why}"
    error = job_dir / f"error.{k}"
    if error.exists():
        return error.read_text().strip().splitlines()[-1][:500]
    tail = (job_dir / f"stderr.{k}").read_text(errors="replace").strip()
    last = tail.splitlines()[-1][:500] if tail else "no message"
    return f"exit status {code}: {last}"


def _stop(procs: list[subprocess.Popen], graceful: bool) -> None:
    """Wait up to the grace period for the workers to exit (`graceful`), terminate those
    still running, SIGKILL any that outlive that, and reap them all (no zombie or orphan)."""
    deadline = time.monotonic() + (_GRACE_S if graceful else 0.0)
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.terminate()
    for p in procs:
        try:
            p.wait(_GRACE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
