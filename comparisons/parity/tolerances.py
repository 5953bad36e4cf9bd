"""The one tolerance table of the project, and the rule that picks a row.

An element passes when |other - ref| <= atol + rtol * |ref| (`np.allclose`'s rule, with
`ref` as the reference). The table has one row per dtype and quantity (forward, loss,
gradient, trajectory); every row says what it was calibrated against. A test that needs
another tolerance passes `rtol`/`atol` to the comparison and says why next to it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from adapters.checks import DTYPE_NAMES


class Tolerance(NamedTuple):
    """An element passes when |other - ref| <= atol + rtol * |ref|."""

    rtol: float
    atol: float


QUANTITIES = ("forward", "loss", "gradient", "trajectory")

# Every atol below exists for elements whose exact value is (nearly) zero: a bias
# gradient summed over the batch, a pre-activation where x @ W cancels. Their rounding
# error is a few ULPs of the *terms* that were summed, which is huge relative to the
# result itself, so rtol alone would fail two correct implementations there.
#
# The float32 rows are calibrated against the reference's own float32-vs-float64 error:
# the book's run (spiral data, hidden 10, batch 30, SGD lr 1.0, 3000 steps) is run by the
# reference in float64 and in float32 from the same weights, and forward outputs and
# gradients are evaluated on all 300 points at the initial and at the trained weights.
# Each row leaves room for two independent float32 implementations (each as far from the
# exact values as the reference is) with a margin; the numbers measured are quoted.
TOLERANCES: dict[tuple[str, str], Tolerance] = {
    # float64: rounding is ~1e-16 relative; rtol 1e-12 leaves three orders of magnitude
    # for a different summation order (BLAS, XLA) and still catches any real mistake.
    ("float64", "forward"): Tolerance(rtol=1e-12, atol=1e-15),
    ("float64", "loss"): Tolerance(rtol=1e-12, atol=1e-15),
    ("float64", "gradient"): Tolerance(rtol=1e-12, atol=1e-15),
    # after 3000 steps of the book's run the final weights agree within 1e-10 (the
    # design target is 1e-12; rounding differences grow along the run)
    ("float64", "trajectory"): Tolerance(rtol=1e-10, atol=1e-12),
    # calibrated: the reference's float32 activations differ from its float64 ones by at
    # most 2.2e-6 (a score of 8.8, trained weights) and by 1.1e-6 at a score of -0.025
    # where x @ W cancels; atol 3e-6 and rtol 1e-5 hold both twice over.
    ("float32", "forward"): Tolerance(rtol=1e-5, atol=3e-6),
    # calibrated: the reference's float32 loss differs from its float64 loss by 2.5e-8
    # (trained) and 1.7e-9 (initial); 1e-6 + 1e-5 * |loss| is 40x that or more.
    ("float32", "loss"): Tolerance(rtol=1e-5, atol=1e-6),
    # calibrated: the reference's float32 gradients differ from its float64 ones by at
    # most 5.3e-8 absolute but up to 2e-4 relative (near-zero W2 entries at the initial
    # weights); atol 1e-6 covers those, rtol 1e-4 the large entries.
    ("float32", "gradient"): Tolerance(rtol=1e-4, atol=1e-6),
    # calibrated: over the book's run the reference's float32 weights drift from its
    # float64 weights by up to 2.6e-5 (|W| up to 13); above the atol floor 1e-5 that needs
    # rtol 1e-4, and ten times it is taken (see CALIBRATION_FACTOR). Passing a calibration
    # pair to `compare_trajectories` replaces this row by a per-record bound.
    ("float32", "trajectory"): Tolerance(rtol=1e-3, atol=1e-5),
    # float16: calibrated the same way (comparisons.precision.reference_error measures it;
    # tests/comparisons/test_precision.py checks every row still holds twice that).
    # The reference's float16 scores differ from its float64 ones by up to 1.2e-2
    # (trained weights: scores near 30, where a float16 ULP is 0.03; half an ULP is the
    # best any implementation can do), and by 3.9e-4 relative beyond atol 1e-2.
    ("float16", "forward"): Tolerance(rtol=2e-3, atol=3e-2),
    # the reference's float16 loss is 1.5e-4 from its float64 one, torch's 8.3e-4 (0.85 of
    # a float16 ULP at 1.1); two ULPs relative, as torch.testing's float16 rtol 1e-3 x 2.
    ("float16", "loss"): Tolerance(rtol=2e-3, atol=1e-4),
    # the reference's float16 gradients are up to 2.0e-3 off (initial weights): the bias
    # gradient `np.sum(dout, axis=0)` adds 300 values of 1e-3 one after another in
    # float16 (a strided sum: no pairwise summation), losing 28% of db2 = 7.3e-3. torch
    # and XLA accumulate in float32 (1.5e-4, 4.7e-4). The row holds two references.
    ("float16", "gradient"): Tolerance(rtol=1e-2, atol=5e-3),
    # over the book's run the reference's float16 weights end 0.49 from its float64
    # weights (|W| up to 13): a float16 run ends at another point of the same basin. This
    # row only says two runs stayed together; the calibrated bound is what tests use.
    ("float16", "trajectory"): Tolerance(rtol=0.4, atol=1.0),
    # bfloat16: NumPy has none, so the reference cannot measure its own bfloat16 error.
    # torch and JAX are compared with the float64 reference (and with each other); rtol
    # is torch.testing's bfloat16 default, 1.6e-2 (two bfloat16 ULPs), and each row holds
    # twice what torch and JAX measure (comparisons.precision.reference_error): scores
    # 0.13 off (a bfloat16 ULP at 30 is 0.25), loss 1.1e-2 at 1.1, gradients 2.0e-3.
    ("bfloat16", "forward"): Tolerance(rtol=1.6e-2, atol=0.3),
    ("bfloat16", "loss"): Tolerance(rtol=1.6e-2, atol=5e-3),
    ("bfloat16", "gradient"): Tolerance(rtol=1.6e-2, atol=5e-3),
    # torch's and JAX's bfloat16 weights end about 5 from the float64 ones (|W| up to 13)
    ("bfloat16", "trajectory"): Tolerance(rtol=1.0, atol=5.0),
}

# Another framework's float32 rounding is of the same size as the reference's own, so
# its distance from the reference should be of the order of the reference's own float32
# drift: ten times that drift is a safe bound, and still small enough to catch a real
# difference (a wrong update rule moves the weights by far more than rounding does).
CALIBRATION_FACTOR = 10.0


# A loss is made by sums of many terms: each score is a dot product over the n units of a
# layer (z_k = sum_j h_j W_jk), then a mean over the batch. Two correct implementations
# that sum in different orders, or whose weights carry different roundings, differ in an
# n-term sum by up to gamma_n * sum |terms|, gamma_n = n u / (1 - n u) (Higham, Accuracy
# and Stability of Numerical Algorithms, 2002, eq. 3.4 and §4.2), so the loss of a wide
# net may differ by more than a narrow net's. The float64 "loss" row (rtol 1e-12, 4500 u)
# holds up to n = 900; beyond, the loss of a trajectory is allowed REDUCTION_FACTOR *
# gamma_n relative to it: the factor stands for sum |terms| / |loss| (8.5 measured on the
# trained net below; a mean of positive losses adds no cancellation of its own).
# Measured (spiral, batch 30, SGD lr 0.01, float64, 200 steps): hidden 3000 differs from
# the reference by up to 1.1e-12 relative in the loss at step 130 in JAX (torch 1.3e-13)
# while its weights agree to 5e-15; hidden <= 2500 by 6e-16 at most. That growth is not
# the rounding of one sum (a single loss of hidden 100000 agrees to 1 ULP), but the run
# amplifying the weights' rounding differences near its stability limit (hidden 4000 at
# the same lr parts completely), seen through the n-term sum; a larger lr does the same
# to narrow nets (hidden 10 at lr 10: 1.3e-10), which still fail, as they should. Over
# 20000 steps hidden 3000 parts in the weights too (b2 by 2.8e-12 after 1120 updates
# here, past the trajectory row): no bound on a sum hides that. The lower precisions
# are judged against the reference's own error at the same size (calibration), which
# holds this growth already.
REDUCTION_FACTOR = 10.0
UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}

# float64 has no higher precision to calibrate against, but every run has its own
# rounding. The reference's *rounding twins* (comparisons/rounding.py) are the same run with
# its sums taken in three other orders (the hidden units reversed, each batch's rows
# reversed, both): the same updates in exact arithmetic, rounded differently at every step,
# as another framework's are. Where a run is stable they stay a few ULPs from the reference
# and the rows above hold; near its stability limit the run amplifies those differences
# (hidden 3000 at lr 0.01: up to 1.3e-12 in the weights within 1000 steps), and so it does any
# correct framework's. A float64 comparison the table fails is then judged again
# (`calibration=(ref, *twins)`) against ROUNDING_FACTOR times the largest distance of any
# twin from the reference at that record or step, where that is larger than the table's.
# Not the largest distance so far: a run that amplified rounding may contract again (the
# twins of hidden 3000 come back from 1e-12 to 1e-14), and a bug that starts there must
# still show at once. The factor stands for a framework rounding more coarsely than the
# twins (JAX parts from the reference about twice as far as they do, half the time) and
# for the luck of which difference an unstable step amplifies. Measured with
# comparisons/rounding_measure.py --seeds 6 (docs/numerics.md): of 72 comparisons of a
# correct framework (6 cases x 6 seeds x torch and JAX), 56 failed the table; where the
# twins decided, a correct framework needed up to 16.8 times their distance (9.6 where they
# stayed inside the linear range), half of them under 1.02. 100 leaves room for the rarer
# ones; a learning rate 1e-9 off, started inside the range, failed in 22 of 22 runs, 17 of
# them at the next step, the latest 139 steps after it started.
ROUNDING_FACTOR = 100.0
# The twins count only inside float64's linear range: while their weights stay within
# sqrt(u) of the largest |W| (LINEAR_RANGE). Within it, what two runs differ by is a
# linear image of what made them differ, amplified by the same factor whatever the cause:
# a learning rate 1e-9 off grows as rounding does and stays 1e7 times its size, so it
# still shows against the twins. Beyond it, the second-order terms exceed float64's rounding
# itself: the reference no longer reproduces itself, and no comparison tells a bug from
# rounding there. Every bound then stays at the largest it reached before (the weights' at
# most ROUNDING_FACTOR * LINEAR_RANGE * max|W|, 1e-6 relative), and the report says where
# the twins left the range. Measured: of the 28 comparisons of a correct framework whose
# twins left the range, 22 fail from there, as a bug would; of the 28 whose twins stayed
# inside it, all pass.
LINEAR_RANGE = math.sqrt(UNIT_ROUNDOFF["float64"])  # 1.05e-8


def calibrated_bound(
    drift: np.ndarray,
    rounding: bool = False,
    *,
    counted: np.ndarray | None = None,
    cap: np.ndarray | None = None,
) -> np.ndarray:
    """The calibrated allowance at each record (or step), from the reference's own drift
    there. Against its lower-precision run: CALIBRATION_FACTOR times the largest drift so
    far (its own error at one step is noisy). Against its rounding twins (`rounding`, the
    drift the largest of theirs): ROUNDING_FACTOR times the drift at that record, each at
    most `cap` (LINEAR_RANGE * max|W| for the weights); past the records `counted` (those
    before the twins leave the linear range; None: all), the largest counted one."""
    drift = np.asarray(drift, dtype=np.float64)
    if not rounding:
        return CALIBRATION_FACTOR * np.maximum.accumulate(drift)
    if cap is not None:
        drift = np.minimum(drift, cap)
    if counted is not None and not np.all(counted):
        drift = np.where(counted, drift, np.max(drift[counted], initial=0.0))
    return ROUNDING_FACTOR * drift


def linear_range_left(drift: np.ndarray, scale: np.ndarray) -> int | None:
    """The first record at which a rounding twin's weights are more than LINEAR_RANGE *
    `scale` (their largest |W| there) from the reference's (NaN counts); None if never."""
    with np.errstate(invalid="ignore"):
        out = np.flatnonzero(~(np.asarray(drift) <= LINEAR_RANGE * np.asarray(scale)))
    return int(out[0]) if out.size else None


def gamma(n: int, dtype: str) -> float:
    """gamma_n = n u / (1 - n u): the relative bound of an n-term sum's rounding error
    against the sum of the |terms| (u: `dtype`'s unit roundoff); inf when n u >= 1."""
    nu = n * UNIT_ROUNDOFF[dtype]
    return nu / (1.0 - nu) if nu < 1.0 else float("inf")


def reduction_tolerance(tol: Tolerance, dtype: str, n: int) -> Tolerance:
    """`tol` (a table row) for a value computed through sums of `n` terms: float64's rtol
    grows to REDUCTION_FACTOR * gamma_n where that is larger (n > 900); the calibrated
    lower precisions keep their row. ValueError unless n is an int >= 1."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n (the number of terms summed) must be an int >= 1, got {n!r}")
    if dtype != "float64":
        return tol
    return Tolerance(rtol=max(tol.rtol, REDUCTION_FACTOR * gamma(int(n), dtype)), atol=tol.atol)


def tolerance(dtype: str, quantity: str) -> Tolerance:
    """The table's tolerance for `quantity` computed in `dtype`; ValueError when unknown."""
    if dtype not in DTYPE_NAMES:
        raise ValueError(
            f"unknown dtype {dtype!r}: the tolerance table has {', '.join(DTYPE_NAMES)}"
        )
    if quantity not in QUANTITIES:
        raise ValueError(
            f"unknown quantity {quantity!r}: the tolerance table has {', '.join(QUANTITIES)}"
        )
    return TOLERANCES[(dtype, quantity)]


def override(tol: Tolerance, rtol: float | None, atol: float | None) -> Tolerance:
    """`tol` with the given `rtol`/`atol` in place of its own; ValueError unless finite >= 0."""
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return Tolerance(
        rtol=tol.rtol if rtol is None else float(rtol),
        atol=tol.atol if atol is None else float(atol),
    )


def lower_precision(*dtypes: str) -> str:
    """The lowest precision among `dtypes` (float64 > float32 > float16 > bfloat16, by
    mantissa bits): the one whose tolerances apply when they are compared."""
    for d in dtypes:
        if d not in DTYPE_NAMES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_NAMES)}, got {d!r}")
    return max(dtypes, key=DTYPE_NAMES.index)
