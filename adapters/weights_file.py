"""Weights on disk: one `.npz` with the arrays W1, b1, W2, b2 in the book's layout.

The same file can be handed to any framework (`adapters.build(fw, load_weights(path))`)
or to a colleague. Loading never unpickles, and refuses a file that is not what it claims.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from adapters import checks
from adapters.files import atomic_write_bytes
from scratch.two_layer_net import WEIGHT_NAMES, Weights


def save_weights(path: str | os.PathLike, weights: Weights) -> Path:
    """Write `weights` to `path` (.npz, uncompressed), atomically: a failure midway
    leaves any previous file at `path` as it was. Returns the path written."""
    arrays, _ = checks.check_weights(weights)
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"weights file must end in .npz, got {str(path)!r}")
    buf = io.BytesIO()
    np.savez(buf, **{k: arrays[k] for k in WEIGHT_NAMES})
    return atomic_write_bytes(path, buf.getvalue())


def load_weights(path: str | os.PathLike) -> Weights:
    """Read Weights from an .npz written by `save_weights` (or any .npz holding exactly
    W1, b1, W2, b2 as plain numeric arrays of matching shapes, all finite)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weights file {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"weights file {str(path)!r} is not an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as npz:
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
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"weights file {str(path)!r} is not a valid .npz: {err}") from None
    try:
        arrays, _ = checks.check_weights(weights)
    except (ValueError, TypeError) as err:
        raise ValueError(f"weights file {str(path)!r}: {err}") from None
    return arrays
