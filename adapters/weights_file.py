"""Weights on disk: one `.npz` with the arrays W1, b1, W2, b2 in the book's layout.

The same file can be handed to any framework (`adapters.build(fw, load_weights(path))`)
or to a colleague. Loading never unpickles, and refuses a file that is not what it claims.
"""

from __future__ import annotations

import io
import lzma
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from adapters import checks
from adapters.files import atomic_write_bytes
from scratch.two_layer_net import WEIGHT_NAMES, Weights

# What a corrupted or hostile archive makes zipfile and np.load raise besides ValueError:
# a bad zip (BadZipFile, struct.error), an unknown zip version or compression method
# (NotImplementedError), an encrypted member (RuntimeError), a broken deflate or lzma
# stream, a short read (EOFError), and a header claiming more than memory holds
# (MemoryError, OverflowError).
CORRUPT = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    struct.error,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    lzma.LZMAError,
    MemoryError,
    OverflowError,
)


def _path(path: object) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"weights file path must be a str or os.PathLike, got {type(path).__name__}"
        )
    return Path(path)


STORAGE_DTYPES = ("float64", "float32", "float16")  # what an .npz can hold (no bfloat16)


def save_weights(path: str | os.PathLike, weights: Weights, *, dtype: str | None = None) -> Path:
    """Write `weights` to `path` (.npz, uncompressed), atomically: a failure midway
    leaves any previous file at `path` as it was. Returns the path written.

    `dtype="float16"` stores them in half the bytes, as the book's `save_params` does
    (§1.5.2); `load_weights` gives float16 arrays back, and a float32 net built from them
    computes in float32. A value beyond the dtype's range is refused, nothing written.
    """
    arrays, _ = checks.check_weights(weights)
    if dtype is not None:
        dtype = checks.check_dtype(dtype, STORAGE_DTYPES)
        arrays = {k: checks.cast(v, dtype, f"weights[{k!r}]") for k, v in arrays.items()}
    path = _path(path)
    if path.suffix != ".npz":
        raise ValueError(f"weights file must end in .npz, got {str(path)!r}")
    buf = io.BytesIO()
    np.savez(buf, **{k: arrays[k] for k in WEIGHT_NAMES})
    return atomic_write_bytes(path, buf.getvalue())


def load_weights(path: str | os.PathLike) -> Weights:
    """Read Weights from an .npz written by `save_weights` (or any .npz holding exactly
    W1, b1, W2, b2 as plain numeric arrays of matching shapes, all finite)."""
    path = _path(path)
    if not path.is_file():
        raise ValueError(f"weights file {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"weights file {str(path)!r} is not an .npz archive")
    try:
        # the file is opened here, not by np.load, which leaks its handle when the zip
        # inside is corrupt
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            names = set(npz.files)
            if names != set(WEIGHT_NAMES):
                raise ValueError(
                    f"weights file {str(path)!r} must hold exactly W1, b1, W2, b2; "
                    f"it holds {sorted(names)}"
                )
            weights = {k: npz[k] for k in WEIGHT_NAMES}
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise ValueError(
                f"weights file {str(path)!r} holds pickled objects; refused (not loaded)"
            ) from None
        if str(path) in str(err):
            raise
        raise ValueError(f"weights file {str(path)!r} is not a valid .npz: {err}") from None
    except CORRUPT as err:
        raise ValueError(f"weights file {str(path)!r} is not a valid .npz: {err}") from None
    try:
        arrays, _ = checks.check_weights(weights)
    except (ValueError, TypeError) as err:
        raise ValueError(f"weights file {str(path)!r}: {err}") from None
    return arrays
