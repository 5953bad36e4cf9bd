"""float64 self-calibration (issue 21, item 11): a float64 run near its stability limit
amplifies rounding, and correct frameworks part from the reference by more than the
table's float64 rows allow. Such a comparison is judged again against the reference's
rounding twins (comparisons/rounding.py): correct frameworks pass, planted bugs still
fail, the twins are trained only when the table fails, and the report says so."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import adapters
from adapters import numpy_adapter
from comparisons import parity, rounding
from comparisons.parity.tolerances import (
    CALIBRATION_FACTOR,
    LINEAR_RANGE,
    ROUNDING_FACTOR,
    calibrated_bound,
    linear_range_left,
)
from comparisons.rounding_measure import late_lr_bug
from comparisons.run import RunConfig, book_data, run, table_rows, train, verdict_of
from tests.helpers import need

# lr 10 on the book's net: from step 40 JAX's weights part from the reference's by more
# than the table allows (torch's from 123), while its rounding twins stay inside float64's
# linear range for 240 steps (they leave it after 250: LONG).
CONFIG = RunConfig(hidden_size=10, epochs=24, optimizer=adapters.OptimizerSpec("sgd", 10.0))
LONG = dataclasses.replace(CONFIG, epochs=30)


@dataclasses.dataclass
class Case:
    config: RunConfig
    x: np.ndarray
    t: np.ndarray
    weights: dict
    schedule: np.ndarray
    ref: adapters.Trajectory
    twins: tuple[adapters.Trajectory, ...]

    def twins_made_once(self) -> tuple[rounding.Twins, list]:
        """A Twins that hands out these twins and counts how often it was asked to make them."""
        made = []
        return rounding.Twins(lambda: made.append(1) or self.twins), made


def make_case(config: RunConfig) -> Case:
    x, t, weights, schedule = book_data(config)
    ref = train(adapters.build("numpy", weights), config, x, t, schedule)
    twins = rounding.rounding_twins(
        lambda w: adapters.build("numpy", w),
        weights,
        lambda net, batches: train(net, config, x, t, batches),
        schedule,
    )
    return Case(config, x, t, weights, schedule, ref, twins)


@pytest.fixture(scope="module")
def case() -> Case:
    return make_case(CONFIG)


@pytest.fixture(scope="module")
def torch_run():
    """comparisons.run.run on CONFIG with numpy and torch: torch fails the table there."""
    need("torch")
    return run(dataclasses.replace(CONFIG, frameworks=("numpy", "torch")))


def test_the_twins_are_the_reference_rounded_differently(case):
    """Same start, same batches, same record steps, back in the reference's order of
    hidden units; apart by rounding only: nothing at the start, a few ULPs on the first
    update, more as this run amplifies it, never more than the linear range."""
    assert len(case.twins) == 3
    for twin in case.twins:
        assert twin.dtype == "float64" and twin.steps == case.ref.steps == 240
        np.testing.assert_array_equal(twin.record_steps, case.ref.record_steps)
        for k, w in case.ref.weights.items():
            np.testing.assert_array_equal(twin.weights[k][0], w[0])  # reordered back
            np.testing.assert_allclose(twin.weights[k][1], w[1], rtol=1e-13, atol=1e-14)
        drift = max(np.max(np.abs(twin.weights[k] - w)) for k, w in case.ref.weights.items())
        scale = max(np.max(np.abs(w)) for w in case.ref.weights.values())
        assert 0 < drift < LINEAR_RANGE * scale
    labels = [twin.label for twin in case.twins]
    assert len(set(labels)) == 3 and all("reversed" in label for label in labels)


def test_a_stable_run_s_twins_stay_at_rounding():
    """The book's own run (lr 1) does not amplify rounding: its twins stay within the
    table's float64 rows of it."""
    stable = make_case(dataclasses.replace(CONFIG, optimizer=adapters.OptimizerSpec("sgd", 1.0)))
    for twin in stable.twins:
        assert parity.compare_trajectories(stable.ref, twin).passed


@pytest.mark.crossframework
@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_a_correct_framework_fails_the_table_and_passes_against_the_twins(
    framework, case, torch_run
):
    need(framework)
    if framework == "torch":
        other = torch_run.results[1].trajectory
        np.testing.assert_array_equal(other.record_steps, case.ref.record_steps)
    else:
        net = adapters.build("jax", case.weights)
        other = train(net, CONFIG, case.x, case.t, case.schedule, "scan")
    assert other.framework == framework and other.steps == 240
    table = parity.compare_trajectories(case.ref, other)
    assert not table.passed and table.schedule_step is None  # the case exists
    twins, made = case.twins_made_once()
    report = rounding.judge(case.ref, other, twins)
    assert report.passed and report.rounding_calibrated, report.summary()
    assert made == [1]
    assert report.table_step == table.first_step > 0
    assert report.twin_drift == pytest.approx(
        max(
            np.max(np.abs(tw.weights[k] - w))
            for tw in case.twins
            for k, w in case.ref.weights.items()
        )
    )
    text = report.summary()
    assert f"within {ROUNDING_FACTOR:g}x the reference's own rounding drift" in text
    assert f"the table's float64 rows alone fail from step {table.first_step}" in text
    assert "linear range" not in text  # the twins stayed inside it
    assert verdict_of(report) == "PASS (calibrated)"
    assert report.to_dict()["rounding_calibrated"] is True
    # the allowance is ROUNDING_FACTOR x the twins' drift, where that beats the table's
    assert np.max(report.error_curve) > np.max(table.error_curve) / 10


@pytest.mark.parametrize("start", [10, 100, 200])
def test_a_learning_rate_1e_9_off_fails_against_the_twins_within_two_steps(case, start):
    """The twins' drift grows with the run's amplification, and so does a bug's: a
    learning rate off by 1e-9 relative, from early, the middle or late in the run, is
    found within two steps of where it starts, the table failing or not."""
    bug = late_lr_bug(CONFIG, case.x, case.t, case.weights, case.schedule, start, 1e-9)
    twins, made = case.twins_made_once()
    report = rounding.judge(case.ref, bug, twins)
    assert made == [1] and report.calibration == "rounding"
    assert not report.passed and start < report.first_step <= start + 2, report.summary()


def test_a_learning_rate_1e_9_off_from_the_start_fails_at_once(case):
    spec = adapters.OptimizerSpec("sgd", 10.0 * (1 + 1e-9))
    off = dataclasses.replace(CONFIG, optimizer=spec)
    bug = train(adapters.build("numpy", case.weights), off, case.x, case.t, case.schedule)
    report = parity.compare_trajectories(case.ref, bug, calibration=(case.ref, *case.twins))
    assert not report.passed and report.first_step <= 2, report.summary()


BIAS_BUGS = {
    # b1's gradient left out of one update (step 120, mid-run): the bias stands still once
    "b1 not updated once": lambda grads, step: grads[1].__imul__(0.0 if step == 120 else 1.0),
    # b2's gradient 1e-9 too large at every step (a bias term summed once too often, scaled)
    "b2 gradient 1e-9 off": lambda grads, step: grads[3].__imul__(1 + 1e-9),
}


class BiasBug(numpy_adapter.Net):
    """The NumPy Net with a wrong bias update planted between backward and the update."""

    plant = staticmethod(lambda grads, step: None)

    def _training(self, inputs, train_step=numpy_adapter.train_step):
        def wrong(model, optimizer, xb, tb, max_grad, gaps, step):
            loss = numpy_adapter.forward_backward(model, xb, tb, gaps, step)
            self.plant(model.grads, step)
            numpy_adapter.update(model, optimizer, max_grad)
            return loss

        return super()._training(inputs, wrong)


@pytest.mark.parametrize("bug", list(BIAS_BUGS))
def test_a_wrong_bias_update_fails_against_the_twins(case, bug, monkeypatch):
    monkeypatch.setattr(BiasBug, "plant", staticmethod(BIAS_BUGS[bug]))
    wrong = train(BiasBug(case.weights), CONFIG, case.x, case.t, case.schedule)
    twins, made = case.twins_made_once()
    report = rounding.judge(case.ref, wrong, twins)
    assert made == [1] and report.calibration == "rounding"
    assert not report.passed, report.summary()
    first = 120 if bug.startswith("b1") else 0
    assert first < report.first_step <= first + 2, report.summary()


def test_the_twins_are_made_only_when_a_float64_table_fails(case):
    """A comparison the table passes costs nothing more, and one float64 run's twins are
    made once for every comparison that needs them. (The book's default run makes none:
    tests/comparisons/test_cli.py.)"""
    twins, made = case.twins_made_once()
    assert rounding.judge(case.ref, case.ref, twins).passed and made == []
    stable = make_case(dataclasses.replace(CONFIG, optimizer=adapters.OptimizerSpec("sgd", 1.0)))
    assert rounding.judge(stable.ref, stable.twins[0], twins).passed and made == []
    assert not twins.made
    bug = late_lr_bug(CONFIG, case.x, case.t, case.weights, case.schedule, 100, 1e-9)
    for _ in range(2):
        assert not rounding.judge(case.ref, bug, twins).passed
    assert made == [1] and twins.made


def test_a_lower_precision_is_not_judged_against_float64_twins(case):
    """Rounding twins calibrate float64 only; float32 has the reference's own float64 run."""
    ref32 = train(
        adapters.build("numpy", case.weights, dtype="float32"),
        CONFIG,
        case.x,
        case.t,
        case.schedule,
    )
    twins, made = case.twins_made_once()
    report = rounding.judge(ref32, ref32, twins)
    assert report.passed and made == []
    with pytest.raises(ValueError, match="rounding twins .float64 runs. calibrate a float64"):
        parity.compare_trajectories(ref32, ref32, calibration=(case.ref, *case.twins))


def test_calibration_runs_that_are_not_of_the_same_run_are_refused(case):
    short = make_case(dataclasses.replace(CONFIG, epochs=12))
    with pytest.raises(ValueError, match="record_steps differ|steps"):
        parity.compare_trajectories(case.ref, case.ref, calibration=(case.ref, short.twins[0]))
    with pytest.raises(ValueError, match="calibration must be"):
        parity.compare_trajectories(case.ref, case.ref, calibration=(case.ref,))
    with pytest.raises(ValueError, match="calibration must be"):
        parity.compare_trajectories(case.ref, case.ref, calibration=case.ref)


def test_past_the_linear_range_the_bounds_freeze_and_the_report_says_where():
    """Over 300 steps the twins leave float64's linear range (after 250 updates): the
    summary says where, and no bound grows past the largest it reached before."""
    long = make_case(LONG)
    x, t, w, s = long.x, long.t, long.weights, long.schedule
    other = train(adapters.build("numpy", w), LONG, x, t, s, workers=2)  # another order
    twins, _ = long.twins_made_once()
    report = rounding.judge(long.ref, other, twins)
    assert report.calibration == "rounding" and report.table_step is not None
    note = [n for n in report.notes if "linear range" in n]
    assert len(note) == 1 and "leave float64's linear range after 250 updates" in note[0]
    assert "linear range" in report.summary()

    # from there the loss's allowance is the table's or the largest it reached before
    def losses(traj):
        return traj.losses + (0.0 if traj.loss_gap is None else traj.loss_gap)

    drift = np.max([np.abs(losses(tw) - losses(long.ref)) for tw in long.twins], axis=0)
    table = parity.compare_trajectories(long.ref, other)
    frozen = np.maximum(table.loss_allowed[250:], ROUNDING_FACTOR * np.max(drift[:250]))
    np.testing.assert_array_equal(report.loss_allowed[250:], frozen)
    assert np.all(ROUNDING_FACTOR * drift[250:] < frozen)  # the freeze shows: they allow less


def test_calibrated_bound_rounding_is_per_record_capped_and_frozen():
    drift = np.array([0.0, 1e-15, 1e-12, 1e-14, 1e-9, 1e-3])
    precision = calibrated_bound(drift)
    np.testing.assert_array_equal(precision, CALIBRATION_FACTOR * np.maximum.accumulate(drift))
    # against the twins: at that record, not the largest so far (a contraction shows a bug)
    np.testing.assert_array_equal(calibrated_bound(drift[:4], True), ROUNDING_FACTOR * drift[:4])
    cap = np.full(6, 1e-10)
    np.testing.assert_array_equal(
        calibrated_bound(drift, True, cap=cap), ROUNDING_FACTOR * np.minimum(drift, cap)
    )
    counted = np.arange(6) <= 3
    frozen = calibrated_bound(drift, True, counted=counted)
    np.testing.assert_array_equal(frozen, ROUNDING_FACTOR * np.r_[drift[:4], 1e-12, 1e-12])
    scale = np.ones(6)
    assert linear_range_left(drift, scale) == 5  # 1e-9 < 1.05e-8 <= 1e-3
    assert linear_range_left(drift[:5], scale[:5]) is None
    assert linear_range_left(np.array([0.0, np.nan]), np.ones(2)) == 1


def test_the_run_s_table_and_json_say_calibrated(torch_run):
    rows = table_rows(torch_run)
    assert [r["verdict"] for r in rows] == ["reference", "PASS (calibrated)"]
    assert torch_run.twins.made
    report = torch_run.results[1].report
    assert json.loads(json.dumps(report.to_dict()))["rounding_calibrated"] is True
