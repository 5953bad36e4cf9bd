"""The activation and loss functions of common/functions.py (chapter 1).

`sigmoid`, `softmax` and `cross_entropy_error` compute what the book computes, in the
same order of operations, so the reference reproduces the book's numbers bit for bit.
NumPy's ufuncs (np.exp, np.log) and the arrays' own methods run on CuPy arrays as
they are; the one new array made here (`arange`) comes from the array's own module, so
the same code runs on the GPU (scratch/xp.py) and NumPy arrays stay NumPy arrays.
"""

from __future__ import annotations

import numpy as np

from scratch.xp import array_module

BOOK_LOG_EPS = 1e-7  # added inside the log of the reported loss, as the book does


@np.errstate(over="ignore")  # for this function's calls only (see the docstring)
def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), the book's formula (§1.2.4).

    For x below about -709, exp(-x) overflows to inf and the result is 1/inf = 0, the
    correct limit. NumPy would warn about that overflow; the warning is silenced here and
    only here (np.errstate as a decorator: set on entry, restored on return, per call, so
    other threads are untouched), so the value is bit-identical to the book's and nothing
    leaks out.
    """
    return 1 / (1 + np.exp(-x))  # a ufunc: on a CuPy array, CuPy's exp runs it


@np.errstate(over="ignore")  # for this function's calls only, as `sigmoid`
def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax with the max subtracted first, as in common/functions.py.

    Scores more than the float's range apart (1e308 and -1e308) overflow the shift to
    -inf, and exp(-inf) = 0 is the correct limit; as for `sigmoid`, that overflow is not
    warned about, and the values are the book's. It is the only overflow possible here:
    after the shift every exp is at most 1. (The decorator costs 0.7 us a call, a `with`
    block around the shift 1.5 us: a tenth of a small model's softmax.)
    """
    if x.ndim == 2:
        x = x - x.max(axis=1, keepdims=True)  # (N, C): shift so exp cannot overflow
        x = np.exp(x)
        x /= x.sum(axis=1, keepdims=True)
    elif x.ndim == 1:
        x = x - x.max()
        x = np.exp(x) / np.exp(x).sum()
    else:
        raise ValueError(f"softmax: expected a 1-D or 2-D array, got shape {x.shape}")
    return x


def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> float:
    """Mean of -log(y[label] + 1e-7) over the batch, as the book reports it.

    `t` holds index labels (N,) or one-hot rows (N, C). The book's 1e-7 keeps log(0)
    away; it makes this loss differ from torch's `F.cross_entropy` and optax's
    `softmax_cross_entropy` (which have no epsilon) by about 1e-7 / y[label].
    """
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:  # one-hot (N, C) -> index labels (N,)
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    rows = array_module(y).arange(batch_size)  # made where y lives (NumPy or CuPy)
    return -np.log(y[rows, t] + BOOK_LOG_EPS).sum() / batch_size


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log of the softmax of scores x (N, C), stable: x - max - log(sum(exp(x - max))).

    Not in the book. No probability is formed, so a label whose probability underflows
    to 0 in `softmax` still gets its (very negative, finite) log-probability here.
    """
    shifted = x - x.max(axis=1, keepdims=True)  # (N, C), the largest is 0
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def epsilon_gap(p: np.ndarray) -> float | np.ndarray:
    """mean(log(p + 1e-7) - log p) = mean(log1p(1e-7 / p)) over the last axis of the label
    probabilities `p`: how far `cross_entropy_error` sits below the epsilon-free
    cross-entropy that torch and optax compute. A float for p (N,); (S,) for p (S, N), one
    gap per step. Not in the book; it explains the book's 1e-7. p must be large enough
    that 1e-7 / p does not overflow (see `epsilon_gap_from_log`)."""
    gap = np.mean(np.log1p(BOOK_LOG_EPS / p), axis=-1)
    return float(gap) if np.ndim(gap) == 0 else gap


def epsilon_gap_from_log(logp: np.ndarray) -> float:
    """`epsilon_gap` from the log-probabilities of the labels (N,), as from `log_softmax`:
    mean(log(exp(logp) + 1e-7) - logp), finite however far a probability underflowed."""
    return float(np.mean(np.logaddexp(logp, np.log(BOOK_LOG_EPS)) - logp))
