"""The layers chapters 4 and 6 add to common/layers.py: Embedding, SigmoidWithLoss, Dropout."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.gradcheck import numerical_gradient
from scratch.layers import Dropout, Embedding, MatMul, SigmoidWithLoss
from tests.scratch.helpers import GRADCHECK_RTOL, relative_error, same_rng_state

VOCAB, HIDDEN = 7, 3
IDS = np.array([4, 1, 4, 6, 4, 0])  # 4 three times: its gradient rows must add up


def test_embedding_forward_is_the_one_hot_matmul_of_chapter_3():
    W = np.random.RandomState(0).randn(VOCAB, HIDDEN)
    one_hot = np.eye(VOCAB)[IDS]  # (N, V)
    assert np.array_equal(Embedding(W).forward(IDS), W[IDS])
    assert np.array_equal(Embedding(W).forward(IDS), MatMul(W).forward(one_hot))


def test_embedding_backward_sums_the_rows_of_a_repeated_id():
    rng = np.random.RandomState(1)
    W, dout = rng.randn(VOCAB, HIDDEN), rng.randint(-9, 10, (len(IDS), HIDDEN)).astype(float)
    layer = Embedding(W)
    layer.forward(IDS)
    assert layer.backward(dout) is None  # ids have no gradient
    (dW,) = layer.grads
    matmul = MatMul(W)
    matmul.forward(np.eye(VOCAB)[IDS])
    matmul.backward(dout)
    assert np.array_equal(dW, matmul.grads[0])  # one_hot.T @ dout, integers: exact
    assert np.array_equal(dW[4], dout[0] + dout[2] + dout[4])
    assert not dW[[2, 3, 5]].any()  # ids not in the batch get nothing

    dropped = np.zeros_like(W)
    dropped[IDS] += dout  # the fancy-index bug keeps only the last row of id 4
    assert np.array_equal(dropped[4], dout[4]) and not np.array_equal(dropped, dW)


def test_embedding_backward_matches_numerical_gradient_and_resets_between_calls():
    rng = np.random.RandomState(2)
    W, weight = rng.randn(VOCAB, HIDDEN), rng.randn(len(IDS), HIDDEN)
    layer = Embedding(W)
    grad_array = layer.grads[0]
    for _ in range(2):  # the second backward must not add onto the first
        layer.forward(IDS)
        layer.backward(weight)
    numerical = numerical_gradient(lambda _: np.sum(layer.forward(IDS) * weight), W)
    assert layer.grads[0] is grad_array  # written in place, as the book's params/grads lists need
    assert relative_error(grad_array, numerical) < GRADCHECK_RTOL


def test_embedding_of_a_2d_batch_gives_3d_rows():
    W = np.random.RandomState(3).randn(VOCAB, HIDDEN)
    ids = np.array([[0, 6], [6, 2], [5, 0]])  # (N, T)
    layer = Embedding(W)
    out = layer.forward(ids)
    assert out.shape == (3, 2, HIDDEN)
    layer.backward(np.ones_like(out))
    assert layer.grads[0][:, 0].tolist() == [2, 0, 1, 0, 0, 1, 2]  # counts of each id


def exact_binary_cross_entropy(x: np.ndarray, t: np.ndarray) -> float:
    """mean(softplus(x) - t x), the epsilon-free loss torch and optax compute."""
    return float(np.mean(np.logaddexp(0, x) - t * x))


def test_sigmoid_with_loss_is_the_books_two_class_cross_entropy_with_1e_7():
    rng = np.random.RandomState(4)
    x, t = 2 * rng.randn(9), rng.randint(0, 2, 9)
    y = 1 / (1 + np.exp(-x))
    p_label = np.where(t == 1, y, 1 - y)
    loss = SigmoidWithLoss().forward(x, t)
    assert loss == -np.sum(np.log(p_label + 1e-7)) / 9  # the book's order of operations
    np.testing.assert_allclose(loss, exact_binary_cross_entropy(x, t), rtol=1e-6)


def test_sigmoid_with_loss_backward_is_the_gradient_of_the_epsilon_free_loss():
    rng = np.random.RandomState(5)
    x, t = 2 * rng.randn(9), rng.randint(0, 2, 9)
    layer = SigmoidWithLoss()
    layer.forward(x, t)
    dx = layer.backward()
    assert np.array_equal(dx, (layer.y - t) / 9)
    numerical = numerical_gradient(lambda _: exact_binary_cross_entropy(x, t), x)
    assert relative_error(dx, numerical) < GRADCHECK_RTOL
    np.testing.assert_allclose(layer.backward(2.5), 2.5 * dx, rtol=1e-15)


def test_sigmoid_with_loss_of_float32_scores_and_int_labels_backpropagates_float64():
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    t = np.array([1, 0, 0], dtype=np.int32)
    layer = SigmoidWithLoss()
    assert np.asarray(layer.forward(x, t)).dtype == np.float32
    assert layer.y.dtype == np.float32
    assert layer.backward().dtype == np.float64  # float32 - int32 is float64: the book's


def book_masks(seed: int, ratio: float, shapes) -> list[np.ndarray]:
    """The book's Dropout masks after np.random.seed(seed), from the global generator."""
    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        return [np.random.rand(*shape) > ratio for shape in shapes]
    finally:
        np.random.set_state(saved)


def test_dropout_masks_are_the_books_after_seeding_in_the_books_order():
    shapes = [(4, 5), (4, 5), (2, 3)]
    layer = Dropout(0.3, rng=np.random.RandomState(42))
    before = np.random.get_state()
    masks = []
    for shape in shapes:
        x = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
        out = layer.forward(x)
        masks.append(layer.mask)
        assert np.array_equal(out, x * layer.mask)
        assert np.array_equal(layer.backward(np.ones(shape)), layer.mask.astype(float))
    assert same_rng_state(before, np.random.get_state())  # np.random untouched
    for got, want in zip(masks, book_masks(42, 0.3, shapes), strict=True):
        assert got.dtype == bool and np.array_equal(got, want)
    assert 0 < np.mean(np.concatenate([m.ravel() for m in masks])) < 1


def test_dropout_at_inference_scales_by_the_kept_fraction_and_draws_nothing():
    rng = np.random.RandomState(0)
    state = rng.get_state()
    x = np.random.RandomState(1).randn(3, 4)
    assert np.array_equal(Dropout(0.25, rng=rng).forward(x, train_flg=False), x * 0.75)
    assert same_rng_state(state, rng.get_state())


def test_dropout_rng_is_keyword_only_and_the_ratio_is_checked():
    with pytest.raises(TypeError):
        Dropout(0.5, np.random.RandomState(0))
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="dropout_ratio"):
            Dropout(bad)
