"""Adapters: the same TwoLayerNet in NumPy (the reference), PyTorch and JAX.

`build(framework, weights)` returns a `Net` with the same methods in every framework
(NumPy in, NumPy out); `Weights` in the book's layout are the one exchange format.
`net_class(framework)` says what a framework can do without building anything.

Layout: contract.py (NetBase and its one training loop), checks.py (the input rules),
optimizer_spec.py, trajectory.py, recording.py (the Recorder), precision.py
(pinned_precision), weights_file.py and files.py; one file per framework
(numpy_adapter.py, torch_adapter.py, jax_adapter.py), imported when first asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from scratch_parity import FRAMEWORKS
from scratch_parity.neighbours import check_siblings

check_siblings("adapters", "scratch")  # before the first import of it below

from adapters.contract import NetBase
from adapters.optimizer_spec import BOOK_DEFAULTS, OptimizerSpec
from adapters.precision import pinned_precision
from adapters.trajectory import DivergenceError, Trajectory
from adapters.weights_file import load_weights, save_weights
from scratch.two_layer_net import WEIGHT_NAMES, Weights

_REQUIRES = {"numpy": ("numpy",), "torch": ("torch",), "jax": ("jax", "optax")}
_EXTRA = {"numpy": "", "torch": "torch", "jax": "jax"}

Net = NetBase  # the protocol every framework's Net implements


def available() -> list[str]:
    """The installed frameworks among numpy, torch and jax (none of them is imported)."""
    return [
        fw
        for fw in FRAMEWORKS
        if all(importlib.util.find_spec(mod) is not None for mod in _REQUIRES[fw])
    ]


def _framework_error(framework: Any) -> ValueError:
    have = available()
    missing = [fw for fw in FRAMEWORKS if fw not in have]
    how = (
        "; install the rest with pip install 'scratch-parity["
        + ",".join(_EXTRA[fw] for fw in missing)
        + "]'"
        if missing
        else ""
    )
    what = "not installed" if framework in FRAMEWORKS else "unknown"
    return ValueError(f"framework {framework!r} is {what}; installed: {', '.join(have)}{how}")


def net_class(framework: str) -> type[NetBase]:
    """The `Net` class of `framework` (its module imported on first use): what it can do,
    as class attributes and static methods: `DTYPES`, `DEVICES`, `MODES` (the first is
    the default), `TF32`, `device_available(device)`, `tf32_capable(device)`. The one
    public way to ask."""
    if not isinstance(framework, str) or framework not in FRAMEWORKS:
        raise _framework_error(framework)
    if framework not in available():
        raise _framework_error(framework)
    return importlib.import_module(f"adapters.{framework}_adapter").Net


def build(
    framework: str,
    weights: Weights,
    *,
    dtype: str = "float64",
    device: str = "cpu",
    tf32: bool = False,
) -> NetBase:
    """The TwoLayerNet of `framework` holding `weights` (book layout), as a `Net`.

    `tf32=True` (float32 only; torch and JAX) lets float32 matmuls use TF32 on GPUs
    that have it, as JAX does by default there: the trap parity mode otherwise pins shut.
    """
    return net_class(framework)(weights, dtype=dtype, device=device, tf32=tf32)


__all__ = [
    "BOOK_DEFAULTS",
    "FRAMEWORKS",
    "WEIGHT_NAMES",
    "DivergenceError",
    "Net",
    "OptimizerSpec",
    "Trajectory",
    "Weights",
    "available",
    "build",
    "load_weights",
    "net_class",
    "pinned_precision",
    "save_weights",
]
