"""The input rules (docs/layout.md#input-rules), checked once, before any framework work.

Every adapter calls these through `adapters.contract.NetBase`, so bad input gets the same
`ValueError`/`TypeError`, naming the argument, whichever framework was asked for.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from scratch.two_layer_net import WEIGHT_NAMES, Weights

DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16")

# NumPy has no bfloat16. A bfloat16 array travels as float32 holding exactly the bfloat16
# values (every bfloat16 is a float32 with the low 16 bits zero), so NumPy in, NumPy out
# still holds; the framework converts it without rounding.
BFLOAT16_MAX = float.fromhex("0x1.fep127")  # 3.39e38, just below float32's largest


def largest(dtype: str) -> float:
    """The largest finite value of one of DTYPE_NAMES (bfloat16 included)."""
    return BFLOAT16_MAX if dtype == "bfloat16" else float(np.finfo(dtype).max)


def check_fits(settings: dict[str, float], dtype: str) -> None:
    """Settings (a learning rate, max_grad) must be numbers `dtype` can hold (torch cannot
    even represent lr 1e5 in float16): ValueError naming the first that cannot. The one
    rule for `Net.train` and the command line, which names its options."""
    top = largest(dtype)
    for key, value in settings.items():
        if abs(value) > top:
            raise ValueError(f"{key} {value:.3g} does not fit in {dtype} (largest {top:.3g})")


def numpy_dtype(dtype: str) -> np.dtype:
    """The NumPy dtype arrays of `dtype` travel in: bfloat16 as float32, others as is."""
    return np.dtype("float32" if dtype == "bfloat16" else dtype)


def round_bfloat16(a: np.ndarray) -> np.ndarray:
    """float32 `a` rounded to the nearest bfloat16 (ties to even), as float32.

    The low 16 bits of the float32 are dropped after adding 0x7FFF plus the lowest kept
    bit: the rounding torch's `.to(torch.bfloat16)` and JAX's `astype` do. Values beyond
    bfloat16's range round to inf (finite input only; callers check).
    """
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))) & np.uint32(
        0xFFFF0000
    )
    return rounded.view(np.float32).reshape(np.shape(a))


def _is_real_array(a: np.ndarray) -> bool:
    return a.dtype.kind in "fiu" and a.dtype != np.bool_


def as_array(value: Any, name: str) -> np.ndarray:
    """`np.asarray(value)` that names `name` when the value is not a numeric array.

    A torch tensor is read detached and from its device (one that tracks gradients would
    make torch refuse `.numpy()`); bfloat16 comes out as the float32 it is exactly.
    """
    if value is None or isinstance(value, str | bytes | dict):
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}")
    if isinstance(value, np.ma.MaskedArray):  # np.asarray would drop the mask silently
        raise TypeError(
            f"{name} is a masked array (numpy.ma): its mask would be lost; pass "
            f"{name}.filled(value) or {name}.data"
        )
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{name} must be a numeric array: {err}") from None
    if a.dtype == object or not _is_real_array(a):
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a


def check_dtype(dtype: Any, supported: tuple[str, ...] = DTYPE_NAMES) -> str:
    """The canonical name of `dtype` ("float64", ...), or ValueError listing `supported`.
    None is refused (NumPy would read it as float64)."""
    if dtype is None:
        raise ValueError(f"dtype must be one of {', '.join(supported)}; got None")
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except (TypeError, ValueError):
        name = None
    if name not in supported:
        raise ValueError(f"dtype must be one of {', '.join(supported)}; got {dtype!r}")
    return name


def cast(a: np.ndarray, dtype: str, name: str) -> np.ndarray:
    """`a` in `dtype` (bfloat16: rounded to it, held in float32); ValueError naming `name`
    when a finite value overflows it (1e300 in float32 would become inf, 1e5 in float16,
    and NumPy would only warn)."""
    with np.errstate(over="ignore"):
        out = a.astype(numpy_dtype(dtype), copy=False)
        if dtype == "bfloat16":
            out = round_bfloat16(out)
    if not np.all(np.isfinite(out)):
        with np.errstate(over="ignore"):
            big = float(np.max(np.abs(a.astype(np.float64))))
        raise ValueError(
            f"{name} does not fit in {dtype}: its largest magnitude {big:.3g} exceeds "
            f"{largest(dtype):.3g}"
        )
    return out


def check_weights(weights: Any) -> tuple[Weights, tuple[int, int, int]]:
    """Validate `Weights`; return them as float64-or-native NumPy arrays and (I, H, O)."""
    if not isinstance(weights, dict):
        raise TypeError(
            f"weights must be a dict with keys W1, b1, W2, b2, got {type(weights).__name__}"
        )
    if set(weights) != set(WEIGHT_NAMES):
        missing = [k for k in WEIGHT_NAMES if k not in weights]
        extra = sorted(str(k) for k in weights if k not in WEIGHT_NAMES)
        raise ValueError(
            f"weights must have exactly the keys W1, b1, W2, b2 (missing {missing}, extra {extra})"
        )
    arrays = {k: as_array(weights[k], f"weights[{k!r}]") for k in WEIGHT_NAMES}
    W1, b1, W2, b2 = (arrays[k] for k in WEIGHT_NAMES)
    if W1.ndim != 2 or W2.ndim != 2:
        raise ValueError(
            f"weights['W1'] and weights['W2'] must be 2-D (in, out), got shapes "
            f"{W1.shape} and {W2.shape}"
        )
    I, H = W1.shape
    O = W2.shape[1]
    if W2.shape[0] == H and O == 1:
        raise ValueError(
            "weights['W2'] has 1 output column: the softmax cross-entropy needs at least "
            "2 classes (one class has probability 1 and loss 0 whatever the weights)"
        )
    expected = {"W1": (I, H), "b1": (H,), "W2": (H, O), "b2": (O,)}
    for k, shape in expected.items():
        if arrays[k].shape != shape:
            raise ValueError(
                f"weights[{k!r}] must have shape {shape} to match W1 {W1.shape} "
                f"(book layout: W is (in, out)), got {arrays[k].shape}"
            )
        if arrays[k].size == 0:
            raise ValueError(f"weights[{k!r}] is empty (shape {arrays[k].shape})")
        if not np.all(np.isfinite(arrays[k])):
            raise ValueError(f"weights[{k!r}] holds NaN or inf")
    return arrays, (I, H, O)


def parse_device(device: Any, kinds: tuple[str, ...]) -> tuple[str, int] | None:
    """(kind, index) of "kind" (index 0) or "kind:N" (N in ASCII digits), kind one of
    `kinds`; "cpu" takes no index. None for anything else ("cpu:0", "cuda:\u00b2", 0)."""
    kind, colon, index = device.partition(":") if isinstance(device, str) else ("", "", "")
    if kind not in kinds:
        return None
    if not colon:
        return kind, 0
    if kind == "cpu" or not (index.isascii() and index.isdigit() and len(index) < 6):
        return None
    return kind, int(index)


def check_device(device: Any, kinds: tuple[str, ...], framework: str) -> tuple[str, int]:
    """`parse_device`, or ValueError naming `device` and the kinds `framework` has."""
    parsed = parse_device(device, kinds)
    if parsed is None:
        indexed = [k + ":N" for k in kinds if k != "cpu"]
        raise ValueError(
            f"device must be one of {', '.join((*kinds, *indexed))} for {framework}; got {device!r}"
        )
    return parsed


def check_x(x: Any, input_size: int) -> np.ndarray:
    """x must be a finite, non-empty (batch, input_size) array."""
    x = as_array(x, "x")
    if x.ndim != 2 or x.shape[1] != input_size:
        hint = " (one sample is x[None])" if x.ndim == 1 else ""
        raise ValueError(f"x must have shape (batch, {input_size}), got {x.shape}{hint}")
    if x.shape[0] == 0:
        raise ValueError("x is empty: batch size 0")
    if not np.all(np.isfinite(x)):
        raise ValueError("x holds NaN or inf")
    return x


def check_labels(t: Any, batch: int, output_size: int) -> np.ndarray:
    """t as index labels (batch,) in [0, O) or one-hot (batch, O); returns int64 indices."""
    t = as_array(t, "t")
    if t.ndim == 2:
        if t.shape != (batch, output_size):
            raise ValueError(f"one-hot t must have shape ({batch}, {output_size}), got {t.shape}")
        if not (np.all((t == 0) | (t == 1)) and np.all(t.sum(axis=1) == 1)):
            raise ValueError("one-hot t must hold exactly one 1 per row and 0 elsewhere")
        return t.argmax(axis=1).astype(np.int64)
    if t.ndim != 1 or t.shape[0] != batch:
        raise ValueError(
            f"t must be index labels ({batch},) or one-hot ({batch}, {output_size}), "
            f"got shape {t.shape}"
        )
    if t.dtype.kind == "f":
        if not np.all(np.isfinite(t)) or not np.all(t == np.round(t)):
            raise ValueError("index labels t must be whole numbers")
    if t.min() < 0 or t.max() >= output_size:
        raise ValueError(
            f"index labels t must lie in [0, {output_size}), got min {t.min()} max {t.max()}"
        )
    return t.astype(np.int64)


def check_schedule(schedule: Any, n: int) -> np.ndarray:
    """An integer (steps, batch) array of row indices in [0, n)."""
    s = as_array(schedule, "schedule")
    if s.dtype.kind not in "iu":
        raise TypeError(f"schedule must be an integer array, got dtype {s.dtype}")
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"schedule must be a non-empty (steps, batch) array, got shape {s.shape}")
    if s.min() < 0 or s.max() >= n:
        raise ValueError(
            f"schedule indices must lie in [0, {n}) (rows of x), got min {s.min()} max {s.max()}"
        )
    return s.astype(np.int64, copy=False)


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_max_grad(max_grad: Any) -> float | None:
    if max_grad is None:
        return None
    if isinstance(max_grad, bool | complex | np.complexfloating) or not isinstance(
        max_grad, int | float | np.number
    ):
        raise TypeError(f"max_grad must be a number or None, got {type(max_grad).__name__}")
    if not (np.isfinite(max_grad) and max_grad > 0):
        raise ValueError(f"max_grad must be > 0 and finite, or None; got {max_grad!r}")
    return float(max_grad)
