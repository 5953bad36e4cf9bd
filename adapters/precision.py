"""`pinned_precision`: make torch and JAX compute what they are asked, and nothing less.

Two traps make a float32 (or even a float64) run in torch or JAX differ from the
reference without any error: TF32 (GPUs of compute capability 8.0 and newer round the
inputs of float32 matmuls to 10 mantissa bits when allowed; JAX allows it by default)
and JAX's x64 switch (off by default: a float64 request silently computes in float32).
Inside `pinned_precision` both are shut; on exit every setting is as it was.

Threads and tasks: torch's TF32 flags and float32 matmul precision are process-wide;
JAX's x64 and matmul-precision contexts are per thread (jax/_src/config.py), shared by
the asyncio tasks of that thread. Blocks that ask for the same settings run together
from any number of threads and tasks, interleaving as they like: the first one in saves
the settings, the last one out restores them exactly (adapters/pins.py). A nested block
may ask for other settings. Blocks that ask for different settings at the same time
cannot both be right: another thread's waits for the first to end (up to a minute), and
another asyncio task's of the same thread is refused at once with RuntimeError (waiting
would stop its event loop). No lock is held while a block runs: a thread pool working
under the caller's settings never deadlocks.

torch has two ways to set these flags: the legacy `allow_tf32` flags and
`set_float32_matmul_precision`, and the newer `fp32_precision` settings
(`torch.backends.fp32_precision`, `torch.backends.cuda.matmul.fp32_precision`,
`torch.backends.cudnn.conv.fp32_precision`, ...; the legacy getters raise "mix of the
legacy and new APIs" once these are used). Inside a block both agree (TF32 off: "ieee"
for every cuda and mkldnn operation, legacy flags off, precision "highest"); on exit
both are put back as they were, whichever the user set, the "none" (inherit) of a new
setting included.

Neither torch nor JAX is imported unless that framework is asked for.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from adapters import checks
from adapters.pins import Pins

FRAMEWORKS = ("numpy", "torch", "jax")


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

    torch: TF32 off for every operation (the `fp32_precision` of every cuda and mkldnn
    operation "ieee", `torch.get_float32_matmul_precision()` "highest"); with `tf32=True`
    (float32 only), "tf32" for cuda matmuls and cuDNN and for mkldnn matmuls, precision
    "high", instead (what `torch.set_float32_matmul_precision("high")` and the legacy
    `allow_tf32` flags set).
    jax: `jax.enable_x64(dtype == "float64")` and `jax.default_matmul_precision("highest")`
    (with `tf32=True`, "tensorfloat32", what JAX gives float32 matmuls on such GPUs by
    default).
    numpy: nothing to pin (the arguments are still checked).

    An unknown framework or dtype is a ValueError naming it. Safe from several threads
    and asyncio tasks (the module docstring says how); every setting is exactly as it
    was when the last block ends.
    """
    framework, dtype, tf32 = check_request(framework, dtype, tf32)
    if framework == "torch":
        with _torch_pins().pinned(tf32):
            yield
    elif framework == "jax":
        precision = "tensorfloat32" if tf32 else "highest"
        with _jax_pins().pinned((dtype == "float64", precision)):
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


# --------------------------------------------------------------------------- torch

_PINS: dict[str, Pins] = {}  # "torch" -> the process's pins (made on first use)
BACKENDS = ("cuda", "mkldnn")  # the backends of torch's fp32_precision settings
OPS = ("matmul", "conv", "rnn")
LEAVES = tuple((b, op) for b in BACKENDS for op in OPS)


def _torch_pins() -> Pins:
    if "torch" not in _PINS:
        _PINS["torch"] = Pins(
            _pin_torch,
            lambda tf32: f"pinned_precision('torch', tf32={tf32})",
            "torch's TF32 flags are process-wide",
        )
    return _PINS["torch"]


def _targets(tf32: bool) -> tuple[dict, str]:
    """What every operation computes inside a block, and the legacy matmul precision."""
    fast = "tf32" if tf32 else "ieee"
    ops = {("cuda", op): fast for op in OPS}
    ops |= {("mkldnn", "matmul"): fast, ("mkldnn", "conv"): "ieee", ("mkldnn", "rnn"): "ieee"}
    return ops, "high" if tf32 else "highest"  # as set_float32_matmul_precision sets mkldnn


def _torch_own(torch) -> dict:
    """Each backend's "all" and each operation's own fp32_precision: its value, or None
    where it follows its parent (an operation its backend's "all", a backend "generic";
    torch's unset and its initial cuDNN default both follow, and are never written here).

    torch only reads a setting through its parents: one that reads like its parent is
    told apart by setting the parent to another value for a moment and seeing whether
    it follows (the parent is then put back as it was)."""
    get, put = torch._C._get_fp32_precision_getter, torch._C._set_fp32_precision_setter
    own: dict = {("generic", "all"): get("generic", "all")}
    family = [((b, "all"), ("generic", "all")) for b in BACKENDS]
    family += [(leaf, (leaf[0], "all")) for leaf in LEAVES]
    for node, parent in family:  # parents first: each parent's own value is known by then
        seen = get(*node)
        probe = "ieee" if seen == "tf32" else "tf32"
        put(*parent, probe)
        own[node] = None if get(*node) == probe else seen
        put(*parent, own[parent] or "none")
    return own


def _legacy_matmul(torch, own: dict) -> str:
    """torch.get_float32_matmul_precision(), also where a new setting contradicts it
    (torch then raises "mix of the legacy and new APIs"): read with the two matmul
    settings it checks neutral for a moment."""
    try:
        return torch._C._get_float32_matmul_precision()
    except RuntimeError:
        put = torch._C._set_fp32_precision_setter
        for leaf in (("cuda", "matmul"), ("mkldnn", "matmul")):
            put(*leaf, "ieee")
        try:
            return torch._C._get_float32_matmul_precision()
        finally:
            for leaf in (("cuda", "matmul"), ("mkldnn", "matmul")):
                put(*leaf, own[leaf] or "none")


def _pin_torch(tf32: bool) -> Callable[[], None]:
    """Every cuda and mkldnn operation at its target (TF32 off, or on for cuda with
    `tf32`), the legacy matmul precision agreeing (cuBLAS refuses to run when the two
    disagree); returns the function that puts back exactly what was there.

    Written: the legacy matmul precision where it differs (it writes the two matmul
    settings too), each backend's "all", and an operation's own setting only where it
    still reads otherwise. Everything written is put back, an unset one as unset; the
    legacy cuDNN flag and torch's cuDNN default are never written (torch cannot put its
    default back), so inside a block `torch.backends.cudnn.allow_tf32` may raise
    torch's "mix of the legacy and new APIs": read `torch.backends.cudnn.conv.fp32_precision`."""
    torch = importlib.import_module("torch")
    if not hasattr(torch._C, "_get_fp32_precision_getter"):  # torch before 2.9: legacy only
        return _pin_legacy_torch(torch, tf32)
    get, put = torch._C._get_fp32_precision_getter, torch._C._set_fp32_precision_setter
    own = _torch_own(torch)
    matmul = _legacy_matmul(torch, own)
    targets, legacy = _targets(tf32)
    written: list[tuple[str, str]] = []

    def undo() -> None:
        if matmul != legacy:
            torch._C._set_float32_matmul_precision(matmul)
        for node in reversed(written):
            put(*node, own[node] or "none")

    try:
        if matmul != legacy:
            torch._C._set_float32_matmul_precision(legacy)
            written += [("cuda", "matmul"), ("mkldnn", "matmul")]
        for b in BACKENDS:
            put(b, "all", targets[(b, "conv")])
            written.append((b, "all"))
        for leaf, value in targets.items():
            if get(*leaf) != value:
                put(*leaf, value)
                written.append(leaf)
        wrong = {f"{b}.{op}": get(b, op) for (b, op), v in targets.items() if get(b, op) != v}
        if wrong:
            raise RuntimeError(f"pinned_precision could not set torch's fp32_precision: {wrong}")
    except BaseException:
        undo()
        raise
    return undo


def _pin_legacy_torch(torch, tf32: bool) -> Callable[[], None]:
    """torch without fp32_precision settings: its three legacy flags, saved and set."""
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    )

    def put(matmul: bool, cudnn: bool, precision: str) -> None:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn
        torch.set_float32_matmul_precision(precision)

    put(tf32, tf32, "high" if tf32 else "highest")
    return lambda: put(*saved)


# --------------------------------------------------------------------------- jax

_JAX = threading.local()  # .pins: this thread's (JAX's settings are per thread)


def _jax_pins() -> Pins:
    if not hasattr(_JAX, "pins"):
        _JAX.pins = Pins(
            _pin_jax,
            lambda s: (
                f"pinned_precision('jax', {'float64' if s[0] else 'not float64'}, "
                f"precision {s[1]!r})"
            ),
            "JAX's x64 and matmul precision are one per thread, shared by its asyncio tasks",
        )
    return _JAX.pins


def _pin_jax(setting: tuple[bool, str]) -> Callable[[], None]:
    """This thread's x64 and matmul precision set; returns what puts them back."""
    jax = import_jax()
    x64, precision = setting
    stack = contextlib.ExitStack()
    stack.enter_context(jax.enable_x64(x64))
    stack.enter_context(jax.default_matmul_precision(precision))
    return stack.close


__all__ = ["import_jax", "pinned_precision"]
