"""Data-parallel workers under real faults, with real processes and real signals: the
launcher killed or hung up, a worker stopped or killed between runs, an outer torchrun's
environment, more workers than the machine holds, a full TMPDIR, and the command line's
one line for each (adapters/data_parallel_workers.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import adapters
from adapters import data_parallel
from adapters import data_parallel_workers as workers
from comparisons import cli
from tests.adapters.helpers import book_run
from tests.adapters.test_data_parallel import assert_same_run, children, single
from tests.comparisons.processes import start
from tests.helpers import need

pytestmark = pytest.mark.crossframework
ROOT = Path(__file__).resolve().parents[2]


def running(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def my_job_folders() -> list[Path]:
    """The job folders in TMPDIR that name this process as their launcher."""
    found = []
    for folder in Path(tempfile.gettempdir()).glob(workers.PREFIX + "*"):
        with contextlib.suppress(OSError):
            if (folder / "launcher").read_text().split()[0] == str(os.getpid()):
                found.append(folder)
    return found


# --------------------------------------------------------------------------- the launcher dies

_LAUNCHER = """
import sys, numpy as np, adapters
from adapters import torch_ddp
from tests.adapters.helpers import book_run
x, t, w, schedule = book_run(max_epoch=3000)  # 30000 steps: minutes on 2 ranks
with torch_ddp.ranks(2) as group:
    print(group.job_dir, *[p.pid for p in group._procs], flush=True)
    net = adapters.build("torch", w)
    net.train(x, t, schedule, adapters.OptimizerSpec("sgd", 1.0), data_parallel=2,
              record_every=1000)
"""


def test_workers_and_their_job_folder_go_with_a_killed_or_hung_up_launcher(tmp_path):
    """Three launchers train on 2 torch ranks each; one is SIGKILLed, one gets SIGHUP
    alone, the third's whole process group gets SIGHUP (a closed terminal). Within
    seconds no rank runs and no job folder is left (they trained on for minutes,
    reparented to PID 1, and the folders stayed)."""
    need("torch")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cases = {"SIGKILL": "launcher", "SIGHUP": "launcher", "SIGHUP to the group": "group"}
    procs = {}
    for name in cases:
        with open(tmp_path / f"{name}.err", "w") as err:
            procs[name] = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER],
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,  # a group of its own, as a shell's job
            )
    started = {}
    try:
        for name, proc in procs.items():
            line = proc.stdout.readline().split()
            assert line, f"{name}: {(tmp_path / f'{name}.err').read_text()[-3000:]}"
            started[name] = (Path(line[0]), [int(p) for p in line[1:]])
        for name, (folder, _) in started.items():  # training: the ranks are past step 0
            steps = np.memmap(folder / "progress", dtype=np.int64, mode="r", shape=(2,))
            assert wait_until(lambda steps=steps: steps.min() > 0), name
        for name, proc in procs.items():
            if cases[name] == "group":
                os.killpg(proc.pid, signal.SIGHUP)
            else:
                os.kill(proc.pid, getattr(signal, name))
        for name, proc in procs.items():
            proc.wait(30)
            folder, pids = started[name]
            assert proc.returncode < 0, name  # killed by the signal, as asked
            assert wait_until(lambda pids=pids: not any(map(running, pids))), f"{name}: ranks run"
            assert wait_until(lambda folder=folder: not folder.exists()), f"{name}: {folder}"
    finally:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        for _, pids in started.values():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_the_next_group_removes_the_folders_of_launchers_that_are_gone(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **_text())
    dead = tmp_path / f"{workers.PREFIX}dead"
    dead.mkdir()
    (dead / "launcher").write_text(workers._identity(int(gone.stdout)).replace("-", "1"))
    (dead / "job.0.pkl").write_bytes(b"x" * 100)
    mine = tmp_path / f"{workers.PREFIX}mine"
    mine.mkdir()
    (mine / "launcher").write_text(workers._identity(os.getpid()))
    reused = tmp_path / f"{workers.PREFIX}reused"  # our pid, another start time: reused
    reused.mkdir()
    pid, start, space = workers._identity(os.getpid()).split()
    (reused / "launcher").write_text(f"{pid} {int(start) - 1} {space}")
    elsewhere = tmp_path / f"{workers.PREFIX}container"  # another PID namespace's
    elsewhere.mkdir()
    (elsewhere / "launcher").write_text("1 1 pid:[1]")
    old, young = tmp_path / f"{workers.PREFIX}old", tmp_path / f"{workers.PREFIX}young"
    for folder in (old, young):  # an earlier version's, and one being made
        folder.mkdir()
    os.utime(old, (time.time() - 2 * workers.STALE_S,) * 2)
    assert sorted(workers.sweep_stale()) == sorted([dead, reused, old])
    assert sorted(tmp_path.iterdir()) == sorted([mine, elsewhere, young])


def _text() -> dict:
    return {"capture_output": True, "text": True, "check": True}


# --------------------------------------------------------------------------- a worker fails


def test_a_stopped_worker_is_named_not_the_one_that_timed_out_waiting_for_it(monkeypatch):
    """Rank 1 is stopped (SIGSTOP) mid-run: rank 0's all-reduce times out and it exits;
    the error names rank 1, stopped, and says rank 0 waited for it."""
    need("torch")
    from adapters import torch_ddp

    monkeypatch.setattr(data_parallel, "COLLECTIVE_TIMEOUT_S", 3.0)  # gloo's, in the setup
    x, t, w, schedule = book_run(max_epoch=300)
    spec = adapters.OptimizerSpec("sgd", 1.0)
    with torch_ddp.ranks(2) as group:

        def stop_rank_1() -> None:
            if wait_until(lambda: group.progress.steps[1] >= 20, 60):
                os.kill(group._procs[1].pid, signal.SIGSTOP)

        threading.Thread(target=stop_rank_1, daemon=True).start()
        with pytest.raises(data_parallel.WorkerError) as err:
            adapters.build("torch", w).train(x, t, schedule, spec, data_parallel=2)
    text = str(err.value)
    assert err.value.worker == 1 and err.value.step >= 20, text
    assert "torch data-parallel worker 1 was stopped at step" in text
    assert "stopped (SIGSTOP, or a debugger holds it), worker 0 waited for it in vain" in text
    assert children() == []


def test_ranks_ignore_an_outer_torchrun_and_a_rank_killed_between_runs_is_named_so(monkeypatch):
    """Under torchrun (its variables inherited, TORCHELASTIC_USE_AGENT_STORE among them:
    every rank waited 60 s for an agent's store) the ranks start at once. A rank killed
    while idle is named by the next run ("died between two runs"), and the run after it
    starts fresh ranks (it raised FileNotFoundError)."""
    need("torch")
    from adapters import torch_ddp

    outer = {
        "TORCHELASTIC_USE_AGENT_STORE": "True",
        "TORCHELASTIC_RUN_ID": "outer",
        "RANK": "5",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "GROUP_RANK": "1",
        "MASTER_ADDR": "10.255.255.1",
        "MASTER_PORT": "1",
    }
    for name, value in outer.items():
        monkeypatch.setenv(name, value)
    x, t, w, schedule = book_run(max_epoch=2)
    spec = adapters.OptimizerSpec("sgd", 1.0)
    start = time.monotonic()
    with torch_ddp.ranks(2) as group:
        first = adapters.build("torch", w).train(x, t, schedule, spec, data_parallel=2)
        assert time.monotonic() - start < 0.5 * data_parallel.COLLECTIVE_TIMEOUT_S
        os.kill(group._procs[1].pid, signal.SIGKILL)
        group._procs[1].wait()
        with pytest.raises(data_parallel.WorkerError) as err:
            adapters.build("torch", w).train(x, t, schedule, spec, data_parallel=2)
        again = adapters.build("torch", w).train(x, t, schedule, spec, data_parallel=2)
    assert "worker 1 died between two runs, before this one started: killed by SIGKILL" in str(
        err.value
    )
    assert group.closed and not group.job_dir.exists()
    ref = single("sgd", 2)
    assert_same_run(ref, first)
    assert_same_run(ref, again)
    assert children() == [] and my_job_folders() == []


def test_more_workers_than_the_machine_holds_are_refused_before_any_starts(
    monkeypatch, capsys, tmp_path
):
    """--data-parallel 300 started 124 torch processes (4.5 GB) before it was stopped:
    N is bounded by the cores and the memory (each rank imports torch), at once."""
    need("torch")
    monkeypatch.setattr(data_parallel, "WorkerGroup", None)  # none may start
    x, t, w, _ = book_run(max_epoch=1)
    schedule = np.tile(np.arange(300), (2, 1))  # (2, 300): a batch of 300
    spec = adapters.OptimizerSpec("sgd", 1.0)
    cores = data_parallel.cores()
    limit = max(data_parallel.FEW_WORKERS, data_parallel.WORKERS_PER_CORE * cores)
    with pytest.raises(ValueError) as err:
        adapters.build("torch", w).train(x, t, schedule, spec, data_parallel=300)
    text = str(err.value)
    where = f"torch can start on this machine (2 per core on {cores} cores"
    assert f"data_parallel 300 is more workers than {where}" in text
    assert f"{data_parallel.RANK_BYTES // 2**20} MiB each): at most {limit}" in text
    monkeypatch.setattr(data_parallel, "memory_available", lambda: 2**30)  # 1 GiB free
    mib, fits = data_parallel.RANK_BYTES // 2**20, 2**30 // data_parallel.RANK_BYTES
    with pytest.raises(
        ValueError, match=rf"1\.0 GiB of memory available for {mib} MiB each\): at most {fits}"
    ):
        adapters.build("torch", w).train(x, t, np.tile(np.arange(4), (2, 1)), spec, data_parallel=4)
    out = tmp_path / "out"
    start = time.monotonic()
    argv = ["--batch-size", "300", "--data-parallel", "300", "--frameworks", "numpy,torch"]
    assert cli.main([*argv, "--epochs", "2", "--precisions", "none", "--out", str(out)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert (
        len(lines) == 1 and "--data-parallel 300 is more workers than torch can start" in lines[0]
    )
    assert time.monotonic() - start < 5 and not out.exists()


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 256 KiB tmpfs, filled up (root only: mount)."""
    where = tmp_path / "full"
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)])
    if done.returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> None:
    with contextlib.suppress(OSError), open(folder / "filler", "wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 4096)


def test_a_full_tmpdir_is_one_clear_error_before_any_worker_starts(full_tmpfs, monkeypatch):
    need("torch")
    earlier = full_tmpfs / f"{workers.PREFIX}earlier"  # a worker that died on this disk
    earlier.mkdir()
    (earlier / "error.1").touch()
    (earlier / "stderr.1").touch()
    (earlier / "launcher").write_text(workers._identity(os.getpid()))
    _fill(full_tmpfs)
    reason = workers._reason(1, earlier, 1)  # was an IndexError on the empty error file
    assert reason.startswith("exit status 1: no message (the job folder's disk is full")
    monkeypatch.setattr(tempfile, "tempdir", str(full_tmpfs))
    x, t, w, schedule = book_run(max_epoch=1)
    with pytest.raises(data_parallel.JobFolderError) as err:
        adapters.build("torch", w).train(
            x, t, schedule, adapters.OptimizerSpec("sgd", 1.0), data_parallel=2
        )
    assert "No space left on device" in str(err.value) and "TMPDIR" in str(err.value)
    assert children() == []
    assert sorted(p.name for p in full_tmpfs.iterdir()) == sorted([earlier.name, "filler"])


# --------------------------------------------------------------------------- the command line


def test_check_with_a_killed_rank_says_so_in_one_line(monkeypatch, capsys):
    need("torch")
    monkeypatch.setenv(data_parallel.KILL_ENV, "1:5")
    assert cli.main(["check", "--frameworks", "numpy,torch", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "scratch-parity: torch data-parallel worker 1 died at step 5: killed by SIGKILL "
        "(out of memory?); the other workers were stopped"
    ]
    assert children() == []


def test_ctrl_c_during_bench_data_parallel_is_one_line_from_the_command_alone(tmp_path):
    """Ctrl-C reaches the terminal's foreground process group: the command, and the gloo
    processes it times all-reduces with. Only the command speaks ("interrupted", 130);
    no child prints a KeyboardInterrupt traceback, and none is left."""
    need("torch", "jax")
    proc = start(  # SIGINT not ignored in it, even where pytest runs as a background job
        [sys.executable, "-m", "comparisons", "bench", "--data-parallel", "--sizes", "book"],
        ROOT,
        text=True,
        start_new_session=True,  # its own group: the one the "terminal" interrupts
    )
    try:
        assert "timing 1 and 2 workers" in proc.stderr.readline()
        assert wait_until(lambda: len(_session(proc.pid)) > 2, 120)  # its gloo processes
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 130 and err.strip().splitlines() == ["scratch-parity: interrupted"]
    assert wait_until(lambda: _session(proc.pid) == [] and _launched_by(proc.pid) == [], 20)


def _session(sid: int) -> list[int]:
    """The running processes of session `sid`."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError):
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":  # state, ppid, pgrp, session
                found.append(int(entry))
    return found


def _launched_by(pid: int) -> list[int]:
    """The running workers whose launcher was `pid` (they run in sessions of their own)."""
    mark = f"{workers.LAUNCHER_ENV}={pid}".encode()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            with open(f"/proc/{entry}/environ", "rb") as f:
                if mark in f.read().split(b"\0") and running(int(entry)):
                    found.append(int(entry))
    return found
