"""The book's GPU switch (common/np.py), without global state.

The book sets `GPU = True` in common/config.py and common/np.py then imports CuPy *as*
`np`, for the whole program. Here the arrays decide instead: `array_module(*arrays)` is
CuPy's `cupy.get_array_module` when one of them is a CuPy array and NumPy otherwise, so
the same layer code runs on the GPU when it is handed CuPy arrays and is untouched
otherwise. CuPy is never imported unless a CuPy array already exists, so without CuPy
nothing changes (and nothing is imported).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

import numpy as np


def _is_cupy(a: object) -> bool:
    return type(a).__module__.partition(".")[0] == "cupy"


def array_module(*arrays: object) -> ModuleType:
    """`cupy` when any of `arrays` lives on the GPU (a CuPy array), else `numpy`."""
    for a in arrays:
        if type(a) is not np.ndarray and _is_cupy(a):  # the NumPy case costs one `is`
            cupy = importlib.import_module("cupy")
            return cupy.get_array_module(*arrays)
    return np


def to_numpy(a):
    """`a` as a NumPy array (a CuPy array is copied to the host; NumPy is returned as is)."""
    return a if type(a) is np.ndarray or not _is_cupy(a) else a.get()


def cupy_available() -> bool:
    """True when CuPy is installed and sees at least one GPU (CuPy is imported only then)."""
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        cupy = importlib.import_module("cupy")
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no driver, no device, a broken install: no GPU
        return False
