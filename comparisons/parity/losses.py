"""The book's loss against an epsilon-free cross-entropy (torch, optax).

The book reports -mean(log(p + 1e-7)) (common/functions.py, `cross_entropy_error`);
torch's `F.cross_entropy` and optax's `softmax_cross_entropy` compute -mean(log p). The
two differ by an exact, computable gap; `compare_losses` adds it to the book's loss and
compares what remains.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from comparisons.parity.comparison import Report, compare
from scratch.functions import BOOK_LOG_EPS, epsilon_gap


def book_loss_gap(probs: ArrayLike, labels: ArrayLike) -> float:
    """How far the book's loss sits below the epsilon-free cross-entropy, exactly.

    The book reports -mean(log(p + 1e-7)) (common/functions.py, cross_entropy_error);
    torch's F.cross_entropy and optax's softmax_cross_entropy compute -mean(log p), with
    p = probs[arange(N), labels]. The gap is mean(log(p + 1e-7) - log p) =
    mean(log1p(1e-7 / p)) > 0. `labels` are indices (N,) or one-hot rows (N, C).
    """
    return epsilon_gap(_label_probs(probs, labels))


def _label_probs(probs: ArrayLike, labels: ArrayLike) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"probs must be a non-empty (N, C) array, got shape {probs.shape}")
    if labels.shape == probs.shape:  # one-hot (N, C) -> indices (N,)
        labels = labels.argmax(axis=1)
    if labels.shape != probs.shape[:1] or labels.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be indices ({probs.shape[0]},) or one-hot {probs.shape}, "
            f"got shape {labels.shape} dtype {labels.dtype}"
        )
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"labels must lie in [0, {probs.shape[1]})")
    p = probs[np.arange(probs.shape[0]), labels]  # (N,)
    if not np.all((p > 0) & (p <= 1)):
        raise ValueError(
            "the probabilities of the labels must lie in (0, 1]; at p = 0 the epsilon-free "
            "cross-entropy is infinite"
        )
    return p


def compare_losses(
    ref_book_loss: float,
    other_exact_loss: float,
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    dtype: str = "float64",
    names: tuple[str, str] = ("reference", "other"),
) -> Report:
    """Compare the book's loss (with 1e-7 in the log) with an epsilon-free cross-entropy.

    `ref_book_loss + book_loss_gap(probs, labels)` is compared with `other_exact_loss`
    at the "loss" tolerance; `probs` are the reference's softmax outputs. The report's
    note says how much of the raw difference the epsilon explains.
    """
    gap = book_loss_gap(probs, labels)
    ref, other = float(ref_book_loss), float(other_exact_loss)
    note = (
        f"the book adds {BOOK_LOG_EPS:g} inside the log of the reported loss; torch's "
        f"F.cross_entropy and optax's softmax_cross_entropy do not. {names[0]}'s loss is "
        f"compared after adding mean(log1p({BOOK_LOG_EPS:g} / p)) = {gap:.6g}: the raw "
        f"difference was {abs(other - ref):.3g}, explained by the epsilon up to "
        f"{abs(other - (ref + gap)):.3g}"
    )
    return compare(
        {"loss": ref + gap},
        {"loss": other},
        dtype=dtype,
        quantity="loss",
        names=names,
        notes=[note],
    )
