"""Forward outputs, losses and gradients agree between every pair of frameworks."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from comparisons import parity
from tests.adapters.helpers import SHAPES, everything, one_hot, problem

pytestmark = pytest.mark.crossframework


def loss_report(a_name, a, b_name, b, probs, t, dtype):
    """Losses compared knowing which side carries the book's 1e-7 (numpy only)."""
    if a_name == "numpy":
        return parity.compare_losses(a, b, probs, t, dtype=dtype, names=(a_name, b_name))
    return parity.compare(
        {"loss": a}, {"loss": b}, dtype=dtype, quantity="loss", names=(a_name, b_name)
    )


@pytest.mark.parametrize("shape", SHAPES, ids=[f"N{n}-{i}x{h}x{o}" for n, i, h, o in SHAPES])
@pytest.mark.parametrize("labels", ["index", "onehot"])
def test_pairs_agree_in_float64(pair, shape, labels):
    a_name, b_name = pair
    w, x, t = problem(*shape)
    tt = one_hot(t, shape[3]) if labels == "onehot" else t
    a = everything(a_name, w, x, tt)
    b = everything(b_name, w, x, tt)
    names = (a_name, b_name)
    reports = [
        parity.compare({"predict": a["predict"]}, {"predict": b["predict"]}, names=names),
        parity.compare(a["activations"], b["activations"], names=names),
        parity.compare(a["gradients"], b["gradients"], quantity="gradient", names=names),
        loss_report(
            a_name, a["loss"], b_name, b["loss"], a["activations"]["softmax"], t, "float64"
        ),
    ]
    compared = sum(len(r.entries) for r in reports)
    assert compared == 1 + 4 + 4 + 1  # the comparison really ran over every quantity
    for r in reports:
        assert r.passed, r.table()


@pytest.mark.parametrize("framework_name", adapters.FRAMEWORKS)
def test_index_and_onehot_labels_give_identical_results(framework_name):
    from tests.helpers import need

    need(framework_name)
    w, x, t = problem(6, 4, 5, 3, seed=3)
    by_index = everything(framework_name, w, x, t)
    by_onehot = everything(framework_name, w, x, one_hot(t, 3))
    assert by_index["loss"] == by_onehot["loss"]
    for k in by_index["gradients"]:
        np.testing.assert_array_equal(by_index["gradients"][k], by_onehot["gradients"][k])


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_book_epsilon_explains_the_loss_difference(framework):
    """The reference's loss is -log(p + 1e-7); torch and optax have no epsilon. The raw
    difference is visible (up to ~1e-7 / p), and the gap formula accounts for all of it."""
    from tests.helpers import need

    need(framework)
    w, x, t = problem(4, 3, 5, 2, seed=7, scale=3.0)
    ref = everything("numpy", w, x, t)
    other = everything(framework, w, x, t)
    raw = abs(ref["loss"] - other["loss"])
    probs = ref["activations"]["softmax"]
    gap = parity.book_loss_gap(probs, t)
    assert raw > 1e-9  # the difference is real, not hidden
    assert abs(raw - abs(gap)) < 1e-13
    report = parity.compare_losses(
        ref["loss"], other["loss"], probs, t, dtype="float64", names=("numpy", framework)
    )
    assert report.passed and report.notes, report.table()


def test_weights_round_trip_bit_for_bit(framework):
    for dtype in ("float64", "float32"):
        w, _, _ = problem(2, 5, 4, 3)
        w = {k: v.astype(dtype) for k, v in w.items()}
        back = adapters.build(framework, w, dtype=dtype).weights()
        assert set(back) == set(w)
        for k in w:
            assert back[k].dtype == np.dtype(dtype) and back[k].shape == w[k].shape
            np.testing.assert_array_equal(back[k], w[k])


def test_float32_matches_the_reference_within_the_calibrated_table(framework):
    """float32 in every framework vs the float64 reference, within the table's float32
    rows; the same rows must also hold the reference's own float32 error (calibration)."""
    for shape in SHAPES:
        w, x, t = problem(*shape, seed=11)
        ref64 = everything("numpy", w, x, t)
        ref32 = everything("numpy", w, x, t, dtype="float32")
        other = everything(framework, w, x, t, dtype="float32")
        for got, who in ((ref32, "numpy float32"), (other, f"{framework} float32")):
            assert got["predict"].dtype == np.float32
            names = ("numpy float64", who)
            parity.assert_close(
                ref64["activations"],
                got["activations"],
                dtype="float32",
                quantity="forward",
                names=names,
            )
            parity.assert_close(
                ref64["gradients"],
                got["gradients"],
                dtype="float32",
                quantity="gradient",
                names=names,
            )
