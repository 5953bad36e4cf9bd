"""The worker processes of a data-parallel run: started, given jobs, watched, stopped, and
never left behind.

`WorkerGroup` starts one `python -m MODULE JOB_DIR` per worker (torch's DDP ranks, JAX's
fresh process with N host devices) and hands them jobs through the job folder, a
private `scratch-parity-dp-*` folder in TMPDIR; `worker_main` is the workers' side.

Lifetime. Workers never outlive the process that started them (the launcher):
- each worker runs in a session of its own, so the terminal's Ctrl-C and hang-up reach
  the launcher alone, which stops its workers (no traceback of theirs on the screen);
- each worker watches a pipe from the launcher with a thread blocked reading it: when
  the launcher is gone, however it went (SIGKILL, a hang-up, a crash), the read ends,
  and the worker removes the job folder and exits at once, whatever its main thread is
  doing. The launcher holds the only writing end: its children inherit no descriptor
  but the ones they are given;
- the job folder names its launcher (process id and start time), and every new group
  removes the folders whose launcher is gone (one a worker could not remove).
The launcher removes the folder itself when the group closes, as the run ends or fails.

Faults end the run with one `WorkerError` naming the worker that caused them: one killed
by a signal, or stopped (SIGSTOP, a debugger) while the others' collectives timed out
waiting for it, before one whose collective failed because of it; one that died between
two jobs is said to have, and the group cannot be used again (`closed`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

# Test hook: "RANK:STEP" makes worker RANK kill itself (SIGKILL) when it reaches STEP.
KILL_ENV = "SCRATCH_PARITY_DP_KILL"
# Seconds any collective may wait for the other workers before it fails (gloo's timeout).
COLLECTIVE_TIMEOUT_S = 60.0
PREFIX = "scratch-parity-dp-"  # the job folders, in TMPDIR
WATCH_ENV = "SCRATCH_PARITY_DP_WATCH"  # a worker's end of its launcher's pipe
LAUNCHER_ENV = "SCRATCH_PARITY_DP_LAUNCHER"  # the launcher's process id
# What a launcher's environment may hold that would mislead the workers: torchrun's and
# torchelastic's variables (TORCHELASTIC_USE_AGENT_STORE makes every rank wait 60 s for
# an agent's store that does not serve them); each worker gets its own RANK and the rest.
INHERITED = ("TORCHELASTIC_", "GROUP_", "ROLE_", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
INHERITED_NAMES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", WATCH_ENV)
ORPHANED_EXIT = 3  # a worker's exit status when its launcher has gone
BYE = b"bye"  # what a launcher writes on the pipe before it closes it on purpose
STALE_S = 600.0  # a job folder that names no launcher is stale after this many seconds
_POLL_S = 0.02
_GRACE_S = 5.0  # how long a stopped worker gets to exit before SIGKILL


class DataParallelError(RuntimeError):
    """A data-parallel run could not go on (a worker died, the job folder failed)."""


class WorkerError(DataParallelError):
    """A data-parallel worker died (killed, stopped, out of memory, an exception) and ended
    the run.

    `.framework`, `.worker` (its rank), `.step` (the step it was on; None before the
    first) and `.reason` say which and why; the other workers were stopped.
    """

    def __init__(
        self,
        framework: str,
        worker: int,
        step: int | None,
        reason: str,
        when: str = "",
        what: str = "died",
    ) -> None:
        at = when or ("before its first step" if step is None else f"at step {step}")
        super().__init__(
            f"{framework} data-parallel worker {worker} {what} {at}: {reason}; "
            "the other workers were stopped"
        )
        self.framework = framework
        self.worker = worker
        self.step = step
        self.reason = reason


class JobFolderError(DataParallelError):
    """The job folder in TMPDIR could not be written (a full disk, a read-only folder)."""


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
        else:  # started by torchrun, not by a WorkerGroup: nobody reads it
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


def _write(path: Path, text: str) -> None:
    """`text` to `path` atomically (another launcher's sweep may read it at any time)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
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


# --------------------------------------------------------------------------- the workers' side


def worker_main(start: Any, run: Any, stop: Any) -> None:
    """The body of `python -m adapters.<framework module> JOB_DIR`: `state = start(setup)`,
    then `run(state, job, progress)` for job.0.pkl, job.1.pkl, ... as they appear (worker 0
    writes each result), until the file `stop` appears, the launcher goes away, or a job
    fails (its error is written to error.RANK and the worker exits with status 1)."""
    job_dir = Path(sys.argv[1])
    rank = int(os.environ.get("RANK", "0"))
    launcher = os.getppid()
    _watch_launcher(job_dir, launcher)
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
        with contextlib.suppress(OSError):  # a full disk: the launcher says so
            (job_dir / f"error.{rank}").write_text(f"{type(err).__name__}: {err}")
        raise


def _watch_launcher(job_dir: Path, launcher: int) -> None:
    """A thread that ends this worker when its launcher is gone: it reads the launcher's
    pipe until it closes, then exits the process at once. A launcher that stops its
    workers itself says so first (BYE); one that died said nothing, and the job folder is
    then removed here (the launcher cannot any more). Nothing to watch under torchrun."""
    fd = os.environ.get(WATCH_ENV, "")
    if not fd.isdigit() or os.environ.get(LAUNCHER_ENV) != str(launcher):
        return

    def watch() -> None:
        said = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(int(fd), 64):
                said += chunk
        if BYE not in said:  # the kernel closed it: the launcher died
            shutil.rmtree(job_dir, ignore_errors=True)
        os._exit(ORPHANED_EXIT)

    threading.Thread(target=watch, name="scratch-parity launcher watch", daemon=True).start()


# --------------------------------------------------------------------------- the launcher's side


class WorkerGroup:
    """Worker processes `python -m module JOB_DIR`, one per entry of `envs` (each adds its
    variables to this process's environment, less torchrun's, which itself is not
    changed), started once and given jobs one after the other with `run`. A worker that
    exits abnormally stops the others and raises WorkerError; when `close` returns (or
    the `with` block ends) every worker has exited and been reaped and the job folder
    is gone. A job folder that cannot be written is a JobFolderError, before any worker
    starts."""

    def __init__(
        self, framework: str, module: str, setup: dict, envs: list[dict[str, str]]
    ) -> None:
        self.framework, self.workers = framework, len(envs)
        self._jobs, self.closed = 0, False
        self._procs: list[subprocess.Popen] = []
        self._watch = -1
        sweep_stale()
        try:
            self.job_dir = Path(tempfile.mkdtemp(prefix=PREFIX))
        except OSError as err:
            raise _folder_error(err, Path(tempfile.gettempdir())) from None
        try:
            try:
                _write(self.job_dir / "launcher", _identity(os.getpid()))
                _dump(setup, self.job_dir / "setup.pkl")
                self.progress = Progress(self.job_dir / "progress", len(envs), create=True)
            except OSError as err:
                raise _folder_error(err, self.job_dir) from None
            watch, self._watch = os.pipe()  # the workers read; only this process writes
            try:
                for k, env in enumerate(envs):
                    self._procs.append(self._start(module, k, {**env, WATCH_ENV: str(watch)}))
            finally:
                os.close(watch)
        except BaseException:
            self.close(graceful=False)
            raise

    def _start(self, module: str, k: int, env: dict[str, str]) -> subprocess.Popen:
        """Worker k, in a session of its own (the terminal's signals are the launcher's),
        its stderr in the job folder; the one descriptor it inherits is its end of the
        launcher's pipe."""
        full = {**worker_environment(), **env, LAUNCHER_ENV: str(os.getpid())}
        try:
            err = open(self.job_dir / f"stderr.{k}", "wb")  # noqa: SIM115 (closed below)
        except OSError as error:
            raise _folder_error(error, self.job_dir) from None
        with err:
            return subprocess.Popen(
                [sys.executable, "-m", module, str(self.job_dir)],
                env=full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                pass_fds=(int(env[WATCH_ENV]),),
                start_new_session=True,
            )

    def run(self, job: dict) -> Any:
        """Give every worker `job`; return what worker 0 wrote for it."""
        if self.closed:
            raise RuntimeError(
                f"this group of {self.framework} workers was stopped (a worker died, or the "
                "group was closed): start another (torch_ddp.ranks starts one itself)"
            )
        k = self._jobs
        try:
            self._check(between=k > 0)  # one may have died since the last job
            self._jobs += 1
            self.progress.steps[:] = -1
            try:
                _dump(job, self.job_dir / f"job.{k}.pkl")
            except OSError as err:
                raise _folder_error(err, self.job_dir) from None
            result = self.job_dir / f"result.{k}.pkl"
            while not result.exists():
                self._check()
                time.sleep(_POLL_S)
            return _load(result)
        except BaseException:
            self.close(graceful=False)
            raise

    def _check(self, between: bool = False) -> None:
        codes = [p.poll() for p in self._procs]
        failed = [k for k, c in enumerate(codes) if c is not None]
        if failed:
            stopped = [k for k in range(self.workers) if _stopped(self._procs[k].pid)]
            k = stopped[0] if stopped else _culprit(failed, codes, self.job_dir)
            step = int(self.progress.steps[k])
            step = None if step < 0 else step
            if stopped:  # the others' collectives gave up waiting for it
                first = failed[0]
                reason = (
                    "stopped (SIGSTOP, or a debugger holds it), worker "
                    f"{first} waited for it in vain: {_reason(codes[first], self.job_dir, first)}"
                )
                raise WorkerError(self.framework, k, step, reason, what="was stopped")
            reason = _reason(codes[k], self.job_dir, k)
            when = "between two runs, before this one started" if between else ""
            raise WorkerError(self.framework, k, step, reason, when)

    def close(self, graceful: bool = True) -> None:
        """Let the workers finish and exit (`graceful`; else end them at once), kill any
        still there after the grace period, reap them all, remove the job directory.
        Closing twice does nothing."""
        if self.closed:
            return
        self.closed = True
        if graceful:
            with contextlib.suppress(OSError):
                (self.job_dir / "stop").touch()
        else:
            self._close_watch()  # the workers' watch threads end them now
        _stop(self._procs, graceful)
        self._close_watch()
        shutil.rmtree(self.job_dir, ignore_errors=True)

    def _close_watch(self) -> None:
        """Close the workers' pipe, saying BYE first: the workers still there exit, and
        leave the job folder to this process."""
        if self._watch >= 0:
            with contextlib.suppress(OSError):  # no reader left: nobody to tell
                os.write(self._watch, BYE)
            os.close(self._watch)
            self._watch = -1

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def worker_environment() -> dict[str, str]:
    """This process's environment for a worker: this package first on PYTHONPATH, and
    nothing of a torchrun or an outer data-parallel run that started this process."""
    package_root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(INHERITED) and k not in INHERITED_NAMES and k != LAUNCHER_ENV
    }
    env["PYTHONPATH"] = package_root + (os.pathsep + path if path else "")
    return env


def _folder_error(err: OSError, where: Path) -> JobFolderError:
    return JobFolderError(
        f"the data-parallel job folder {where} cannot be written ({err.strerror or err}): "
        "the workers exchange their jobs and results there; free space in TMPDIR "
        f"({tempfile.gettempdir()}) or point TMPDIR at a writable folder"
    )


def _culprit(failed: list[int], codes: list[int | None], job_dir: Path) -> int:
    """The worker that died first in spirit: one killed by a signal, else one whose error
    is not a failed collective (the others' collectives fail because it died)."""
    for k in failed:
        if codes[k] < 0:
            return k
    for k in failed:
        if not _collective_failure(_read(job_dir / f"error.{k}")):
            return k
    return failed[0]


def _collective_failure(text: str) -> bool:
    return any(word in text for word in ("DistBackendError", "Connection", "Timeout", "timed out"))


def _reason(code: int | None, job_dir: Path, k: int) -> str:
    """Why worker k ended, in one line: the signal, its error, or the last line it wrote
    (with a word when the job folder's disk is full, which leaves both files empty)."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        why = " (out of memory?)" if name == "SIGKILL" else ""
        return f"killed by {name}{why}"
    lines = _read(job_dir / f"error.{k}").strip().splitlines()
    if lines:
        return lines[-1][:500]
    tail = _read(job_dir / f"stderr.{k}").strip().splitlines()
    last = tail[-1][:500] if tail else "no message"
    if code == ORPHANED_EXIT:
        last = "its launcher went away"
    full = _free_bytes(job_dir) < 1 << 20
    return f"exit status {code}: {last}" + (
        f" (the job folder's disk is full: {tempfile.gettempdir()}, TMPDIR)" if full else ""
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 1 << 62


def _stopped(pid: int) -> bool:
    """Whether process `pid` is stopped (SIGSTOP, a debugger): state T or t in /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


def _stop(procs: list[subprocess.Popen], graceful: bool) -> None:
    """Wait up to the grace period for the workers to exit (`graceful`), terminate those
    still running, SIGKILL any that outlive that, and reap them all (no zombie or orphan).
    A stopped worker is continued first, so that it can act on the signal."""
    deadline = time.monotonic() + (_GRACE_S if graceful else 0.0)
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.terminate()
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGCONT)
    for p in procs:
        try:
            p.wait(_GRACE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# --------------------------------------------------------------------------- stale job folders


def _identity(pid: int) -> str:
    """`pid`, its start time (Linux: clock ticks since boot, /proc/PID/stat field 22),
    which tells the process from a later one given the same id, and this process's PID
    namespace (a container sharing TMPDIR numbers its processes otherwise)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = "-"
    return f"{pid} {start} {_namespace()}"


def _namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


def _alive(identity: str) -> bool:
    """Whether the launcher `identity` names may still run: its process exists with the
    same start time, or it lives in another PID namespace (not ours to judge)."""
    pid, start, space = (identity.split() + ["", "", ""])[:3]
    if not pid.isdigit():
        return False
    if space != _namespace():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return start == "-" or _identity(int(pid)).split()[1] == start


def sweep_stale() -> list[Path]:
    """Remove the job folders in TMPDIR whose launcher is gone (killed before it could,
    its workers too); return them. A folder that names no launcher yet is left alone
    for STALE_S seconds (it may be being made)."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            identity = (folder / "launcher").read_text()
        except FileNotFoundError:
            identity = ""
        except OSError:
            continue
        if not identity.split():  # no launcher named yet: stale only when old
            try:
                if time.time() - folder.stat().st_mtime < STALE_S:
                    continue
            except OSError:
                continue
        if not _alive(identity):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
