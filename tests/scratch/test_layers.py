"""The layers of common/layers.py: every backward pass against central differences."""

from __future__ import annotations

import warnings

import numpy as np

from scratch.gradcheck import numerical_gradient
from scratch.layers import Affine, MatMul, Sigmoid, Softmax, SoftmaxWithLoss
from tests.scratch.helpers import GRADCHECK_RTOL, exact_cross_entropy, relative_error

BATCH, IN, OUT = 5, 4, 3  # all different, so a missing transpose fails


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.int64)[labels]  # (N, C)


def test_matmul_backward_matches_numerical_gradient():
    rng = np.random.RandomState(0)
    x, W, weight = rng.randn(BATCH, IN), rng.randn(IN, OUT), rng.randn(BATCH, OUT)
    layer = MatMul(W)
    layer.forward(x)
    dx = layer.backward(weight)  # d sum(out * weight) / d out = weight
    dW = layer.grads[0].copy()

    def f(_):
        return np.sum(layer.forward(x) * weight)

    assert dx.shape == x.shape and dW.shape == W.shape
    assert relative_error(dx, numerical_gradient(f, x)) < GRADCHECK_RTOL
    assert relative_error(dW, numerical_gradient(f, W)) < GRADCHECK_RTOL


def test_affine_backward_matches_numerical_gradient():
    rng = np.random.RandomState(1)
    x, W, b, weight = (
        rng.randn(BATCH, IN),
        rng.randn(IN, OUT),
        rng.randn(OUT),
        rng.randn(BATCH, OUT),
    )
    layer = Affine(W, b)
    layer.forward(x)
    dx = layer.backward(weight)
    dW, db = (g.copy() for g in layer.grads)

    def f(_):
        return np.sum(layer.forward(x) * weight)

    assert (dx.shape, dW.shape, db.shape) == (x.shape, W.shape, b.shape)
    assert relative_error(dx, numerical_gradient(f, x)) < GRADCHECK_RTOL
    assert relative_error(dW, numerical_gradient(f, W)) < GRADCHECK_RTOL
    assert relative_error(db, numerical_gradient(f, b)) < GRADCHECK_RTOL


def test_backward_writes_into_the_existing_grad_arrays():
    rng = np.random.RandomState(2)
    layer = Affine(rng.randn(IN, OUT), rng.randn(OUT))
    grads_before = list(layer.grads)
    layer.forward(rng.randn(BATCH, IN))
    layer.backward(rng.randn(BATCH, OUT))
    assert all(a is b for a, b in zip(layer.grads, grads_before, strict=True))
    assert all(np.any(g != 0) for g in layer.grads)


def test_sigmoid_backward_matches_numerical_gradient():
    rng = np.random.RandomState(3)
    x, weight = 2 * rng.randn(BATCH, OUT), rng.randn(BATCH, OUT)
    layer = Sigmoid()
    layer.forward(x)
    dx = layer.backward(weight)

    def f(_):
        return np.sum(layer.forward(x) * weight)

    assert relative_error(dx, numerical_gradient(f, x)) < GRADCHECK_RTOL


def test_softmax_backward_matches_numerical_gradient():
    rng = np.random.RandomState(4)
    x, weight = 2 * rng.randn(BATCH, OUT), rng.randn(BATCH, OUT)
    layer = Softmax()
    layer.forward(x)
    dx = layer.backward(weight)

    def f(_):
        return np.sum(layer.forward(x) * weight)

    assert relative_error(dx, numerical_gradient(f, x)) < GRADCHECK_RTOL


def test_softmax_with_loss_backward_is_the_gradient_of_the_epsilon_free_loss():
    rng = np.random.RandomState(5)
    x, labels = 2 * rng.randn(BATCH, OUT), rng.randint(0, OUT, size=BATCH)
    layer = SoftmaxWithLoss()
    layer.forward(x, labels)
    dx = layer.backward()

    numerical = numerical_gradient(lambda _: exact_cross_entropy(x, labels), x)
    assert relative_error(dx, numerical) < GRADCHECK_RTOL


def test_softmax_with_loss_epsilon_is_in_the_reported_loss_only():
    # Labels on the least likely class make p[label] small, so the 1e-7 shows clearly.
    rng = np.random.RandomState(6)
    x = 3 * rng.randn(BATCH, OUT)
    labels = x.argmin(axis=1)
    layer = SoftmaxWithLoss()
    layer.forward(x, labels)
    dx = layer.backward()
    numerical_reported = numerical_gradient(lambda _: layer.forward(x, labels), x)

    # d/dx of -mean(log(p + eps)) is p / (p + eps) times the exact gradient.
    p = layer.y[np.arange(BATCH), labels]
    with_eps = (p / (p + 1e-7))[:, None] * dx
    assert relative_error(with_eps, numerical_reported) < GRADCHECK_RTOL
    assert relative_error(dx, numerical_reported) > 1e-6  # backward ignores the eps


def test_softmax_with_loss_one_hot_and_index_labels_give_identical_loss_and_dx():
    rng = np.random.RandomState(7)
    x, labels = rng.randn(BATCH, OUT), rng.randint(0, OUT, size=BATCH)
    by_index, by_one_hot = SoftmaxWithLoss(), SoftmaxWithLoss()
    loss_index = by_index.forward(x, labels)
    loss_one_hot = by_one_hot.forward(x, one_hot(labels, OUT))
    assert loss_index == loss_one_hot
    assert np.array_equal(by_index.backward(), by_one_hot.backward())


def test_softmax_with_loss_is_mean_negative_log_of_label_probability_plus_1e_7():
    rng = np.random.RandomState(8)
    x, labels = rng.randn(BATCH, OUT), rng.randint(0, OUT, size=BATCH)
    exp = np.exp(x)
    p = (exp / exp.sum(axis=1, keepdims=True))[np.arange(BATCH), labels]
    loss = SoftmaxWithLoss().forward(x, labels)
    np.testing.assert_allclose(loss, -np.mean(np.log(p + 1e-7)), rtol=1e-14)


def test_softmax_with_loss_of_a_zero_probability_label_is_minus_log_1e_7():
    x = np.array([[0.0, -1000.0, 0.0], [0.0, 0.0, 0.0]])  # p[0, 1] underflows to 0
    labels = np.array([1, 2])
    loss = SoftmaxWithLoss().forward(x, labels)
    np.testing.assert_allclose(loss, (-np.log(1e-7) - np.log(1 / 3 + 1e-7)) / 2, rtol=1e-14)


def test_softmax_with_loss_backward_is_probabilities_minus_one_hot_over_batch():
    rng = np.random.RandomState(9)
    x, labels = rng.randn(BATCH, OUT), rng.randint(0, OUT, size=BATCH)
    layer = SoftmaxWithLoss()
    layer.forward(x, labels)
    exp = np.exp(x)
    np.testing.assert_allclose(layer.y, exp / exp.sum(axis=1, keepdims=True), rtol=1e-14)
    assert np.array_equal(layer.backward(), (layer.y - one_hot(labels, OUT)) / BATCH)


def test_softmax_with_loss_backward_scales_with_dout():
    rng = np.random.RandomState(12)
    x, labels = rng.randn(BATCH, OUT), rng.randint(0, OUT, size=BATCH)
    layer = SoftmaxWithLoss()
    layer.forward(x, labels)
    np.testing.assert_allclose(layer.backward(2.5), 2.5 * layer.backward(), rtol=1e-15)


def test_sigmoid_of_minus_800_is_zero_without_a_warning():
    errors_before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Sigmoid().forward(np.array([-800.0, 0.0, 800.0]))
    assert out.tolist() == [0.0, 0.5, 1.0]
    assert np.geterr() == errors_before  # the silencing does not leak out


def test_sigmoid_is_the_books_formula_bit_for_bit():
    x = 5 * np.random.RandomState(10).randn(BATCH, 7)
    assert np.array_equal(Sigmoid().forward(x), 1 / (1 + np.exp(-x)))


def test_softmax_rows_sum_to_one():
    x = 3 * np.random.RandomState(11).randn(BATCH, OUT)
    out = Softmax().forward(x)
    assert out.shape == (BATCH, OUT) and np.all(out > 0)
    np.testing.assert_allclose(out.sum(axis=1), np.ones(BATCH), rtol=1e-15)


def test_softmax_does_not_overflow_for_logits_of_1e3():
    x = np.array([[1e3, 1e3, 0.0], [1e3, 999.0, -1e3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Softmax().forward(x)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], [0.5, 0.5, 0.0], rtol=1e-15, atol=0)
    e = np.exp(-1.0)
    np.testing.assert_allclose(out[1], [1 / (1 + e), e / (1 + e), 0.0], rtol=1e-15, atol=0)
