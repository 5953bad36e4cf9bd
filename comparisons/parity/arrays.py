"""What a user hands the parity functions: NumPy arrays, torch tensors or JAX arrays.

`to_numpy` takes any of them to NumPy without a copy where it can (a torch tensor is
detached and moved to the CPU; a bfloat16, which NumPy lacks, travels as the float32 it
is). `dtype_name` and `framework_of` read what the array was computed in *before* that
conversion, and `dtype_note` says, when a side is not in the precision compared at,
which one and the likely cause. The classic case: a JAX twin of a float64 model
silently computes in float32, because JAX keeps x64 off unless asked. torch and jax are
never imported here: an array is recognised by the module its type comes from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adapters import recording
from adapters.checks import DTYPE_NAMES

Side = tuple[str, str, str]  # (label, dtype name, framework)

JAX_CAUSE = "JAX computes in float32 unless x64 is on: use pinned_precision"
TORCH_CAUSE = (
    "torch makes float32 tensors unless told: build the model in float64 "
    "(module.double() or dtype=torch.float64)"
)


def framework_of(value: Any) -> str:
    """ "torch", "jax" or "numpy": where an array (or a scalar) comes from."""
    root = type(value).__module__.split(".")[0]
    return {"torch": "torch", "jax": "jax", "jaxlib": "jax"}.get(root, "numpy")


def dtype_name(value: Any) -> str:
    """The dtype an array holds, by name ("float32", "bfloat16", "int64"...); a Python
    float is float64, as NumPy takes it."""
    if getattr(value, "dtype", None) is None:
        return np.asarray(value).dtype.name
    return recording.dtype_name(value)  # the adapters' own reading of an array's dtype


def to_numpy(value: Any) -> np.ndarray:
    """A NumPy array of `value` (NumPy, torch on any device, JAX, or a Python number).

    A bfloat16 array comes back as float32 holding the same values."""
    framework = framework_of(value)
    if framework == "torch":
        value = value.detach()
        if dtype_name(value) == "bfloat16":
            value = value.float()  # exact: every bfloat16 is a float32
        return value.cpu().numpy()
    a = np.asarray(value)
    if framework == "jax" and a.dtype.name == "bfloat16":
        a = a.astype(np.float32)
    return a


def likely_cause(lower_framework: str) -> str:
    """Why one side holds a lower precision than the other, given where it comes from."""
    if lower_framework == "jax":
        return JAX_CAUSE
    if lower_framework == "torch":
        return TORCH_CAUSE
    return f"if it came from JAX, {JAX_CAUSE}; if from torch, {TORCH_CAUSE}"


def dtype_note(what: str, sides: tuple[Side, Side], compared_at: str) -> str | None:
    """One sentence when the two sides of `what` are not both held in `compared_at`.

        `sides` are (label, dtype name, framework) for each side, e.g. ("jax", "float32",
        "jax"). Two different dtypes are named both; when a side holds less precision than
        the comparison is made at, the likely cause follows ("JAX computes in float32 unless
        x64 is on: use pinned_precision"). A side compared at its own lower precision on
        purpose (a float32 run against the float64 reference at float32's tolerance) gets
        the dtypes and no cause. None when both hold the same dtype, at least as precise as
    `compared_at`, or when a dtype is not a float.
    """
    (a_label, a_dtype, _), (b_label, b_dtype, _) = sides
    if any(d not in DTYPE_NAMES for d in (a_dtype, b_dtype, compared_at)):
        return None
    rank = DTYPE_NAMES.index  # higher rank: lower precision
    low, high = sorted(sides, key=lambda side: rank(side[1]), reverse=True)
    if a_dtype == b_dtype:
        if rank(a_dtype) <= rank(compared_at):
            return None
        text = f"{a_label} and {b_label} both hold {what} as {a_dtype}"
    else:
        text = f"{low[0]} holds {what} as {low[1]}, {high[0]} as {high[1]}"
    if rank(low[1]) <= rank(compared_at):
        return f"{text} (compared at {compared_at}'s tolerance)"
    framework = low[2] if low[2] != "numpy" else (_framework_in(low[0]) or "numpy")
    return f"{text}, compared at {compared_at}: {likely_cause(framework)}"


def _framework_in(label: str) -> str | None:
    """ "jax" or "torch" when a side's label names one (e.g. "jax/step")."""
    for fw in ("jax", "torch"):
        if label.split("/")[0] == fw:
            return fw
    return None
