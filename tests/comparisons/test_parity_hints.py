"""From where to why: planted bugs in small models (tests/comparisons/planted.py) are each
named by kind, on the weight that carries them, in `hints` and in the summary; the phase
that parts first is the right one (a backward bug at its gradient); a model no kind fits
says so; and a hint is a claim the records prove, withdrawn when they stop proving it."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from adapters import Trajectory
from comparisons.parity import Hint, compare_trajectories
from comparisons.parity.hints import KINDS
from tests.comparisons import planted
from tests.comparisons.parity_helpers import trajectory
from tests.helpers import need


class Model:
    """A planted model's data, its reference run and its twin (`twin(bug)`)."""

    def __init__(self, reference, make_twin, *data):
        self.data, self.rows = data, planted.schedule(len(data[1]))
        self.ref = reference(*data, self.rows)
        self.make_twin = make_twin

    def twin(self, bug, rows=None):
        """(the reference run, the twin's run with `bug` planted)."""
        return self.ref, self.make_twin(*self.data, self.rows if rows is None else rows, bug)


@pytest.fixture(scope="module")
def mlp():
    need("torch")
    return Model(planted.mlp_reference, planted.mlp_twin, *planted.mlp_problem())


@pytest.fixture(scope="module")
def cell():
    need("torch")
    return Model(planted.cell_reference, planted.cell_twin, *planted.cell_problem())


@pytest.fixture(scope="module")
def embedding():
    need("torch")
    return Model(planted.embedding_reference, planted.embedding_twin, *planted.embedding_problem())


def diagnosed(ref, got, kind, name):
    """The report, after checking that the first hint is `kind` on `name` and that the
    summary ends with it in words and the table shows it on that weight."""
    report = compare_trajectories(ref, got)
    assert not report.passed and report.hints, report.summary()
    assert all(isinstance(h, Hint) and h.kind in KINDS for h in report.hints)
    assert (report.hints[0].kind, report.hints[0].name) == (kind, name), report.hints
    summary = report.summary()
    assert f"; hint ({kind}, {name}" in summary
    assert summary.split("; hint (", 1)[1].startswith(f"{kind}, {name}")
    table = report.table()
    if name in {row.name for row in report.rows}:
        line = next(ln for ln in table.splitlines() if ln.startswith(name + " "))
        assert kind in line, table
    json.dumps(report.to_dict(), allow_nan=False)
    return report


@pytest.mark.crossframework
def test_each_twin_without_its_bug_agrees_with_its_reference(mlp, cell, embedding):
    """The models are right: the bug is the only difference, and gradients are compared."""
    for problem in (mlp, cell, embedding):
        ref, got = problem.twin(None)
        report = compare_trajectories(ref, got)
        assert report.passed and report.steps == planted.STEPS, report.summary()
        assert got.grads is not None and set(got.grads) == set(ref.grads) == set(ref.weights)
        for k, g in got.grads.items():  # one gradient record with each weight record but 0
            assert g.shape == (planted.STEPS, *ref.weights[k].shape[1:]) and np.any(g != 0)
        assert report.first_gradient_step is None and report.phase is None
        assert report.hints == () and "hint" not in report.summary()


@pytest.mark.crossframework
def test_a_square_weight_held_transposed_is_named_with_torchs_layout(mlp):
    report = diagnosed(*mlp.twin("transposed"), "transposed", "W2")
    assert report.first_step == 0 and report.first.weight == "W2"
    assert "nn.Linear" in report.hints[0].detail and "(out, in)" in report.hints[0].detail
    assert [h.name for h in report.hints] == ["W2"]  # the other weights agree


@pytest.mark.crossframework
def test_gate_blocks_in_nn_lstms_order_are_named_with_the_permutation(cell):
    report = diagnosed(*cell.twin("gate_order"), "permuted", "Wx")
    detail = report.hints[0].detail
    assert "[2, 0, 1, 3]" in detail and "f, g, i, o" in detail and "i, f, g, o" in detail
    named = {(h.kind, h.name) for h in report.hints}
    assert {("permuted", "Wx"), ("permuted", "Wh")} <= named  # b starts at 0: no tell yet


@pytest.mark.crossframework
def test_a_bias_updated_twice_is_scaled_by_2_in_the_update_not_the_gradient(cell):
    """nn.LSTMCell's second bias, left trainable: each takes the update, so the book's one
    bias moves twice. The gradients agree; the update parts."""
    report = diagnosed(*cell.twin("second_bias"), "scaled", "b")
    assert report.phase == "weights" and report.first.step == 1 and report.first.weight == "b"
    assert "is 2 times" in report.hints[0].detail and "counted twice" in report.hints[0].detail
    assert report.first_gradient_step == 1  # the gradients part only from the next step


@pytest.mark.crossframework
def test_a_dropped_np_add_at_is_named_by_the_rows_of_the_repeated_ids(embedding):
    report = diagnosed(*embedding.twin("dropped_add_at"), "rows", "W_in")
    assert report.phase == "gradients" and report.first_gradient_step == 0  # a backward bug
    ids, rows = embedding.data[1], embedding.rows
    batch = list(ids[rows[0]])
    repeated = sorted({i for i in batch if batch.count(i) > 1})  # ids twice in step 0's batch
    assert repeated and len(repeated) < planted.VOCAB
    detail = report.hints[0].detail
    listed = detail.split(": row", 1)[1].split(";", 1)[0].lstrip("s ")
    assert [int(r) for r in listed.split(", ")] == repeated, detail
    row = next(r for r in report.rows if r.name == "W_in")
    assert row.outside == planted.DIM * len(repeated) and row.size == planted.VOCAB * planted.DIM
    assert f"{row.outside} / {row.size}" in report.table()  # "3 / 36"


@pytest.mark.crossframework
def test_a_different_schedule_is_named_first_from_the_fingerprints(mlp):
    other = mlp.rows.copy()
    other[5:] = planted.schedule(len(other), seed=9)[5:]  # reshuffled from step 5 on
    report = diagnosed(*mlp.twin(None, other), "schedule", "schedule")
    assert report.schedule_step == 5 and report.first_step == 5
    assert "first differ at step 5" in report.hints[0].detail


@pytest.mark.crossframework
def test_a_backward_only_bug_is_found_at_its_gradient_a_step_before_the_weights(mlp):
    """A hand-written Affine whose backward averages the bias gradient where the book sums
    it: the forward and the loss of step 0 agree, its gradient of b1 does not."""
    report = diagnosed(*mlp.twin("bias_mean"), "scaled", "b1")
    assert report.phase == "gradients" and report.first_gradient_step == 0
    assert report.first_gradient.weight == "b1"
    assert report.first.step == 1 and report.first_loss.step == 1  # the step after
    assert "gradient of b1 at step 0 is 1/6 times" in report.hints[0].detail  # batch of 6
    assert report.summary().startswith(
        "numpy vs torch (bias_mean): first diverge after 0 updates in the gradient of step 0 at b1["
    )
    assert report.rows_at == "the gradients of step 0"


@pytest.mark.crossframework
def test_weights_reported_before_their_update_are_one_step_behind(mlp):
    report = diagnosed(*mlp.twin("lagged"), "lagged", "W1")
    assert "one step behind" in report.hints[0].detail
    assert {h.name for h in report.hints if h.kind == "lagged"} == set(planted.MLP_NAMES)
    assert "the same for b1, W2, b2, W3 and b3" in report.summary()


@pytest.mark.crossframework
def test_a_model_no_kind_fits_says_so_plainly(mlp):
    """tanh for a sigmoid: the forward parts at step 0, in no pattern a hint knows."""
    report = compare_trajectories(*mlp.twin("tanh"))
    assert not report.passed and report.phase == "loss" and report.hints == ()
    assert "; no hint: the records fit no known pattern" in report.summary()
    assert "no hint" in report.table()


# --------------------------------------------------------------------------- claims, not guesses


def edited(traj: Trajectory, name: str, fn) -> Trajectory:
    weights = dict(traj.weights)
    weights[name] = fn(weights[name].copy())
    return dataclasses.replace(traj, weights=weights)


@pytest.mark.crossframework
def test_a_hint_the_records_stop_proving_is_withdrawn(mlp, cell):
    ref, got = mlp.twin("transposed")

    def nudge(records):  # one element, at the last record the proof looks at
        records[7, 1, 2] += 1e-6
        return records

    report = compare_trajectories(ref, edited(got, "W2", nudge))
    assert "transposed" not in {h.kind for h in report.hints}
    ref, got = cell.twin("second_bias")

    def not_twice(records):  # one element of the first update 2.001 times, not 2
        records[1, 3] += 0.001 * (records[1, 3] - records[0, 3])
        return records

    report = compare_trajectories(ref, edited(got, "b", not_twice))
    assert ("scaled", "b") not in {(h.kind, h.name) for h in report.hints}


def test_two_elements_prove_no_constant_factor():
    """A two-class softmax bias: its gradient's elements always sum to zero, so any two
    such gradients are proportional; that proves nothing, and no `scaled` is claimed."""
    a, b = trajectory("numpy"), trajectory("torch")
    a.weights["b2"] = a.weights["b2"][:, :2].copy()
    b.weights["b2"] = a.weights["b2"].copy()
    b.weights["b2"][3:] += np.array([0.5, -0.5]) * np.arange(3)[:, None]
    report = compare_trajectories(a, b)
    assert not report.passed and "scaled" not in {h.kind for h in report.hints}


def test_runs_fed_different_batches_never_pass_even_when_the_records_agree():
    a, b = trajectory("numpy"), trajectory("torch")
    a.fingerprint = np.arange(10, dtype=np.uint64)
    b.fingerprint = a.fingerprint.copy()
    assert compare_trajectories(a, b).passed
    b.fingerprint[1:] = a.fingerprint[:-1]  # each batch one step late
    report = compare_trajectories(a, b)
    assert not report.passed and report.schedule_step == 1 and report.first_step is None
    assert report.hints[0] == report.hints[0]._replace(kind="schedule", name="schedule")
    assert "one step behind" in report.hints[0].detail
    assert "the records agree over 10 steps" in report.summary()


def test_two_runs_of_one_framework_are_told_apart_by_label():
    a, b = trajectory("torch"), trajectory("torch")
    b.weights["b1"][2:] += 1.0
    report = compare_trajectories(a, b)
    assert (report.a_name, report.b_name) == ("torch/eager (a)", "torch/eager (b)")
    a.label, b.label = "torch (fused)", "torch (unfused)"
    report = compare_trajectories(a, b)
    assert report.summary().startswith("torch (fused) vs torch (unfused): first diverge")
    assert all("torch (unfused)" in line for line in report.table().splitlines()[:2])


def test_a_non_square_weight_held_transposed_is_refused_saying_so():
    a, b = trajectory("numpy"), trajectory("torch")
    b.weights["W2"] = b.weights["W2"].swapaxes(1, 2)  # (records, 4, 3): nn.Linear's layout
    with pytest.raises(ValueError) as info:
        compare_trajectories(a, b)
    assert str(info.value) == (
        "weight W2 has shape (3, 4) in a (numpy/eager), (4, 3) in b (torch/eager): "
        "b (torch/eager) holds it transposed (torch's nn.Linear stores (out, in); "
        "from_torch gives your (in, out))"
    )


def test_the_hint_cost_measure_runs_and_finds_its_planted_hints():
    """python -m comparisons.hints_measure, on 20 steps: what it times is what it says
    (its timings are the measure's to report, not this test's to assert)."""
    from comparisons import hints_measure

    rows = hints_measure.timing(epochs=2, repeats=1)
    assert [r["planted"] for r in rows] == ["lr x 1.001", "lagged", "other init"]
    assert [r["first_hint"] for r in rows] == ["scaled", "lagged", None]
    assert all(0 < r["hints_s"] < r["compare_s"] and r["steps"] == 20 for r in rows)


def test_gradients_recorded_by_one_run_only_are_named_as_not_compared():
    a, b = trajectory("numpy"), trajectory("torch")
    b.grads = {k: v[1:] for k, v in b.weights.items()}
    b.label = "mine"
    report = compare_trajectories(a, b)
    assert report.passed and report.first_gradient_step is None
    assert report.notes == ["only mine recorded gradients: they were not compared"]
