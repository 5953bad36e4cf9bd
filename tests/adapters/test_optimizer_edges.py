"""Every hyper-parameter value OptimizerSpec accepts trains in every framework, as the
book's formula says: the edges of [0, 1) included. `--beta1 0` trained in NumPy and torch
and then died in JAX ("math domain error": its Adam took log(beta)); torch refused stock
Nesterov with momentum 0; JAX's float32 Adam divided by 1 - beta1**k rounded to 0."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from tests.adapters.helpers import book_run
from tests.helpers import need

pytestmark = pytest.mark.crossframework

EDGES = [0.0, 1 - 2**-53]  # 1 - 2**-53: the largest float below 1
CASES = [  # every hyper-parameter of an optimizer at the same edge; -0.0 passes `0 <= value`
    (name, {key: value for key in defaults if key != "lr"})
    for name, defaults in adapters.BOOK_DEFAULTS.items()
    if len(defaults) > 1
    for value in [*EDGES, *([-0.0] if name == "adam" else [])]
]
LR = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.1, "rmsprop": 0.01, "adam": 0.01}


@functools.cache
def problem():
    return book_run(max_epoch=2)  # 20 steps of the book's run


def run(framework: str, spec: OptimizerSpec, dtype: str = "float64") -> adapters.Trajectory:
    x, t, w, schedule = problem()
    return adapters.build(framework, w, dtype=dtype).train(x, t, schedule, spec, record_every=5)


def test_the_edges_are_accepted_values():
    """What this file tries is what the options and the library take."""
    assert {key for _, hyper in CASES for key in hyper} == {
        "momentum",
        "decay_rate",
        "beta1",
        "beta2",
    }
    for name, hyper in CASES:
        assert OptimizerSpec(name, **hyper).hyper == {**OptimizerSpec(name).hyper, **hyper}


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize("name, hyper", CASES, ids=[f"{n}-{h}" for n, h in CASES])
def test_every_accepted_value_trains_as_the_book_in_every_framework(framework, name, hyper):
    need(framework)
    book = OptimizerSpec(name, LR[name], **hyper)
    ref = run("numpy", book)
    assert ref.steps == 20 and np.all(np.isfinite(ref.losses))
    report = parity.compare_trajectories(ref, run(framework, book))
    assert report.passed, report.summary()


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_adam_in_float32_keeps_a_beta_next_to_1(framework):
    """1 - beta**k rounds to 0 in float32 for a beta within 3e-8 of 1: the book's lr_t
    (computed in double precision by NumPy and torch) divided by zero in JAX."""
    need(framework)
    book = OptimizerSpec("adam", LR["adam"], beta1=1 - 2**-53)
    ref64, ref32 = run("numpy", book), run("numpy", book, "float32")
    other = run(framework, book, "float32")
    assert other.weights["W1"].dtype == np.float32
    report = parity.compare_trajectories(ref32, other, calibration=(ref64, ref32))
    assert report.passed, report.summary()


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize("name, key", [("nesterov", "momentum"), ("adam", "beta1")])
def test_stock_optimizers_take_zero_as_the_book_does(framework, name, key):
    """torch.optim.SGD refuses nesterov=True with momentum 0 (it is plain SGD then)."""
    need(framework)
    stock = run(framework, OptimizerSpec(name, LR[name], flavor="stock", **{key: 0.0}))
    assert stock.steps == 20 and np.all(np.isfinite(stock.losses))
    if name == "nesterov":  # with momentum 0, every flavor of Nesterov is SGD
        ref = run("numpy", OptimizerSpec("sgd", LR[name]))
        assert parity.compare_trajectories(ref, stock).passed


def test_adam_without_momentum_is_the_book_formula_with_beta_powers_of_zero():
    """beta1 = beta2 = 0: m = g, v = g**2 and lr_t = lr, so each step moves every weight
    by lr * g / (|g| + 1e-7): written out here, against JAX's run (its Adam is the one
    that took log(beta))."""
    need("jax")
    x, t, w, schedule = book_run(max_epoch=1)
    expected = {k: v.copy() for k, v in w.items()}
    for rows in schedule[:3]:
        grads = adapters.build("numpy", expected).gradients(x[rows], t[rows])
        expected = {k: expected[k] - 0.01 * g / (np.abs(g) + 1e-7) for k, g in grads.items()}
    spec = OptimizerSpec("adam", 0.01, beta1=0.0, beta2=-0.0)
    got = adapters.build("jax", w).train(x, t, schedule[:3], spec).weights
    last = {k: got[k][-1] for k in adapters.WEIGHT_NAMES}
    parity.assert_close(expected, last, quantity="trajectory", names=("formula", "jax"))
