"""`pinned_precision`: make torch and JAX compute what they are asked, and nothing less.

Two traps make a float32 (or even a float64) run in torch or JAX differ from the
reference without any error: TF32 (GPUs of compute capability 8.0 and newer round the
inputs of float32 matmuls to 10 mantissa bits when allowed; JAX allows it by default)
and JAX's x64 switch (off by default: a float64 request silently computes in float32).
Inside `pinned_precision` both are shut; on exit every setting is as it was.

Threads: torch's TF32 flags and float32 matmul precision (and its intra-op thread
count) are process-wide. Each `pinned_precision("torch", ...)` holds `TORCH_LOCK`, a
process-wide re-entrant lock, from saving the flags to restoring them, so two threads
can never interleave a save and a restore (which could leave TF32 switched on for the
whole process): torch work under it runs one thread at a time. JAX's `enable_x64` and
`default_matmul_precision` contexts are thread-local (jax/_src/config.py), so JAX needs
no lock: each thread sees its own settings.

Neither torch nor JAX is imported unless that framework is asked for.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from adapters import checks

FRAMEWORKS = ("numpy", "torch", "jax")
TORCH_LOCK = threading.RLock()  # held while torch's process-wide numerics flags are changed


def check_request(framework: Any, dtype: Any, tf32: Any) -> tuple[str, str, bool]:
    """(framework, dtype, tf32) validated; ValueError/TypeError naming the argument."""
    if not isinstance(framework, str) or framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}; got {framework!r}")
    dtype = checks.check_dtype(dtype)
    if not isinstance(tf32, bool):
        raise TypeError(f"tf32 must be True or False, got {type(tf32).__name__}")
    if tf32 and dtype != "float32":
        raise ValueError(f"tf32 applies to float32 matmuls only; dtype is {dtype}")
    return framework, dtype, tf32


@contextlib.contextmanager
def pinned_precision(
    framework: str, dtype: str = "float64", *, tf32: bool = False
) -> Iterator[None]:
    """Inside: `framework` computes `dtype` as asked.

    torch: `torch.backends.cuda.matmul.allow_tf32` and `torch.backends.cudnn.allow_tf32`
    off, `torch.set_float32_matmul_precision("highest")`; with `tf32=True` (float32
    only), both flags on and precision "high" instead.
    jax: `jax.enable_x64(dtype == "float64")` and `jax.default_matmul_precision("highest")`
    (with `tf32=True`, "tensorfloat32", what JAX gives float32 matmuls on such GPUs by
    default).
    numpy: nothing to pin (the arguments are still checked).

    An unknown framework or dtype is a ValueError naming it. Safe from several threads.
    """
    framework, dtype, tf32 = check_request(framework, dtype, tf32)
    if framework == "torch":
        with _torch_pinned(tf32):
            yield
    elif framework == "jax":
        jax = import_jax()
        precision = "tensorfloat32" if tf32 else "highest"
        with jax.enable_x64(dtype == "float64"), jax.default_matmul_precision(precision):
            yield
    else:
        yield


def import_jax():
    """`import jax`, with NumPy's global generator put back as it was (importing jax
    draws from it)."""
    state = np.random.get_state()  # noqa: NPY002
    try:
        return importlib.import_module("jax")
    finally:
        np.random.set_state(state)  # noqa: NPY002


@contextlib.contextmanager
def _torch_pinned(tf32: bool) -> Iterator[None]:
    torch = importlib.import_module("torch")
    with TORCH_LOCK:
        saved = (
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
            torch.get_float32_matmul_precision(),
        )
        try:
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            torch.set_float32_matmul_precision("high" if tf32 else "highest")
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = saved[0]
            torch.backends.cudnn.allow_tf32 = saved[1]
            torch.set_float32_matmul_precision(saved[2])


__all__ = ["TORCH_LOCK", "import_jax", "pinned_precision"]
