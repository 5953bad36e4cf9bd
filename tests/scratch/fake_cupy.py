"""A stand-in for CuPy, to test the book's GPU switch on a machine without a GPU.

`GPUArray` is a NumPy array that says it comes from `cupy` (its type's module), and
that refuses every NumPy *function* called on it (`np.dot(gpu, ...)`, `np.zeros_like`):
code that means to run unchanged on CuPy must take the array's own module instead.
NumPy's ufuncs (`np.exp(gpu)`) and array methods are allowed, as CuPy runs them
itself (it implements `__array_ufunc__`), and keep the result a GPUArray. The
module `cupy` here serves NumPy's functions on GPUArrays, like CuPy does, and counts
each call, so a test can also see that the work went through it.

`installed()` puts it in `sys.modules["cupy"]` for the duration of a `with` block.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import sys
import types
from collections import Counter

import numpy as np


class GPUArray(np.ndarray):
    """A NumPy array posing as `cupy.ndarray`."""

    def __array_function__(self, func, types, args, kwargs):
        raise AssertionError(
            f"np.{func.__name__} was called on a CuPy array: use the array's own module"
        )

    def get(self) -> np.ndarray:
        """CuPy's device-to-host copy."""
        return np.array(self.view(np.ndarray))


GPUArray.__module__ = "cupy"


def _to_host(value):
    if isinstance(value, GPUArray):
        return value.view(np.ndarray)
    if isinstance(value, list | tuple):
        return type(value)(_to_host(v) for v in value)
    return value


def _to_device(value):
    return value.view(GPUArray) if isinstance(value, np.ndarray) else value


def make_module() -> types.ModuleType:
    module = types.ModuleType("cupy")
    module.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    module.ndarray = GPUArray
    module.calls = Counter()
    module.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))

    def get_array_module(*arrays):
        return module if any(isinstance(a, GPUArray) for a in arrays) else np

    module.get_array_module = get_array_module

    def __getattr__(name: str):
        func = getattr(np, name)
        if not callable(func):
            return func

        def call(*args, **kwargs):
            module.calls[name] += 1
            return _to_device(func(*_to_host(args), **_to_host(kwargs)))

        return call

    module.__getattr__ = __getattr__
    return module


@contextlib.contextmanager
def installed():
    """`import cupy` gives the stand-in inside the block; sys.modules is restored after."""
    saved = sys.modules.get("cupy")
    module = make_module()
    sys.modules["cupy"] = module
    try:
        yield module
    finally:
        if saved is None:
            sys.modules.pop("cupy", None)
        else:
            sys.modules["cupy"] = saved
