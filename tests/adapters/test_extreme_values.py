"""Extreme values: saturated sigmoids, logits 1e3 and 1e4 apart, a class of probability ~1.

Every framework gives finite losses and gradients there, and they agree at the table's
own tolerance (comparisons.parity.TOLERANCES: float64 forward/gradient rtol 1e-12, float32
calibrated); nothing is loosened, because saturation makes these quantities *simpler*
(a sigmoid of exactly 0 or 1, a softmax that is one-hot up to underflow), not noisier.
pytest turns warnings into errors, so a NumPy overflow warning leaking out of the
reference fails these tests.

The losses need care: the book reports -log(p + 1e-7), torch and optax the epsilon-free
-log p computed from a log-softmax. Once a label's p underflows to 0 the book's loss is
capped at -log(1e-7) = 16.1 per sample while the epsilon-free one is about the logit gap
(1e3, 1e4): both are right, and `compare_losses` (which adds the gap log1p(1e-7 / p))
refuses p = 0. So each loss is compared with the same formula applied to the other
framework's scores in float64, and `compare_losses` is used where every p > 0.
"""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import OptimizerSpec
from comparisons import parity
from scratch import layers
from scratch.functions import sigmoid, softmax
from tests.adapters.problems import (
    book_cross_entropy,
    exact_cross_entropy,
    extreme_problem,
)
from tests.helpers import FRAMEWORKS, need

DTYPES = ("float64", "float32")
EDGES = [-1e4, -800.0, -745.2, -709.8, -103.9, -88.8, 0.0, 88.8, 709.8, 800.0, 1e4]


@pytest.mark.parametrize("dtype", DTYPES)
def test_book_sigmoid_is_finite_and_silent_at_the_extremes(dtype):
    x = np.array(EDGES, dtype=dtype)
    y = sigmoid(x)  # a leaked overflow warning would be an error here
    assert y.dtype == dtype and np.all(np.isfinite(y))
    assert y[0] == 0 and y[1] == 0 and y[-2] == 1 and y[-1] == 1
    layer = layers.Sigmoid()
    layer.forward(x)
    dx = layer.backward(np.ones_like(x))
    assert np.all(np.isfinite(dx)) and dx[1] == 0 and dx[-2] == 0  # y (1 - y) = 0 there


@pytest.mark.parametrize("dtype", DTYPES)
def test_book_sigmoid_equals_a_stable_sigmoid(dtype):
    """The book's 1 / (1 + exp(-x)) against the two-branch stable form: within 3 ULPs
    wherever the result is a normal float; below the smallest normal (x < -708 in
    float64, < -87 in float32) the book gives 0 or a coarser subnormal, off by less than
    that smallest normal; at +-800 and +-1e4 the two are identical."""
    x = np.concatenate([np.linspace(-800, 800, 40001), EDGES]).astype(dtype)
    book = sigmoid(x)
    e = np.exp(-np.abs(x))
    stable = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(dtype)
    tiny = np.finfo(dtype).tiny
    normal = stable >= tiny
    assert normal.sum() > 20000 and (~normal).sum() > 1000  # both regimes were compared
    assert np.max(parity.ulp_distance(book[normal], stable[normal], dtype)) <= 3
    assert np.max(np.abs(book[~normal] - stable[~normal])) < tiny
    for edge in (-1e4, -800.0, 800.0, 1e4):
        assert book[x == np.asarray(edge, dtype)][0] == stable[x == np.asarray(edge, dtype)][0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_book_softmax_is_silent_at_the_edge_of_the_float_range(dtype):
    big = 0.9 * float(np.finfo(dtype).max)
    scores = np.array([[big, -big, 0.0], [-big, big, 1.0]], dtype=dtype)  # shift overflows
    y = softmax(scores)
    np.testing.assert_array_equal(y, np.array([[1, 0, 0], [0, 1, 0]], dtype=dtype))


def all_quantities(dtype, weights, x, t):
    nets = {fw: adapters.build(fw, weights, dtype=dtype) for fw in FRAMEWORKS}
    return {
        fw: {
            "forward": {"predict": net.predict(x), **net.activations(x, t)},
            "gradient": net.gradients(x, t),
            "loss": net.loss(x, t),
        }
        for fw, net in nets.items()
    }


CASES = [(logit, labels) for logit in (30.0, 1e3, 1e4) for labels in ("top", "mixed")]


@pytest.mark.crossframework
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("logit, labels", CASES, ids=[f"logit{g:g}-{lab}" for g, lab in CASES])
def test_extreme_forward_and_gradients_are_finite_and_agree(dtype, logit, labels):
    need("torch", "jax")
    weights, x, ts = extreme_problem(logit)
    t = ts[labels]
    q = all_quantities(dtype, weights, x, t)
    z = q["numpy"]["forward"]["sigmoid"]
    assert np.all(z[:, 0] == 1) and np.all(z[:, 1] == 0)  # the sigmoid really saturated
    for quantity in ("forward", "gradient"):
        results = {fw: q[fw][quantity] for fw in FRAMEWORKS}
        for fw, arrays in results.items():
            for name, a in arrays.items():
                assert np.all(np.isfinite(a)), f"{fw} {quantity} {name} is not finite"
        report = parity.compare_all(results, dtype=dtype, quantity=quantity)
        assert len(report.reports) == 3 and all(r.entries for r in report.reports)
        assert report.passed, report.table()
    grad = q["numpy"]["gradient"]
    if labels == "mixed":  # not trivially zero: the moderate hidden units and W2 carry it
        assert np.abs(grad["W2"]).max() > 1e-3 and np.abs(grad["W1"][:, 2:]).max() > 1e-6
    else:  # every label has probability ~1: y - t, hence every gradient, is ~0
        assert all(np.abs(g).max() < 1e-5 for g in grad.values())


@pytest.mark.crossframework
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("logit, labels", CASES, ids=[f"logit{g:g}-{lab}" for g, lab in CASES])
def test_extreme_losses_are_finite_and_agree_where_comparable(dtype, logit, labels):
    need("torch", "jax")
    weights, x, ts = extreme_problem(logit)
    t = ts[labels]
    q = all_quantities(dtype, weights, x, t)
    losses = {fw: q[fw]["loss"] for fw in FRAMEWORKS}
    assert all(np.isfinite(v) for v in losses.values()), losses
    scores = {fw: q[fw]["forward"]["predict"] for fw in FRAMEWORKS}
    reports = [
        # the two epsilon-free losses, directly
        parity.compare(
            {"loss": losses["torch"]},
            {"loss": losses["jax"]},
            dtype=dtype,
            quantity="loss",
            names=("torch", "jax"),
        ),
        # the book's loss against the book's formula applied to torch's scores
        parity.compare(
            {"loss": book_cross_entropy(scores["torch"], t)},
            {"loss": losses["numpy"]},
            dtype=dtype,
            quantity="loss",
            names=("book formula on torch scores", "numpy"),
        ),
    ]
    for fw in ("torch", "jax"):  # each epsilon-free loss against the reference's scores
        reports.append(
            parity.compare(
                {"loss": exact_cross_entropy(scores["numpy"], t)},
                {"loss": losses[fw]},
                dtype=dtype,
                quantity="loss",
                names=("log-softmax of numpy scores", fw),
            )
        )
    probs = q["numpy"]["forward"]["softmax"][np.arange(len(t)), t]
    if np.all(probs > 0):
        for fw in ("torch", "jax"):
            reports.append(
                parity.compare_losses(
                    losses["numpy"], losses[fw], q["numpy"]["forward"]["softmax"], t, dtype=dtype
                )
            )
    else:  # the book's loss is capped, the epsilon-free one is not: no gap to add
        assert logit >= 1e3 and labels == "mixed"
        with pytest.raises(ValueError, match="infinite"):
            parity.book_loss_gap(q["numpy"]["forward"]["softmax"], t)
        assert losses["numpy"] < 16.2 < losses["torch"]  # -log(1e-7) = 16.1 per sample
    for report in reports:
        assert report.passed, report.table()
    if labels == "top":  # one class of probability ~1: the loss is ~0 in every framework
        assert all(abs(v) < 1e-6 for v in losses.values()), losses


@pytest.mark.crossframework
@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_at_the_edge_of_the_float_range_give_finite_gradients(dtype):
    need("torch", "jax")
    big = 0.9 * float(np.finfo(dtype).max)
    weights, x, ts = extreme_problem(0.0)
    weights["b2"] = np.array([big, -big, 0.0, 1.0])  # scores ~1.8 * max apart
    t = ts["top"]
    q = all_quantities(dtype, weights, x, t)
    for quantity in ("forward", "gradient"):
        results = {fw: q[fw][quantity] for fw in FRAMEWORKS}
        report = parity.compare_all(results, dtype=dtype, quantity=quantity)
        assert report.passed, report.table()
        assert all(np.all(np.isfinite(a)) for r in results.values() for a in r.values())
    assert np.isfinite(q["numpy"]["loss"])


TRAIN_CASES = [("float64", 1e3), ("float32", 1e2)]


def train_extreme(framework, mode, dtype, lr):
    weights, x, ts = extreme_problem(30.0)
    rng = np.random.RandomState(0)
    schedule = np.stack([rng.permutation(6)[:4] for _ in range(12)])  # (12, 4)
    net = adapters.build(framework, weights, dtype=dtype)
    return net.train(x, ts["mixed"], schedule, OptimizerSpec("sgd", lr), mode=mode)


@pytest.mark.crossframework
@pytest.mark.parametrize("dtype, lr", TRAIN_CASES)
def test_torch_and_jax_train_through_underflowing_probabilities_alike(dtype, lr):
    need("torch", "jax")
    ref = train_extreme("torch", None, dtype, lr)
    assert np.all(np.isfinite(ref.losses)) and ref.losses.max() > 100  # really extreme
    for mode in ("scan", "step"):
        report = parity.compare_trajectories(ref, train_extreme("jax", mode, dtype, lr))
        assert report.passed, report.summary()


@pytest.mark.parametrize("dtype, lr", TRAIN_CASES)
def test_reference_trains_through_underflowing_probabilities(dtype, lr):
    """NumPy only: at every step the reference's epsilon-free loss, losses + loss_gap, is
    the cross-entropy of its own scores, which is what torch and optax report; the book's
    loss alone is capped at 16.1 per sample once a label's probability underflows."""
    weights, x, ts = extreme_problem(30.0)
    rng = np.random.RandomState(0)
    schedule = np.stack([rng.permutation(6)[:4] for _ in range(12)])  # (12, 4)
    traj = adapters.build("numpy", weights, dtype=dtype).train(
        x, ts["mixed"], schedule, OptimizerSpec("sgd", lr)
    )
    exact = [
        exact_cross_entropy(
            adapters.build(
                "numpy", {k: v[i] for k, v in traj.weights.items()}, dtype=dtype
            ).predict(x[rows]),
            ts["mixed"][rows],
        )
        for i, rows in enumerate(schedule)
    ]
    assert max(exact) > 100 and np.max(traj.losses) < 16.2  # probabilities did underflow
    report = parity.compare(
        {"loss": np.asarray(exact)},
        {"loss": traj.losses + traj.loss_gap},
        dtype=dtype,
        quantity="loss",
        names=("log-softmax of its scores", "numpy losses + loss_gap"),
    )
    assert report.passed, report.table()
