"""Determinism: the same command twice, in two processes, gives bit-identical trajectories.

`python -m tests.adapters.trajectory_hashes` runs in a fresh process beside the test's
own run of the same code, and their
SHA-256 of every trajectory (losses, loss gap, record steps, every recorded weight) must
be equal for numpy, torch on CPU and JAX on CPU (scan and step), in float64 and float32.

What this depends on. Nothing is random inside a Net: the weights, the data and the
batches come from the caller (the book's RandomState), and building a torch net draws
nothing (`skip_init`). What remains is the order of floating-point operations, which is
fixed for a given
- set of library versions (numpy and its BLAS, torch, jax/jaxlib, optax);
- CPU: BLAS, oneDNN and XLA choose kernels by instruction set (AVX2, AVX-512, FMA), so
  another machine may give other (equally correct) bits;
- thread counts: OMP_NUM_THREADS / MKL_NUM_THREADS / OPENBLAS_NUM_THREADS (NumPy's BLAS and
  torch.get_num_threads()) and XLA's CPU threads (XLA_FLAGS
  "--xla_cpu_multi_thread_eigen=... intra_op_parallelism_threads=..."): a product split
  over more threads is summed in another order;
- XLA_FLAGS in general (e.g. --xla_cpu_enable_fast_math, which must stay off) and
  JAX_PLATFORMS / CUDA_VISIBLE_DEVICES (here cpu / none, so no GPU is picked up);
- jax_enable_x64 and the matmul precision, which the adapters pin inside every call.
Both processes inherit the same environment, so all of these are equal between them.
On this project's machine the bits also did not change between 1 and 2 threads or with
XLA's multi-threaded Eigen on or off, but at these sizes (batch 30, 2-10-3) no product is
split across threads at all; that is not promised for larger nets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adapters import trajectory_hashes
from tests.helpers import need

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.crossframework
def test_the_same_run_in_two_processes_is_bit_identical():
    """This process and a fresh one (same environment) hash the same runs."""
    need("torch", "jax")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "tests.adapters.trajectory_hashes"]
    other = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    first = trajectory_hashes.hashes()  # meanwhile, here: the first of the two processes
    out = other.communicate(timeout=300)[0]
    assert other.returncode == 0
    second = json.loads(out)
    expected = {
        f"{fw}/{mode}/{dtype}"
        for fw, mode in [("numpy", "eager"), ("torch", "eager"), ("jax", "scan"), ("jax", "step")]
        for dtype in ("float64", "float32")
    }
    assert set(first) == set(second) == expected  # every framework, mode and dtype really ran
    differ = [k for k in sorted(first) if first[k] != second[k]]
    assert not differ, f"not bit-identical between two processes: {', '.join(differ)}"
