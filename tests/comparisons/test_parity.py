"""comparisons.parity: the tolerance table, compare/assert_close, ULPs, the book's loss,
the three-way view and trajectory comparison. NumPy only, on small non-square arrays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from adapters.checks import DTYPE_NAMES
from adapters.trajectory import Trajectory
from comparisons import parity
from comparisons.parity import (
    TOLERANCES,
    assert_close,
    book_loss_gap,
    compare,
    compare_all,
    compare_losses,
    compare_trajectories,
    tolerance,
    ulp_distance,
)
from scratch.functions import cross_entropy_error, softmax
from tests.comparisons.parity_helpers import SHAPES, copy, trajectory, weights

# --------------------------------------------------------------------------- the table


def test_tolerance_table_has_every_dtype_and_quantity():
    for dtype in DTYPE_NAMES:
        for quantity in parity.QUANTITIES:
            tol = tolerance(dtype, quantity)
            assert tol is TOLERANCES[(dtype, quantity)]
            assert tol.rtol > 0 and tol.atol > 0
    assert tolerance("float64", "trajectory") == (1e-10, 1e-12)
    assert tolerance("float32", "trajectory").atol == 1e-5


def test_tolerance_names_the_unknown_dtype_or_quantity():
    with pytest.raises(ValueError, match="float8"):
        tolerance("float8", "forward")
    with pytest.raises(ValueError, match="weights"):
        tolerance("float64", "weights")


# --------------------------------------------------------------------------- ULPs


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_ulp_distance_counts_adjacent_floats(dtype):
    one = dtype(1.0)
    up = np.nextafter(one, dtype(2))
    assert ulp_distance(one, one, dtype) == 0
    assert ulp_distance(one, up, dtype) == 1
    assert ulp_distance(up, one, dtype) == 1
    assert ulp_distance(one, np.nextafter(up, dtype(2)), dtype) == 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_ulp_distance_runs_across_zero(dtype):
    tiny = np.nextafter(dtype(0), dtype(1))  # the smallest subnormal
    assert ulp_distance(dtype(-0.0), dtype(0.0), dtype) == 0
    assert ulp_distance(dtype(0.0), tiny, dtype) == 1
    assert ulp_distance(-tiny, tiny, dtype) == 2
    assert ulp_distance(-tiny, dtype(0.0), dtype) == 1


def test_ulp_distance_in_bfloat16_counts_bfloat16_steps():
    # bfloat16 keeps 7 mantissa bits: the floats after 1.0 are 1 + k/128
    one, next_up = 1.0, 1.0 + 2.0**-7
    assert ulp_distance(one, next_up, "bfloat16") == 1
    assert ulp_distance(one, 1.0 + 3 * 2.0**-7, "bfloat16") == 3
    assert ulp_distance(one, 1.0 + 2.0**-10, "bfloat16") == 0  # rounds back to 1.0
    assert ulp_distance(-(2.0**-133), 2.0**-133, "bfloat16") == 2  # the smallest subnormals
    # float32 counts 65536 of its own steps between the same two numbers
    assert ulp_distance(one, next_up, "float32") == 65536


def test_ulp_distance_is_elementwise_and_nan_for_nan():
    a = np.array([1.0, 2.0, np.nan])
    b = np.array([1.0, np.nextafter(2.0, 0.0), 1.0])
    d = ulp_distance(a, b, "float64")
    assert d[:2].tolist() == [0.0, 1.0] and np.isnan(d[2])
    assert ulp_distance(-np.finfo(np.float64).max, np.finfo(np.float64).max) > 1.8e19


# --------------------------------------------------------------------------- compare


def test_compare_passes_on_equal_arrays():
    ref = weights()
    report = compare(ref, copy(ref))
    assert report.passed
    assert [e.name for e in report.entries] == list(SHAPES)
    assert all(e.max_abs == 0 and e.max_ulps == 0 for e in report.entries)


def test_compare_finds_the_perturbed_element_of_a_non_square_array():
    ref = weights()
    other = copy(ref)
    other["W2"][2, 1] += 1e-6  # W2 is (3, 4): a transposed index would read (1, 2)
    report = compare(ref, other, names=("numpy", "torch"))
    assert not report.passed
    entry = {e.name: e for e in report.entries}["W2"]
    assert not entry.passed and entry.worst_index == (2, 1)
    assert entry.ref_value == ref["W2"][2, 1] and entry.other_value == other["W2"][2, 1]
    assert entry.max_abs == pytest.approx(1e-6, rel=1e-6)
    assert entry.max_ulps > 1
    assert all(e.passed for e in report.entries if e.name != "W2")
    table = report.table()
    assert table.splitlines()[0] == "numpy vs torch (float64, forward)"
    assert "[2, 1]" in table and "FAIL" in table
    assert str(report) == table
    json.dumps(report.to_dict(), allow_nan=False)


def test_compare_uses_ref_as_the_reference_and_the_overrides():
    ref, other = {"x": np.array([100.0, 0.0])}, {"x": np.array([100.0 + 1e-11, 1e-16])}
    assert compare(ref, other).passed  # 1e-11 <= 1e-15 + 1e-12 * 100; 1e-16 <= atol
    assert not compare(ref, other, atol=0.0).passed
    assert compare(ref, other, rtol=0.0, atol=1e-10).passed
    with pytest.raises(ValueError, match="rtol"):
        compare(ref, other, rtol=-1.0)


def test_compare_nan_always_fails():
    ref = {"x": np.array([[1.0, np.nan, 3.0]])}
    report = compare(ref, copy(ref))  # NaN in both, at the same place: still a failure
    entry = report.entries[0]
    assert not report.passed and entry.worst_index == (0, 1)
    assert "NaN" in entry.note
    assert (
        json.loads(json.dumps(report.to_dict(), allow_nan=False))["entries"][0]["max_abs"] is None
    )
    other = {"x": np.array([[1.0, 2.0, np.nan]])}
    assert not compare({"x": np.array([[1.0, 2.0, 3.0]])}, other).passed


def test_compare_infinities_agree_only_when_equal():
    ref = {"x": np.array([np.inf, 1.0])}
    assert compare(ref, {"x": np.array([np.inf, 1.0])}).passed
    assert not compare(ref, {"x": np.array([-np.inf, 1.0])}).passed
    assert not compare(ref, {"x": np.array([1e308, 1.0])}).passed
    assert not compare({"x": np.array([1.0])}, {"x": np.array([np.inf])}).passed


def test_compare_shape_mismatch_is_a_failed_entry_with_a_note():
    ref = weights()
    other = copy(ref)
    other["W1"] = other["W1"].T  # (3, 2) where (2, 3) was expected
    report = compare(ref, other, names=("numpy", "torch"))
    entry = report.entries[0]
    assert not entry.passed and entry.worst_index is None
    assert "shape mismatch" in entry.note and "(2, 3)" in entry.note and "(3, 2)" in entry.note
    assert "shape mismatch" in report.table()


def test_compare_missing_key_fails_and_extra_key_is_noted():
    ref = weights()
    other = copy(ref)
    del other["b2"]
    other["W3"] = np.zeros(2)
    report = compare(ref, other, names=("numpy", "jax"))
    b2 = report.entries[-1]
    assert b2.name == "b2" and not b2.passed and b2.note == "missing from jax"
    assert any("W3" in n for n in report.notes)


@pytest.mark.parametrize(
    "ref",
    [{}, {"x": np.zeros((0, 3))}, {"x": np.array([])}],
    ids=["no keys", "zero rows", "zero-size"],
)
def test_compare_with_nothing_to_compare_raises(ref):
    with pytest.raises(ValueError, match="must compare something"):
        compare(ref, ref)


def test_compare_rejects_non_numeric_and_non_mapping_input():
    with pytest.raises(TypeError, match="mapping"):
        compare(np.zeros(3), {"x": np.zeros(3)})
    with pytest.raises(TypeError, match="real numbers"):
        compare({"x": np.array(["a"])}, {"x": np.array(["a"])})


def test_compare_counts_ulps_in_the_dtype_given():
    x = np.float32(0.75)
    up = np.nextafter(x, np.float32(1))
    report = compare({"x": x}, {"x": up}, dtype="float32")
    assert report.passed and report.entries[0].max_ulps == 1
    assert compare({"x": 0.75}, {"x": float(up)}, dtype="float64").entries[0].max_ulps > 1e8


def test_assert_close_raises_with_the_table():
    ref = weights()
    other = copy(ref)
    other["b1"][2] = 7.0
    with pytest.raises(AssertionError) as info:
        assert_close(ref, other, dtype="float64", quantity="gradient", names=("a", "b"))
    message = str(info.value)
    assert "a vs b (float64, gradient)" in message and "b1" in message and "FAIL" in message
    assert assert_close(ref, copy(ref)).passed


# --------------------------------------------------------------------------- the book's loss


def book_and_exact_loss(seed: int = 3) -> tuple[np.ndarray, np.ndarray, float, float]:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((5, 3)) * 3  # (N, C): some labels get small probabilities
    labels = np.array([0, 2, 1, 1, 0])
    probs = softmax(scores)
    book = float(cross_entropy_error(probs, labels))
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log_softmax
    exact = float(-np.mean(log_probs[np.arange(5), labels]))
    return probs, labels, book, exact


def test_book_loss_gap_matches_the_direct_formula():
    probs, labels, book, exact = book_and_exact_loss()
    p = probs[np.arange(5), labels]
    direct = np.mean(np.log(p + 1e-7) - np.log(p))
    gap = book_loss_gap(probs, labels)
    assert gap == pytest.approx(direct, rel=1e-6)
    assert gap == book_loss_gap(probs, np.eye(3, dtype=int)[labels])  # one-hot labels
    assert 0 < gap <= 1e-7 * np.mean(1 / p)
    assert exact - book == pytest.approx(gap, rel=1e-6)


def test_book_loss_gap_rejects_zero_probability():
    with pytest.raises(ValueError, match="infinite"):
        book_loss_gap(np.array([[1.0, 0.0]]), np.array([1]))


def test_compare_losses_explains_the_epsilon():
    probs, labels, book, exact = book_and_exact_loss()
    raw = compare({"loss": book}, {"loss": exact})
    assert not raw.passed  # the 1e-7 is far above the float64 tolerance
    report = compare_losses(book, exact, probs, labels, dtype="float64", names=("numpy", "torch"))
    assert report.passed and report.quantity == "loss"
    assert any("1e-07" in n and "cross_entropy" in n for n in report.notes)
    off = compare_losses(book, exact + 1e-9, probs, labels, dtype="float64")
    assert not off.passed


def test_compare_losses_in_float32():
    probs, labels, book, exact = book_and_exact_loss()
    probs32 = probs.astype(np.float32)
    book32 = cross_entropy_error(probs32, labels)
    assert compare_losses(book32, np.float32(exact), probs32, labels, dtype="float32").passed


# --------------------------------------------------------------------------- three frameworks


def test_compare_all_names_the_odd_one_out():
    numpy = weights()
    torch, jax = copy(numpy), copy(numpy)
    torch["W1"][1, 2] += 1e-3
    three = compare_all({"numpy": numpy, "torch": torch, "jax": jax}, dtype="float64")
    assert three.odd_one_out == "torch" and not three.passed
    summary = three.summary()
    assert summary.startswith("numpy and jax agree; torch differs from both")
    assert "W1[1, 2]" in summary
    assert [(r.ref_name, r.other_name) for r in three.reports] == [
        ("numpy", "torch"),
        ("numpy", "jax"),
        ("torch", "jax"),
    ]
    assert three.pair("jax", "torch") is three.reports[2]
    assert summary in three.table()
    json.dumps(three.to_dict(), allow_nan=False)


def test_compare_all_has_no_odd_one_out_when_all_agree_or_all_differ():
    numpy = weights()
    agree = compare_all({"numpy": numpy, "torch": copy(numpy), "jax": copy(numpy)})
    assert agree.passed and agree.odd_one_out is None
    assert agree.summary().startswith("numpy, torch and jax agree")
    torch, jax = copy(numpy), copy(numpy)
    torch["W1"][0, 0] += 1e-3
    jax["b2"][3] -= 1e-3
    differ = compare_all({"numpy": numpy, "torch": torch, "jax": jax})
    assert not differ.passed and differ.odd_one_out is None
    assert differ.summary().count("differ") == 3


def test_compare_all_with_two_frameworks():
    numpy = weights()
    torch = copy(numpy)
    torch["b1"][1] += 1.0
    two = compare_all({"numpy": numpy, "torch": torch})
    assert len(two.reports) == 1 and two.odd_one_out is None
    assert "numpy and torch differ (b1[1]" in two.summary()
    with pytest.raises(ValueError, match="two frameworks"):
        compare_all({"numpy": numpy})


# --------------------------------------------------------------------------- trajectories


def test_compare_trajectories_agree():
    a, b = trajectory("numpy"), trajectory("torch")
    report = compare_trajectories(a, b)
    assert report.passed and report.first_step is None
    assert report.a_name == "numpy/eager" and report.b_name == "torch/eager"
    assert report.error_curve.shape == (6,) and report.loss_error.shape == (10,)
    assert report.summary() == (
        "numpy/eager vs torch/eager: agree over 10 steps (max |dW| 0, max |dloss| 0; float64)"
    )
    assert report.to_dict()["passed"] is True
    json.dumps(report.to_dict(), allow_nan=False)


def test_compare_trajectories_finds_the_first_diverging_step_weight_and_element():
    a, b = trajectory("numpy"), trajectory("jax")
    b.weights["W2"][3, 2, 1] += 1e-6  # record 3 is after 6 updates
    b.weights["W1"][4:, 0, 2] += 1e-3  # worse, but later
    report = compare_trajectories(a, b)
    assert not report.passed
    assert report.first_step == 6 and report.first.step == 6
    assert report.first.weight == "W2" and report.first.index == (2, 1)
    assert report.first.values == (a.weights["W2"][3, 2, 1], b.weights["W2"][3, 2, 1])
    assert report.first.error == pytest.approx(1e-6, rel=1e-6)
    assert report.first_loss is None
    assert report.error_curve[:3].tolist() == [0, 0, 0] and report.error_curve[3] > 0
    assert report.max_weight_error == pytest.approx(1e-3, rel=1e-6)
    summary = report.summary()
    assert "first diverge after 6 updates at W2[2, 1]: " in summary
    assert "(|d| 1e-06 > tol " in summary
    payload = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert payload["first"]["index"] == [2, 1] and payload["first_step"] == 6
    assert payload["first_loss"] is None and payload["summary"] == summary


def test_compare_trajectories_counts_a_loss_at_the_step_it_was_computed():
    a, b = trajectory("numpy"), trajectory("torch")
    b.losses = b.losses.copy()
    b.losses[3] += 1e-6  # the loss of step 3, from the weights after 3 updates
    b.weights["b1"][4, 0] += 1e-6  # a weight record after 8 updates
    report = compare_trajectories(a, b)
    assert report.first_loss.step == 3 and report.first_step == 3
    assert report.first_loss.error == pytest.approx(1e-6, rel=1e-6)
    assert report.first.step == 8 and report.first.weight == "b1"
    assert report.first.index == (0,)
    summary = report.summary()
    assert "first diverge after 3 updates in the loss of step 3" in summary
    assert "weights from 8 updates at b1[0]" in summary


def test_compare_trajectories_removes_the_books_epsilon_from_the_loss():
    """The reference's loss plus its recorded gap is the epsilon-free loss; what remains
    after that must agree to the loss tolerance."""
    a, b = trajectory("numpy", gap=5e-7), trajectory("torch")
    b.losses = a.losses + 5e-7  # the exact loss sits above the book's by the gap
    assert compare_trajectories(a, b).passed
    b.losses = a.losses + 5e-7 + 1e-10  # anything the epsilon does not explain is caught
    report = compare_trajectories(a, b)
    assert not report.passed and report.first_loss.step == 0
    shown = report.first_loss.values  # the epsilon-free losses whose |d| is reported
    assert shown == (a.losses[0] + 5e-7, b.losses[0])
    assert abs(shown[1] - shown[0]) == report.first_loss.error
    assert "in the loss of step 0 (epsilon-free): " in report.summary()
    b.losses = a.losses  # raw equality is now a difference of 5e-7
    assert not compare_trajectories(a, b).passed
    exact = compare_trajectories(trajectory("numpy"), trajectory("torch", gap=None))
    assert exact.passed and exact.loss_allowed.max() < 1e-11


def test_compare_trajectories_uses_the_lower_precision():
    a, b = trajectory("numpy"), trajectory("torch", dtype="float32")
    report = compare_trajectories(a, b)
    assert report.dtype == "float32"
    assert (report.rtol, report.atol) == tolerance("float32", "trajectory")
    assert report.passed  # float32 rounding of the same weights


def test_compare_trajectories_rejects_runs_that_do_not_match():
    a = trajectory("numpy")
    with pytest.raises(ValueError, match="record_steps differ"):
        compare_trajectories(a, trajectory("torch", record_every=3))
    with pytest.raises(ValueError, match="steps"):
        compare_trajectories(a, trajectory("torch", steps=12))
    b = trajectory("torch")
    b.weights["W1"] = b.weights["W1"].transpose(0, 2, 1)
    with pytest.raises(ValueError, match="W1 has shape"):
        compare_trajectories(a, b)
    b = trajectory("torch")
    b.weights["W3"] = b.weights.pop("W2")
    with pytest.raises(ValueError, match="weight names differ"):
        compare_trajectories(a, b)


def calibration_pair(drift: float) -> tuple[Trajectory, Trajectory]:
    """The reference in float64 and a stand-in for its float32 run, `drift` apart."""
    ref64 = trajectory("numpy")
    ref32 = trajectory("numpy", dtype="float32")
    ref32.weights = {k: (ref64.weights[k] + drift).astype(np.float32) for k in ref64.weights}
    ref32.losses = ref64.losses + drift
    return ref64, ref32


def test_compare_trajectories_with_calibration():
    ref64, ref32 = calibration_pair(drift=1e-4)  # ten times: a bound of about 1e-3
    a, b = trajectory("numpy", dtype="float32"), trajectory("torch", dtype="float32")
    b.weights["W1"][2, 1, 0] += 5e-4  # under 10x the reference's own drift
    b.losses = b.losses + 5e-4
    calibrated = compare_trajectories(a, b, calibration=(ref64, ref32))
    assert calibrated.calibrated and calibrated.passed, calibrated.summary()
    uncalibrated = compare_trajectories(a, b)  # the float32 loss row alone is far tighter
    assert not uncalibrated.passed and uncalibrated.first_loss.step == 0

    far = trajectory("torch", dtype="float32")
    far.weights["W1"][2, 1, 0] += 1e-2  # far above 10x the drift
    report = compare_trajectories(a, far, calibration=(ref64, ref32))
    assert not report.passed and report.first.weight == "W1" and report.first.index == (1, 0)
    assert report.first.tol == pytest.approx(1e-3, rel=1e-2)  # 10 x the float32 drift

    with pytest.raises(ValueError, match="float64"):
        compare_trajectories(a, b, calibration=(ref32, ref64))
    with pytest.raises(ValueError, match="record_steps differ"):
        compare_trajectories(a, b, calibration=(trajectory(record_every=5), ref32))


def test_calibration_never_goes_below_the_atol_floor():
    ref64, ref32 = calibration_pair(drift=0.0)
    a, b = trajectory("numpy", dtype="float32"), trajectory("torch", dtype="float32")
    b.weights["b2"][1, 3] += 5e-6  # under the floor 1e-5
    assert compare_trajectories(a, b, calibration=(ref64, ref32)).passed


# --------------------------------------------------------------------------- properties


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5)


@settings(max_examples=60, deadline=None, database=None)
@given(
    x=hnp.arrays(
        st.sampled_from([np.float64, np.float32]),
        shapes,
        elements=st.floats(allow_nan=False, width=32),
    )
)
def test_compare_of_an_array_with_itself_always_passes(x):
    dtype = x.dtype.name
    report = compare({"x": x}, {"x": x.copy()}, dtype=dtype, quantity="forward", atol=0.0)
    assert report.passed
    assert report.entries[0].max_abs == 0 and report.entries[0].max_ulps == 0


@settings(max_examples=60, deadline=None, database=None)
@given(data=st.data(), shape=shapes)
def test_the_worst_index_points_at_the_injected_perturbation(data, shape):
    x = data.draw(hnp.arrays(np.float64, shape, elements=finite))
    index = tuple(data.draw(st.integers(0, n - 1)) for n in shape)
    other = x.copy()
    other[index] += 1.0 + abs(x[index])  # far outside the tolerance, elsewhere all equal
    entry = compare({"x": x}, {"x": other}).entries[0]
    assert not entry.passed
    assert entry.worst_index == index
    assert (entry.ref_value, entry.other_value) == (x[index], other[index])


# --------------------------------------------------------------------------- the package


def test_every_design_name_is_importable_and_no_framework_is_imported(tmp_path):
    """`comparisons.parity` (and its pytest plugin) import NumPy only: torch and jax are
    imported by the helpers that need them, when called."""
    names = [
        *("compare", "assert_close", "compare_trajectories", "TOLERANCES", "tolerance"),
        *("Report", "Entry", "TrajectoryReport", "ThreeWayReport", "compare_all"),
        *("compare_losses", "book_loss_gap", "ulp_distance", "lower_precision"),
        *("CALIBRATION_FACTOR", "QUANTITIES", "Tolerance", "record", "pinned_precision"),
        *("activations", "tap", "torch_activations", "from_torch", "to_torch"),
        *("from_jax", "to_jax", "Divergence", "LossDivergence", "GradientDivergence", "Hint"),
    ]
    assert sorted(names) == sorted(parity.__all__)
    code = (
        "import sys, comparisons.parity, scratch_parity.pytest_plugin\n"
        f"from comparisons.parity import {', '.join(names)}\n"
        "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items()}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
