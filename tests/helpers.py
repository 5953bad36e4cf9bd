"""Helpers shared by the test files (as equinox's tests/helpers.py): which frameworks are
installed, skipping a test that needs one that is not, and the pairs and modes to
parametrise over. The frameworks and their modes come from the package, never restated.

Fixtures and hooks live in tests/conftest.py; this module holds plain functions.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import random

import numpy as np
import pytest

import adapters

FRAMEWORKS = adapters.FRAMEWORKS
INSTALLED = adapters.available()
PAIRS = list(itertools.combinations(FRAMEWORKS, 2))


def need(*frameworks: str) -> None:
    """Skip (a failure under --require-all-frameworks) unless all are installed."""
    missing = [fw for fw in frameworks if fw not in INSTALLED]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")


def modes(framework: str) -> tuple[str, ...]:
    """The execution modes of `framework`'s Net, its default first."""
    return adapters.net_class(framework).MODES


def framework_modes(frameworks=FRAMEWORKS) -> list[tuple[str, str]]:
    """Every (framework, mode) of `frameworks`, in the package's order, to parametrise
    over. A framework that is not installed gets one entry, mode "-", so that its test
    is collected and `need` skips it (a failure under --require-all-frameworks)."""
    return [(fw, mode) for fw in frameworks for mode in (modes(fw) if fw in INSTALLED else ("-",))]


def torch_and_jax():
    """torch and jax; jax through its adapter, which puts back the NumPy global generator
    that importing jax draws from."""
    import torch

    adapters.net_class("jax")
    import jax

    return torch, jax


def snapshot() -> dict:
    """The process's global numerics state, wider than conftest's per-test guard:
    tests/adapters/test_global_state.py says what each entry is."""
    torch, jax = torch_and_jax()
    return {
        "numpy global generator": np.random.get_state(),
        "numpy error state": np.geterr(),
        "python random": random.getstate(),
        "torch generator": torch.get_rng_state(),
        "torch default dtype": torch.get_default_dtype(),
        "torch TF32 matmul": torch.backends.cuda.matmul.allow_tf32,
        "torch TF32 cudnn": torch.backends.cudnn.allow_tf32,
        "torch float32 matmul precision": torch.get_float32_matmul_precision(),
        "torch fp32_precision": torch_fp32_reads(torch),
        "torch threads": torch.get_num_threads(),
        "torch deterministic": torch.are_deterministic_algorithms_enabled(),
        "jax x64": jax.config.jax_enable_x64,
        "jax matmul precision": jax.config.jax_default_matmul_precision,
    }


FP32_NODES = [("generic", "all")] + [
    (backend, op) for backend in ("cuda", "mkldnn") for op in ("all", "matmul", "conv", "rnn")
]


def torch_fp32_reads(torch) -> dict | None:
    """torch's fp32_precision settings as read (torch 2.9 and newer; else None)."""
    get = getattr(torch._C, "_get_fp32_precision_getter", None)
    return None if get is None else {node: get(*node) for node in FP32_NODES}


def restore_torch_fp32(torch, reads: dict | None) -> None:
    """After a test set torch's TF32 flags on purpose and put the legacy ones back: every
    fp32_precision setting read as in `reads` again (the legacy setters leave them set
    where they were unset; torch's initial cuDNN default cannot be set again, an explicit
    "tf32" reads the same)."""
    if reads is None:
        return
    get, put = torch._C._get_fp32_precision_getter, torch._C._set_fp32_precision_setter
    for node in FP32_NODES:  # parents first
        if get(*node) != reads[node]:
            put(*node, reads[node])


def changed(before: dict, after: dict) -> list[str]:
    """The names of the entries of two snapshots that differ."""

    def same(a, b) -> bool:
        if isinstance(a, tuple):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        if hasattr(a, "numpy"):  # a torch tensor
            return bool((a == b).all())
        if isinstance(a, np.ndarray):
            return np.array_equal(a, b)
        return a == b

    return [k for k in before if not same(before[k], after[k])]


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`python -m comparisons ARGV` in this process: (exit status, stdout, stderr)."""
    from comparisons import cli  # here: the adapters' tests use this module too

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()
