"""Weights on disk: one `.npz` with the arrays W1, b1, W2, b2 in the book's layout.

The same file can be handed to any framework (`adapters.build(fw, load_weights(path))`)
or to a colleague. Loading never unpickles, and refuses a file that is not what it claims.
"""

from __future__ import annotations

import io
import lzma
import math
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from adapters import checks, files
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

    A symlink is followed; a FIFO or a character device is written through, never
    replaced; a directory, a symlink to nothing, a block device or a socket is a
    ValueError, nothing written (adapters/files.py).

    `dtype="float16"` stores them in half the bytes, as the book's `save_params` does
    (§1.5.1); `load_weights` gives float16 arrays back, and a float32 net built from them
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
    return files.atomic_write_bytes(path, buf.getvalue(), what="weights file")


MAX_BYTES = 1 << 30  # 1 GiB of arrays (134 million float64 weights): a bound, not the book's net


def load_weights(path: str | os.PathLike) -> Weights:
    """Read Weights from an .npz written by `save_weights` (or any .npz holding exactly
    W1, b1, W2, b2 as plain numeric arrays of matching shapes, all finite).

    Before anything is decompressed, the archive's member headers are checked: one member
    per name, at most MAX_BYTES declared in all (a zip bomb is refused at once), and
    each .npy header's shape and dtype must fill its member exactly."""
    path = _path(path)
    _check_readable(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"weights file {str(path)!r} is not an .npz archive")
    try:
        with open(path, "rb") as f, zipfile.ZipFile(f) as archive:
            members = _members(archive, path)
            weights = {k: _read_npy(archive, members[k], path) for k in WEIGHT_NAMES}
    except ValueError as err:
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


def _check_readable(path: Path) -> None:
    """ValueError unless `path` is a regular file (a symlink to one included): an .npz
    is read by seeking, which a FIFO or a device cannot do."""
    name = f"weights file {str(path)!r}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise ValueError(
                f"{name} is a symlink to {os.readlink(path)!r}, which does not exist"
            ) from None
        raise ValueError(f"{name} does not exist") from None
    except OSError as err:  # a symlink loop, a file on the way, no permission
        raise ValueError(f"{name}: {err.strerror or err}") from None
    except ValueError as err:  # a NUL in the name
        raise ValueError(f"{name}: {err}") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"{name} is a directory, not an .npz file")
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"{name} is a {files.kind(mode)}: an .npz archive is read by seeking, so it "
            "must be a regular file"
        )


def _members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by array name (np.load's: "W1.npy" and "W1" are both W1),
    from the central directory alone."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        if name in members:
            raise ValueError(
                f"weights file {str(path)!r} holds two members named {name!r} "
                f"({members[name].filename!r} and {info.filename!r}): which one is meant?"
            )
        members[name] = info
    if set(members) != set(WEIGHT_NAMES):
        raise ValueError(
            f"weights file {str(path)!r} must hold exactly W1, b1, W2, b2; "
            f"it holds {sorted(members)}"
        )
    declared = sum(info.file_size for info in members.values())
    if declared > MAX_BYTES:
        raise ValueError(
            f"weights file {str(path)!r} declares {declared / 2**30:.1f} GiB of arrays "
            f"({sum(i.compress_size for i in members.values()) / 2**20:.1f} MiB on disk); "
            f"refused unread: more than the {MAX_BYTES >> 20} MiB a weights file may hold"
        )
    return members


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One member's array; its header is checked against the member's size before the
    data is read (np.load would allocate what the header claims first)."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"member {info.filename!r}: .npy format {version} is not supported")
        if dtype.hasobject:
            raise ValueError(
                f"weights file {str(path)!r} holds pickled objects in {info.filename!r}; "
                "refused (not loaded)"
            )
        header = member.tell()
        count = math.prod(shape)
        if count * dtype.itemsize != info.file_size - header:
            raise ValueError(
                f"member {info.filename!r}: its header claims {shape} {dtype} "
                f"({count * dtype.itemsize} bytes), the member holds {info.file_size - header}"
            )
        data = member.read()  # the member's declared size, checked against MAX_BYTES
    flat = np.frombuffer(data, dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if fortran else "C").copy()
