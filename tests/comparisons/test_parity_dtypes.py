"""Dtype honesty: a side held in another precision than the comparison's is named, with
both dtypes and the likely cause, in compare's and compare_trajectories' reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

import adapters
from comparisons.parity import compare, compare_trajectories
from tests.comparisons.parity_helpers import copy, trajectory, weights
from tests.helpers import need

JAX_CAUSE = "JAX computes in float32 unless x64 is on: use pinned_precision"


def as_float32(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float32) for k, v in arrays.items()}


def test_a_float32_side_compared_at_float64_fails_naming_both_dtypes_and_the_cause():
    ref = weights()
    report = compare(ref, as_float32(ref), names=("numpy", "jax"))
    assert not report.passed
    line = report.describe_failure()
    assert "jax holds W1 as float32, numpy as float64, compared at float64" in line
    assert JAX_CAUSE in line
    assert JAX_CAUSE in report.summary() and JAX_CAUSE in report.table()


def test_an_unnamed_float32_side_gets_both_likely_causes():
    ref = weights()
    entry = compare(ref, as_float32(ref)).first_failure()
    assert "other holds W1 as float32, reference as float64" in entry.note
    assert JAX_CAUSE in entry.note and "module.double()" in entry.note


def test_a_lower_precision_compared_at_its_own_tolerance_is_noted_without_a_cause():
    ref = weights()
    report = compare(ref, as_float32(ref), dtype="float32", names=("numpy", "torch"))
    assert report.passed  # float32 rounding of the same values: a fair float32 comparison
    note = report.entries[0].note
    assert note == "torch holds W1 as float32, numpy as float64 (compared at float32's tolerance)"
    assert compare(ref, copy(ref)).entries[0].note == ""  # same dtype: nothing to say


def test_both_sides_in_float32_compared_at_float64_are_named():
    ref = as_float32(weights())
    entry = compare(ref, ref, names=("a", "b")).entries[0]
    assert entry.note.startswith("a and b both hold W1 as float32, compared at float64")


@pytest.mark.crossframework
def test_a_jax_array_without_x64_is_recognised_as_jax():
    need("jax")
    adapters.net_class("jax")  # imports jax with NumPy's global generator kept
    import jax.numpy as jnp

    ref = weights()
    twin = {k: jnp.asarray(v) for k, v in ref.items()}  # x64 off: float32
    assert twin["W1"].dtype == jnp.float32
    report = compare(ref, twin, names=("numpy", "mine"))
    assert not report.passed and JAX_CAUSE in report.describe_failure()


@pytest.mark.crossframework
def test_a_torch_parameter_is_compared_and_its_float32_named():
    need("torch")
    import torch

    ref = weights()
    twin = {k: torch.nn.Parameter(torch.from_numpy(v).float()) for k, v in ref.items()}
    report = compare(ref, twin, names=("numpy", "mine"))
    assert not report.passed
    assert "mine holds W1 as float32" in report.describe_failure()
    assert "module.double()" in report.describe_failure()


def test_compare_trajectories_names_a_run_that_holds_less_than_it_declares():
    a, b = trajectory("numpy"), trajectory("jax")
    b.weights = as_float32(b.weights)  # declares float64, holds float32
    report = compare_trajectories(a, b)
    assert not report.passed and report.first_step == 0
    expected = (
        "b (jax/eager) holds W1, b1, W2, b2 as float32, a (numpy/eager) as float64, "
        f"compared at float64: {JAX_CAUSE}"
    )
    assert report.notes == [expected]
    assert report.hints[0] == ("dtype", "W1, b1, W2, b2", expected)  # the note is a hint
    assert report.summary().endswith("; hint (dtype, W1, b1, W2, b2): " + expected)
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["notes"] == [expected]


def test_compare_trajectories_of_a_declared_lower_precision_has_no_cause():
    a, b = trajectory("numpy"), trajectory("torch", dtype="float32")
    report = compare_trajectories(a, b)
    assert report.passed and report.dtype == "float32"
    assert report.notes == [
        "b (torch/eager) holds W1, b1, W2, b2 as float32, a (numpy/eager) as float64 "
        "(compared at float32's tolerance)"
    ]
    assert "note" not in report.summary()
    assert compare_trajectories(a, trajectory("jax")).notes == []
