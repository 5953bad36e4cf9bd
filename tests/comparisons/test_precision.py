"""Lower bit precision (§1.5.1): float16 and bfloat16 in every framework that has them,
the calibration of their tolerance rows, and the precision matrix of the report."""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec, checks
from comparisons import parity
from comparisons.precision import (
    STORAGE,
    PrecisionMatrix,
    precision_matrix,
    reference_error,
    storage_row,
)
from comparisons.run import RunConfig, book_data
from tests.adapters.helpers import SHAPES, everything, problem
from tests.helpers import FRAMEWORKS, need

LOW = ("float16", "bfloat16")


def supports(framework: str, dtype: str) -> bool:
    return dtype in adapters.net_class(framework).DTYPES


# --------------------------------------------------------------------------- transport


@pytest.mark.crossframework
def test_round_bfloat16_is_the_rounding_torch_and_jax_do():
    need("torch", "jax")
    adapters.net_class("jax")  # imports jax with NumPy's global RNG kept
    import jax.numpy as jnp
    import torch

    rng = np.random.RandomState(5)
    a = np.concatenate(
        [
            (rng.standard_normal(20000) * 10.0 ** rng.randint(-40, 38, 20000)).astype(np.float32),
            np.float32([0.0, -0.0, 1 + 2**-8, 1 + 3 * 2**-8, 1e-40, -3e-39]),  # ties, subnormals
        ]
    )
    ours = checks.round_bfloat16(a)
    by_torch = torch.from_numpy(a).to(torch.bfloat16).float().numpy()
    by_jax = np.asarray(jnp.asarray(a).astype(jnp.bfloat16).astype(jnp.float32))
    assert np.array_equal(ours.view(np.uint32), by_torch.view(np.uint32))
    assert np.array_equal(ours.view(np.uint32), by_jax.view(np.uint32))


@pytest.mark.parametrize(
    "framework, dtype",
    [("numpy", "float16"), ("torch", "float16"), ("jax", "float16"), ("torch", "bfloat16"),
     ("jax", "bfloat16")],
)  # fmt: skip
def test_low_precision_weights_round_trip_bit_for_bit(framework, dtype):
    need(framework)  # NumPy has no bfloat16: its refusal is in tests/adapters/test_bad_input
    w, x, _ = problem(2, 5, 4, 3)
    stored = {k: checks.cast(v, dtype, k) for k, v in w.items()}  # representable values
    net = adapters.build(framework, stored, dtype=dtype)
    back = net.weights()
    for k in w:
        assert back[k].dtype == checks.numpy_dtype(dtype)  # bfloat16 travels as float32
        np.testing.assert_array_equal(back[k], stored[k])
    scores = net.predict(x)
    assert scores.dtype == checks.numpy_dtype(dtype)
    if dtype == "bfloat16":  # what comes out is exactly bfloat16 values
        np.testing.assert_array_equal(checks.round_bfloat16(scores), scores)


# --------------------------------------------------------------------------- calibration


def assert_row_holds_twice(exact: dict, got: dict, dtype: str, quantity: str, who: str):
    """The table's row for (dtype, quantity), halved, still holds `got`: two
    implementations each this far from the exact values would still agree."""
    tol = parity.tolerance(dtype, quantity)
    parity.assert_close(
        exact, got, dtype=dtype, quantity=quantity, rtol=tol.rtol / 2, atol=tol.atol / 2,
        names=("numpy float64", who),
    )  # fmt: skip


@pytest.fixture(scope="module")
def book_passes():
    """The book's data, initial weights and the float64 reference's trained weights."""
    x, t, w, schedule = book_data(RunConfig())
    ref = adapters.build("numpy", w)
    ref.train(x, t, schedule, OptimizerSpec("sgd", 1.0), record_every=schedule.shape[0])
    return x, t, {"initial": w, "trained": ref.weights()}


@pytest.mark.parametrize(
    "framework, dtype",
    [("numpy", "float32"), ("numpy", "float16"), ("torch", "bfloat16"), ("jax", "bfloat16")],
)
def test_the_table_holds_twice_the_measured_error(book_passes, framework, dtype):
    """The calibration itself: the reference's own float32 and float16 error on the book's
    300 points (and torch's and JAX's bfloat16 error, NumPy having none) fits in half of
    each row, at the initial and at the trained weights."""
    need(framework)
    x, t, weights = book_passes
    for label, w in weights.items():
        exact, other = everything("numpy", w, x, t), everything(framework, w, x, t, dtype)
        who = f"{framework} {dtype}, {label} weights"
        exact_f = {"predict": exact["predict"], **exact["activations"]}
        other_f = {"predict": other["predict"], **other["activations"]}
        assert_row_holds_twice(exact_f, other_f, dtype, "forward", who)
        assert_row_holds_twice(exact["gradients"], other["gradients"], dtype, "gradient", who)
    errors = reference_error(framework, dtype, trained=weights["trained"])
    loss = parity.tolerance(dtype, "loss")
    for label, w in weights.items():
        value = everything("numpy", w, x, t)["loss"]  # 1.1 initial, 0.1 trained
        assert 0 < errors[label]["loss"] <= (loss.atol + loss.rtol * value) / 2, label
        assert 0 < errors[label]["forward"] and 0 < errors[label]["gradient"]  # it measured


def test_float16_rows_are_not_looser_than_they_need_be(book_passes):
    """The float16 rows come from the reference's error, not from thin air: a tenth of
    the forward and gradient rows no longer holds it."""
    x, t, weights = book_passes
    exact = everything("numpy", weights["initial"], x, t)
    got = everything("numpy", weights["initial"], x, t, "float16")
    tol = parity.tolerance("float16", "gradient")
    report = parity.compare(
        exact["gradients"], got["gradients"], dtype="float16", quantity="gradient",
        rtol=tol.rtol / 10, atol=tol.atol / 10,
    )  # fmt: skip
    assert not report.passed and report.first_failure().name == "b2"  # the float16 np.sum


# --------------------------------------------------------------------------- parity


def passes(framework: str, w, x, t, dtype: str) -> dict:
    """The forward pass and the gradients (what is compared here; no loss to compile)."""
    net = adapters.build(framework, w, dtype=dtype)
    return {
        "predict": net.predict(x),
        "activations": net.activations(x, t),
        "gradients": net.gradients(x, t),
    }


@pytest.mark.crossframework
@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_low_precision_frameworks_agree_within_the_table(framework, dtype):
    """float16: torch and JAX against the reference in float16. bfloat16: against the
    float64 reference (NumPy has none) and against each other."""
    need("torch", "jax")
    for shape in SHAPES:
        w, x, t = problem(*shape, seed=11, scale=0.1)
        ref = passes("numpy", w, x, t, "float16" if dtype == "float16" else "float64")
        other = passes(framework, w, x, t, dtype)
        names = (f"numpy {ref['predict'].dtype}", f"{framework} {dtype}")
        ran = parity.assert_close(
            {"predict": ref["predict"], **ref["activations"]},
            {"predict": other["predict"], **other["activations"]},
            dtype=dtype, quantity="forward", names=names,
        )  # fmt: skip
        assert ran.entries and all(e.max_abs is not None for e in ran.entries)
        parity.assert_close(
            ref["gradients"], other["gradients"], dtype=dtype, quantity="gradient", names=names
        )
    if dtype == "bfloat16":
        w, x, t = problem(*SHAPES[0], seed=11, scale=0.1)
        three = parity.compare_all(
            {fw: passes(fw, w, x, t, dtype)["gradients"] for fw in ("torch", "jax")},
            dtype=dtype,
            quantity="gradient",
        )
        assert three.passed, three.table()


@pytest.mark.crossframework
def test_a_wrong_update_is_caught_even_in_float16():
    """Low-precision trajectories are compared within ten times the reference's own drift
    from float64. That bound is loose, but not blind: a learning rate off by 20% fails."""
    need("torch")
    x, t, w, schedule = book_data(RunConfig(epochs=30))
    spec = OptimizerSpec("sgd", 1.0)
    ref64 = adapters.build("numpy", w).train(x, t, schedule, spec, record_every=10)
    ref16 = adapters.build("numpy", w, dtype="float16").train(x, t, schedule, spec, record_every=10)
    right = adapters.build("torch", w, dtype="float16").train(x, t, schedule, spec, record_every=10)
    wrong = adapters.build("torch", w, dtype="float16").train(
        x, t, schedule, OptimizerSpec("sgd", 0.8), record_every=10
    )
    good = parity.compare_trajectories(ref16, right, calibration=(ref64, ref16))
    bad = parity.compare_trajectories(ref16, wrong, calibration=(ref64, ref16))
    assert good.calibrated and good.passed, good.summary()
    assert not bad.passed and bad.first_step is not None, bad.summary()


# --------------------------------------------------------------------------- the matrix


@pytest.fixture
def matrix(default_run) -> PrecisionMatrix:
    """The default run's matrix: the book's 3000 steps in every precision (conftest)."""
    need("torch", "jax")
    return default_run.results.matrix


@pytest.mark.crossframework
def test_the_matrix_has_every_supported_precision_and_the_storage_case(matrix):
    cells = {(r.precision, r.framework) for r in matrix.rows}
    expected = {
        (dtype, fw) for dtype in checks.DTYPE_NAMES for fw in FRAMEWORKS if supports(fw, dtype)
    }
    assert cells == expected | {(STORAGE, "numpy")}
    assert ("bfloat16", "numpy") not in cells
    assert matrix.rows[0].precision == "float64" and matrix.rows[0].verdict == "reference"
    assert matrix.row("bfloat16", "torch").verdict == "stand-in"
    compared = [r for r in matrix.rows if r.report is not None]
    assert len(compared) == 7 and all(r.report.steps == matrix.steps == 3000 for r in compared)
    assert matrix.passed, matrix.table()


@pytest.mark.crossframework
def test_the_matrix_drift_grows_as_the_precision_falls(matrix):
    """float64 agrees to rounding; float32 drifts by ~1e-5; float16 and bfloat16 by far
    more; the nets still classify (the book's point: float16 is enough to infer with)."""
    drift = {(r.precision, r.framework): r.drift for r in matrix.rows}
    for fw in FRAMEWORKS:
        assert drift[("float64", fw)] < 1e-11
        assert 1e-8 < drift[("float32", fw)] < 1e-3
        assert drift[("float16", fw)] > 100 * drift[("float32", fw)]
    ref_acc = matrix.reference.accuracy
    for r in matrix.rows:
        assert r.accuracy is not None and abs(r.accuracy - ref_acc) < 0.1, r
        assert np.isfinite(r.loss) and r.weights is not None


@pytest.mark.crossframework
def test_float16_storage_only_rounds_the_weights(matrix):
    """The book's save_params: float32 weights stored in float16, computed with in
    float32. The loaded weights are float16 values, within half a float16 ULP of the
    float32 run's, and the net classifies as the float32 one does."""
    row = matrix.row(STORAGE, "numpy")
    f32 = matrix.row("float32", "numpy")
    for k, v in row.weights.items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v.astype(np.float16).astype(np.float32), v)
        assert np.all(np.abs(v - f32.weights[k]) <= 2.0**-11 * np.abs(f32.weights[k]) + 2.0**-25)
    assert row.accuracy == pytest.approx(f32.accuracy, abs=0.01)
    assert "float16" in row.note


def test_the_matrix_without_other_frameworks_is_the_reference_alone():
    m = precision_matrix(RunConfig(epochs=2), frameworks=["numpy"], precisions=["float16"])
    assert [(r.precision, r.verdict) for r in m.rows] == [
        ("float64", "reference"),
        ("float16", "reference"),
    ]
    assert "parity" in m.table() and "float16" in m.table()


def test_a_setting_a_precision_cannot_hold_is_a_refused_row_not_a_crash():
    config = RunConfig(epochs=1, frameworks=("numpy",), optimizer=OptimizerSpec("sgd", 1e5))
    m = precision_matrix(config, precisions=["float64", "float16"])
    refused = m.row("float16", "numpy")
    assert refused.verdict == "refused" and "does not fit in float16" in refused.note
    assert m.row("float64", "numpy").verdict == "reference" and m.passed
    assert "refused" in m.table()


def test_weights_beyond_float16_make_a_storage_row_that_says_so():
    """`--lr 1e6` in float64 trained float32 weights beyond 65504: the float16-storage row
    used to crash the whole matrix (`weights['W1'] does not fit in float16`)."""
    x, t, weights, _ = book_data(RunConfig(epochs=1))
    big = {k: np.asarray(v * 1e9, np.float32) for k, v in weights.items()}
    big["b2"] = np.asarray([1.0, 2e5, 3.0], np.float32)
    row = storage_row(big, weights, x, t, "numpy", RunConfig())
    assert row.precision == STORAGE and row.verdict == "does not fit"
    assert row.accuracy is None and "cannot be stored in float16" in row.note
    assert "does not fit in float16" in row.note
    matrix = PrecisionMatrix([row], steps=1)
    assert "does not fit" in matrix.table() and matrix.passed
