"""The checks every word2vec function makes on its word ids, one rule each.

Word ids index the rows of a weight matrix: an id outside [0, vocab_size) would be an
IndexError deep inside a forward pass (or, negative, silently wrap around to the last
rows), so the functions of chapters 2-4 check them here first and name the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def positive_int(value: Any, name: str, what: str = "") -> int:
    """`value` as an int >= 1; ValueError naming `name` (and saying `what` it counts)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an int >= 1{what}, got {value!r}")
    return int(value)


def ids(value: Any, name: str, vocab_size: int | None = None, *, ndim: int | None = None):
    """`value` as an integer array of word ids in [0, vocab_size) (>= 0 when vocab_size is
    None); ValueError/TypeError naming `name` and the first id out of range."""
    a = np.asarray(value)
    if a.dtype.kind not in "iu" or a.dtype == np.bool_:
        raise TypeError(f"{name} must hold integer word ids, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array of word ids, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty: it must hold at least one word id")
    low, high = a.min(), a.max()
    if low < 0:
        where = tuple(int(i) for i in np.unravel_index(int(np.argmin(a)), a.shape))
        raise ValueError(f"{name} holds the word id {low} at {where}: ids must be >= 0")
    if vocab_size is not None and high >= vocab_size:
        where = tuple(int(i) for i in np.unravel_index(int(np.argmax(a)), a.shape))
        raise ValueError(
            f"{name} holds the word id {high} at {where}, outside the vocabulary [0, {vocab_size})"
        )
    return a


def corpus(value: Any, vocab_size: int | None = None) -> np.ndarray:
    """A 1-D corpus of word ids holding every id of its vocabulary: [0, vocab_size), or
    [0, max + 1) without vocab_size. The book's UnigramSampler sizes the vocabulary by
    the words it counts, so a missing id would shift every probability after it."""
    a = ids(value, "corpus", vocab_size, ndim=1)
    size = int(a.max()) + 1 if vocab_size is None else vocab_size
    counts = np.bincount(a, minlength=size)
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        shown = ", ".join(str(i) for i in missing[:5]) + (", ..." if missing.size > 5 else "")
        raise ValueError(
            f"corpus lacks {missing.size} id(s) of the vocabulary [0, {size}) ({shown}): the "
            "book's UnigramSampler sizes itself by the words it counts, so every id must occur"
        )
    return a


def same_length(contexts: np.ndarray, target: np.ndarray) -> None:
    """contexts and target pair up row by row."""
    if len(contexts) != len(target):
        raise ValueError(
            f"contexts has {len(contexts)} rows but target has {len(target)}: they pair up "
            "row by row (create_contexts_target makes both)"
        )
