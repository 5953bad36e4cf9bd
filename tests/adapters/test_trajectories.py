"""Whole training runs agree across frameworks and modes: the book's run, 3000 steps."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from tests.adapters.helpers import BOOK_OPTIMIZERS, book_run
from tests.helpers import framework_modes, need

pytestmark = pytest.mark.crossframework

MODES = framework_modes(("torch", "jax"))
RECORD_EVERY = 50  # 61 records over 3000 steps; the last step is always recorded


@functools.cache
def reference(case: str, dtype: str = "float64") -> adapters.Trajectory:
    x, t, w, schedule = book_run()
    spec, max_grad = BOOK_OPTIMIZERS[case]
    net = adapters.build("numpy", w, dtype=dtype)
    return net.train(x, t, schedule, spec, max_grad=max_grad, record_every=RECORD_EVERY)


@functools.cache  # the float64 runs serve the mode test too
def train(framework, mode, spec, max_grad=None, dtype="float64"):
    x, t, w, schedule = book_run()
    net = adapters.build(framework, w, dtype=dtype)
    return net.train(x, t, schedule, spec, max_grad=max_grad, record_every=RECORD_EVERY, mode=mode)


@pytest.mark.parametrize("case", list(BOOK_OPTIMIZERS))
@pytest.mark.parametrize("framework, mode", MODES, ids=[f"{f}-{m}" for f, m in MODES])
def test_books_run_agrees_with_the_reference_in_float64(framework, mode, case):
    need(framework)
    spec, max_grad = BOOK_OPTIMIZERS[case]
    ref = reference(case)
    other = train(framework, mode, spec, max_grad)
    assert other.steps == ref.steps == 3000 and other.mode == mode
    report = parity.compare_trajectories(ref, other)
    assert report.passed, report.summary()
    final = max(np.abs(ref.weights[k][-1] - other.weights[k][-1]).max() for k in ref.weights)
    assert final <= 1e-10, report.summary()  # issue 4's acceptance figure, absolute
    # the losses differ by the book's 1e-7 inside the log, and by nothing else
    loss_tol = parity.tolerance("float64", "loss")
    exact = ref.losses + ref.loss_gap
    assert np.all(np.abs(exact - other.losses) <= loss_tol.atol + loss_tol.rtol * exact)
    assert np.abs(ref.losses - other.losses).max() > 1e-8


def test_the_reference_trajectory_is_the_books_run():
    from scratch import train_custom_loop

    model, loss_list = train_custom_loop(verbose=False)
    ref = reference("sgd")
    for k, p in zip(adapters.WEIGHT_NAMES, model.params, strict=True):
        np.testing.assert_array_equal(ref.weights[k][-1], p)
    averages = []  # summed one by one, as the book's loop does
    for ten in ref.losses.reshape(-1, 10):
        total = 0.0
        for loss in ten:
            total += loss
        averages.append(total / 10)
    assert averages == loss_list


def test_jax_scan_and_step_modes_give_the_same_trajectory():
    need("jax")
    spec, max_grad = BOOK_OPTIMIZERS["adam"]
    scan = train("jax", "scan", spec, max_grad)
    step = train("jax", "step", spec, max_grad)
    report = parity.compare_trajectories(scan, step)
    assert report.passed and report.first_step is None, report.summary()


@pytest.mark.parametrize("record_every", [1, 7, 3000, 5000])
def test_weights_are_recorded_first_every_k_steps_and_last(framework, record_every):
    x, t, w, schedule = book_run(max_epoch=3)  # 30 steps
    spec = OptimizerSpec("momentum", 0.5)
    every = adapters.build(framework, w).train(x, t, schedule, spec, record_every=1)
    some = adapters.build(framework, w).train(x, t, schedule, spec, record_every=record_every)
    expected = sorted({*range(0, 30, record_every), 30})
    assert some.record_steps.tolist() == expected
    for k in w:
        assert some.weights[k].shape == (len(expected), *w[k].shape)
        np.testing.assert_allclose(some.weights[k], every.weights[k][expected], rtol=0, atol=0)
        np.testing.assert_array_equal(some.weights[k][0], w[k])


def test_train_leaves_the_net_at_the_trained_weights(framework):
    x, t, w, schedule = book_run(max_epoch=2)
    net = adapters.build(framework, w)
    traj = net.train(x, t, schedule, OptimizerSpec("sgd", 1.0), record_every=4)
    for k, v in net.weights().items():
        np.testing.assert_array_equal(v, traj.weights[k][-1])
    assert traj.framework == framework and traj.dtype == "float64" and traj.seconds > 0


@pytest.mark.parametrize("case", ["sgd", "adam"])
@pytest.mark.parametrize("framework, mode", MODES, ids=[f"{f}-{m}" for f, m in MODES])
def test_float32_runs_stay_within_the_calibrated_tolerance(framework, mode, case):
    need(framework)
    spec, max_grad = BOOK_OPTIMIZERS[case]
    ref64, ref32 = reference(case), reference(case, "float32")
    other = train(framework, mode, spec, max_grad, dtype="float32")
    assert other.weights["W1"].dtype == np.float32
    report = parity.compare_trajectories(ref32, other, calibration=(ref64, ref32))
    assert report.passed, report.summary()


def test_a_wrong_epsilon_is_caught_at_the_first_step(monkeypatch):
    """A book Adam whose epsilon was changed to 1e-8 parts from the reference at once,
    and the report says where."""
    need("torch")
    from adapters import torch_adapter

    class WrongAdam(torch_adapter.BookAdam):
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.mul_(1 + 1e-9)  # a tiny change, like a different epsilon
            return super().step(closure)

    monkeypatch.setattr(torch_adapter, "BookAdam", WrongAdam)
    x, t, w, schedule = book_run(max_epoch=5)
    spec = OptimizerSpec("adam", 0.01)
    ref = adapters.build("numpy", w).train(x, t, schedule, spec)
    bad = adapters.build("torch", w).train(x, t, schedule, spec)
    report = parity.compare_trajectories(ref, bad)
    assert not report.passed
    assert report.first_step == 1 and report.first.weight in adapters.WEIGHT_NAMES
    assert "first diverge" in report.summary()


# With their own defaults, only SGD and momentum SGD are the book's math in both; the
# rest differ in epsilon (AdaGrad, RMSprop, Adam), its place, or the update (Nesterov):
# that each of those parts from the book at the first step, in torch and in JAX, is
# tests/comparisons/test_cli.py::test_drift_rows_come_from_real_runs (the drift command).
STOCK_IS_BOOK = ["sgd", "momentum"]


@pytest.mark.parametrize("framework_name", ["torch", "jax"])
def test_stock_optimizers_that_are_the_books_math_agree(framework_name):
    need(framework_name)
    x, t, w, schedule = book_run(max_epoch=30)
    for name in STOCK_IS_BOOK:
        book = OptimizerSpec(name, 0.1)
        stock = OptimizerSpec(name, 0.1, flavor="stock")
        ref = adapters.build("numpy", w).train(x, t, schedule, book, record_every=100)
        got = adapters.build(framework_name, w).train(x, t, schedule, stock, record_every=100)
        report = parity.compare_trajectories(ref, got)
        assert report.passed, f"{name}: {report.summary()}"


@pytest.mark.crossframework
def test_a_learning_rate_sweep_keeps_a_bounded_number_of_compiled_runs():
    """Each learning rate is a new compiled run (the optimizer's constants are baked in);
    kept without limit, a sweep grew the cache forever. At most MAX_RUNS stay, the most
    recently used. (Building a run compiles nothing until it is called, so the sweep is
    cheap; the one training run shows `train` goes through this cache.)"""
    need("jax")
    from adapters import jax_adapter

    x, t, w, schedule = book_run(max_epoch=1)
    adapters.build("jax", w).train(x, t, schedule[:3], OptimizerSpec("sgd", 0.5))
    trained = (OptimizerSpec("sgd", 0.5), None, "scan", 1, "float64", False)  # no gradients
    assert trained in jax_adapter._RUNS
    sweep = [OptimizerSpec("sgd", 0.001 * (i + 1)) for i in range(3 * jax_adapter.MAX_RUNS)]
    for spec in sweep:
        jax_adapter.compiled_run(spec, None, "scan", 1, "float64")
        assert len(jax_adapter._RUNS) <= jax_adapter.MAX_RUNS
    assert trained not in jax_adapter._RUNS  # the least recently used went first
    kept = [key[0] for key in jax_adapter._RUNS]
    assert kept == sweep[-jax_adapter.MAX_RUNS :]
