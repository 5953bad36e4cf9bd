"""Distance in units in the last place: how many representable floats lie between two.

The measure that does not depend on magnitude: 1 ULP apart means "adjacent floats",
whatever the value. `compare` reports it beside the absolute and relative errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from adapters.checks import round_bfloat16


def ulp_distance(a: ArrayLike, b: ArrayLike, dtype: Any = "float64") -> np.ndarray:
    """How many representable `dtype` floats lie between a and b (0 when equal), elementwise.

    Both are rounded to `dtype` (float64, float32, float16, or bfloat16, counted on
    float32's line with the low 16 bits dropped) first. Adjacent floats are 1 apart;
    -0.0 and 0.0 are 0 apart; the count runs across zero (the smallest subnormals either
    side of it are 2 apart). The result is float64 so that a NaN, which has no place on
    the line of floats, can give NaN.
    """
    bfloat16 = isinstance(dtype, str) and dtype == "bfloat16"
    dt = np.dtype(np.float32 if bfloat16 else dtype)
    if dt not in (np.float64, np.float32, np.float16):
        raise ValueError(
            f"ulp_distance: dtype must be float64, float32, float16 or bfloat16, got {dtype!r}"
        )
    with np.errstate(over="ignore"):  # a float64 beyond float32's range rounds to inf
        a = np.asarray(a, dtype=dt)
        b = np.asarray(b, dtype=dt)
        if bfloat16:
            a, b = round_bfloat16(a), round_bfloat16(b)
    a, b = np.broadcast_arrays(a, b)
    ia, ib = _ordered_bits(a), _ordered_bits(b)
    if bfloat16:  # a bfloat16 is a float32 whose low 16 bits are zero
        ia, ib = ia // 65536, ib // 65536
    hi, lo = np.maximum(ia, ib), np.minimum(ia, ib)
    # hi - lo can exceed int64 (from -max to +max); it is exact modulo 2**64 in uint64
    with np.errstate(over="ignore"):
        count = (hi.astype(np.uint64) - lo.astype(np.uint64)).astype(np.float64)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, count)


def _ordered_bits(x: np.ndarray) -> np.ndarray:
    """The float's bits as an int64 that increases with the float (-0.0 and 0.0 give 0)."""
    signed = {8: np.int64, 4: np.int32, 2: np.int16}[x.dtype.itemsize]
    bits = x.view(signed).astype(np.int64)
    # IEEE floats are sign-magnitude: a set sign bit makes the int negative, but more
    # negative floats have *larger* magnitudes. Mirror them: -0.0 -> 0, -tiny -> -1, ...
    lowest = np.int64(np.iinfo(signed).min)
    return np.where(bits < 0, lowest - bits, bits)
