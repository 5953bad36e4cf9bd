"""pinned_precision under asyncio tasks, thread pools and torch's new fp32_precision API:
each block computes under its own settings, none deadlocks, and the user's settings are
exactly as they were after the last block (adapters/pins.py, adapters/precision.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import adapters
from adapters import pins
from adapters.precision import pinned_precision
from tests.adapters.helpers import book_run
from tests.adapters.test_precision import PINNED, TF32, jax_flags, torch_flags
from tests.helpers import need, restore_torch_fp32, torch_fp32_reads

pytestmark = pytest.mark.crossframework


def run_tasks(*coroutines):
    """The coroutines as tasks of one event loop, their results (or errors) in order."""

    async def main():
        return await asyncio.gather(*coroutines, return_exceptions=True)

    return asyncio.run(main())


def test_interleaved_torch_tasks_share_the_pin_and_leave_the_users_precision():
    """Task A enters, task B enters, A leaves first, then B: each sees TF32 off at every
    await, and the user's "high" matmul precision is back afterwards (a save/restore per
    block restored A's pinned state at B's exit, leaving "highest" for good)."""
    need("torch")
    import torch

    outside = torch_flags(), torch_fp32_reads(torch)
    torch.set_float32_matmul_precision("high")
    try:
        users = torch_flags()
        seen: list = []
        a_in, b_in, a_out = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def task_a():
            with pinned_precision("torch", "float32"):
                a_in.set()
                await b_in.wait()
                seen.append(("a", torch_flags()))
            a_out.set()

        async def task_b():
            await a_in.wait()
            with pinned_precision("torch", "float32"):
                b_in.set()
                await a_out.wait()  # A has left; B is still inside
                seen.append(("b", torch_flags()))

        assert run_tasks(task_a(), task_b()) == [None, None]
        assert seen == [("a", PINNED), ("b", PINNED)]
        assert torch_flags() == users and users[-1] == "high"
    finally:
        torch.set_float32_matmul_precision(outside[0][-1])
        restore_torch_fp32(torch, outside[1])


def test_a_task_asking_for_other_torch_settings_inside_anothers_block_is_refused():
    """B asks for TF32 while A is inside a parity block on the same thread: waiting would
    stop the event loop, and running would give A TF32 after its await; B gets a
    RuntimeError naming both, A computes as it asked, nothing is left changed."""
    need("torch")
    before = torch_flags()
    seen: list = []
    a_in, b_done = asyncio.Event(), asyncio.Event()

    async def task_a():
        with pinned_precision("torch", "float32"):
            a_in.set()
            await b_done.wait()
            seen.append(torch_flags())

    async def task_b():
        await a_in.wait()
        try:
            with pinned_precision("torch", "float32", tf32=True):
                seen.append("b ran inside")
        finally:
            b_done.set()

    a, b = run_tasks(task_a(), task_b())
    assert a is None and isinstance(b, RuntimeError), b
    text = str(b)
    assert "pinned_precision('torch', tf32=True) cannot start in asyncio task" in text
    assert "inside pinned_precision('torch', tf32=False)" in text and "process-wide" in text
    assert seen == [PINNED] and torch_flags() == before


def test_interleaved_jax_tasks_compute_float64_and_leave_x64_off():
    """Two float64 tasks interleave on one thread and compute in float64 after every
    await; a float32 task in between is refused; x64 is off again afterwards (JAX's
    contexts, exited out of order, left x64 on and computed a float64 block in float32)."""
    need("jax")
    adapters.net_class("jax")  # jax imported with NumPy's generator kept
    import jax.numpy as jnp

    before = jax_flags()
    dtypes: list = []
    a_in, b_in, a_out = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def float64(first: bool):
        if not first:
            await a_in.wait()
        with pinned_precision("jax", "float64"):
            (a_in if first else b_in).set()
            await (b_in.wait() if first else a_out.wait())
            dtypes.append(jnp.ones(2).dtype.name)
        if first:
            a_out.set()

    async def float32():
        await b_in.wait()
        with pinned_precision("jax", "float32"):
            dtypes.append("float32 ran inside")

    a, b, c = run_tasks(float64(True), float64(False), float32())
    assert (a, b) == (None, None) and isinstance(c, RuntimeError), c
    assert "JAX's x64 and matmul precision are one per thread" in str(c)
    assert dtypes == ["float64", "float64"] and jax_flags() == before


def test_a_thread_pool_trains_torch_while_the_caller_waits_inside_pinned_precision():
    """The caller holds a block and waits for a pool worker's Net.train (same settings):
    no deadlock, and the worker's run is the one it makes alone."""
    need("torch")
    x, t, w, schedule = book_run(max_epoch=2)
    spec = adapters.OptimizerSpec("sgd", 1.0)
    alone = adapters.build("torch", w).train(x, t, schedule, spec)
    before = torch_flags()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        with pinned_precision("torch", "float64"):
            jobs = [
                pool.submit(adapters.build("torch", w).train, x, t, schedule, spec)
                for _ in range(2)
            ]
            runs = [job.result(timeout=120) for job in jobs]
    for run in runs:
        np.testing.assert_array_equal(run.losses, alone.losses)
        np.testing.assert_array_equal(run.weights["W1"], alone.weights["W1"])
    assert torch_flags() == before


def test_a_worker_needing_other_settings_than_its_waiting_caller_fails_instead_of_hanging(
    monkeypatch,
):
    """The caller holds TF32 on and waits for a worker that needs it off: they would wait
    for each other forever. The worker waits `pins.WAIT_S`, then raises naming both."""
    need("torch")
    monkeypatch.setattr(pins, "WAIT_S", 0.3)
    x, t, w, schedule = book_run(max_epoch=1)
    spec = adapters.OptimizerSpec("sgd", 1.0)
    before = torch_flags()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with pinned_precision("torch", "float32", tf32=True):
            job = pool.submit(adapters.build("torch", w).train, x, t, schedule, spec)
            with pytest.raises(RuntimeError) as err:
                job.result(timeout=60)
            assert torch_flags() == TF32
    text = str(err.value)
    assert "pinned_precision('torch', tf32=False) waited 0.3 s in thread" in text
    assert "inside" not in text and "would wait forever" in text
    assert torch_flags() == before


# --------------------------------------------------------------------------- torch's new API

# Each user setting is made in a fresh copy of one process that has imported torch and
# nothing else (os.fork: torch cannot go back to its defaults), then the copy's settings
# are fingerprinted: every fp32_precision as read, then as read after each parent is set
# to "ieee" and to "tf32" (which tells a setting of its own from an inherited one, and
# torch's cuDNN default from both), and the legacy getters' answers. The same is done
# after pinned_precision, Net.predict and Net.train (each fingerprint in a copy of its
# own, as it changes what it reads).
SETTINGS = {
    "generic tf32": "torch.backends.fp32_precision = 'tf32'",
    "cuda matmul tf32": "torch.backends.cuda.matmul.fp32_precision = 'tf32'",
    "cudnn conv ieee, legacy high": (
        "torch.backends.cudnn.conv.fp32_precision = 'ieee'\n"
        "torch.set_float32_matmul_precision('high')"
    ),
    "mkldnn matmul bf16, cuda all tf32": (
        "torch.backends.mkldnn.matmul.fp32_precision = 'bf16'\n"
        "torch.backends.cuda.fp32_precision = 'tf32'"
    ),
}
_SCRIPT = """
import json, os, sys, traceback
import numpy as np
import torch
import adapters
from adapters.precision import pinned_precision

adapters.net_class("torch")  # imported once, before the copies
OPS = ("all", "matmul", "conv", "rnn")
NODES = [("generic", "all")] + [(b, o) for b in ("cuda", "mkldnn") for o in OPS]
get, put = torch._C._get_fp32_precision_getter, torch._C._set_fp32_precision_setter

def legacy():
    out = []
    for read in (torch._C._get_cublas_allow_tf32, torch._C._get_cudnn_allow_tf32,
                 torch._C._get_float32_matmul_precision):
        try:
            out.append(read())
        except RuntimeError:
            out.append("mixed")
    return out

def fingerprint():  # in a copy of this process: reading changes what it reads
    read, write = os.pipe()
    if os.fork() == 0:
        prints = [[get(*n) for n in NODES], legacy()]
        for parent in [("generic", "all"), ("cuda", "all"), ("mkldnn", "all")]:
            for value in ("ieee", "tf32"):
                put(*parent, value)
                prints.append([parent, value, [get(*n) for n in NODES]])
        os.write(write, json.dumps(prints).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        prints = json.loads(f.read())
    os.wait()
    return prints

def check(name, setting):
    exec(setting)
    before = fingerprint()
    inside = []
    rng = np.random.default_rng(0)
    w = {"W1": rng.standard_normal((2, 5)), "b1": np.zeros(5), "W2": rng.standard_normal((5, 3)),
         "b2": np.zeros(3)}
    x, t = rng.standard_normal((6, 2)), np.arange(6) % 3
    with pinned_precision("torch", "float32"):
        inside.append([get(*n) for n in NODES[1:]] + legacy()[::2])
        with pinned_precision("torch", "float32", tf32=True):
            inside.append([get(*n) for n in NODES[1:]] + legacy()[::2])
    for dtype in ("float64", "float32"):
        net = adapters.build("torch", w, dtype=dtype)
        net.predict(x)
        net.train(x, t, np.tile(np.arange(6), (3, 1)), adapters.OptimizerSpec("sgd", 0.5))
    same = fingerprint() == before
    print(json.dumps({"name": name, "same": same, "inside": inside, "legacy": legacy()}))

for name, setting in json.loads(sys.argv[1]).items():
    if os.fork() == 0:
        try:
            check(name, setting)
            sys.stdout.flush()
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
    os.wait()
"""


def test_every_torch_fp32_precision_setting_is_pinned_inside_and_kept_exactly():
    need("torch")
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(SETTINGS)],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = {r["name"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert done.returncode == 0 and set(results) == set(SETTINGS), done.stderr[-3000:]
    off = ["ieee"] * 8 + [False, "highest"]  # cuda all/matmul/conv/rnn, mkldnn's; legacy
    on = ["tf32"] * 4 + ["ieee", "tf32", "ieee", "ieee", True, "high"]
    for name, got in results.items():
        assert got["inside"] == [off, on], name
        assert got["same"], f"{name}: the settings changed"
    assert "mixed" in results["cuda matmul tf32"]["legacy"]  # the user's own mix stays
